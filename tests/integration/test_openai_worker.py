"""The OpenAI back end in its own process (openai_worker.py): the requests carry the key, the indexing process only
ever sees masked text, and a dead child costs one batch, not the run."""
from __future__ import annotations

import json

import pytest

from rag_augment.errors import ConfigError
from rag_augment.generators.base import SamplingParams
from rag_augment.generators.openai import openai_generator
from rag_augment.generators.openai_compat import OpenAIBackend
from rag_augment.generators.openai_worker import LEAK_MARK, IsolatedOpenAIBackend
from rag_augment.testing import FakeOpenAIServer, chat_reply
from rag_augment.types import Chunk

SECRET = "sk-test-WORKER-SECRET-0123456789"
KEY_ENV = "RAG_WORKER_TEST_KEY"
CONV = [{"role": "user", "content": "Passage:\nBadges are replaced at the security office."}]
FAST = {"backoff_base": 0.001, "backoff_max": 0.01, "timeout": 2.0}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def isolated(srv: FakeOpenAIServer, **kw) -> IsolatedOpenAIBackend:
    return IsolatedOpenAIBackend("m", base_url=srv.url, api_key_env=KEY_ENV, **{**FAST, **kw})


def test_the_child_makes_the_requests_with_the_key_and_keeps_serving():
    with FakeOpenAIServer(lambda n, b, h: (200, {}, chat_reply(f"Q: answer {n}?"), 0)) as srv:
        be = isolated(srv)
        try:
            first = be.complete_batch([CONV, CONV], SamplingParams(max_tokens=33))
            second = be.complete_batch([CONV], SamplingParams())
            pid = be._proc.pid if be._proc else None
        finally:
            be.close()
    assert sorted(c.text for c in first) == ["Q: answer 0?", "Q: answer 1?"] and second[0].text == "Q: answer 2?"
    assert all(c.error == "" and c.prompt_tokens > 0 for c in first + second)
    assert srv.auth == [f"Bearer {SECRET}"] * 3 and srv.bodies[0]["max_tokens"] == 33
    assert pid is not None and be._proc is None  # one child served both batches; close() stopped it


def test_the_parent_holds_no_key_and_gets_the_answers_masked():
    leaked = f"Q: Which key is {SECRET} for?\nQ: Where are lost badges replaced?"
    with FakeOpenAIServer(lambda n, b, h: (401, {}, {"error": {"message": "bad " + h["authorization"]}}, 0)
                          if n == 0 else (200, {}, chat_reply(leaked), 0)) as srv:
        be = isolated(srv, max_retries=0)
        try:
            failed, answered = be.complete_batch([CONV], SamplingParams()) + be.complete_batch([CONV], SamplingParams())
        finally:
            be.close()
    assert "401" in failed.error and "***" in failed.error and SECRET[:8] not in failed.error
    assert answered.text == f"Q: Which key is {LEAK_MARK} for?\nQ: Where are lost badges replaced?"
    assert be.leaks_secret(answered.text.splitlines()[0]) and not be.leaks_secret(answered.text.splitlines()[1])
    assert SECRET[:8] not in repr(vars(be)) + repr(be)


def test_the_quality_gate_drops_the_masked_line():
    leaked = f"Q: Which key is {SECRET} for?\nQ: Where are lost badges replaced?"
    with FakeOpenAIServer(lambda n, b, h: (200, {}, chat_reply(leaked), 0)) as srv:
        gen = openai_generator("m", base_url=srv.url, api_key_env=KEY_ENV, **FAST)
        try:
            [res] = gen.generate_batch([Chunk(chunk_id="c", doc_id="d", text="Lost badges are replaced at the "
                                              "security office.", content_hash="h")])
        finally:
            gen.backend.close()
    assert isinstance(gen.backend, IsolatedOpenAIBackend)
    assert [q for q, _ in res.queries] == ["Where are lost badges replaced?"]
    assert "gate_dropped_secret" in res.notes and LEAK_MARK not in res.raw and SECRET[:8] not in json.dumps(res.raw)


def test_a_dead_child_fails_one_batch_and_the_next_starts_a_new_one():
    with FakeOpenAIServer(lambda n, b, h: (200, {}, chat_reply("Q: ok?"), 0)) as srv:
        be = isolated(srv)
        try:
            be.complete_batch([CONV], SamplingParams())
            assert be._proc is not None
            be._proc.kill()
            be._proc.wait()
            lost = be.complete_batch([CONV, CONV], SamplingParams())
            again = be.complete_batch([CONV], SamplingParams())
        finally:
            be.close()
    assert [c.text for c in lost] == ["", ""] and all(c.error.startswith("WorkerError") for c in lost)
    assert again[0].text == "Q: ok?" and again[0].error == ""


def test_options_are_checked_before_any_child_starts(monkeypatch):
    monkeypatch.delenv("RAG_WORKER_MISSING_KEY", raising=False)
    with pytest.raises(ConfigError, match="RAG_WORKER_MISSING_KEY"):
        IsolatedOpenAIBackend("m", base_url="https://api.example.com/v1", api_key_env="RAG_WORKER_MISSING_KEY")
    with pytest.raises(ConfigError, match="openai.concurrency"):
        IsolatedOpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, concurrency=0)
    be = IsolatedOpenAIBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV)
    assert be._proc is None  # started on the first batch only


def test_in_process_back_end_stays_available():
    gen = openai_generator("m", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, isolate=False)
    assert isinstance(gen.backend, OpenAIBackend)
