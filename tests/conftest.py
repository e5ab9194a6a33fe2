import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample_kb" / "docs"


@pytest.fixture
def hash_embedder():
    from rag_augment.embedding import HashEmbedder
    return HashEmbedder(128)


@pytest.fixture
def kb(tmp_path):
    """A small copy of sample_kb that tests may edit."""
    dst = tmp_path / "kb"
    picked = ["travel-and-leave/leave.md", "getting-started/piv.md", "tools/zoom.md",
              "general-information-and-resources/employee-resources-policies/transit-benefit.md"]
    for rel in picked:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE_DOCS / rel, dst / rel)
    return dst


@pytest.fixture
def make_index(tmp_path, hash_embedder):
    from rag_augment.augment_index import AugmentIndex

    def make(home="home", **kw):
        kw.setdefault("embedder", hash_embedder)
        return AugmentIndex(tmp_path / home, **kw)
    return make
