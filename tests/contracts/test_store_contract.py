"""The contract the store keeps in both of its modes: embedded (PersistentClient on disk) and client/server (a
real `chroma run` on 127.0.0.1, marked integration). Same calls, same answers."""
from __future__ import annotations

import uuid

import numpy as np
import pytest

from rag_augment.store.chroma import ChromaStore, open_chroma_client
from rag_augment.types import KEYWORD, QUESTION, REAL, Chunk, SyntheticQuery


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.integration)])
def store(request, tmp_path):
    if request.param == "embedded":
        yield ChromaStore(open_chroma_client(path=str(tmp_path / "chroma")), "contract")
        return
    client = open_chroma_client(url=request.getfixturevalue("chroma_server"))
    name = f"contract-{uuid.uuid4().hex[:12]}"  # one server for the session: each test its own collections
    yield ChromaStore(client, name)
    for suffix in ("chunks", "queries"):
        client.delete_collection(f"{name}-{suffix}")


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


# cosine to PROBE: 1.0, 0.8, 0.6, 0.0 -- the order a search must return
PROBE = unit(1, 0, 0, 0)
CHUNKS = [
    Chunk("a#0", "a", "annual leave accrues", "ha", position=0, title="Leave", seeds=("Leave", "Annual leave"),
          metadata={"team": "hr", "tags": ["x", "y"], "dropped": None, "pages": 3, "draft": False}),
    Chunk("a#1", "a", "leave carry over", "hb", position=1, title="Leave"),
    Chunk("b#0", "b", "zoom guests", "hc", title="Zoom"),
    Chunk("c#0", "c", "badge pickup", "hd"),
]
CHUNK_VECS = np.stack([unit(1, 0, 0, 0), unit(0.8, 0.6, 0, 0), unit(0.6, 0, 0.8, 0), unit(0, 0, 0, 1)])
PROV = {"generator": "rules", "model": "rules", "model_hash": "", "prompt_version": "rules-v2", "temperature": 0.7,
        "seed": 1, "created_at": "2024-01-01T00:00:00+00:00", "review_status": "unreviewed", "origin": "generated",
        "round": None, "api_base": "http://secret.example"}  # None and unknown keys are not stored
QUERIES = [
    SyntheticQuery("q1", "how much annual leave", QUESTION, "a#0", "a", PROV),
    SyntheticQuery("q2", "annual leave", KEYWORD, "a#0", "a", PROV),
    SyntheticQuery("q3", "can leave carry over", QUESTION, "a#1", "a", PROV),
    SyntheticQuery("q4", "guests in zoom", REAL, "b#0", "b", {"origin": "real", "generator": "human"}),
]
QUERY_VECS = np.stack([unit(1, 0.1, 0, 0), unit(1, 0, 0.5, 0), unit(0.5, 1, 0, 0), unit(0, 0, 1, 0)])


@pytest.fixture
def filled(store):
    store.upsert_chunks(CHUNKS, CHUNK_VECS, gen_key="g1")
    store.upsert_queries(QUERIES, QUERY_VECS)
    return store


def stored_provenance(prov: dict) -> dict:
    keys = {"generator", "model", "model_hash", "prompt_version", "temperature", "seed", "created_at",
            "review_status", "origin"}
    return {k: v for k, v in prov.items() if k in keys and v is not None}


def test_chunks_round_trip_with_metadata(filled):
    got = filled.get_chunks(["a#0", "c#0", "a#0", "nope#9"])  # a repeat and an unknown id are fine
    assert set(got) == {"a#0", "c#0"}
    assert got["a#0"]["text"] == "annual leave accrues"
    assert got["a#0"]["metadata"] == {"team": "hr", "tags": "['x', 'y']", "pages": 3, "draft": False, "doc_id": "a",
                                      "content_hash": "ha", "position": 0, "title": "Leave",
                                      "seeds": "Leave\nAnnual leave", "gen_key": "g1"}
    states = filled.chunk_states()
    assert set(states) == {c.chunk_id for c in CHUNKS} and states["c#0"]["content_hash"] == "hd"
    vecs = filled.embeddings("chunks", ["b#0", "a#1"])
    assert np.allclose(vecs["b#0"], CHUNK_VECS[2], atol=1e-6) and np.allclose(vecs["a#1"], CHUNK_VECS[1], atol=1e-6)
    assert sorted(filled.chunk_ids_of_docs(["a", "c"])) == ["a#0", "a#1", "c#0"]


def test_upsert_replaces_and_set_gen_key_keeps_the_rest(filled):
    filled.upsert_chunks([Chunk("b#0", "b", "zoom guests and passcodes", "hc2", title="Zoom")], CHUNK_VECS[2:3])
    assert filled.counts() == {"chunks": 4, "queries": 4}
    assert filled.get_chunks(["b#0"])["b#0"]["text"] == "zoom guests and passcodes"
    filled.set_gen_key(["a#0", "b#0"], "g2")
    meta = filled.chunk_states()
    assert (meta["a#0"]["gen_key"], meta["b#0"]["gen_key"], meta["a#1"]["gen_key"]) == ("g2", "g2", "g1")
    assert meta["a#0"]["team"] == "hr" and meta["b#0"]["content_hash"] == "hc2"


def test_queries_round_trip_with_provenance(filled):
    got = {q.query_id: q for q in filled.get_queries(["q4", "q1", "q1"])}
    assert got["q1"] == SyntheticQuery("q1", "how much annual leave", QUESTION, "a#0", "a", stored_provenance(PROV))
    assert got["q4"].kind == REAL and got["q4"].provenance == {"origin": "real", "generator": "human"}
    assert sorted(q.query_id for q in filled.queries_of(["a#0", "a#1"])) == ["q1", "q2", "q3"]
    assert [q.query_id for q in filled.queries_of(["a#0"], kinds=[KEYWORD])] == ["q2"]
    assert filled.queries_of(["c#0"]) == []


def test_delete_chunks_removes_their_queries_and_nothing_else(filled):
    filled.delete_chunks(["a#0", "b#0"])
    assert filled.counts() == {"chunks": 2, "queries": 1}
    assert set(filled.chunk_states()) == {"a#1", "c#0"}
    assert [q.query_id for q in filled.get_queries(["q1", "q2", "q3", "q4"])] == ["q3"]
    filled.delete_chunks([])  # nothing to do, no error
    filled.delete_queries(["q3"])
    assert filled.counts() == {"chunks": 2, "queries": 0}


def test_search_returns_best_first(filled):
    hits = filled.search("chunks", PROBE, 10, include_docs=True)
    assert [h[0] for h in hits] == ["a#0", "a#1", "b#0", "c#0"]
    assert np.allclose([h[1] for h in hits], [1.0, 0.8, 0.6, 0.0], atol=1e-4)
    assert hits[0][2]["doc_id"] == "a" and hits[0][3] == "annual leave accrues"
    lean = filled.search("chunks", PROBE, 2, include_meta=False)
    assert [(h[0], h[2], h[3]) for h in lean] == [("a#0", {}, None), ("a#1", {}, None)]
    assert filled.search("chunks", PROBE, 0) == []
    assert [h[0] for h in filled.search("queries", PROBE, 2)] == ["q1", "q2"]
    assert filled.search("queries", PROBE, 1)[0][2]["parent_id"] == "a#0"


def test_empty_store_counts_and_searches(store):
    assert store.counts() == {"chunks": 0, "queries": 0}
    assert store.search("chunks", PROBE, 5) == [] and store.search("queries", PROBE, 5) == []
    assert list(store.iter_all("chunks")) == [] and store.chunk_states() == {}


def test_iter_all_pages_through_everything(store):
    store._batch = 3  # Chroma's own batch limit is thousands: a small one makes 12 records take 4 pages
    chunks = [Chunk(f"d{i}#0", f"d{i}", f"text {i}", f"h{i}") for i in range(12)]
    vecs = np.stack([unit(1, i, 0, 0) for i in range(12)])
    store.upsert_chunks(chunks, vecs)  # upserted in pages of 3 too
    pages = list(store.iter_all("chunks"))
    assert len(pages) == 4 and all(len(ids) == 3 for ids, _, _ in pages)
    seen = {i: (d, m["doc_id"]) for ids, docs, metas in pages for i, d, m in zip(ids, docs, metas)}
    assert seen == {c.chunk_id: (c.text, c.doc_id) for c in chunks}
    assert set(store.chunk_states()) == set(seen)
    ids_only = [ids for ids, docs, _ in store.iter_all("chunks", include=())]
    assert sorted(i for ids in ids_only for i in ids) == sorted(seen)
