"""The generator protocol and the LLM-backed generator built on a one-method chat back end.

A back end (local llama.cpp, any OpenAI-compatible server, a fake in tests) implements only `complete_batch`;
prompt building, parsing and provenance live here once, so every back end behaves the same.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from rag_augment.generators.parsing import parse_queries
from rag_augment.generators.prompts import PromptConfig, build_messages
from rag_augment.generators.quality import gate
from rag_augment.hashing import stable_json_hash
from rag_augment.types import Chunk


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    repeat_penalty: float = 1.1
    seed: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = ""
    error: str = ""  # non-empty when this one request failed after retries


@dataclass
class GenerationResult:
    """What a generator produced for one chunk: (text, kind) pairs plus the raw output, for the cache."""
    chunk_id: str
    queries: list[tuple[str, str]]
    raw: str = ""
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""
    notes: list[str] = field(default_factory=list)  # parser notes: refusal, truncated, empty ...


@runtime_checkable
class QueryGenerator(Protocol):
    """Writes synthetic queries for chunks, many at a time."""

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]: ...

    def identity(self) -> dict[str, Any]:
        """Everything that changes the output (model, its file hash, prompt version, parameters).
        Used as the cache key and written into every query's provenance. Never holds secrets."""
        ...


def identity_key(identity: dict[str, Any]) -> str:
    return stable_json_hash(identity)


class ChatBackend(Protocol):
    """One method to implement: run several chat requests, return one Completion each (never raise for one bad
    request: put the error in Completion.error). A back end that holds a secret may also offer
    `leaks_secret(text) -> bool`; the quality gate then drops (and scrubs) every line that carries it."""

    model_id: str
    model_hash: str

    def complete_batch(self, conversations: list[list[dict[str, str]]], params: SamplingParams) -> list[Completion]: ...


class LLMQueryGenerator:
    """Prompt -> chat back end -> robust parser -> quality gate. The back end decides how to batch or
    parallelise; the gate (generators/quality.py) turns empty, refused or garbage answers into errors, which are
    neither cached nor marked done."""

    def __init__(self, backend: ChatBackend, prompt: PromptConfig | None = None,
                 params: SamplingParams | None = None, generator_name: str = "llm"):
        self.backend = backend
        self.prompt = prompt or PromptConfig()
        self.params = params or SamplingParams()
        self.generator_name = generator_name

    def identity(self) -> dict[str, Any]:
        return {
            "generator": self.generator_name,
            "model": self.backend.model_id,
            "model_hash": self.backend.model_hash,
            "prompt_version": self.prompt.version,
            "prompt_hash": self.prompt.fingerprint(),
            "params": self.params.to_dict(),
            # only when set, so that the identity (and every cache key) of a persona-less prompt is unchanged
            **({"personas": list(self.prompt.personas)} if self.prompt.personas else {}),
        }

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        if not chunks:
            return []
        conversations = [build_messages(c, self.prompt) for c in chunks]
        start = time.perf_counter()
        completions = self.backend.complete_batch(conversations, self.params)
        if len(completions) != len(chunks):
            raise RuntimeError(f"back end returned {len(completions)} completions for {len(chunks)} requests")
        per_chunk = (time.perf_counter() - start) / len(chunks)
        secret = getattr(self.backend, "leaks_secret", None)  # back ends holding a key say where it shows
        results = []
        for conversation, chunk, comp in zip(conversations, chunks, completions):
            parsed = parse_queries(comp.text, default_kind=self.prompt.default_kind(),
                                   truncated=comp.finish_reason == "length")
            result = GenerationResult(
                chunk_id=chunk.chunk_id, queries=parsed.queries, raw=comp.text,
                seconds=comp.seconds or per_chunk, prompt_tokens=comp.prompt_tokens,
                completion_tokens=comp.completion_tokens, error=comp.error, notes=parsed.notes,
            )
            # Before anything is cached: a URL or e-mail is fine only if the model was shown it.
            results.append(gate(result, "\n".join(m["content"] for m in conversation), secret))
        return results
