"""benchmarks/studies/probe_agreement: RESULT.md's tables are what the committed files give (rendered again here and
compared, so no figure is typed by hand), and the agreement is computed as documented on a hand-made example."""
import math

import pytest

from benchmarks.studies.probe_agreement import study as S


def test_committed_tables_are_a_fresh_rendering():
    assert S.committed_tables() == S.render().strip("\n")


def _profile(w: float) -> dict:
    return {"name": f"p{w}", "notes": "", "method": "weighted", "weights": {"chunk_dense": w}}


def _record() -> dict:
    # base "robust"; "a" gains on plain probes and loses on masked, and loses on the split beyond its interval;
    # "b" gains everywhere; "c" has a's profile (counted once); "d" has the base's profile (no change).
    profiles = {"robust": _profile(1.0), "a": _profile(2.0), "b": _profile(3.0), "c": _profile(2.0),
                "d": _profile(1.0) | {"name": "other", "notes": "same weights"}}
    probe = {"plain": {"robust": 0.50, "a": 0.60, "b": 0.55, "c": 0.60, "d": 0.50},
             "masked": {"robust": 0.40, "a": 0.30, "b": 0.50, "c": 0.30, "d": 0.40}}
    base_q = [0.5, 0.5, 0.5, 0.5]
    systems = {"robust": {"nDCG@10": base_q}, "a": {"nDCG@10": [0.0, 0.0, 0.0, 0.0]},
               "b": {"nDCG@10": [1.0, 0.5, 0.5, 0.5]}, "c": {"nDCG@10": [0.0, 0.0, 0.0, 0.0]},
               "d": {"nDCG@10": base_q}}
    return {"set": "toy", "split": "train", "probe_nDCG@10": probe, "systems": systems, "profiles": profiles}


def test_pairs_count_each_distinct_change_once_and_leave_out_no_change():
    ps = S.pairs(_record(), "robust")
    assert [p.change for p in ps] == ["a", "b"]
    a, b = ps
    assert a.probe["plain"] == pytest.approx(0.10) and a.probe["masked"] == pytest.approx(-0.10)
    assert a.probe["both"] == pytest.approx(0.0) and a.probe["min"] == pytest.approx(-0.10)
    assert a.delta == pytest.approx(-0.5) and a.lo == pytest.approx(-0.5) and a.hi == pytest.approx(-0.5)
    assert a.beyond
    assert b.delta == pytest.approx(0.125) and b.lo == pytest.approx(0.0) and not b.beyond


def test_agreement_is_the_share_of_matching_signs():
    ps = S.pairs(_record(), "robust")
    # plain: a +/- (no), b +/+ (yes); masked: a -/- (yes), b +/+ (yes); both: a 0/- (no), b +/+ (yes)
    assert S.agreement(ps, "plain") == (0.5, 2)
    assert S.agreement(ps, "masked") == (1.0, 2)
    assert S.agreement(ps, "both") == (0.5, 2)
    assert S.agreement(ps, "never") == (0.5, 2)
    # strict: only a's split gain is beyond its interval
    assert S.agreement(ps, "plain", strict=True) == (0.0, 1)
    assert S.agreement(ps, "masked", strict=True) == (1.0, 1)
    value, n = S.agreement([], "plain")
    assert n == 0 and math.isnan(value)


def test_the_recipe_is_chosen_on_train_pairs_only():
    train = S.pairs(_record(), "robust")
    assert S.choose(train) == "masked"
    # ten test pairs on which only plain probes have the right sign: counted, they would make plain win
    favour_plain = {**dict.fromkeys(S.RECIPES, 1.0), "plain": -1.0}
    test = [S.Pair("toy", "test", "robust", f"z{i}", favour_plain, -1.0, -2.0, -0.5) for i in range(10)]
    assert S.agreement(test, "plain") == (1.0, 10)
    assert S.choose(train + test) == "masked"


def test_shipped_probe_mode_is_the_recipe_chosen_on_train():
    from rag_augment.tuning.label_free import DEFAULT_PROBE_MODE

    assert S.choose(S.all_pairs()) == DEFAULT_PROBE_MODE
