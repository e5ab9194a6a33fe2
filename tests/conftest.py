import os
import shutil

import pytest
from support import copy_sample_docs, served

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def hash_embedder():
    from rag_augment.testing import HashEmbedder
    return HashEmbedder(128)


@pytest.fixture
def kb(tmp_path):
    """A small copy of sample_kb that tests may edit."""
    return copy_sample_docs(tmp_path / "kb", [
        "travel-and-leave/leave.md", "getting-started/piv.md", "tools/zoom.md",
        "general-information-and-resources/employee-resources-policies/transit-benefit.md"])


@pytest.fixture
def make_index(tmp_path, hash_embedder):
    from rag_augment.augment_index import AugmentIndex

    def make(home="home", **kw):
        kw.setdefault("embedder", hash_embedder)
        return AugmentIndex(tmp_path / home, **kw)
    return make


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 for the whole session (it takes seconds to start); its URL.
    Tests sharing it use their own collection names."""
    from rag_augment.testing import free_port
    exe = shutil.which("chroma")
    assert exe, "the chromadb package installs the `chroma` command"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with served([exe, "run", "--path", str(tmp_path_factory.mktemp("chroma-srv")), "--host", "127.0.0.1", "--port",
                 str(port)], url + "/api/v2/heartbeat", tmp_path_factory.mktemp("chroma-srv-log") / "server.log",
                "chroma server", 60):
        yield url
