import os
import shutil
import subprocess
import time
import urllib.request

import pytest
from support import REPO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = REPO
SAMPLE_DOCS = ROOT / "sample_kb" / "docs"


@pytest.fixture
def hash_embedder():
    from rag_augment.testing import HashEmbedder
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


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 for the whole session (it takes seconds to start); its URL.
    Tests sharing it use their own collection names."""
    from rag_augment.testing import free_port
    exe = shutil.which("chroma")
    assert exe, "the chromadb package installs the `chroma` command"
    port = free_port()
    log = tmp_path_factory.mktemp("chroma-srv-log") / "server.log"  # a file, not a pipe: a full pipe blocks it
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "run", "--path", str(tmp_path_factory.mktemp("chroma-srv")), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"chroma server did not start within 60 s: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
