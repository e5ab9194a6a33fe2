"""Personas: one per chunk, named in the prompt and in every query's provenance, counted by the diversity report;
a persona-less prompt keeps its identity (so committed caches stay valid)."""
from rag_augment.generators.base import LLMQueryGenerator
from rag_augment.generators.prompts import PromptConfig, build_messages, persona_for
from rag_augment.hashing import sha1_hex
from rag_augment.testing import FakeChatBackend
from rag_augment.trust.diversity import persona_coverage
from rag_augment.types import Chunk

PERSONAS = ("a new employee on their first day", "a manager approving requests", "a contractor")


def chunk(i: int) -> Chunk:
    text = f"Policy number {i}: staff may request leave through the HR portal."
    return Chunk(chunk_id=f"doc{i}#c", doc_id=f"doc{i}", text=text, content_hash=sha1_hex(text))


def echo_backend() -> FakeChatBackend:
    """One question per prompt; its prompts show which persona each prompt named."""
    return FakeChatBackend("Q: how do I request leave?", model_id="echo", model_hash="0" * 8)


def test_each_chunk_gets_one_persona_and_all_are_used():
    cfg = PromptConfig(personas=PERSONAS)
    chunks = [chunk(i) for i in range(30)]
    picked = [persona_for(c, cfg.personas) for c in chunks]
    assert set(picked) == set(PERSONAS)
    assert picked == [persona_for(c, cfg.personas) for c in chunks]  # deterministic
    for c, p in zip(chunks, picked):
        user = build_messages(c, cfg)[-1]["content"]
        assert [q for q in PERSONAS if q in user] == [p]
    plain = build_messages(chunks[0], PromptConfig())[-1]["content"]
    assert not any(p in plain for p in PERSONAS) and persona_for(chunks[0], ()) == ""


def test_identity_names_personas_only_when_set():
    with_p = LLMQueryGenerator(echo_backend(), PromptConfig(personas=PERSONAS)).identity()
    without = LLMQueryGenerator(echo_backend(), PromptConfig()).identity()
    assert with_p["personas"] == list(PERSONAS) and "personas" not in without


def test_indexed_queries_carry_their_persona(make_index, kb):
    index = make_index()
    gen = LLMQueryGenerator(echo_backend(), PromptConfig(personas=PERSONAS))
    index.index_path(kb, gen)
    ids = [i for batch, _, _ in index.store.iter_all("chunks", include=("metadatas",)) for i in batch]
    chunks = index.store.get_chunks(ids)
    queries = index.store.queries_of(sorted(chunks))
    assert queries
    for q in queries:
        c = chunks[q.parent_id]
        expected = persona_for(Chunk(q.parent_id, q.doc_id, c["text"], c["metadata"]["content_hash"]), PERSONAS)
        assert q.provenance["persona"] == expected
    coverage = persona_coverage(queries, list(chunks))
    assert set(coverage) <= set(PERSONAS) and sum(v["queries"] for v in coverage.values()) == len(queries)
