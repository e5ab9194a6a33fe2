"""The client/server path: a real `chroma run` server on 127.0.0.1 (the session's, from tests/conftest.py)."""
import uuid

import pytest

from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import free_port

pytestmark = pytest.mark.integration


def test_index_query_delete_through_server(chroma_server, make_index, kb):
    collection = f"srv-test-{uuid.uuid4().hex[:12]}"  # one server for the session: this test's own collection
    index = make_index(chroma_url=chroma_server, collection=collection)
    rep = index.index_path(kb, RulesGenerator())
    assert rep.queries_kept > 0
    counts = index.store.counts()
    assert counts["chunks"] == rep.chunks_total and counts["queries"] == rep.queries_kept
    hits = index.query("annual leave carry over", k=5)
    assert hits and hits[0].doc_id
    assert len({h.chunk_id for h in hits}) == len(hits)
    # a second client (another process would do the same) sees the same data
    other = make_index(home="other-home", chroma_url=chroma_server, collection=collection)
    assert other.store.counts() == counts
    assert other.query("annual leave carry over", k=5)[0].chunk_id == hits[0].chunk_id
    index.delete_document("tools/zoom.md")
    assert not index.store.chunk_ids_of_docs(["tools/zoom.md"])


def test_unreachable_server_is_a_clear_error(make_index):
    from rag_augment.errors import StoreError
    with pytest.raises(StoreError, match="127.0.0.1"):
        make_index(chroma_url=f"http://127.0.0.1:{free_port()}")
