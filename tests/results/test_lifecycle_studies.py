"""Issue 32's two studies of how users' queries should count: their tables are what their committed files give
(rendered again here, so no figure is typed by hand), the choice follows the stated rule, and the click study never
trains on a query it scores."""
import pytest

from benchmarks.studies.click_finetune import study as C
from benchmarks.studies.users_vote import study as U


def test_users_vote_table_is_a_fresh_rendering():
    assert U.table(U.read()) == (U.RESULTS / U.TABLE).read_text(encoding="utf-8")


def test_users_vote_reads_train_claims_only_and_chooses_by_its_rule():
    record = U.read()
    for run in record["runs"].values():
        a, b = (set(f["query_ids"]) for f in run["folds"].values())
        assert a and b and not a & b
    from benchmarks.lifecycle import blend
    test_claims = set(blend.read()["runs"][blend.WITH]["query_ids"])
    assert not test_claims & {q for run in record["runs"].values() for f in run["folds"].values()
                              for q in f["query_ids"]}
    best = max(U.pooled(record["runs"][U.WITH], v, "nDCG@10")[0].mean() for v in record["versions"])
    assert U.pooled(record["runs"][U.WITH], U.chosen(record), "nDCG@10")[0].mean() == best


def test_click_study_table_is_a_fresh_rendering():
    assert C.table() == (C.HERE / "RESULT.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", C.SETS)
def test_click_study_trains_only_on_queries_before_the_mark(name):
    record = C.read_json_gz(C.RESULTS / f"{name}.json.gz")
    run, use, _ = C._lifecycle(name)
    stream_before = [row["qid"] for row in use if row["pos"] <= record["mark"]]
    assert not set(stream_before) & set(record["query_ids"])
    assert record["rival_reproduced"] >= record["block"] - 1  # the study's rival is the committed run's
