"""The client/server path: a real `chroma run` server on 127.0.0.1, started by the test."""
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from rag_augment.generators.rules import RulesGenerator

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    exe = shutil.which("chroma")
    assert exe, "the chromadb package installs the `chroma` command"
    port = _free_port()
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path_factory.mktemp("chroma-srv")), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_index_query_delete_through_server(chroma_server, make_index, kb):
    index = make_index(chroma_url=chroma_server, collection="srv-test")
    rep = index.index_path(kb, RulesGenerator())
    assert rep.queries_kept > 0
    counts = index.store.counts()
    assert counts["chunks"] == rep.chunks_total and counts["queries"] == rep.queries_kept
    hits = index.query("annual leave carry over", k=5)
    assert hits and hits[0].doc_id
    assert len({h.chunk_id for h in hits}) == len(hits)
    # a second client (another process would do the same) sees the same data
    other = make_index(home="other-home", chroma_url=chroma_server, collection="srv-test")
    assert other.store.counts() == counts
    assert other.query("annual leave carry over", k=5)[0].chunk_id == hits[0].chunk_id
    index.delete_document("tools/zoom.md")
    assert not index.store.chunk_ids_of_docs(["tools/zoom.md"])


def test_unreachable_server_is_a_clear_error(make_index):
    from rag_augment.errors import StoreError
    with pytest.raises(StoreError, match="127.0.0.1"):
        make_index(chroma_url=f"http://127.0.0.1:{_free_port()}")
