"""Issue 29, items 1 and 2 and the torn-line warning of item 7, against the real fault server on 127.0.0.1
(tests/faults_openai_server.py), the real indexing path and a real embedded Chroma.

1. An endpoint that answers empty three runs in a row: the chunks are given up, but never taken as done; the run
   says so in its exit status, the warning counts every chunk, and the next runs ask again (with a growing wait).
2. Garbage that reads like prose shares no word with its chunk: not stored, not cached, and what an older version
   stored or cached is not kept.
7. A torn cache line is reported once, not on every command.
"""
from __future__ import annotations

import functools
import json
import logging
import secrets
import shutil

import pytest
from faults_openai_server import FaultServer, healthy, persistent

from rag_augment.augment_index import AugmentIndex
from rag_augment.cache import GenerationCache, read_records
from rag_augment.embedding import HashEmbedder
from rag_augment.filters import FilterConfig
from rag_augment.generators.openai import openai_generator
from rag_augment.types import Chunk

KEY = "sk-" + secrets.token_urlsafe(24)  # drawn at run time (see test_faults_secrets)
KEY_ENV = "RAG_ROUND2_TEST_KEY"
FAST = {"backoff_base": 0.001, "backoff_max": 0.01, "timeout": 2.0, "max_retries": 0}
DOCS = {
    "leave.md": "# Leave\n\nAnnual leave requests go through the portal two weeks ahead of the first day off.\n",
    "travel.md": "# Travel\n\nBook flights through the travel desk and keep every receipt for the voucher.\n",
    "laptop.md": "# Laptops\n\nSecurity patches install overnight; restart your laptop every Friday afternoon.\n",
    "badge.md": "# Badges\n\nLost badges are replaced at the security office on the ground floor.\n",
    "parking.md": "# Parking\n\nRenew your parking permit each January at the facilities counter.\n",
}
N = len(DOCS)  # one chunk each
BATCH = 2      # several batches: a warning must count all of them, not one
PROSE = "Q: The weather today is sunny with a chance of rain\nK: asdf qwer zxcv uiop hjkl"


@pytest.fixture(autouse=True)
def planted_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


def generator(srv: FaultServer):
    return openai_generator("fault-model", base_url=srv.url, api_key_env=KEY_ENV, **FAST)


@functools.cache
def minilm():
    """The packaged default embedder: the off-topic filter's distance is set for it (one load per module)."""
    from rag_augment.embedding import SentenceTransformerEmbedder
    return SentenceTransformerEmbedder()


def run(home, docs, schedule=None, answer=None, cache=None, filters=None):
    """One `index` run against a fresh fault server; (index, report, requests the server got)."""
    index = AugmentIndex(home, embedder=minilm(), cache_path=cache)
    with FaultServer(schedule or healthy(), answer=answer) as srv:
        report = index.index_path(docs, generator(srv), filters=filters, batch_size=BATCH)
    return index, report, len(srv.requests)


def done_chunks(index) -> set[str]:
    return {cid for cid, meta in index.store.chunk_states().items() if meta.get("gen_key")}


def stored_texts(index) -> list[str]:
    return sorted(q.text for q, _ in index.store.iter_queries())


def warnings(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


# ---- 1. three empty runs, then a healthy one ---------------------------------------------------------------

def test_three_empty_runs_then_a_healthy_one_completes_every_chunk(tmp_path, docs, caplog):
    home = tmp_path / "home"
    reports = []
    for _ in range(3):
        caplog.clear()
        _, report, _ = run(home, docs, persistent("empty"))
        reports.append(report)
    assert [len(r.generation_errors) for r in reports] == [N, N, 0]
    assert len(reports[2].generation_gave_up) == N
    # one warning that counts every chunk given up, not one per batch ("2 chunks")
    assert warnings(caplog, "still had no usable query") == [
        f"{N} chunks still had no usable query after 3 tries; kept without generated queries, asked again on a "
        "later run"]
    shared = tmp_path / "shared.jsonl"  # the cache as it stood after the third run, for a fresh home below
    shutil.copy(home / "generations.jsonl", shared)

    caplog.clear()
    index, report, asked = run(home, docs)  # healed: one more run completes every chunk
    assert asked == N and report.chunks_generated == N
    assert report.generation_errors == [] and report.generation_gave_up == []
    assert done_chunks(index) == set(index.store.chunk_states()) and index.stats()["chunks_with_queries"] == N
    assert warnings(caplog, "gave up earlier") == [f"{N} chunks gave up earlier, retrying {N} now (0 wait for a "
                                                   "later run)"]
    # a fresh home sharing that cache asks too: a cached give-up is not a generation
    index, report, asked = run(tmp_path / "fresh", docs, cache=shared)
    assert asked == N and report.generation_gave_up == [] and index.stats()["chunks_with_queries"] == N


def test_a_chunk_that_keeps_failing_is_asked_again_after_a_growing_wait(tmp_path, docs):
    home = tmp_path / "home"
    asked = [run(home, docs, persistent("empty"))[2] for _ in range(3)]
    assert asked == [N, N, N]
    _, fourth, asked4 = run(home, docs, persistent("empty"))  # given up: asked again on the next run
    assert asked4 == N and len(fourth.generation_gave_up) == N
    _, fifth, asked5 = run(home, docs, persistent("empty"))   # failed again: waits one run
    assert asked5 == 0 and len(fifth.generation_gave_up) == N  # ... still reported: the run is incomplete
    assert all(g["error"] == "gave up earlier; asked again on the next run" for g in fifth.generation_gave_up)
    index, sixth, asked6 = run(home, docs)                    # then asked, and healed
    assert asked6 == N and sixth.generation_gave_up == [] and index.stats()["chunks_with_queries"] == N
    states = index.store.chunk_states().values()
    assert {(m.get("soft_failures"), m.get("retry_wait")) for m in states} == {(0, 0)}


def test_the_command_exits_incomplete_while_chunks_are_given_up(tmp_path, docs, monkeypatch, capsys):
    from rag_augment.cli import EXIT_INCOMPLETE, commands, main

    def open_index(args, cache_path=None, create=False):  # the command as is, with a model-free embedder
        return AugmentIndex(home=args.home, cache_path=cache_path, create=create, embedder=HashEmbedder())

    monkeypatch.setattr(commands, "open_index", open_index)
    codes = []
    for schedule in (persistent("empty"),) * 3 + (healthy(),):
        with FaultServer(schedule) as srv:
            codes.append(main(["index", str(docs), "--home", str(tmp_path / "home"), "--generator", "openai",
                               "--model", "fault-model", "--base-url", srv.url, "--api-key-env", KEY_ENV,
                               "--max-retries", "0", "--timeout", "2", "--batch-size", str(BATCH)]))
    assert codes == [EXIT_INCOMPLETE] * 3 + [0]  # before: the third run, which gave up, exited 0
    err = capsys.readouterr().err
    assert f"{N} chunks have no queries yet (generation failed or gave up)" in err


def test_a_replay_keeps_a_recorded_give_up_without_asking(tmp_path, docs):
    """The committed handbook cache records two give-ups: an eval replaying it must not stop on them."""
    from rag_augment.eval.replay import ReplayGenerator

    home = tmp_path / "home"
    for _ in range(3):
        run(home, docs, persistent("empty"))
    index = AugmentIndex(tmp_path / "replay", embedder=HashEmbedder(), cache_path=home / "generations.jsonl")
    report = index.index_path(docs, ReplayGenerator(home / "generations.jsonl"))
    assert report.chunks_generated == 0 and len(report.generation_gave_up) == N
    assert all("records a give-up" in g["error"] for g in report.generation_gave_up)


# ---- 2. prose garbage ----------------------------------------------------------------------------------------

def test_prose_garbage_is_not_stored_or_cached(tmp_path, docs):
    index, report, _ = run(tmp_path / "home", docs, answer=PROSE)
    assert stored_texts(index) == []  # before: both lines stored for every chunk, exit 0
    assert len(report.generation_errors) == N  # a soft failure: asked again on the next run
    assert all("off_topic x2" in e["error"] for e in report.generation_errors)
    assert read_records(tmp_path / "home" / "generations.jsonl")[0] == []  # nothing cached
    assert done_chunks(index) == set()


def test_an_off_topic_query_beside_good_ones_is_filtered_and_counted(tmp_path, docs):
    answer = "Q: Where do I find the parking permit form?\nQ: The weather today is sunny with a chance of rain"
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(docs / "parking.md", one / "parking.md")
    index, report, _ = run(tmp_path / "home", one, answer=answer)
    assert stored_texts(index) == ["Where do I find the parking permit form?"]
    assert report.queries_dropped == {"off_topic": 1} and report.generation_errors == []


def test_garbage_an_older_version_stored_and_cached_is_not_kept(tmp_path, docs):
    home = tmp_path / "home"
    # what 24ff051 did: no shared-word filter, the prose stored and cached for every chunk, the chunks done
    older = {"off_topic": False} if "off_topic" in FilterConfig.__dataclass_fields__ else {}
    index, _, _ = run(home, docs, answer=PROSE, filters=FilterConfig(**older))
    assert len(stored_texts(index)) == 2 * N and len(done_chunks(index)) == N
    shared = tmp_path / "shared.jsonl"
    shutil.copy(home / "generations.jsonl", shared)

    index, report, asked = run(home, docs)  # a re-run, the endpoint healthy now
    assert report.queries_dropped.get("off_topic") == 2 * N  # the stored garbage goes, counted
    assert asked == N  # the cached garbage is no answer: asked again
    texts = stored_texts(index)
    assert texts and not any("weather" in t or "asdf" in t for t in texts)
    assert index.stats()["chunks_with_queries"] == N and len(done_chunks(index)) == N
    assert run(home, docs)[2] == 0  # judged once: the next run has nothing to do

    index, report, asked = run(tmp_path / "fresh", docs, cache=shared)  # a fresh home sharing the cache
    assert asked == N and not any("weather" in t or "asdf" in t for t in stored_texts(index))


def test_real_paraphrases_sharing_a_stem_pass_and_prose_does_not():
    from rag_augment.filters import off_topic

    chunk = Chunk(chunk_id="c", doc_id="d", text="Renew your parking permit each January at the facilities counter.",
                  content_hash="h", title="Parking", seeds=("How do I renew a permit?",))
    good = ["How do I renew my parking permit?", "permits renewal", "When are parking permits renewed?",
            "what is it?"]  # stems shared; a query of function words only is left to the other filters
    assert off_topic(good, chunk, minilm()) == [False] * len(good)
    bad = ["The weather today is sunny with a chance of rain", "asdf qwer zxcv uiop hjkl"]
    assert off_topic(bad, chunk, minilm()) == [True] * len(bad)


def test_a_query_that_bridges_the_vocabulary_gap_stays():
    """What augmentation is for: a user's words that are none of the passage's. Sharing no word is not enough
    to drop a query; it must also be far from its chunk."""
    from rag_augment.filters import off_topic, shares_no_word

    chunk = Chunk(chunk_id="c", doc_id="d", content_hash="h", title="Annual leave",
                  text="Annual leave accrues at four hours each pay period during the first three years of service.")
    bridging = ["how much vacation do new employees earn", "how many days off do I get as a new hire"]
    assert all(shares_no_word(t, chunk) for t in bridging)
    assert off_topic(bridging, chunk, minilm()) == [False, False]


def test_no_filters_turns_the_off_topic_filter_off():
    import argparse

    from rag_augment.filters import add_filter_arguments, filters_from_args

    p = argparse.ArgumentParser()
    add_filter_arguments(p)
    assert filters_from_args(p.parse_args([])).off_topic
    assert not filters_from_args(p.parse_args(["--no-filters"])).off_topic


# ---- 7. the torn-line warning --------------------------------------------------------------------------------

def test_a_torn_cache_line_is_reported_once_not_on_every_command(tmp_path, docs, caplog):
    home = tmp_path / "home"
    run(home, docs)
    path = home / "generations.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + b'{"identity_key": "k", "chunk_ha')  # killed mid-append
    counts, caches = [], []
    for _ in range(3):  # three commands (stats, query, index ...) open the home
        caplog.clear()
        caches.append(AugmentIndex(home, embedder=minilm()).cache)
        counts.append(len(warnings(caplog, "unreadable line")))
    assert counts == [1, 0, 0]  # before: a warning on every command, forever
    assert [c.skipped_lines for c in caches] == [1, 1, 1]  # still skipped and counted
    # a new bad line is new: reported once too
    with open(path, "ab") as f:
        f.write(b"\nnot json\n")
    caplog.clear()
    GenerationCache(path)
    assert warnings(caplog, "unreadable line") == [f"{path}: skipped 1 unreadable line(s) (line {N + 2}); those "
                                                   "chunks are generated again"]
    caplog.clear()
    assert GenerationCache(path).skipped_lines == 2 and warnings(caplog, "unreadable line") == []
    assert json.loads((home / "generations.jsonl.reported").read_text())  # where it was recorded
