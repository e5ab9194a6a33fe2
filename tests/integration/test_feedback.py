"""Feedback loop: the durable store (incl. kill -9 mid-write), a round end to end with the rules generator, with a
scripted LLM back end (judge + paraphrases), with the real MiniLM embedder and, marked integration, with SmolLM2.
Also real queries with known answers, and the CLI commands."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from support import REPO, copy_sample_docs

from rag_augment.augment_index import AugmentIndex
from rag_augment.embedding import HashEmbedder
from rag_augment.errors import InputError
from rag_augment.fusion import FusionProfile
from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import FakeChatBackend, RecordingGenerator
from rag_augment.trust.feedback import JUDGE_SYSTEM, FeedbackStore, apply_feedback, parse_judgement, rewriter_for
from rag_augment.trust.real_queries import add_real_queries

ROOT = REPO
PICKED = ["getting-started/piv.md", "tools/zoom.md",
          "general-information-and-resources/employee-resources-policies/transit-benefit.md"]
ZOOM = "tools/zoom.md"


@pytest.fixture
def small_kb(tmp_path):
    return copy_sample_docs(tmp_path / "kb", PICKED)


@pytest.fixture
def index(tmp_path, small_kb):
    # dense legs only: with a hash embedder the words would find the document anyway, and a round must have a
    # failed query to fix whatever the shipped default profile is
    idx = AugmentIndex(tmp_path / "home", embedder=HashEmbedder(128),
                       profile=FusionProfile(name="dense-only", weights={"dense": 1.0}))
    idx.index_path(small_kb, RulesGenerator())
    return idx


def feedback_queries(idx):
    out = []
    for ids, docs, metas in idx.store.iter_all("queries"):
        out += [(i, d, m) for i, d, m in zip(ids, docs, metas) if m["kind"] == "feedback"]
    return out


def failing_query(idx, doc_id, k=5):
    """A plausible user query whose document is not in the top k (the hash embedder makes this easy)."""
    for text in ("what software do we use for video calls with people outside", "video call tool for guests",
                 "meeting app licence", "how do outsiders join our calls"):
        if all(h.doc_id != doc_id for h in idx.query(text, k=k)):
            return text
    pytest.skip("no failing query found for this index")


# ---- the store --------------------------------------------------------------------------------------------------
def test_store_records_lists_and_validates(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as fb:
        a = fb.add("how do I get a badge", "thumbs_down", doc_id="piv.md", session_id="s1")
        b = fb.add("zoom webinar", "rephrased", rephrasing="zoom webinar licence")
        c = fb.add("other collection", "flagged_wrong", collection="other")
        assert (a, b, c) == (1, 2, 3)
        recs = fb.list("rag_augment")
        assert [r.id for r in recs] == [1, 2] and recs[0].doc_id == "piv.md" and recs[0].session_id == "s1"
        assert recs[1].rephrasing == "zoom webinar licence" and recs[1].status == "open"
        assert recs[0].created_at.endswith("+00:00")
        with pytest.raises(InputError, match="verdict 'meh'"):
            fb.add("q", "meh")
        with pytest.raises(InputError, match="record 2: the failed query text is empty"):
            fb.add_many([{"query": "fine", "verdict": "thumbs_down"}, {"query": " ", "verdict": "thumbs_down"}])
        assert len(fb.list()) == 3  # the bad batch stored nothing
        with pytest.raises(InputError, match="status"):
            fb.list(status="closed")
    db = sqlite3.connect(tmp_path / "fb.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


WRITER = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[2])
from rag_augment.trust.feedback import FeedbackStore
fb = FeedbackStore(sys.argv[1])
i = 0
while True:
    batch = []
    for _ in range(5):  # one transaction of five records: all or none
        q = f"failed query {i} " + "x" * (1 + i % 400)
        batch.append({"query": q, "verdict": "thumbs_down", "doc_id": f"doc{i}",
                      "rephrasing": hashlib.sha1(q.encode()).hexdigest(), "session_id": str(i)})
        i += 1
    fb.add_many(batch)
"""


def test_store_survives_kill_9_mid_write(tmp_path):
    path = tmp_path / "fb.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(ROOT)])
    try:
        deadline = time.time() + 60
        n = 0
        while time.time() < deadline and n < 150:
            time.sleep(0.2)
            try:
                n = sqlite3.connect(path, timeout=5).execute("SELECT count(*) FROM feedback").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0  # the writer has not created the table yet
        assert n >= 150, "the writer did not get going"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with FeedbackStore(path) as fb:
        assert fb._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        recs = fb.list()
    assert len(recs) >= n and len(recs) % 5 == 0  # whole transactions only
    assert [r.id for r in recs] == list(range(1, len(recs) + 1))
    for r in recs:
        i = int(r.session_id)
        assert r.query == f"failed query {i} " + "x" * (1 + i % 400) and r.doc_id == f"doc{i}"
        assert r.rephrasing == hashlib.sha1(r.query.encode()).hexdigest()


# ---- a round with the rules generator ------------------------------------------------------------------------
def test_round_with_rules_generator_fixes_a_failed_query(index, small_kb):
    text = failing_query(index, ZOOM)
    with FeedbackStore.for_index(index) as fb:
        fid = fb.add(text, "thumbs_down", doc_id=ZOOM)
        no_target = fb.add("something nobody can place", "flagged_wrong")
    report = apply_feedback(index, RulesGenerator())
    assert report["round"] == 1 and report["handled"] == 1 and report["fixed"] == 1
    assert report["still_failing"] == 0 and report["skipped"] == {"no_target": 1}
    item = report["items"][0]
    assert item["rank_before"] is None or item["rank_before"] > 5
    assert item["rank_after"] <= 5 and item["target_how"] == "doc_best"
    assert item["target_chunk"].startswith(ZOOM) and item["queries_added"] >= 2  # the query + paraphrases

    fq = feedback_queries(index)
    assert {m["parent_id"] for _, _, m in fq} == {item["target_chunk"]}
    assert text in [d for _, d, _ in fq]
    meta = fq[0][2]
    assert meta["origin"] == "feedback" and meta["generator"] == "rules" and meta["prompt_version"] == "feedback-v1"
    assert meta["review_status"] == "unreviewed"
    assert text in index.lexical.query_parent.values() or any(
        pid == item["target_chunk"] for pid in index.lexical.query_parent.values())

    with FeedbackStore.for_index(index) as fb:
        recs = {r.id: r for r in fb.list()}
        assert recs[fid].status == "fixed" and recs[fid].round_id == 1
        assert recs[fid].target_chunk == item["target_chunk"]
        assert recs[no_target].status == "open" and recs[no_target].note == "no_target"
        rounds = fb.rounds()
    assert rounds[0]["handled"] == 1 and rounds[0]["fixed"] == 1 and rounds[0]["finished_at"]

    assert apply_feedback(index, RulesGenerator())["handled"] == 0  # nothing open with a target
    # feedback vectors survive re-indexing and regeneration (only generated kinds are replaced)
    n = len(fq)
    regenerate = RecordingGenerator(RulesGenerator(), identity_extra={"run": 2})
    index.index_path(small_kb, regenerate)
    assert regenerate.calls  # the new identity did regenerate the chunks
    assert len(feedback_queries(index)) == n


def test_round_targets_given_chunk_rephrasing_and_skips_holdout_and_pii(index):
    chunk_id = index.store.chunk_ids_of_docs([ZOOM])[0]
    with FeedbackStore.for_index(index) as fb:
        given = fb.add("video tool", "thumbs_down", chunk_id=chunk_id)
        reph = fb.add("smart card for entering buildings", "rephrased", rephrasing="PIV card")
        held = fb.add("A Test Query", "thumbs_down", doc_id=ZOOM)
        pii = fb.add("badge for jane.doe@gsa.gov", "thumbs_down", doc_id=PICKED[0])
        unknown = fb.add("where is it", "thumbs_down", chunk_id="nope#1")
    report = apply_feedback(index, RulesGenerator(), holdout=["a test   query"])
    assert report["skipped"] == {"held_out": 1, "pii": 1, "unknown_chunk": 1}
    items = {i["id"]: i for i in report["items"]}
    assert items[given]["target_chunk"] == chunk_id and items[given]["target_how"] == "given_chunk"
    assert items[reph]["target_how"] == "rephrasing" and items[reph]["needs_review"]
    assert items[reph]["target_chunk"] == index.query("PIV card", k=1)[0].chunk_id
    texts = {d: m for _, d, m in feedback_queries(index)}
    assert "A Test Query" not in texts and not any("jane" in t for t in texts)
    assert texts["smart card for entering buildings"]["review_status"] == "needs_review"
    assert "PIV card" in texts  # the user's own successful rewording is attached too
    with FeedbackStore.for_index(index) as fb:
        status = {r.id: r.status for r in fb.list()}
    assert status[held] == status[pii] == status[unknown] == "skipped"


def test_retry_failing_only_when_asked(index):
    with FeedbackStore.for_index(index) as fb:
        fid = fb.add("zoom", "thumbs_down", doc_id=ZOOM)
    # k = 1 with a chunk of a different document forced as target: make it fail by naming a wrong chunk
    with FeedbackStore.for_index(index) as fb:
        fb._db.execute("UPDATE feedback SET status = 'failing' WHERE id = ?", (fid,))
    assert apply_feedback(index, RulesGenerator())["handled"] == 0
    assert apply_feedback(index, RulesGenerator(), retry_failing=True)["handled"] == 1


def test_feedback_respects_review_decisions(index, tmp_path):
    from rag_augment.trust.reviewing import apply_review
    text = failing_query(index, ZOOM)
    with FeedbackStore.for_index(index) as fb:
        fb.add(text, "thumbs_down", doc_id=ZOOM)
    apply_feedback(index, RulesGenerator())
    round_one = feedback_queries(index)
    assert text in [d for _, d, _ in round_one]
    rows = tmp_path / "r.jsonl"  # the reviewer rejects all of round one: the query fails again
    rows.write_text("".join(json.dumps({"query_id": qid, "parent_id": meta["parent_id"], "text": d,
                                        "decision": "reject"}) + "\n" for qid, d, meta in round_one))
    assert apply_review(index, rows)["rejected"] == len(round_one)
    with FeedbackStore.for_index(index) as fb:
        fb.add(text, "thumbs_down", doc_id=ZOOM)
    report = apply_feedback(index, RulesGenerator())
    assert report["handled"] == 1 and report["already_answered"] == 0
    assert text not in [d for _, d, _ in feedback_queries(index)]


# ---- a round with an LLM back end (scripted) --------------------------------------------------------------------
def paraphrase_lines(conv):
    """Four paraphrase lines for the query in the prompt: two good ones, a repeat and one with PII."""
    query = conv[-1]["content"].rsplit("Query: ", 1)[1]
    return f"Here you go:\nP: {query} please\nP: help me with {query}\nP: {query}\nP: jane@x.org {query}"


def scripted_backend(choice="2"):
    """Judge prompts get a fixed passage number, paraphrase prompts get paraphrase_lines."""
    return FakeChatBackend(lambda conv: choice if conv[0]["content"] == JUDGE_SYSTEM else paraphrase_lines(conv),
                           model_id="scripted-llm")


def test_round_with_llm_judge_and_paraphrases(index):
    backend = scripted_backend(choice="2")
    with FeedbackStore.for_index(index) as fb:
        fid = fb.add("cameras off during calls", "flagged_wrong")
    candidates = index.query("cameras off during calls", k=10)
    report = apply_feedback(index, backend, n_paraphrases=3, k=1)  # the judge's pick ranks 2nd: not yet answered
    item = report["items"][0]
    assert item["target_how"] == "judge" and item["needs_review"]
    assert item["target_chunk"] == candidates[1].chunk_id
    judge_conv, judge_params = backend.calls[0]
    assert judge_params.temperature == 0.0 and "Passage 10:" in judge_conv[0][1]["content"]
    texts = {d: m for _, d, m in feedback_queries(index)}
    assert set(texts) == {"cameras off during calls", "cameras off during calls please",
                          "help me with cameras off during calls"}  # repeat and PII line filtered out
    assert all(m["review_status"] == "needs_review" and m["model"] == "scripted-llm" for m in texts.values())
    # the e-mail line: the quality gate drops it (an address the passage does not hold), before the PII filter
    assert report["dropped"] == {"foreign_email": 1}
    para_conv = backend.calls[1][0][0]
    assert "Example" in para_conv[1]["content"] and "cameras off during calls" in para_conv[1]["content"]
    with FeedbackStore.for_index(index) as fb:
        rec = {r.id: r for r in fb.list()}[fid]
    assert rec.target_how == "judge" and rec.note == "needs_review"


def test_the_same_complaint_twice_generates_nothing_the_second_time(index):
    text = failing_query(index, ZOOM)
    backend = scripted_backend()
    with FeedbackStore.for_index(index) as fb:
        fb.add(text, "thumbs_down", doc_id=ZOOM)
    first = apply_feedback(index, backend, n_paraphrases=3)
    assert first["fixed"] == 1 and first["already_answered"] == 0 and first["queries_added"] >= 2
    n_vectors, n_calls = len(feedback_queries(index)), len(backend.calls)
    with FeedbackStore.for_index(index) as fb:
        again = fb.add(text, "thumbs_down", doc_id=ZOOM)
    second = apply_feedback(index, backend, n_paraphrases=3)
    assert second["handled"] == 1 and second["fixed"] == 1 and second["already_answered"] == 1
    assert second["queries_added"] == 0 and second["items"][0]["rank_before"] <= 5
    assert len(backend.calls) == n_calls and len(feedback_queries(index)) == n_vectors  # no LLM call, no vector
    with FeedbackStore.for_index(index) as fb:
        rec = {r.id: r for r in fb.list()}[again]
    assert rec.status == "fixed" and rec.note == "already_answered"


def test_paraphrases_the_chunk_already_holds_are_not_added_again(index):
    chunk = index.store.chunk_ids_of_docs([ZOOM])[0]
    a, b = "guests cannot get into our video meetings", "budget spreadsheet for the quarter"
    assert all(h.chunk_id != chunk for h in index.query(b, k=1))  # b must fail at k=1 to reach generation
    backend = FakeChatBackend(["P: how do outside guests join a zoom call\nP: zoom for people outside GSA",
                               "P: How do outside guests join a Zoom call?\nP: quarterly numbers in zoom"],
                              model_id="scripted-llm")
    with FeedbackStore.for_index(index) as fb:
        fb.add(a, "thumbs_down", chunk_id=chunk)
    apply_feedback(index, backend, n_paraphrases=2, k=1)
    with FeedbackStore.for_index(index) as fb:
        fb.add(b, "thumbs_down", chunk_id=chunk)
    second = apply_feedback(index, backend, n_paraphrases=2, k=1)
    assert second["dropped"].get("near_duplicate") == 1 and second["queries_added"] == 2  # b + one new line
    texts = [d for _, d, _ in feedback_queries(index)]
    assert "quarterly numbers in zoom" in texts and "How do outside guests join a Zoom call?" not in texts
    assert texts.count("how do outside guests join a zoom call") == 1


def test_judge_saying_none_leaves_the_query_open(index):
    with FeedbackStore.for_index(index) as fb:
        fb.add("quantum physics lecture", "flagged_wrong")
    report = apply_feedback(index, scripted_backend(choice="0"))
    assert report["handled"] == 0 and report["skipped"] == {"judge_declined": 1}
    with FeedbackStore.for_index(index) as fb:
        assert fb.list()[0].status == "open"


def test_parse_judgement_and_rewriter_choice():
    assert parse_judgement("Passage 3", 5) == 3 and parse_judgement("0", 5) is None
    assert parse_judgement("7", 5) is None and parse_judgement("none", 5) is None
    assert rewriter_for(None).name == "none" and rewriter_for(RulesGenerator()).name == "rules"
    assert rewriter_for(scripted_backend()).model == "scripted-llm"
    with pytest.raises(Exception, match="cannot write paraphrases"):
        rewriter_for(object())


# ---- real queries -------------------------------------------------------------------------------------------------
def test_real_queries_attach_by_chunk_or_doc_and_count_in_stats(index, tmp_path):
    chunk_id = index.store.chunk_ids_of_docs([ZOOM])[0]
    f = tmp_path / "real.jsonl"
    f.write_text(json.dumps({"text": "zoom for external guests", "chunk_id": chunk_id}) + "\n\n" +
                 json.dumps({"text": "how to pick up my PIV card", "doc_id": PICKED[0]}) + "\n" +
                 json.dumps({"text": "held out test query", "doc_id": PICKED[0]}) + "\n")
    res = add_real_queries(index, f, holdout=["Held out test query"])
    assert res == {"added": 2, "already_present": 0, "rejected_in_review": 0, "skipped_held_out": 1,
                   "by_chunk_id": 1, "by_doc_id": 1}
    again = add_real_queries(index, f, holdout=["held out test query"])
    assert again["added"] == 0 and again["already_present"] == 2  # deterministic ids: no duplicates
    stats = index.stats()
    assert stats["queries_by_kind"]["real"] == 2 and stats["real_to_synthetic"] > 0
    real = [m for ids, docs, metas in index.store.iter_all("queries") for m in metas if m["kind"] == "real"]
    assert all(m["origin"] == "real" for m in real)
    assert {m["doc_id"] for m in real} == {ZOOM, PICKED[0]}
    # fusion can weight real queries above synthetic ones: the kind weight scales the child's cosine
    dense = {"dense": 1.0, "chunk_lexical": 0.0}
    plain = index.retriever.legs_for("zoom for external guests", profile=FusionProfile(weights=dense))
    boosted = index.retriever.legs_for("zoom for external guests",
                                       profile=FusionProfile(weights=dense, kind_weights={"real": 2.0}))
    assert dict(boosted.legs["query_dense"])[chunk_id] == pytest.approx(2 * dict(plain.legs["query_dense"])[chunk_id])
    hit = index.query("zoom for external guests", k=1,
                      profile=FusionProfile(weights=dense, kind_weights={"real": 2.0}))[0]
    assert hit.chunk_id == chunk_id and hit.matched_queries[0]["kind"] == "real"


def test_real_queries_bad_lines_name_file_and_line(index, tmp_path):
    f = tmp_path / "real.jsonl"
    f.write_text('{"text": "ok", "doc_id": "tools/zoom.md"}\n{"text": "no target"}\n')
    with pytest.raises(InputError, match=r"real\.jsonl: line 2: give 'chunk_id' or 'doc_id'"):
        add_real_queries(index, f)
    f.write_text('{"text": "ok", "doc_id": "missing.md"}\n')
    with pytest.raises(InputError, match=r"line 1: document 'missing.md' is not in the index"):
        add_real_queries(index, f)
    f.write_text('{"text": "ok", "chunk_id": "x#1"}\n')
    with pytest.raises(InputError, match=r"line 1: chunk 'x#1' is not in the index"):
        add_real_queries(index, f)
    assert "real" not in index.stats()["queries_by_kind"]


# ---- CLI (the real parser; the index opened with the test's embedder) ---------------------------------------
def cli(args, capsys, monkeypatch=None):
    from rag_augment.cli import build_parser, commands, trust
    ns = build_parser().parse_args(args)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(commands, "open_index", lambda a, **_: AugmentIndex(a.home, embedder=HashEmbedder(128)))
        assert trust.run(ns) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_commands(index, tmp_path, capsys):
    home = ["--home", str(index.home)]
    assert cli(["feedback", "add", "video calls with guests", "--doc-id", ZOOM, *home], capsys) == {"added": [1]}
    fbf = tmp_path / "fb.jsonl"
    fbf.write_text(json.dumps({"text": "badge pickup", "verdict": "flagged_wrong", "doc_id": PICKED[0]}) + "\n")
    assert cli(["feedback", "add", "--file", str(fbf), *home], capsys) == {"added": [2]}
    listed = cli(["feedback", "list", "--status", "open", *home], capsys)
    assert [r["id"] for r in listed["feedback"]] == [1, 2] and listed["rounds"] == []
    rep = cli(["feedback", "apply", "--generator", "rules", "-k", "5", *home], capsys)
    assert rep["handled"] == 2 and rep["round"] == 1
    assert cli(["feedback", "list", *home], capsys)["rounds"][0]["handled"] == 2

    real = tmp_path / "real.jsonl"
    real.write_text(json.dumps({"text": "transit subsidy amount", "doc_id": PICKED[2]}) + "\n")
    assert cli(["real", "add", str(real), *home], capsys)["added"] == 1

    out = tmp_path / "review.jsonl"
    n = cli(["export", "-o", str(out), *home], capsys)["exported"]
    assert n == index.store.counts()["queries"]
    row = json.loads(out.read_text().splitlines()[0])
    out.write_text(json.dumps({**row, "decision": "reject"}) + "\n")
    assert cli(["review", "apply", str(out), *home], capsys)["rejected"] == 1

    div = cli(["report", "diversity", "-m", "2", *home], capsys)
    assert div["queries"] > 0 and "distinct_2" in div and div["coverage"][-1]["m"] == 2
    assert cli(["report", "diversity", "--all-kinds", *home], capsys)["by_kind"].get("feedback", 0) > 0


def test_cli_holdout_file_keeps_test_queries_out(index, tmp_path, capsys):
    home = ["--home", str(index.home)]
    held = tmp_path / "queries.jsonl"  # a BEIR queries file of the test split
    held.write_text(json.dumps({"_id": "t1", "text": "Video calls with guests"}) + "\n")
    cli(["feedback", "add", "video calls with guests", "--doc-id", ZOOM, *home], capsys)
    rep = cli(["feedback", "apply", "--generator", "rules", "--holdout", str(held), *home], capsys)
    assert rep["handled"] == 0 and rep["skipped"] == {"held_out": 1}
    assert not feedback_queries(index)


def test_cli_errors_are_input_errors(index, capsys):
    with pytest.raises(InputError, match="not both"):
        cli(["feedback", "add", "--home", str(index.home)], capsys)


# ---- real models ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_round_with_real_minilm_embedder(tmp_path, small_kb):
    from rag_augment.embedding import SentenceTransformerEmbedder
    idx = AugmentIndex(tmp_path / "st", embedder=SentenceTransformerEmbedder())
    idx.index_path(small_kb, RulesGenerator())
    query = "can people from outside the agency join my video meetings"
    with FeedbackStore.for_index(idx) as fb:
        fb.add(query, "thumbs_down", doc_id=ZOOM)
    report = apply_feedback(idx, RulesGenerator(), k=1)
    item = report["items"][0]
    assert item["target_chunk"].startswith(ZOOM) and item["rank_after"] == 1 and report["fixed"] == 1
    # a held-out wording close to the failed one now finds the same chunk through the feedback vectors
    hits = idx.query("can people outside the agency join my video meetings", k=3)
    assert item["target_chunk"] in [h.chunk_id for h in hits]


@pytest.mark.integration
def test_round_with_smollm2_paraphrases(tmp_path, small_kb):
    pytest.importorskip("llama_cpp")
    from rag_augment import models
    from rag_augment.generators.llama_cpp import LlamaCppBackend
    try:
        path = models.smollm2_path()
    except Exception as exc:  # noqa: BLE001 - the package is optional
        pytest.skip(str(exc))
    backend = LlamaCppBackend(model_path=path, n_ctx=2048, parallel=1)
    idx = AugmentIndex(tmp_path / "llm", embedder=HashEmbedder(128))
    idx.index_path(small_kb, RulesGenerator())
    with FeedbackStore.for_index(idx) as fb:
        fb.add("how do guests join a zoom meeting", "thumbs_down", doc_id=ZOOM)
        fb.add("where do I collect my badge", "flagged_wrong")  # judged by the model
    report = apply_feedback(idx, backend, n_paraphrases=3)
    assert report["round"] == 1 and report["handled"] + sum(report["skipped"].values()) == 2
    by_how = {i["target_how"]: i for i in report["items"]}
    assert by_how["doc_best"]["target_chunk"].startswith(ZOOM)
    fq = feedback_queries(idx)
    assert all(m["model"] == backend.model_id and m["origin"] == "feedback" for _, _, m in fq)
    assert "how do guests join a zoom meeting" in [d for _, d, _ in fq]


def test_cli_feedback_apply_style_flags_reach_the_paraphrase_prompt(index, capsys, monkeypatch):
    """Every flag feedback apply accepts is honoured: --persona and --example reach the prompt the endpoint sees,
    --batch-size bounds each request batch; flags a generator would ignore are refused."""
    from rag_augment.errors import ConfigError
    from rag_augment.testing.servers import FakeOpenAIServer

    monkeypatch.setenv("TEST_KEY", "sk-unused-in-this-test")
    home = ["--home", str(index.home)]
    # targets the queries do not find (rank > 1), so the round writes paraphrases for both
    cli(["feedback", "add", "video calls with outside guests", "--doc-id", PICKED[2], *home], capsys)
    cli(["feedback", "add", "badge for a contractor", "--doc-id", ZOOM, *home], capsys)
    with FakeOpenAIServer.answering(lambda msgs: "P: joining a zoom meeting as a guest\nP: guest access") as srv:
        rep = cli(["feedback", "apply", "--generator", "openai", "--model", "m", "--base-url", srv.url,
                   "--api-key-env", "TEST_KEY", "--persona", "contractor on day one", "--example",
                   "how do i badge in", "--batch-size", "1", "-k", "1", *home], capsys)
    assert rep["handled"] == 2 and rep["already_answered"] == 0
    assert srv.max_inflight == 1 and srv.count == 2  # --batch-size 1: one request per batch
    prompts = [m["content"] for body in srv.bodies for m in body["messages"] if m["role"] == "user"]
    assert prompts and all("a contractor on day one could type" in p for p in prompts)
    assert all("- how do i badge in" in p for p in prompts)
    with pytest.raises(ConfigError, match="--persona has no effect with --generator rules"):
        cli(["feedback", "apply", "--generator", "rules", "--persona", "x", *home], capsys)


def test_a_paraphrase_copied_from_the_passage_is_dropped():
    """A small model sometimes answers the paraphrase prompt with a stretch of the passage it was shown (seen with
    the 0.5B model on sample_kb's transit page): that is not a rewording of the query, and is dropped."""
    from rag_augment.trust.feedback import rewriter_for
    passage = ("All GSA employees who take mass/public transit to work are eligible for transit subsidies. To "
               "receive a transit subsidy, you need to enroll using the process below.")
    backend = FakeChatBackend("P: subsidies. To receive a transit subsidy, you need to enroll using the process\n"
                              "P: does GSA pay for my bus pass\nP: transit subsidies", model_id="scripted-llm")
    rewriter = rewriter_for(backend)
    out = rewriter.paraphrases([("does the government pay for my commute", passage)], 3, round_id=1)
    assert out == [["does GSA pay for my bus pass", "transit subsidies"]]  # short phrases are not "copied"
    assert rewriter.gate_dropped == {"copied_passage": 1}
