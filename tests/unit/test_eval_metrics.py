"""Metrics against hand-computed values: duplicates, chunk collapse, ties, empty rankings, graded nDCG, the
LangChain child-vector cut, and the paired bootstrap's determinism."""
import math

import numpy as np
import pytest

from rag_augment import metrics as M


def test_hand_computed_binary_case():
    # relevant: a, c. Ranking: x a y c -> a at 2, c at 4
    s = M.score_query(["x", "a", "y", "c"], {"a": 1, "c": 1})
    assert s["R@1"] == 0.0
    assert s["R@5"] == 1.0 and s["R@10"] == 1.0 and s["R@100"] == 1.0
    assert s["MRR@10"] == 0.5
    assert s["Hit@10"] == 1.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert s["nDCG@10"] == pytest.approx(dcg / idcg)


def test_duplicates_count_once_and_never_exceed_one():
    # "a" found by three children of the same parent: distinct ids first, so "c" moves up to rank 2
    s = M.score_query(["a", "a", "a", "c"], {"a": 1, "c": 1})
    assert s["nDCG@10"] == pytest.approx(1.0)
    assert s["R@1"] == 0.5 and s["R@5"] == 1.0
    assert all(v <= 1.0 for v in s.values())


def test_chunks_collapse_to_their_documents():
    chunk_doc = {"d1#1": "d1", "d1#2": "d1", "d2#1": "d2"}
    docs, costs = M.to_documents(["d1#2", "d1#1", "d2#1"], chunk_doc)
    assert docs == ["d1", "d2"] and costs is None
    s = M.score_query(docs, {"d2": 1})
    assert s["R@1"] == 0.0 and s["MRR@10"] == 0.5  # d2 is the 2nd document, although the 3rd chunk


def test_graded_ndcg_uses_linear_gain():
    rels = {"a": 2, "b": 1}
    s = M.score_query(["b", "a"], rels)
    dcg = 1 + 2 / math.log2(3)
    idcg = 2 + 1 / math.log2(3)
    assert s["nDCG@10"] == pytest.approx(dcg / idcg)
    assert M.score_query(["a", "b"], rels)["nDCG@10"] == pytest.approx(1.0)


def test_judged_non_relevant_rows_are_not_relevant():
    s = M.score_query(["z", "a"], {"a": 1, "z": 0})
    assert s["R@1"] == 0.0 and s["MRR@10"] == 0.5


def test_ties_follow_the_given_order():
    # tied scores are ordered by the fusion (by id); metrics take that order as it is
    assert M.score_query(["a", "b"], {"b": 1})["MRR@10"] == 0.5
    assert M.score_query(["b", "a"], {"b": 1})["MRR@10"] == 1.0


def test_empty_ranking_scores_zero_and_missing_query_too():
    s = M.score_query([], {"a": 1})
    assert all(v == 0.0 for v in s.values())
    run = M.score_run({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert run["nDCG@10"].tolist() == [1.0, 0.0]


def test_costs_cut_by_child_vectors():
    # parents p1 (best child rank 1), p2 (rank 4): at k=1..3 only p1 is retrieved, at k=5 both
    s = M.score_query(["p1", "p2"], {"p2": 1}, costs=[1, 4])
    assert s["R@1"] == 0.0 and s["R@5"] == 1.0
    assert s["MRR@10"] == 0.5


def test_recall_at_k_over_many_relevant():
    rels = {f"d{i}": 1 for i in range(4)}
    s = M.score_query(["d0", "x", "d1"], rels)
    assert s["R@1"] == 0.25 and s["R@5"] == 0.5


def test_paired_bootstrap_is_deterministic_and_brackets_the_mean():
    rng = np.random.default_rng(1)
    base = rng.random(200)
    system = base + 0.05 + rng.normal(0, 0.05, 200)
    first = M.paired_bootstrap(system, base, n=2000, seed=3)
    assert first == M.paired_bootstrap(system, base, n=2000, seed=3)
    delta, lo, hi = first
    assert delta == pytest.approx(float((system - base).mean()))
    assert lo < delta < hi and lo > 0
    assert M.paired_bootstrap(base, base, n=500) == (0.0, 0.0, 0.0)


def test_wins_losses():
    assert M.wins_losses(np.array([1.0, 0.5, 0.2]), np.array([0.5, 0.5, 0.3])) == (1, 1, 1)
