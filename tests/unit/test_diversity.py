"""Diversity and bias report: pure functions on crafted queries, then the report over a small live index."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from support import SAMPLE_DOCS

from rag_augment.trust.diversity import (
    coverage,
    dispersion,
    distinct_n,
    diversity_report,
    index_diversity,
    mean_cosine_distance,
    persona_coverage,
    query_type,
    real_vs_synthetic,
    type_mix,
)
from rag_augment.types import SyntheticQuery

DOCS = SAMPLE_DOCS


def q(text, parent="c1", kind="question", persona=None):
    prov = {"persona": persona} if persona else {}
    return SyntheticQuery(f"{parent}::{text}", text, kind, parent, "d", prov)


def test_distinct_n():
    assert distinct_n(["a b c", "a b d"], 1) == pytest.approx(4 / 6, abs=1e-4)
    assert distinct_n(["a b c", "a b d"], 2) == pytest.approx(3 / 4)
    assert distinct_n(["same words here"] * 4, 2) == pytest.approx(2 / 8)
    assert distinct_n([], 1) == 0.0 and distinct_n(["one"], 2) == 0.0


def test_mean_cosine_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(7, 5))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    brute = 1 - (sims.sum() - np.trace(sims)) / (7 * 6)
    assert mean_cosine_distance(v) == pytest.approx(brute, abs=1e-4)
    assert mean_cosine_distance(np.repeat(v[:1], 3, axis=0)) == pytest.approx(0.0, abs=1e-4)
    assert mean_cosine_distance(v[:1]) is None


def test_dispersion_global_and_per_chunk():
    e = np.eye(3, dtype=np.float32)
    qs = [q("a", "c1"), q("b", "c1"), q("c", "c2")]
    vecs = np.stack([e[0], e[0], e[1]])  # c1's two queries are identical
    d = dispersion(qs, vecs)
    assert d["per_chunk_mean"] == pytest.approx(0.0, abs=1e-4) and d["chunks_measured"] == 1
    assert d["global"] == pytest.approx(1 - 2 / 6, abs=1e-4)


def test_coverage_counts_chunks_with_at_least_m():
    qs = [q("a", "c1"), q("b", "c1"), q("c", "c2"), q("x", "gone")]
    assert coverage(qs, ["c1", "c2", "c3"], 1) == {"m": 1, "chunks": 3, "covered": 2, "share": 0.6667,
                                                    "without_queries": 1}
    assert coverage(qs, ["c1", "c2", "c3"], 2)["covered"] == 1
    assert coverage([], [], 1)["share"] == 0.0


@pytest.mark.parametrize("text,kind,expected", [
    ("What is the leave policy?", "question", "what"),
    ("what's covered by transit benefits", "question", "what"),
    ("Which form do I need?", "question", "what"),
    ("How do I request leave?", "question", "how"),
    ("How much leave do I earn", "question", "how"),
    ("Can I carry over annual leave?", "question", "can_i"),
    ("May we telework on Fridays?", "question", "can_i"),
    ("Am I allowed to expense taxis?", "question", "can_i"),
    ("When is the deadline for timesheets?", "question", "when"),
    ("Where do I pick up my badge?", "question", "where"),
    ("Who approves travel?", "question", "who"),
    ("Why was my voucher rejected?", "question", "why"),
    ("Is sick leave paid?", "question", "yes_no"),
    ("Are contractors eligible?", "question", "yes_no"),
    ("Does FMLA cover adoption?", "question", "yes_no"),
    ("Explain the badge renewal process", "question", "request"),
    ("annual leave carryover", "question", "keyword"),
    ("PIV badge renewal", "paraphrase", "keyword"),
    ("Employees accrue four hours of annual leave per pay period.", "question", "claim"),
    ("zoom webinar", "keyword", "keyword"),
    ("Smoking reduces lung function", "claim", "claim"),
    ("Annual leave carryover limit?", "question", "other"),
])
def test_query_type(text, kind, expected):
    assert query_type(text, kind) == expected


def test_type_mix_and_personas():
    qs = [q("What is leave?", persona="new employee"), q("How do I apply?", "c2", persona="new employee"),
          q("leave carryover", persona="manager"), q("What is FMLA?")]
    mix = type_mix(qs)
    assert mix["counts"] == {"what": 2, "how": 1, "keyword": 1} and mix["shares"]["what"] == 0.5
    pc = persona_coverage(qs, ["c1", "c2", "c3", "c4"])
    assert pc["new employee"] == {"queries": 2, "chunks": 2, "chunk_share": 0.5, "types": {"what": 0.5, "how": 0.5}}
    assert pc["manager"]["chunks"] == 1 and persona_coverage([q("x y")], ["c1"]) == {}


def test_real_vs_synthetic_per_chunk():
    qs = [q("a", "c1", "real"), q("b", "c1"), q("c", "c1"), q("d", "c2"), q("e", "c2", "feedback")]
    assert real_vs_synthetic(qs) == {"chunks_with_real": 1, "real": 1, "generated": 3, "mean_ratio_per_chunk": 0.5}


def test_report_detects_templated_repetition():
    varied = [q("What is the leave policy?"), q("How do I book travel?", "c2"), q("badge pickup hours", "c3")]
    templated = [q(f"What is the policy on {t}?", c) for t, c in (("leave", "c1"), ("travel", "c2"),
                                                                  ("badges", "c3"))]
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(3, 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    a = diversity_report(varied, vecs, ["c1", "c2", "c3"])
    b = diversity_report(templated, vecs, ["c1", "c2", "c3"])
    assert a["distinct_2"] > b["distinct_2"] and a["distinct_1"] > b["distinct_1"]
    assert b["query_types"]["shares"] == {"what": 1.0}
    assert a["coverage"] == [{"m": 1, "chunks": 3, "covered": 3, "share": 1.0, "without_queries": 0}]


def test_index_diversity_over_a_live_index(tmp_path):
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder
    from rag_augment.generators.rules import RulesGenerator
    kb = tmp_path / "kb"
    kb.mkdir()
    shutil.copy(DOCS / "tools" / "zoom.md", kb / "zoom.md")
    idx = AugmentIndex(tmp_path / "home", embedder=HashEmbedder(64))
    idx.index_path(kb, RulesGenerator())
    rep = index_diversity(idx, m=3)
    counts = idx.stats()
    assert rep["queries"] == counts["query_vectors"] and rep["chunks"] == counts["chunks"]
    assert 0 < rep["distinct_1"] <= 1 and 0 < rep["distinct_2"] <= 1
    assert 0 < rep["dispersion"]["global"] <= 2 and rep["dispersion"]["per_chunk_mean"] is not None
    assert [c["m"] for c in rep["coverage"]] == [1, 3] and rep["coverage"][0]["share"] == 1.0
    assert set(rep["query_types"]["counts"]) <= {"what", "how", "can_i", "when", "where", "who", "why", "yes_no",
                                                 "request", "keyword", "claim", "other"}
    assert rep["by_kind"].keys() <= {"question", "paraphrase", "keyword", "claim"} and rep["personas"] == {}


def test_topic_coverage_finds_the_topic_without_queries():
    """Two well-separated groups of chunks; only the first has queries: the second topic reports 0 coverage."""
    from rag_augment.trust.diversity import topic_coverage
    from rag_augment.types import SyntheticQuery

    rng = np.random.default_rng(0)
    a, b = np.eye(8)[0], np.eye(8)[1]
    vecs = np.vstack([a + 0.05 * rng.standard_normal(8) for _ in range(6)] +
                     [b + 0.05 * rng.standard_normal(8) for _ in range(4)])
    ids = [f"c{i}" for i in range(10)]
    titles = ["Leave"] * 6 + ["Travel"] * 4
    qs = [SyntheticQuery(f"q{i}", "how much leave", "question", f"c{i}", "d") for i in range(6)]
    topics = topic_coverage(ids, vecs, titles, qs, m=1, n_topics=2)
    assert [t["topic"] for t in topics] == ["Travel", "Leave"]
    assert topics[0] == {"topic": "Travel", "chunks": 4, "queries": 0, "covered_share": 0.0}
    assert topics[1]["covered_share"] == 1.0 and topics[1]["queries"] == 6
    assert topic_coverage(ids[:1], vecs[:1], titles[:1], qs) == []
