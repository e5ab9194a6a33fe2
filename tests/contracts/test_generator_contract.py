"""The contract every generator keeps, whatever writes its queries: rules, none, the fake, the LLM generator over
a fake chat back end, replay of a generation cache, the OpenAI back end against an HTTP server on 127.0.0.1 and,
marked integration, the real local LLM (SmolLM2-135M through llama.cpp).

- one result per chunk, in the order given, each naming its chunk;
- queries are (text, kind) pairs, kind one of the generated kinds;
- identity() is JSON, the same on every call, free of secrets, and different when the prompt is;
- an empty batch gives an empty list;
- where the generator is deterministic: the same queries for a chunk whatever the batch or the run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from rag_augment.cache import GenerationCache
from rag_augment.eval.replay import ReplayGenerator
from rag_augment.generators.base import GenerationResult, LLMQueryGenerator, QueryGenerator, SamplingParams
from rag_augment.generators.none import NoQueriesGenerator
from rag_augment.generators.openai import openai_generator
from rag_augment.generators.prompts import PromptConfig
from rag_augment.generators.rules import RulesGenerator
from rag_augment.hashing import sha1_hex, stable_json_hash
from rag_augment.testing import FakeChatBackend, FakeGenerator, FakeOpenAIServer
from rag_augment.types import GENERATED_KINDS, Chunk

SECRET = "sk-contract-DO-NOT-LEAK-0987654321"


def _chunk(chunk_id: str, text: str, title: str = "", seeds: tuple[str, ...] = ()) -> Chunk:
    return Chunk(chunk_id=chunk_id, doc_id=chunk_id.split("#")[0], text=text, content_hash=sha1_hex(text),
                 title=title, seeds=seeds)


CHUNKS = [
    _chunk("leave#0", "Full-time employees earn 13 days of annual leave per year. You must request leave in the HR "
           "portal at least two weeks in advance.", title="Annual leave", seeds=("Annual leave",)),
    _chunk("travel#0", "Travellers book flights through the agency's travel system. Economy class is the default; "
           "business class needs written approval.", title="Travel"),
    _chunk("vitd#0", "Vitamin D supplementation did not reduce the incidence of fractures in older adults."),
    _chunk("zoom#3", "Hosts can let guests from outside the agency join a Zoom meeting with a passcode.",
           title="Zoom", seeds=("How do I invite guests to Zoom?",)),
]


def answer_by_prompt(messages: list[dict[str, str]]) -> str:
    """A model stand-in whose lines depend on the prompt only: deterministic, and different per chunk."""
    digest = stable_json_hash(messages)[:8]
    return f"Sure! Here are the queries:\n1. Q: What does passage {digest} say?\nK: passage {digest}"


@dataclass
class GeneratorCase:
    generator: QueryGenerator
    variant: QueryGenerator | None  # the same generator with another prompt; None: it has no prompt
    writes_queries: bool = True
    cache: GenerationCache | None = None  # replay answers only through the cache, which the indexer reads first

    def generate(self, chunks: list[Chunk]) -> list[GenerationResult]:
        """What the indexer gets for a batch: cache hits, then the generator for the rest (as Indexer._generate)."""
        if self.cache is None:
            return self.generator.generate_batch(chunks)
        ident = self.generator.identity()
        cached = {c.chunk_id: self.cache.get(ident, c) for c in chunks}
        missing = [c for c in chunks if cached[c.chunk_id] is None]
        fresh = dict(zip([c.chunk_id for c in missing], self.generator.generate_batch(missing) if missing else []))
        return [cached[c.chunk_id] or fresh[c.chunk_id] for c in chunks]


def _replay(tmp_path, source: QueryGenerator, name: str) -> tuple[ReplayGenerator, GenerationCache]:
    cache = GenerationCache(tmp_path / f"{name}.jsonl")
    cache.put_many(source.identity(), list(zip(CHUNKS, source.generate_batch(CHUNKS))))
    return ReplayGenerator(cache.path), cache


@pytest.fixture(scope="module")
def smollm2_generator():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is required (installed by the test extra)")
    from rag_augment import models
    from rag_augment.generators.llama_cpp import local_generator
    return local_generator(models.smollm2_path(), params=SamplingParams(max_tokens=32), n_ctx=1024, parallel=4)


@pytest.fixture
def openai_server():
    with FakeOpenAIServer.answering(answer_by_prompt) as srv:
        yield srv


LOCAL = pytest.param("local-smollm2", marks=pytest.mark.integration)
FAKES = ["rules", "none", "fake", "llm-fake-backend", "replay", "openai-http"]
ALL = [*FAKES, LOCAL]
WITH_PROMPT = [p for p in ALL if p != "none"]
DETERMINISTIC = FAKES  # sampling on a real model (batched with others) is not claimed to repeat


@pytest.fixture(params=ALL)
def case(request, tmp_path, monkeypatch) -> GeneratorCase:
    name = request.param
    if name == "rules":
        return GeneratorCase(RulesGenerator(), RulesGenerator(n_questions=2))
    if name == "none":
        return GeneratorCase(NoQueriesGenerator(), None, writes_queries=False)
    if name == "fake":
        return GeneratorCase(FakeGenerator(), FakeGenerator(identity_extra={"prompt_version": "fake-v2"}))
    if name == "llm-fake-backend":
        return GeneratorCase(LLMQueryGenerator(FakeChatBackend(answer_by_prompt)),
                             LLMQueryGenerator(FakeChatBackend(answer_by_prompt), PromptConfig(n_questions=3)))
    if name == "replay":
        replay, cache = _replay(tmp_path, RulesGenerator(), "rules")
        other, _ = _replay(tmp_path, RulesGenerator(n_questions=2), "rules-2q")
        return GeneratorCase(replay, other, cache=cache)
    if name == "openai-http":
        srv = request.getfixturevalue("openai_server")
        monkeypatch.setenv("RAG_CONTRACT_KEY", SECRET)
        make = lambda prompt=None: openai_generator("fake-model", base_url=srv.url,  # noqa: E731
                                                    api_key_env="RAG_CONTRACT_KEY", prompt=prompt, concurrency=2)
        return GeneratorCase(make(), make(PromptConfig(n_questions=3)))
    if name == "local-smollm2":
        gen = request.getfixturevalue("smollm2_generator")
        other = LLMQueryGenerator(gen.backend, PromptConfig(n_questions=3), gen.params, generator_name="local")
        return GeneratorCase(gen, other)
    raise AssertionError(name)


def _outputs(results: list[GenerationResult]) -> list[tuple]:
    return [(r.chunk_id, r.queries, r.raw, r.error, r.notes) for r in results]


def test_one_result_per_chunk_in_order(case):
    results = case.generate(CHUNKS)
    assert all(isinstance(r, GenerationResult) for r in results)
    assert [r.chunk_id for r in results] == [c.chunk_id for c in CHUNKS]


def test_queries_are_text_kind_pairs_of_generated_kinds(case):
    results = case.generate(CHUNKS)
    for r in results:
        # a real model may answer a chunk with nothing usable: the quality gate makes that a soft failure
        real_model = case.generator.identity().get("generator") == "local"
        assert r.error == "" or (real_model and r.error.startswith("soft failure") and not r.queries), r.error
        for q in r.queries:
            assert isinstance(q, tuple) and len(q) == 2, q
            text, kind = q
            assert isinstance(text, str) and text.strip() == text and text, q
            assert kind in GENERATED_KINDS, q
    assert any(r.queries for r in results) == case.writes_queries


def test_identity_is_json_stable_and_secret_free(case):
    ident = case.generator.identity()
    as_json = json.dumps(ident, sort_keys=True)
    assert json.loads(as_json) == ident
    assert isinstance(ident["generator"], str) and ident["generator"]
    assert isinstance(ident["model"], str) and isinstance(ident["prompt_version"], str)
    case.generate(CHUNKS[:1])
    assert json.dumps(case.generator.identity(), sort_keys=True) == as_json  # generating changes nothing
    assert SECRET not in as_json


@pytest.mark.parametrize("case", WITH_PROMPT, indirect=True)
def test_identity_changes_with_the_prompt(case):
    assert stable_json_hash(case.variant.identity()) != stable_json_hash(case.generator.identity())


def test_empty_batch_gives_an_empty_list(case):
    assert case.generator.generate_batch([]) == []


@pytest.mark.parametrize("case", DETERMINISTIC, indirect=True)
def test_same_queries_whatever_the_batch_or_the_run(case):
    together = _outputs(case.generate(CHUNKS))
    assert _outputs(case.generate(CHUNKS)) == together
    alone = [_outputs(case.generate([c]))[0] for c in reversed(CHUNKS)][::-1]
    assert alone == together

