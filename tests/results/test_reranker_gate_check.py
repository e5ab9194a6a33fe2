"""Issue 31's gate check (benchmarks/studies/reranker/gate_check.py): its table is what its per-query files give,
and the agreement rule judges the self-check's decisions as the done-when says."""
from __future__ import annotations

import gzip
import json

import pytest

from benchmarks.studies.reranker import gate_check as G


def test_committed_table_is_what_the_per_query_files_give():
    records = G.load_records()
    assert records, "benchmarks/studies/reranker/results/ holds no gate-*.json.gz"
    assert G.TABLE.read_text() == G.render(records), (
        "results/gate-check.md differs from the gate-*.json.gz files: run "
        "`python -m benchmarks.studies.reranker.gate_check --render` and commit")


@pytest.mark.parametrize("installed, gain, lo, hi, ok, word", [
    (True, 0.02, 0.001, 0.04, True, "lower end >= 0"),       # installed and clearly better
    (True, 0.0, 0.0, 0.0, True, "lower end >= 0"),           # installed, changes nothing
    (True, 0.01, -0.01, 0.03, True, "within the interval"),  # installed, at or above on the mean
    (True, -0.01, -0.03, 0.01, False, "below on test"),      # installed, below on the mean
    (True, -0.03, -0.05, -0.01, False, "beyond the interval"),  # installed, clearly worse
    (False, 0.03, 0.01, 0.05, False, "missed win"),          # left off, clearly better on test
    (False, 0.01, -0.01, 0.03, True, "no clear test win"),   # left off, not clearly better
    (False, -0.03, -0.05, -0.01, True, "no clear test win"),  # left off, worse: the right call
])
def test_agreement_rule(installed, gain, lo, hi, ok, word):
    got, label = G.agreement(installed, gain, lo, hi)
    assert got is ok and word in label


def _record(installed: bool, before: list[float], after: list[float]) -> dict:
    qs = [f"q{i}" for i in range(len(before))]
    return {"command": "python -m x", "date": "2026-01-01", "budget_minutes": 1, "refused": None,
            "machine": {"cpus": 2, "load_start": [1, 1, 1], "load_end": [1, 1, 1]},
            "index": {"cache": "c.jsonl", "chunks": 3, "query_vectors": 9},
            "train": {"layers": 6, "steps": 4, "steps_total": 4, "epochs_done": 1.0, "depth_fitted": None,
                      "seconds": {"mining": 1.0, "training": 59.0}},
            "gate": {"queries": 10, "delta": 0.02, "lo": 0.01, "hi": 0.03, "installed": installed, "forced": False},
            "scored_weight": 1.0, "top_n": 20, "rerank_ms_p50": 100.0, "seconds_total": 60.0,
            "per_query_nDCG@10": {"before": dict(zip(qs, before)), "with_reranker": dict(zip(qs, after))},
            "splits": {"test": qs}, "choices": {}}


def test_rendering_of_hand_made_records(tmp_path):
    worse = _record(True, [1.0] * 20, [0.5] * 20)       # installed, every test query loses
    better = _record(False, [0.5] * 20, [1.0] * 20)     # left off, every test query wins: a missed win
    same = _record(True, [0.7] * 20, [0.7] * 20)        # installed, changes nothing: agrees
    refused = {**_record(False, [], []), "refused": "train: too slow here"}
    for name, rec in (("a", worse), ("b", better), ("c", same), ("d", refused)):
        with gzip.open(tmp_path / f"gate-{name}.json.gz", "wt", encoding="utf-8") as f:
            json.dump(rec, f)
    text = G.render(G.load_records(tmp_path))
    rows = [line for line in text.splitlines() if line.startswith("| ") and "(c.jsonl)" in line]
    assert [r.split(" ", 2)[1] for r in rows] == ["a", "b", "c", "d"]
    assert "-50.0 [-50.0, -50.0]" in rows[0] and "NO: installed, worse" in rows[0]
    assert "+50.0 [+50.0, +50.0]" in rows[1] and "missed win" in rows[1]
    assert "+0.0 [+0.0, +0.0]" in rows[2] and rows[2].endswith("lower end >= 0) |")
    assert "refused" in rows[3] and "too slow here" in text
    assert "1 of 3 trained rerankers' self-check decisions agree" in text


def test_gate_files_do_not_disturb_the_study_report():
    """report.py reads every *.json.gz in results/: a gate file adds no row there (its "choices" is empty)."""
    from benchmarks.studies.reranker import report
    for name, rec in G.load_records():
        assert rec["choices"] == {}
        assert report.render([(name, rec)]) == report.render([])
