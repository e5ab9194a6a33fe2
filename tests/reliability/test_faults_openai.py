"""The fault matrix of issue 15 for the OpenAI-compatible back end, against a real fault-injecting HTTP server on
127.0.0.1 (tests/faults_openai_server.py) and, for the index, the real indexing path with real Chroma.

Every fault, first / mid-run / persistent: nothing garbage is stored or cached, a failed chunk is neither cached nor
marked done, and one healthy re-run leaves exactly the index (and cache) of a clean run.
"""
from __future__ import annotations

import json
import time

import pytest
from faults_openai_server import (
    ALL_FAULTS,
    GARBAGE,
    SOFT,
    TRANSIENT,
    FaultServer,
    first,
    healthy,
    healthy_answer,
    key_fragments,
    mid_run,
    persistent,
)

from rag_augment.errors import ConfigError
from rag_augment.generators.base import SamplingParams
from rag_augment.generators.openai import openai_generator
from rag_augment.generators.openai_compat import OpenAIBackend
from rag_augment.types import Chunk

KEY = "sk-test-PLANTED-0123456789abcdefXYZ"
KEY_ENV = "RAG_FAULTS_TEST_KEY"
FAST = {"backoff_base": 0.001, "backoff_max": 0.01, "timeout": 0.4}
PASSAGE = [{"role": "user", "content": "Passage:\nAnnual leave requests go through the portal."}]


@pytest.fixture(autouse=True)
def planted_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def backend(srv: FaultServer, **kw) -> OpenAIBackend:
    return OpenAIBackend("fault-model", base_url=srv.url, api_key_env=KEY_ENV, **{**FAST, **kw})


def generator(srv: FaultServer, **kw):
    return openai_generator("fault-model", base_url=srv.url, api_key_env=KEY_ENV, **{**FAST, **kw})


def chunk(text: str = "Annual leave requests go through the HR portal two weeks ahead.") -> Chunk:
    return Chunk(chunk_id="c1", doc_id="d", text=text, content_hash="h1", title="Leave")


# ---- the back end: timeouts, retry budget, what counts as transient -------------------------------------------

def test_defaults_bound_a_hung_server():
    be = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV)
    assert (be.timeout, be.max_retries) == (60.0, 2)  # 3 tries of 60 s, not 7 (8 minutes a chunk)
    # measured: the default tries and backoff (1 s, then 2 s, jittered down) against a server that hangs 30 s
    # per request, with the timeout cut from 60 s to 0.5 s so the test takes seconds: 3 tries, then an error
    with FaultServer(persistent("timeout"), hang_s=30) as srv:
        start = time.perf_counter()
        [comp] = OpenAIBackend("m", base_url=srv.url, api_key_env=KEY_ENV, timeout=0.5).complete_batch(
            [PASSAGE], SamplingParams())
        elapsed = time.perf_counter() - start
    assert comp.error and "3 attempt(s)" in comp.error and len(srv.requests) == 3
    assert elapsed < 3 * 0.5 + (1 + 2) + 3  # tries x timeout + the longest backoffs + slack, not 3 x 30 s


@pytest.mark.parametrize("kw, field", [({"timeout": 0}, "openai.timeout"), ({"timeout": "60"}, "openai.timeout"),
                                       ({"max_retries": -1}, "openai.max_retries"),
                                       ({"max_retries": 1.5}, "openai.max_retries"),
                                       ({"concurrency": 0}, "openai.concurrency")])
def test_bad_options_are_one_line_config_errors(kw, field):
    with pytest.raises(ConfigError, match=field):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, **kw)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_transient_fault_is_retried(fault):
    with FaultServer(first(fault), hang_s=2) as srv:
        [comp] = backend(srv).complete_batch([PASSAGE], SamplingParams())
    assert comp.error == "" and comp.text == healthy_answer(PASSAGE[0]["content"].split("Passage:")[1].strip())
    assert len(srv.requests) == 2


@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_persistent_fault_costs_the_retry_budget_then_errors(fault):
    with FaultServer(persistent(fault), hang_s=5) as srv:
        start = time.perf_counter()
        [comp] = backend(srv, max_retries=2).complete_batch([PASSAGE], SamplingParams())
        elapsed = time.perf_counter() - start
    assert comp.error and comp.text == "" and "3 attempt(s)" in comp.error
    assert len(srv.requests) == 3
    assert elapsed < 0.4 * 3 + 1.5  # a hung server costs timeout x tries, not hang_s per try


# ---- the generator's quality gate, per soft fault -----------------------------------------------------------

@pytest.mark.parametrize("fault, why", [("empty", "soft failure: empty answer"), ("refusal", "soft failure: refusal"),
                                        ("garbage", "soft failure: no usable query")])
def test_a_soft_failure_is_an_error_not_a_result(fault, why):
    with FaultServer(persistent(fault)) as srv:
        [res] = generator(srv).generate_batch([chunk()])
    assert res.error.startswith(why) and res.queries == []


def test_garbage_lines_are_dropped_and_good_ones_kept():
    blob = "dGhpcyBpcyBhIHNlY3JldCB0b2tlbjEyMw=="
    answer = "Q: How do I request annual leave?\n" + GARBAGE + f"\nQ: <|im_end|>\nK: token {blob}"
    with FaultServer(answer=answer) as srv:
        [res] = generator(srv).generate_batch([chunk()])
    assert res.error == "" and res.queries == [("How do I request annual leave?", "question")]
    assert {"gate_dropped_lorem_ipsum", "gate_dropped_json_fragment", "gate_dropped_hex_blob",
            "gate_dropped_template_token", "gate_dropped_blob"} <= set(res.notes)


def test_urls_and_emails_from_the_passage_are_kept_invented_ones_dropped():
    text = "Send forms to hr-forms@agency.example or upload them at https://portal.agency.example/leave."
    answer = ("Q: Where do I upload forms at https://portal.agency.example/leave?\n"
              "Q: Can I mail forms to hr-forms@agency.example instead?\n"
              "Q: Is https://evil.example/login the portal?\nQ: Should I write to boss@evil.example?")
    with FaultServer(answer=answer) as srv:
        [res] = generator(srv).generate_batch([chunk(text)])
    texts = [t for t, _ in res.queries]
    assert texts == ["Where do I upload forms at https://portal.agency.example/leave?"]  # the e-mail one is PII
    assert "evil.example" not in res.raw and "[removed by the quality gate: foreign_url]" in res.raw


def test_the_key_written_into_answers_is_dropped_and_scrubbed():
    with FaultServer(persistent("key_in_answer"), key=KEY) as srv:
        [res] = generator(srv).generate_batch([chunk()])
    assert res.error.startswith("soft failure") and res.queries == []
    assert key_fragments(res.raw + res.error + " ".join(res.notes), KEY) == []


def test_the_key_echoed_in_an_error_body_is_masked_before_the_cut():
    with FaultServer(persistent("key_in_error"), key=KEY) as srv:
        comps = backend(srv, max_retries=0, concurrency=1).complete_batch([PASSAGE] * 50, SamplingParams())
    assert all("HTTP 500" in c.error and "***" in c.error for c in comps)
    # Each error shifts the key by one more character: one copy always straddles the cut.
    # Before: a prefix such as 'sk-test-PLANTED-01' survived the 300-character cut.
    assert [key_fragments(c.error, KEY) for c in comps] == [[]] * 50


# ---- the index: every fault x first / mid-run / persistent, then one healthy re-run ------------------------

DOCS = {
    "leave.md": "# Leave\n\nAnnual leave requests go through the portal two weeks ahead of the first day off.\n",
    "travel.md": "# Travel\n\nBook flights through the travel desk and keep every receipt for the voucher.\n",
    "laptop.md": "# Laptops\n\nSecurity patches install overnight; restart your laptop every Friday afternoon.\n",
}


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


def run_index(home, docs, schedule, **kw):
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.embedding import HashEmbedder
    index = AugmentIndex(home, embedder=HashEmbedder())
    with FaultServer(schedule, key=KEY, hang_s=1.5) as srv:
        report = index.index_path(docs, generator(srv, **kw))
    return index, report


def snapshot(index) -> tuple:
    chunks = sorted((cid, meta.get("gen_key")) for cid, meta in index.store.chunk_states().items())
    queries = sorted((q.query_id, q.text, q.kind, q.parent_id) for q, _ in index.store.iter_queries())
    return chunks, queries


def cached(home) -> dict:
    path = home / "generations.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return {rec["chunk_id"]: rec["queries"] for rec in map(json.loads, lines)}


@pytest.fixture(scope="module")
def clean(docs, tmp_path_factory):
    home = tmp_path_factory.mktemp("clean")
    index, report = run_index(home, docs, healthy())
    assert report.generation_errors == [] and report.queries_kept > 0
    return snapshot(index), cached(home)


SCHEDULES = {"first": first, "mid": lambda f: mid_run(f, at=1), "persistent": persistent}


@pytest.mark.parametrize("when", list(SCHEDULES))
@pytest.mark.parametrize("fault", ALL_FAULTS)
def test_index_recovers_from_every_fault(tmp_path, docs, clean, fault, when):
    (clean_index, clean_queries), clean_cache = clean
    home = tmp_path / "home"
    index, report = run_index(home, docs, SCHEDULES[when](fault), max_retries=1)
    failed = {e["chunk_id"] for e in report.generation_errors}
    if when == "persistent":
        assert len(failed) == len(DOCS)  # a run that leaves chunks without queries says so
    elif fault in SOFT + ("key_in_answer",):
        assert len(failed) == 1
    else:
        assert failed == set()  # transient: retried within the run
    # Nothing garbage stored, nothing cached for the failed chunks, failed chunks not marked done.
    _, queries = snapshot(index)
    assert set(queries) <= set(clean_queries)
    assert set(cached(home)) == set(clean_cache) - failed
    done = {cid for cid, key in snapshot(index)[0] if key}
    assert done == {cid for cid, _ in clean_index} - failed
    # One healthy re-run completes it: the same index and cache as a clean run.
    index, report = run_index(home, docs, healthy())
    assert report.generation_errors == []
    assert snapshot(index) == (clean_index, clean_queries)
    assert cached(home) == clean_cache
