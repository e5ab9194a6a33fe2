"""The retriever searches its legs at once on a thread pool: the result must be exactly what the legs give in turn,
on the hot path and on the metadata path (kind weights), and an error in one leg must surface."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from support import copy_sample_docs

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.errors import StoreError
from rag_augment.generators.rules import RulesGenerator
from rag_augment.lexical import Tokenizer
from rag_augment.profiles import load_profile
from rag_augment.search.pipeline import SearchPipeline

QUERIES = ["can I carry over vacation days", "lost my badge", "video calls with guests", "transit subsidy",
           "does the government pay for my commute", "zoom", "jury duty leave", "PIV card renewal"]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retriever")
    copy_sample_docs(tmp / "kb", ("getting-started/piv.md", "tools/zoom.md", "travel-and-leave/leave.md",
                                  "general-information-and-resources/employee-resources-policies/transit-benefit.md"))
    idx = AugmentIndex(tmp / "home", embedder=HashEmbedder(128))
    idx.index_path(tmp / "kb", RulesGenerator())
    _ = idx.retriever  # loads the lexical index
    return idx


def retrievers(index, **kw):
    return (SearchPipeline(index.store, index.embedder, index.lexical, workers=1, **kw),
            SearchPipeline(index.store, index.embedder, index.lexical, workers=4, **kw))


@pytest.mark.parametrize("kind_weights", [{"real": 1.0}, {"real": 2.0, "question": 0.5}])
def test_legs_at_once_equal_legs_in_turn(index, kind_weights):
    profile = replace(load_profile("default"), kind_weights=kind_weights)  # != 1: the metadata path
    serial, parallel = retrievers(index, profile=profile)
    for q in QUERIES:
        a, b = serial.legs_for(q, all_legs=True), parallel.legs_for(q, all_legs=True)
        assert a.legs == b.legs and a.matched == b.matched and a.query_text == b.query_text
        assert set(a.legs) == {"chunk_dense", "query_dense", "chunk_lexical", "doc2query_lexical", "query_lexical"}
        assert serial.search(q, k=5) == parallel.search(q, k=5)
    assert parallel.legs._pool is not None and serial.legs._pool is None


def run_threads(target, args_list) -> list[BaseException]:
    """Run target(*args) on one thread each and return what they raised: an exception on a plain thread is only
    printed, so a test that just joins its threads passes when they crash."""
    crashes: list[BaseException] = []

    def guarded(*args):
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - every crash must reach the test
            crashes.append(exc)

    threads = [threading.Thread(target=guarded, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return crashes


def test_many_callers_at_once_get_what_one_gets(index):
    """An app answering several users at once shares one retriever (and its tokenizer, whose stemmer is per
    thread): every thread must see the serial answer."""
    serial, parallel = retrievers(index)
    want = {q: serial.search(q, k=5, with_text=False) for q in QUERIES}
    wrong = []

    def ask():
        for q in QUERIES * 3:
            if parallel.search(q, k=5, with_text=False) != want[q]:
                wrong.append(q)

    assert run_threads(ask, [()] * 6) == [] and wrong == []


def test_a_crash_in_a_leg_worker_reaches_the_callers_check(index, monkeypatch):
    """The check above can fail: a leg that raises on the pool's worker thread surfaces in every caller thread."""
    _, parallel = retrievers(index)

    def broken(*a, **kw):
        raise StoreError("lexical index at X: torn")
    monkeypatch.setattr(index.lexical, "search", broken)
    crashes = run_threads(lambda: parallel.search("zoom", k=5, with_text=False), [()] * 3)
    assert len(crashes) == 3 and all(isinstance(c, StoreError) for c in crashes)


def test_an_error_in_one_leg_is_raised(index, monkeypatch):
    _, parallel = retrievers(index)

    def broken(*a, **kw):
        raise StoreError("lexical index at X: torn")
    monkeypatch.setattr(index.lexical, "search", broken)
    with pytest.raises(StoreError, match="torn"):
        parallel.legs_for("zoom", all_legs=True)


def test_tokenizer_shared_by_threads_matches_serial():
    tok = Tokenizer()
    texts = [f"running runners ran {i} generously organised organizations" for i in range(200)]
    want = [tok(t) for t in texts]
    got: dict[int, list] = {}

    def work(offset):
        for i in range(offset, len(texts), 4):
            got[i] = tok(texts[i])

    assert run_threads(work, [(o,) for o in range(4)]) == []
    assert [got[i] for i in range(len(texts))] == want and want[0][:2] == ["run", "runner"]


def test_an_index_keeps_one_retriever_and_its_pool(index):
    r = index.retriever
    index.query("zoom", k=3)
    index.query("badge", k=3)
    assert index.retriever is r and r.legs._pool is not None
    pool = r.legs._pool
    index.query("leave", k=3)
    assert r.legs._pool is pool  # not a new pool (and new threads) per query
    old_profile = index.profile
    try:
        index.profile = replace(old_profile, name="other")
        assert index.retriever is not r and index.retriever.profile is index.profile
    finally:
        index.profile = old_profile
