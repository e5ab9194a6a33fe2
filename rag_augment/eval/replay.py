"""A generator that only replays a generation cache file: the eval runs behind committed results need the cache,
not the model. A chunk missing from the cache is an error, never a silent gap in the augmentation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rag_augment.cache import read_records
from rag_augment.errors import ConfigError, GenerationError
from rag_augment.generators.base import GenerationResult
from rag_augment.types import Chunk


def cache_identities(path: str | Path) -> dict[str, dict[str, Any]]:
    """identity key -> {"identity": ..., "entries": n} for every generator identity in a cache file."""
    out: dict[str, dict[str, Any]] = {}
    for rec in read_records(path)[0]:  # bad lines are skipped (and logged) as GenerationCache skips them
        out.setdefault(rec["identity_key"], {"identity": rec.get("identity", {}), "entries": 0})["entries"] += 1
    return out


class ReplayGenerator:
    asks_model = False  # a give-up (or garbage) recorded in the cache is what a replay replays

    def __init__(self, cache_path: str | Path, identity_key: str | None = None):
        self.cache_path = Path(cache_path)
        if not self.cache_path.exists():
            raise ConfigError(f"generator 'replay': cache file {self.cache_path} does not exist")
        found = cache_identities(self.cache_path)
        if identity_key is None and len(found) != 1:
            listing = ", ".join(f"{k} ({v['identity'].get('model')}, {v['entries']} chunks)" for k, v in found.items())
            raise ConfigError(f"generator 'replay': {self.cache_path} holds {len(found)} generator identities; "
                              f"choose one with --identity: {listing or 'none'}")
        key = identity_key or next(iter(found))
        if key not in found:
            raise ConfigError(f"generator 'replay': identity {key!r} is not in {self.cache_path}")
        self._identity = found[key]["identity"]
        self.entries = found[key]["entries"]

    def identity(self) -> dict[str, Any]:
        return self._identity

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        """Only called for chunks the cache does not hold."""
        if not chunks:
            return []
        raise GenerationError(
            f"replay: {len(chunks)} chunks are not in {self.cache_path} (e.g. {chunks[0].chunk_id}); the cache was "
            "made for other documents or another chunking. Generate them first with the same command and "
            "--generator local|openai, which appends to the cache")
