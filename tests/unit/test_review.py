"""Review: export for reviewers, apply approve / reject / edit to a live index, and the decisions surviving
re-indexing and regeneration. Uses the rules generator and the hash embedder (fast, deterministic)."""
from __future__ import annotations

import csv
import json

import pytest
from support import copy_sample_docs

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.errors import InputError
from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import RecordingGenerator
from rag_augment.trust.review import ReviewBook
from rag_augment.trust.reviewing import EXPORT_FIELDS, apply_review, export, read_decisions
from rag_augment.types import SyntheticQuery

PICKED = ["getting-started/piv.md", "tools/zoom.md",
          "general-information-and-resources/employee-resources-policies/transit-benefit.md"]


def regenerate() -> RecordingGenerator:
    """Same output, new identity: forces the indexer to regenerate every chunk (a new model or prompt would)."""
    return RecordingGenerator(RulesGenerator(), identity_extra={"run": 2})


@pytest.fixture
def small_kb(tmp_path):
    return copy_sample_docs(tmp_path / "kb", PICKED)


@pytest.fixture
def index(tmp_path, small_kb):
    idx = AugmentIndex(tmp_path / "home", embedder=HashEmbedder(128))
    idx.index_path(small_kb, RulesGenerator())
    return idx


def all_queries(idx) -> dict[str, SyntheticQuery]:
    out = {}
    for ids, docs, metas in idx.store.iter_all("queries"):
        out.update({i: SyntheticQuery(i, d, m["kind"], m["parent_id"], m["doc_id"], m) for i, d, m in
                    zip(ids, docs, metas)})
    return out


def by_text(idx, parent, text):
    return [q for q in all_queries(idx).values() if q.parent_id == parent and q.text == text]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---- export -------------------------------------------------------------------------------------------------
def test_export_jsonl_and_csv_hold_every_query_with_provenance_and_chunk(index, tmp_path):
    n_stored = index.store.counts()["queries"]
    assert export(index, tmp_path / "r.jsonl") == n_stored
    rows = [json.loads(ln) for ln in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(rows) == n_stored and set(rows[0]) == set(EXPORT_FIELDS)
    row = rows[0]
    assert row["chunk_text"] and row["parent_id"] and row["generator"] == "rules"
    assert row["review_status"] == "unreviewed" and row["origin"] == "generated" and row["decision"] == ""
    assert "source" not in row and "seeds" not in row  # no local paths, nothing beyond the whitelist
    assert export(index, tmp_path / "r.csv") == n_stored
    with open(tmp_path / "r.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    assert [r["query_id"] for r in csv_rows] == [r["query_id"] for r in rows]
    assert export(index, tmp_path / "kw.jsonl", kinds=("keyword",)) == sum(r["kind"] == "keyword" for r in rows)
    with pytest.raises(InputError, match="format"):
        export(index, tmp_path / "r.xlsx")


# ---- apply, then re-index and regenerate -------------------------------------------------------------------
def review_csv(index, tmp_path):
    """Export as CSV, fill in three decisions as a reviewer would, return the file and the chosen rows."""
    path = tmp_path / "review.csv"
    export(index, path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    questions = [r for r in rows if r["kind"] == "question"]
    reject, edit, approve = questions[0], questions[1], questions[2]
    reject["decision"] = "reject"
    edit["decision"], edit["edited_text"] = "edit", "how do I renew my PIV badge when it expires"
    approve["decision"] = "Approved"  # reviewers' spellings are accepted
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path, reject, edit, approve


def check_applied(idx, reject, edit, approve):
    stored = all_queries(idx)
    assert reject["query_id"] not in stored
    assert not by_text(idx, reject["parent_id"], reject["text"])
    assert edit["query_id"] not in stored
    edited = by_text(idx, edit["parent_id"], edit["edited_text"])
    assert len(edited) == 1 and edited[0].provenance["review_status"] == "edited"
    assert edited[0].kind == "question"
    assert stored[approve["query_id"]].provenance["review_status"] == "approved"


def test_review_round_trip_survives_reindex_and_regeneration(index, small_kb, tmp_path):
    path, reject, edit, approve = review_csv(index, tmp_path)
    before = index.store.counts()["queries"]
    summary = apply_review(index, path)
    assert summary == {"rows": 3, "approved": 1, "rejected": 1, "edited": 1, "not_in_index": 0}
    assert index.store.counts()["queries"] == before - 1
    check_applied(index, reject, edit, approve)
    # the lexical index was rebuilt: the edited wording is searchable, the rejected one is gone
    edited_id = by_text(index, edit["parent_id"], edit["edited_text"])[0].query_id
    assert edited_id in index.lexical.query_parent and reject["query_id"] not in index.lexical.query_parent
    hits = index.query(edit["edited_text"], k=3)
    assert any(m["query_id"] == edited_id for h in hits for m in h.matched_queries)

    # Re-index unchanged documents, in a fresh process-like object: nothing changes.
    again = AugmentIndex(tmp_path / "home", embedder=HashEmbedder(128))
    again.index_path(small_kb, RulesGenerator())
    check_applied(again, reject, edit, approve)
    # Regenerate every chunk (new generator identity, same texts): decisions are applied again.
    report = again.index_path(small_kb, regenerate())
    assert report.chunks_generated > 0 and report.queries_dropped.get("rejected_in_review") == 1
    check_applied(again, reject, edit, approve)

    # A document edit elsewhere regenerates only the changed chunks; the decisions still hold.
    doc = small_kb / PICKED[1]
    doc.write_text(doc.read_text() + "\n\n## New section\n\nZoom rooms can be booked from the calendar.\n")
    again.index_path(small_kb, regenerate())
    check_applied(again, reject, edit, approve)


def test_later_decision_on_an_edited_text_is_followed_at_regeneration(index, small_kb, tmp_path):
    path, reject, edit, approve = review_csv(index, tmp_path)
    apply_review(index, path)
    second = write_jsonl(tmp_path / "second.jsonl", [
        {"decision": "reject", "parent_id": edit["parent_id"], "text": edit["edited_text"]}])
    assert apply_review(index, second)["rejected"] == 1
    assert not by_text(index, edit["parent_id"], edit["edited_text"])
    index.index_path(small_kb, regenerate())  # original -> edit -> reject: stays out
    assert not by_text(index, edit["parent_id"], edit["edited_text"])
    assert not by_text(index, edit["parent_id"], edit["text"])


def test_decision_for_a_query_not_in_the_index_is_kept_for_later(index, small_kb, tmp_path):
    rows = [json.loads(ln) for ln in (lambda p: (export(index, p), p.read_text())[1])(tmp_path / "e.jsonl")
            .splitlines()]
    target = next(r for r in rows if r["kind"] == "keyword")
    index.store.delete_queries([target["query_id"]])  # e.g. dropped since the export
    f = write_jsonl(tmp_path / "d.jsonl", [{**target, "decision": "reject"}])
    assert apply_review(index, f)["not_in_index"] == 1
    index.index_path(small_kb, regenerate())  # generated again, and rejected again
    assert not by_text(index, target["parent_id"], target["text"])


# ---- bad files ----------------------------------------------------------------------------------------------
def test_bad_rows_name_file_and_line_and_change_nothing(index, tmp_path):
    export(index, tmp_path / "e.jsonl")
    rows = [json.loads(ln) for ln in (tmp_path / "e.jsonl").read_text().splitlines()][:3]
    rows[0]["decision"] = "reject"
    rows[2]["decision"] = "maybe"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    n = index.store.counts()["queries"]
    with pytest.raises(InputError, match=r"bad\.jsonl: line 3: decision 'maybe'"):
        apply_review(index, bad)
    assert index.store.counts()["queries"] == n and not ReviewBook(index.home / "reviews-rag_augment.jsonl").decisions

    rows[2]["decision"] = "edit"  # an edit without edited_text
    with pytest.raises(InputError, match=r"line 3: an edit needs 'edited_text'"):
        apply_review(index, write_jsonl(tmp_path / "bad2.jsonl", rows))
    (tmp_path / "bad3.jsonl").write_text('{"decision": "approve"}\nnot json\n')
    with pytest.raises(InputError, match=r"bad3\.jsonl: line 2: not valid JSON"):
        apply_review(index, tmp_path / "bad3.jsonl")
    with pytest.raises(InputError, match=r"line 1: field 'parent_id' is missing"):
        apply_review(index, write_jsonl(tmp_path / "bad4.jsonl", [{"decision": "approve", "text": "x"}]))
    (tmp_path / "bad.csv").write_text("query_id,decision\nq1,approve\n")
    with pytest.raises(InputError, match=r"bad\.csv: line 1: the header lacks column\(s\) parent_id, text"):
        apply_review(index, tmp_path / "bad.csv")
    rows[0]["text"] = "a reviewer typed over the original"
    rows[2]["decision"] = ""
    with pytest.raises(InputError, match="differ from indexed query"):
        apply_review(index, write_jsonl(tmp_path / "bad5.jsonl", rows))
    with pytest.raises(InputError, match="does not exist"):
        apply_review(index, tmp_path / "missing.csv")
    assert index.store.counts()["queries"] == n


def test_csv_line_numbers_count_physical_lines(tmp_path):
    path = tmp_path / "r.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["parent_id", "text", "decision", "edited_text"])
        w.writerow(["c1", "first\nspans two lines", "approve", ""])
        w.writerow(["c1", "second", "edit", ""])
    with pytest.raises(InputError, match=r"r\.csv: line 4: an edit needs"):
        read_decisions(path)


# ---- the review book itself ---------------------------------------------------------------------------------
def test_review_book_never_glues_a_record_onto_a_torn_line(tmp_path):
    path = tmp_path / "book.jsonl"
    path.write_text('{"parent_id": "c1", "text": "a", "decision": "approve"}\n{"parent_id": "c1", "te')
    book = ReviewBook(path)
    assert len(book.decisions) == 1
    book.record([{"parent_id": "c2", "text": "b", "decision": "reject"}])
    reloaded = ReviewBook(path)
    assert reloaded.decision_for("c2", "B")["decision"] == "reject"
    assert reloaded.decision_for("c1", "a")["decision"] == "approve"


def test_review_book_validates_all_records_before_writing(tmp_path):
    book = ReviewBook(tmp_path / "book.jsonl")
    with pytest.raises(InputError, match="review record 2"):
        book.record([{"parent_id": "c1", "text": "a", "decision": "approve"},
                     {"parent_id": "c1", "text": "b", "decision": "edit"}])
    assert not book.decisions and not (tmp_path / "book.jsonl").exists()


def test_review_status_is_a_plain_string_on_disk_and_an_unknown_one_is_named():
    from rag_augment.trust.provenance import Provenance
    from rag_augment.types import ReviewStatus

    prov = Provenance.feedback("rules", "", "", "h", 1, 2, needs_review=True).to_dict()
    assert type(prov["review_status"]) is str and json.loads(json.dumps(prov))["review_status"] == "needs_review"
    q = SyntheticQuery("c1::q1", "a query", "question", "c1", "d1", provenance={})
    assert q.review_status is ReviewStatus.UNREVIEWED  # an index written before statuses: not reviewed yet
    approved = q.with_status(ReviewStatus.APPROVED)
    assert approved.provenance["review_status"] == "approved" and approved.review_status.by_person
    odd = SyntheticQuery("c1::q2", "a query", "question", "c1", "d1", provenance={"review_status": "maybe"})
    with pytest.raises(InputError, match=r"query c1::q2: review_status 'maybe' is not one of unreviewed, "):
        _ = odd.review_status
