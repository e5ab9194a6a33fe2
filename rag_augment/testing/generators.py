"""Generators without a model: canned text through the real parser, and a recorder around any real generator.

Both record every chunk they are asked about, so a test can prove that the cache prevented regeneration."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag_augment.errors import GenerationError
from rag_augment.generators.base import GenerationResult, QueryGenerator
from rag_augment.generators.parsing import parse_queries
from rag_augment.types import Chunk

Responses = dict[str, str] | Callable[[Chunk], str] | None


def default_response(chunk: Chunk) -> str:
    subject = chunk.title or chunk.chunk_id
    return f"Q: What does {subject} say?\nQ: Where can I read about {subject}?\nK: {subject} details"


class FakeGenerator:
    """responses: chunk_id -> raw text, or a function of the chunk, or None for default_response. A chunk id
    missing from the dict gets default_response too. fail_on: chunk ids whose result carries an error.
    raise_on: chunk ids that make the whole batch raise GenerationError (a crash mid-run)."""

    def __init__(self, responses: Responses = None, fail_on: set[str] | frozenset[str] = frozenset(),
                 raise_on: set[str] | frozenset[str] = frozenset(), identity_extra: dict[str, Any] | None = None):
        self.responses = responses
        self.fail_on = set(fail_on)
        self.raise_on = set(raise_on)
        self.identity_extra = dict(identity_extra or {})
        self.calls: list[str] = []          # every chunk id asked for, in order, across batches
        self.batches: list[list[str]] = []  # the chunk ids of each generate_batch call

    def identity(self) -> dict[str, Any]:
        return {"generator": "fake", "model": "fake", "model_hash": "", "prompt_version": "fake-v1",
                "params": {}, **self.identity_extra}

    def _raw(self, chunk: Chunk) -> str:
        if callable(self.responses):
            return self.responses(chunk)
        if isinstance(self.responses, dict) and chunk.chunk_id in self.responses:
            return self.responses[chunk.chunk_id]
        return default_response(chunk)

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        ids = [c.chunk_id for c in chunks]
        self.batches.append(ids)
        self.calls.extend(ids)
        crash = next((i for i in ids if i in self.raise_on), None)
        if crash is not None:
            raise GenerationError(f"fake generator: simulated crash on chunk {crash}")
        results = []
        for chunk in chunks:
            if chunk.chunk_id in self.fail_on:
                results.append(GenerationResult(chunk_id=chunk.chunk_id, queries=[],
                                                error=f"simulated failure for {chunk.chunk_id}"))
                continue
            raw = self._raw(chunk)
            parsed = parse_queries(raw)
            results.append(GenerationResult(chunk_id=chunk.chunk_id, queries=parsed.queries, raw=raw,
                                            notes=parsed.notes))
        return results


class RecordingGenerator:
    """A real generator's results, with a record of the chunks asked for. identity_extra is merged into its
    identity: same output under a new identity forces the indexer to regenerate, as a new model or prompt would."""

    def __init__(self, inner: QueryGenerator, identity_extra: dict[str, Any] | None = None):
        self.inner = inner
        self.identity_extra = dict(identity_extra or {})
        self.calls: list[str] = []
        self.batches: list[list[str]] = []

    def identity(self) -> dict[str, Any]:
        return {**self.inner.identity(), **self.identity_extra}

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        ids = [c.chunk_id for c in chunks]
        self.batches.append(ids)
        self.calls.extend(ids)
        return self.inner.generate_batch(chunks)
