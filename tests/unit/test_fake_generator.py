"""The fakes in rag_augment.testing: canned text through the real parser, failures, call records, scripted chat
replies, a recording wrapper, a slow embedder and a scripted OpenAI-compatible server."""
import time

import numpy as np
import pytest

from rag_augment.errors import GenerationError
from rag_augment.generators.base import Completion, LLMQueryGenerator, QueryGenerator, SamplingParams
from rag_augment.generators.openai_compat import OpenAIBackend
from rag_augment.generators.rules import RulesGenerator
from rag_augment.testing import (
    FakeChatBackend,
    FakeGenerator,
    FakeOpenAIServer,
    HashEmbedder,
    RecordingGenerator,
    SlowEmbedder,
    chat_reply,
)
from rag_augment.types import KEYWORD, QUESTION, Chunk


def chunk(cid, title="T", text="text"):
    return Chunk(chunk_id=cid, doc_id="d", text=text, content_hash="h" + cid, title=title)


def test_canned_text_is_parsed_and_calls_are_recorded():
    gen = FakeGenerator({"a": "Here are 2 questions:\n1. Q: What is A?\n2. Q: What is A?\nK: a facts"})
    assert isinstance(gen, QueryGenerator)
    results = gen.generate_batch([chunk("a"), chunk("b", title="Bee")])
    assert results[0].queries == [("What is A?", QUESTION), ("a facts", KEYWORD)]
    assert "duplicate" in results[0].notes
    assert results[1].queries[0] == ("What does Bee say?", QUESTION)  # not in the dict: the default response
    gen.generate_batch([chunk("c")])
    assert gen.calls == ["a", "b", "c"] and gen.batches == [["a", "b"], ["c"]]


def test_callable_responses_failures_and_crashes():
    gen = FakeGenerator(lambda c: f"Q: about {c.chunk_id}?", fail_on={"bad"}, raise_on={"boom"})
    ok, bad = gen.generate_batch([chunk("x"), chunk("bad")])
    assert ok.queries == [("about x?", QUESTION)] and ok.error == ""
    assert bad.queries == [] and "simulated failure" in bad.error
    with pytest.raises(GenerationError, match="boom"):
        gen.generate_batch([chunk("y"), chunk("boom")])
    assert gen.calls == ["x", "bad", "y", "boom"]


def test_identity_extra_changes_the_identity():
    assert FakeGenerator().identity()["generator"] == "fake"
    assert FakeGenerator(identity_extra={"params": {"v": 2}}).identity()["params"] == {"v": 2}


def test_old_import_path_still_works():
    from rag_augment.generators.fake import FakeGenerator as Old
    assert Old is FakeGenerator


def test_recording_generator_passes_results_through_and_can_change_identity():
    chunks = [chunk("a", text="You can request leave in the HR portal."), chunk("b", text="Zoom hosts admit guests.")]
    rec = RecordingGenerator(RulesGenerator(), identity_extra={"run": 2})
    plain = RulesGenerator().generate_batch(chunks)
    assert [r.queries for r in rec.generate_batch(chunks)] == [r.queries for r in plain]
    assert rec.identity() == {**RulesGenerator().identity(), "run": 2} and rec.batches == [["a", "b"]]


def test_chat_backend_replies_by_text_list_or_function_and_records_calls():
    convs = [[{"role": "system", "content": "s"}, {"role": "user", "content": f"u{i}"}] for i in range(3)]
    params = SamplingParams(temperature=0.0)
    assert [c.text for c in FakeChatBackend().complete_batch(convs, params)] == ["Q: a question?"] * 3
    queued = FakeChatBackend(["one", "two", "three"])
    assert [c.text for c in queued.complete_batch(convs[:2], params)] == ["one", "two"]
    assert [c.text for c in queued.complete_batch(convs[2:], params)] == ["three"]
    with pytest.raises(RuntimeError, match="no scripted reply left"):
        queued.complete_batch(convs[:1], params)
    echo = FakeChatBackend(lambda conv: conv[-1]["content"] if conv[-1]["content"] != "u1"
                           else Completion(text="", error="simulated"), model_id="echo")
    assert [(c.text, c.error) for c in echo.complete_batch(convs, params)] == [("u0", ""), ("", "simulated"),
                                                                               ("u2", "")]
    assert echo.prompts == ["u0", "u1", "u2"] and echo.calls[0][1] is params
    gen = LLMQueryGenerator(FakeChatBackend("Q: how do I request leave?", model_id="m", model_hash="abc"))
    [res] = gen.generate_batch([chunk("a")])
    assert res.queries == [("how do I request leave?", QUESTION)]
    assert (gen.identity()["model"], gen.identity()["model_hash"]) == ("m", "abc")


def test_slow_embedder_is_a_hash_embedder_that_waits():
    fast, slow = HashEmbedder(64), SlowEmbedder(64, delay=0.05)
    start = time.perf_counter()
    vecs = slow.embed(["annual leave", "zoom"])
    assert time.perf_counter() - start >= 0.05
    assert np.array_equal(vecs, fast.embed(["annual leave", "zoom"])) and slow.name == fast.name


def test_openai_server_is_reached_over_http():
    with FakeOpenAIServer.answering(lambda messages: "Q: " + messages[-1]["content"]) as srv:
        backend = OpenAIBackend("m", base_url=srv.url, api_key_env="RAG_FAKE_UNSET_KEY")  # local: no key needed
        comps = backend.complete_batch([[{"role": "user", "content": "hello"}]], SamplingParams())
        assert [c.text for c in comps] == ["Q: hello"] and srv.count == 1 and srv.bodies[0]["model"] == "m"
    assert chat_reply("x")["choices"][0]["message"]["content"] == "x"
