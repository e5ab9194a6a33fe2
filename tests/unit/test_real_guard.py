"""The guard on users' queries (FusionProfile.real_floor, rag_augment.search.legs): a logged query votes for its
chunk only when the incoming query is within the floor's cosine of it. A question close to no logged query gets the
legs it got before anything was logged (so the min-max scale of doc2query_lexical and query_dense cannot move under
it); a question close to one gets that query's vote in every leg it lives in; with the floor at 0, users' queries
vote like synthetic ones (the behaviour before the guard)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from support import copy_sample_docs

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.errors import ConfigError
from rag_augment.fusion import FusionProfile
from rag_augment.generators.rules import RulesGenerator
from rag_augment.lexical import is_user_query
from rag_augment.profiles import load_profile
from rag_augment.search.legs import LegSearch

FILES = ("getting-started/piv.md", "tools/zoom.md", "tools/office.md", "travel-and-leave/leave.md",
         "general-information-and-resources/sensitive-information.md")
LOGGED = "how do I send a file with PII to a partner agency whose email strips attachments"
UNRELATED = "partner agency only sends excel files and can't use google sheets, what do I do"
GUARDED = replace(load_profile("default"), real_floor=0.4)
OPEN = replace(GUARDED, real_floor=0.0)
QUERY_LEGS = ("query_dense", "query_lexical", "doc2query_lexical")


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("guard")
    copy_sample_docs(tmp / "kb", FILES)
    idx = AugmentIndex(tmp / "home", embedder=HashEmbedder(256))
    idx.index_path(tmp / "kb", RulesGenerator())
    _ = idx.retriever
    return idx


def legs(index: AugmentIndex, text: str, profile: FusionProfile) -> dict:
    res = LegSearch(index.store, index.embedder, index.lexical, workers=1).search(text, profile=profile)
    return {**res.legs, "voters": {q for m in res.matched.values() for q, _, _ in m if is_user_query(q)}}


@pytest.fixture(scope="module")
def logged(index):
    """The legs of both questions before and after LOGGED is stored as a real query of the sensitive-information
    chunk it names (the q142 case of tests/results/test_lifecycle.py)."""
    before = {t: {p.real_floor: legs(index, t, p) for p in (GUARDED, OPEN)} for t in (LOGGED, UNRELATED)}
    vec = index.embedder.embed([LOGGED, UNRELATED])
    assert float(vec[0] @ vec[1]) < GUARDED.real_floor, "the two questions must sit below the floor"
    # the page's chunk that the unrelated question finds best by its words (as in the q142 case)
    page = "general-information-and-resources/sensitive-information.md"
    target = next(p for p, _ in before[UNRELATED][0.0]["doc2query_lexical"] if p.startswith(page + "#"))
    index.add_real_queries([{"text": LOGGED, "chunk_id": target}])
    after = {t: {p.real_floor: legs(index, t, p) for p in (GUARDED, OPEN)} for t in (LOGGED, UNRELATED)}
    return before, after, target


def test_a_question_far_from_every_logged_query_keeps_its_legs(logged):
    before, after, _ = logged
    b, a = before[UNRELATED][0.4], after[UNRELATED][0.4]
    for leg in ("chunk_dense", "query_dense", "doc2query_lexical"):
        assert a[leg] == b[leg], leg
    # query_lexical: the logged query's words change the BM25 statistics of the query corpus, so its scores may
    # move a little, but no user query enters it (nor any other leg)
    assert not a["voters"] and after[UNRELATED][0.0]["voters"]


def test_without_the_floor_the_logged_query_moves_the_unrelated_questions_legs(logged):
    """What the guard prevents (the test above could not fail otherwise): with the floor at 0 the logged query
    raises its chunk in doc2query_lexical and so moves that leg's top score, the min-max scale of every other chunk."""
    before, after, target = logged
    b, a = before[UNRELATED][0.0], after[UNRELATED][0.0]
    assert dict(a["doc2query_lexical"])[target] > dict(b["doc2query_lexical"]).get(target, 0.0)
    assert a["doc2query_lexical"][0] == (target, pytest.approx(dict(a["doc2query_lexical"])[target]))
    assert a["doc2query_lexical"][0][1] > b["doc2query_lexical"][0][1]


def test_a_close_question_gets_the_logged_querys_vote(logged):
    _, after, target = logged
    guarded, unguarded = after[LOGGED][0.4], after[LOGGED][0.0]
    for leg in QUERY_LEGS:
        assert dict(guarded[leg]).get(target) == pytest.approx(dict(unguarded[leg]).get(target)), leg
    assert guarded["query_dense"][0] == (target, pytest.approx(1.0, abs=1e-4))
    assert guarded["voters"]


def test_synthetic_queries_step_aside_only_where_a_user_query_votes(index, logged):
    _, _, target = logged
    search = LegSearch(index.store, index.embedder, index.lexical, workers=1)
    stepped = replace(GUARDED, step_aside=True)
    close, far = (search.search(t, profile=stepped) for t in (LOGGED, UNRELATED))
    kept = {q for m in close.matched.values() for q, _, _ in m if q.startswith(target + "::")}
    assert kept and all(is_user_query(q) for q in kept)  # only its users' queries speak for the voted chunk
    assert target in dict(close.legs["doc2query_lexical"])
    other = [q for p, m in close.matched.items() if p != target for q, _, _ in m]
    assert other and not any(is_user_query(q) for q in other)  # the other chunks keep their synthetic queries
    # a question no user query votes for: as with the guard alone
    assert far.legs == search.search(UNRELATED, profile=GUARDED).legs


def test_the_floor_is_checked_and_the_kind_letters_are_distinct():
    with pytest.raises(ConfigError):
        FusionProfile(real_floor=1.0)
    with pytest.raises(ConfigError):
        FusionProfile(real_floor=-0.1)
    assert is_user_query("a.md#1::r0123") and is_user_query("a.md#1::f0123")
    assert not is_user_query("a.md#1::q0123") and not is_user_query("a::b.md#1::p0123")
    assert np.isclose(load_profile("default").real_floor, 0.4)


def test_the_guard_reads_nothing_from_chroma_at_query_time(index, logged, monkeypatch):
    """The synthetic-only doc2query index is part of the saved lexical index: a query (a CLI process starts cold)
    does not read and tokenize the corpus again."""
    from rag_augment.lexical import SYNTHETIC_DOC2QUERY, LexicalIndex
    fresh = LexicalIndex(index.lexical.folder)
    assert fresh.load() and SYNTHETIC_DOC2QUERY in fresh.sizes()

    def no_scan(*args, **kwargs):
        raise AssertionError("the corpus was read at query time")
    monkeypatch.setattr(index.store, "iter_all", no_scan)
    res = LegSearch(index.store, index.embedder, fresh, workers=1).search(UNRELATED, profile=GUARDED)
    assert res.legs["doc2query_lexical"] == legs(index, UNRELATED, GUARDED)["doc2query_lexical"]


def test_a_lexical_index_saved_before_that_leg_is_rebuilt_once_users_queries_exist(index, logged):
    import shutil as sh

    from rag_augment.lexical import SYNTHETIC_DOC2QUERY, LexicalIndex
    copy = index.lexical.folder.parent / "lexical-old-format"
    sh.copytree(index.lexical.folder, copy)
    sh.rmtree(copy / SYNTHETIC_DOC2QUERY)
    assert not LexicalIndex(copy).load()  # the index then rebuilds it from Chroma (AugmentIndex._ensure_lexical)


def test_the_floor_from_the_log_stays_the_profiles_until_the_log_can_judge(index, logged):
    """floor_from_log (rag_augment.search.floor, tested on its own in test_floor_from_log.py): one logged query
    gives no pair to judge, so the profile's floor stands; without the guard there is no floor."""
    search = LegSearch(index.store, index.embedder, index.lexical, workers=1)
    assert search.floor(replace(GUARDED, floor_from_log=True)) == GUARDED.real_floor
    assert search.floor(GUARDED) == GUARDED.real_floor and search.floor(OPEN) is None
    assert (search.search(LOGGED, profile=replace(GUARDED, floor_from_log=True)).legs
            == search.search(LOGGED, profile=GUARDED).legs)
