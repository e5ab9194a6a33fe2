"""On-disk cache of generated queries, keyed by generator identity (model, prompt, parameters) and chunk hash.

Append-only JSONL, flushed and fsynced per batch: after Ctrl-C or kill -9 the next run reads every complete line
and regenerates only what is missing. A torn, corrupt or foreign line is skipped, counted and logged, never fatal;
the next append starts on a fresh line. Failed generations are not cached, so they
are retried. Plain text on purpose: the caches behind committed benchmarks are reviewable in git.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rag_augment.errors import InputError
from rag_augment.generators.base import GenerationResult, identity_key
from rag_augment.hashing import sha1_hex
from rag_augment.types import Chunk

log = logging.getLogger(__name__)


def generation_hash(chunk: Chunk) -> str:
    """What the generator sees of a chunk: its text, title and seed queries."""
    return sha1_hex(chunk.content_hash + "\x00" + "\x00".join(chunk.seeds), 20)


def _record(line: bytes) -> dict[str, Any] | None:
    """A cache record, or None for a line that is torn, not UTF-8, not JSON or not shaped like a record."""
    try:
        rec = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(rec, dict):
        return None
    if not (isinstance(rec.get("identity_key"), str) and isinstance(rec.get("chunk_hash"), str)):
        return None
    queries = rec.get("queries")
    if not isinstance(queries, list) or not all(
            isinstance(q, list) and len(q) == 2 and all(isinstance(x, str) for x in q) for q in queries):
        return None
    return rec


def read_records(path: str | Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(records, numbers of the lines skipped) of a cache file; ([], []) when it does not exist. Read in binary
    and decoded line by line, so one bad byte costs one line, never the whole cache."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below; the open alone may fail
    except FileNotFoundError:
        return [], []
    except OSError as e:
        raise InputError(f"{path}: cannot read the generation cache ({e.strerror or e})") from e
    records, bad = [], []
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = _record(line)
            if rec is None:
                bad.append(lineno)
            else:
                records.append(rec)
    return records, bad


def _typed(rec: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = rec.get(key, default)
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


class GenerationCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.skipped_lines = 0  # lines that could not be read (torn, corrupt, foreign): their chunks regenerate
        self._load()

    def _load(self) -> None:
        records, bad = read_records(self.path)
        for rec in records:
            self._entries[(rec["identity_key"], rec["chunk_hash"])] = rec
        if bad:
            self.skipped_lines = len(bad)
            log.warning("%s: skipped %d unreadable line(s) (line %s); those chunks are generated again",
                        self.path, len(bad), ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else ""))

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
                                raw=_typed(rec, "raw", str, ""), seconds=_typed(rec, "seconds", (int, float), 0.0),
                                prompt_tokens=_typed(rec, "prompt_tokens", int, 0),
                                completion_tokens=_typed(rec, "completion_tokens", int, 0),
                                notes=[n for n in _typed(rec, "notes", list, []) if isinstance(n, str)])

    def put_many(self, identity: dict[str, Any], pairs: list[tuple[Chunk, GenerationResult]]) -> None:
        key = identity_key(identity)
        lines = []
        for chunk, res in pairs:
            if res.error:
                continue
            chunk_hash = generation_hash(chunk)
            rec = {"identity_key": key, "chunk_hash": chunk_hash, "chunk_id": chunk.chunk_id,
                   "identity": identity, "queries": [list(q) for q in res.queries], "raw": res.raw,
                   "seconds": round(res.seconds, 3), "prompt_tokens": res.prompt_tokens,
                   "completion_tokens": res.completion_tokens, "notes": res.notes}
            self._entries[(key, chunk_hash)] = rec
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            # A crash may have left a torn last line without its newline: never glue a record onto it.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    lines.insert(0, "\n")
            f.write("".join(lines).encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
