"""The lifecycle benchmark (benchmarks/lifecycle): the loop on sample_kb with the rules generator, and its committed
tables re-rendered from their per-query files.

The loop test uses the hashing embedder so that it runs in well under a minute on 2 cores (two homes of 150 chunks
and 1,300 query vectors each); the committed runs use MiniLM.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.lifecycle import files, render
from benchmarks.lifecycle.loop import Config, doc_ranking, first_rank, run
from benchmarks.lifecycle.sets import load_set
from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder

COMMITTED = sorted(p for p in files.RESULTS.glob("*") if (p / files.SCORED).exists())


@pytest.fixture(scope="module")
def kb_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("lifecycle")
    # every report is named and gets its own round at once, so each failure's round is visible in the log
    cfg = Config(block=20, fix_share=1.0, feedback_every=1, tune_every=0, bootstrap=200)
    result = run(load_set("sample_kb"), cfg, work / "homes", embedder=HashEmbedder(256), log=lambda _: None)
    files.write_run(work / "out", result)
    return work / "out", result


def test_loop_uses_every_block_but_the_last_and_scores_unseen_queries(kb_run):
    _, result = kb_run
    used = [r["qid"] for r in result["use"]]
    starts = sorted({r["used"] for r in result["scored"]})
    assert starts == [0, 20, 40, 60]
    assert len(used) == 60 and len(set(used)) == 60
    for row in result["scored"]:  # a block is scored before any of its queries reaches the index
        assert row["qid"] not in used[:row["used"]]
    actions = {r["action"] for r in result["use"]}
    assert "click" in actions and "fix" in actions


def test_a_reported_failure_rises(kb_run):
    folder, result = kb_run
    handled = [r for r in result["use"] if r["action"] == "fix" and "round" in r]
    assert handled, "no reported failure reached a feedback round"
    # the round's own before/after ranks of the target (the product's report): every named target rose
    assert all(r["target_right"] for r in handled)
    assert all(r["rank_after"] is not None and r["rank_after"] < (r["rank_before"] or 10 ** 6) for r in handled)
    # and it stays risen at the end of the run: searched again, it ranks its document above where the frozen
    # index ranks it
    ls, homes = load_set("sample_kb"), folder.parent / "homes"
    learning, frozen = (AugmentIndex(homes / h, embedder=HashEmbedder(256), collection="lifecycle")
                        for h in ("learning", "frozen"))
    for r in handled:
        ranks = [first_rank(doc_ranking(i, ls.text(r["qid"]))[0], ls.relevant(r["qid"])) for i in (learning, frozen)]
        assert ranks[0] is not None and ranks[0] < (ranks[1] or 10 ** 6), (r, ranks)


def test_an_unrelated_query_does_not_fall(kb_run):
    _, result = kb_run
    # queries scored later whose document never received a click or a report are unrelated to what was fed in:
    # none of them should rank its document lower on the learning index than on the frozen one
    unrelated = [r for r in result["scored"] if r["used"] > 0 and not r["covered"]]
    assert unrelated
    for r in unrelated:
        learning, frozen = (r["rank"][s] or 10 ** 6 for s in ("learning", "frozen"))
        assert learning <= frozen, r


def test_the_table_renders_from_the_run_files(kb_run):
    folder, _ = kb_run
    text = render.table(files.read_run(folder))
    assert "| 60 | 19 |" in text and "learning - hybrid tuned" in text
    assert (render.curve(files.read_run(folder), folder / files.CURVE)).stat().st_size > 0


@pytest.mark.parametrize("folder", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_table_equals_its_rendering(folder: Path):
    """table.md is rendered from the committed per-query files: a figure typed by hand fails here."""
    assert render.table(files.read_run(folder)) == (folder / files.TABLE).read_text(encoding="utf-8")


def test_some_committed_run_exists():
    assert COMMITTED, "benchmarks/lifecycle/results/<set>/ holds no committed run"


# ---- the blended SciFact runs under the guard and step-aside (benchmarks/lifecycle/blend.py)

def test_blend_table_equals_its_rendering():
    from benchmarks.lifecycle import blend

    assert blend.table(blend.read()) == (blend.RESULTS / blend.TABLE).read_text(encoding="utf-8")


def test_blend_reproduces_the_committed_eval_runs():
    """The blend script builds the two indexes as run_benchmarks.py does: under the shipped default (with the
    guard), its per-query scores are the committed runs' "rag_augment" system, claim for claim."""
    from benchmarks.lifecycle import blend

    record = blend.read()
    assert blend.reproduced(record) == {blend.WITH: [], blend.WITHOUT: []}
    for name in (blend.WITH, blend.WITHOUT):
        assert record["runs"][name]["covered_queries"] == record["runs"][blend.WITH]["covered_queries"]
