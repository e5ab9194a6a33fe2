"""Fusion as pure functions, against hand-computed values."""
import pytest

from rag_augment.errors import ConfigError
from rag_augment.fusion import FusionProfile, collapse_to_parents, combine, fuse, merge_dense, rrf, weighted_sum


def test_collapse_keeps_best_child_per_parent_and_orders_children():
    ranked, matched = collapse_to_parents([("q1", "A", 0.5), ("q2", "B", 0.9), ("q3", "A", 0.7), ("q4", "B", 0.1)])
    assert ranked == [("B", 0.9), ("A", 0.7)]
    assert matched == {"A": ["q3", "q1"], "B": ["q2", "q4"]}


def test_collapse_empty():
    assert collapse_to_parents([]) == ([], {})


def test_rrf_hand_computed_with_ties_broken_by_id():
    legs = {"x": [("A", 9.0), ("B", 1.0)], "y": [("B", 5.0), ("A", 4.0)]}
    scores = rrf(legs, {"x": 1.0, "y": 1.0}, k=60)
    assert scores["A"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["B"] == pytest.approx(1 / 62 + 1 / 61)
    ranked, _ = fuse(legs, FusionProfile(dense_pair="separate", weights={"chunk_lexical": 1.0}), k=10)
    # only weighted legs count: "x"/"y" are not leg names, so nothing is fused
    assert ranked == []
    prof = FusionProfile(dense_pair="separate", weights={"chunk_dense": 1.0, "chunk_lexical": 1.0})
    ranked, _ = fuse({"chunk_dense": legs["x"], "chunk_lexical": legs["y"]}, prof, k=10)
    assert [p for p, _ in ranked] == ["A", "B"]  # equal scores: ties go to the smaller id, deterministically


def test_rrf_weights_and_missing_leg():
    scores = rrf({"a": [("P", 1.0)], "b": []}, {"a": 2.0, "b": 1.0}, k=1)
    assert scores == {"P": pytest.approx(2.0 / 2)}


def test_weighted_sum_minmax_and_single_value_leg():
    scores = weighted_sum({"a": [("P", 10.0), ("Q", 5.0), ("R", 0.0)], "b": [("R", 3.0)]}, {"a": 1.0, "b": 0.5})
    assert scores == {"P": pytest.approx(1.0), "Q": pytest.approx(0.5), "R": pytest.approx(0.5)}


def test_weighted_sum_by_max_keeps_a_weak_legs_weakness():
    # "max": 0 stays 0 and the best hit maps to 1, so a leg's scores keep their ratios to its best
    legs = {"a": [("P", 4.0), ("Q", 2.0)], "b": [("Q", 0.5), ("R", -0.5)]}
    scores = weighted_sum(legs, {"a": 1.0, "b": 1.0}, "max")
    assert scores["P"] == pytest.approx(1.0)
    assert scores["Q"] == pytest.approx(0.5 + 1.0)
    assert scores["R"] == pytest.approx(0.0)  # a negative score: lo = min(0, -0.5), (-0.5 + 0.5) / 1.0


def test_weighted_sum_dbsf_mean_three_sigma_clipped():
    # scores 0, 0, 0, 4: mean 1, sd sqrt(3); bounds 1 -+ 3 sqrt(3); 4 -> (3 + 3 sqrt 3) / (6 sqrt 3)
    legs = {"a": [("P", 4.0), ("Q", 0.0), ("R", 0.0), ("S", 0.0)]}
    scores = weighted_sum(legs, {"a": 2.0}, "dbsf")
    sd = 3 ** 0.5
    assert scores["P"] == pytest.approx(2.0 * (3 + 3 * sd) / (6 * sd))
    assert scores["Q"] == pytest.approx(2.0 * (3 * sd - 1) / (6 * sd))
    # one hit, or all equal: no spread, every hit maps to 1
    assert weighted_sum({"a": [("P", 3.0), ("Q", 3.0)]}, {"a": 1.0}, "dbsf") == {"P": 1.0, "Q": 1.0}


def test_combine_follows_the_profile_and_takes_extra_legs():
    legs = {"chunk_dense": [("A", 0.9), ("B", 0.1)], "base": [("B", 1.0), ("A", 0.5)]}
    weights = {"chunk_dense": 1.0, "base": 1.0}
    assert combine(legs, weights, FusionProfile(rrf_k=1)) == rrf(legs, weights, 1)
    weighted = FusionProfile(method="weighted", normalize="max")
    assert combine(legs, weights, weighted) == pytest.approx({"A": 1.5, "B": 1.0 + 0.1 / 0.9})


def test_merge_dense_max_and_sum_with_floor_for_missing():
    chunk = [("A", 0.8), ("B", 0.4)]
    child = [("B", 0.9), ("C", 0.6)]
    assert merge_dense(chunk, child, "max", 1.0) == [("B", 0.9), ("A", 0.8), ("C", 0.6)]
    summed = dict(merge_dense(chunk, child, "sum", 0.5))
    assert summed["A"] == pytest.approx(0.8 + 0.3)   # child floor = min child score (0.6) * 0.5
    assert summed["B"] == pytest.approx(0.4 + 0.45)
    assert summed["C"] == pytest.approx(0.4 + 0.3)   # chunk floor = 0.4


def test_k_counts_parents_and_k_larger_than_corpus():
    prof = FusionProfile()
    legs = {"chunk_dense": [("A", 0.9), ("B", 0.5)], "query_dense": [("A", 0.95), ("C", 0.7)],
            "chunk_lexical": [("C", 3.0)]}
    ranked, fused_legs = fuse(legs, prof, k=100)
    assert sorted(p for p, _ in ranked) == ["A", "B", "C"]
    assert len({p for p, _ in ranked}) == len(ranked)
    assert "dense" in fused_legs and "chunk_dense" not in fused_legs
    assert fuse(legs, prof, k=1)[0][0][0] in {"A", "C"}
    assert fuse({}, prof, k=5)[0] == []


def test_profile_validation_names_the_field():
    with pytest.raises(ConfigError, match="fusion.method"):
        FusionProfile(method="borda")
    with pytest.raises(ConfigError, match="unknown legs"):
        FusionProfile(weights={"nope": 1.0})
    with pytest.raises(ConfigError, match="fusion.normalize"):
        FusionProfile(method="weighted", normalize="zscore")


def test_profile_round_trip(tmp_path):
    prof = FusionProfile(name="t", method="weighted", child_weight=0.5, normalize="dbsf")
    path = tmp_path / "p.json"
    path.write_text(prof.to_json())
    assert FusionProfile.load(path) == prof


def test_profile_written_before_normalize_existed_loads_as_minmax():
    old = {"name": "old", "method": "weighted"}
    assert FusionProfile.from_dict(old).normalize == "minmax"
