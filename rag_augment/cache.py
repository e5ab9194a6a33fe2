"""On-disk cache of generated queries, keyed by generator identity (model, prompt, parameters) and chunk hash.

Append-only JSONL, flushed and fsynced per batch: after Ctrl-C or kill -9 the next run reads every complete line
and regenerates only what is missing (a torn last line is ignored). Failed generations are not cached, so they
are retried. Plain text on purpose: the caches behind committed benchmarks are reviewable in git.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rag_augment.generators.base import GenerationResult, identity_key
from rag_augment.hashing import sha1_hex
from rag_augment.types import Chunk


def generation_hash(chunk: Chunk) -> str:
    """What the generator sees of a chunk: its text, title and seed queries."""
    return sha1_hex(chunk.content_hash + "\x00" + "\x00".join(chunk.seeds), 20)


class GenerationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    self._entries[(rec["identity_key"], rec["chunk_hash"])] = rec
                except (json.JSONDecodeError, KeyError):
                    continue  # a line torn by a crash: that chunk is generated again

    def __len__(self) -> int:
        return len(self._entries)

    def records(self, identity: dict[str, Any]) -> list[dict[str, Any]]:
        """Every cached generation of this generator identity (its tokens and seconds feed the run estimate)."""
        key = identity_key(identity)
        return [rec for (k, _), rec in self._entries.items() if k == key]

    def get(self, identity: dict[str, Any], chunk: Chunk) -> GenerationResult | None:
        rec = self._entries.get((identity_key(identity), generation_hash(chunk)))
        if rec is None:
            return None
        return GenerationResult(chunk_id=chunk.chunk_id, queries=[tuple(q) for q in rec["queries"]],
                                raw=rec.get("raw", ""), seconds=rec.get("seconds", 0.0),
                                prompt_tokens=rec.get("prompt_tokens", 0),
                                completion_tokens=rec.get("completion_tokens", 0), notes=rec.get("notes", []))

    def put_many(self, identity: dict[str, Any], pairs: list[tuple[Chunk, GenerationResult]]) -> None:
        key = identity_key(identity)
        lines = []
        for chunk, res in pairs:
            if res.error:
                continue
            rec = {"identity_key": key, "chunk_hash": generation_hash(chunk), "chunk_id": chunk.chunk_id,
                   "identity": identity, "queries": [list(q) for q in res.queries], "raw": res.raw,
                   "seconds": round(res.seconds, 3), "prompt_tokens": res.prompt_tokens,
                   "completion_tokens": res.completion_tokens, "notes": res.notes}
            self._entries[(key, rec["chunk_hash"])] = rec
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
