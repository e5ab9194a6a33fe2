"""A generator that writes no queries: an index of chunks, plus whatever real and feedback queries people add.

The baseline for the question a team with a query log asks: what do synthetic queries add on top of real ones?
(`rag-augment eval --generator none --real-from-train`, against the same run with a model's queries.)
"""
from __future__ import annotations

from typing import Any

from rag_augment.generators.base import GenerationResult
from rag_augment.types import Chunk


class NoQueriesGenerator:
    def identity(self) -> dict[str, Any]:
        return {"generator": "none", "model": "", "model_hash": "", "prompt_version": "none", "params": {}}

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        return [GenerationResult(chunk_id=c.chunk_id, queries=[], raw="", seconds=0.0) for c in chunks]
