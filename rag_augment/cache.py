"""On-disk cache of generated queries, keyed by generator identity (model, prompt, parameters) and chunk hash.

Append-only JSONL, flushed and fsynced per batch: after Ctrl-C or kill -9 the next run reads every complete line
and regenerates only what is missing. A torn, corrupt or foreign line is skipped, counted and logged, never fatal;
the next append starts on a fresh line; each bad line is reported once (its number and digest go to a
`<cache>.reported` file beside it), not on every command. Failed generations are not cached, so they are
retried; a chunk the model gave up on is recorded (no query, a "gave_up: ..." note) but is no generation: `get`
misses it, so it is asked again. Plain text on purpose: the caches behind committed benchmarks are reviewable in git.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
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


def is_give_up(rec: dict[str, Any]) -> bool:
    """A record of a chunk the model gave nothing usable for, several runs in a row: not a generation."""
    notes = rec.get("notes")
    return not rec["queries"] and isinstance(notes, list) and any(
        isinstance(n, str) and n.startswith("gave_up:") for n in notes)


def read_records(path: str | Path) -> tuple[list[dict[str, Any]], list[int]]:
    """(records, numbers of the lines skipped) of a cache file; ([], []) when it does not exist. Read in binary
    and decoded line by line, so one bad byte costs one line, never the whole cache."""
    records, bad = _read(path)
    return records, [n for n, _ in bad]


def _read(path: str | Path) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """(records, (number, digest) of each skipped line)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below; the open alone may fail
    except FileNotFoundError:
        return [], []
    except OSError as e:
        raise InputError(f"{path}: cannot read the generation cache ({e.strerror or e})") from e
    records: list[dict[str, Any]] = []
    bad: list[tuple[int, str]] = []
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = _record(line)
            if rec is None:  # the digest ignores the newline a later append may add after a torn tail
                bad.append((lineno, hashlib.sha1(line.rstrip(b"\r\n")).hexdigest()[:16]))
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
        records, bad = _read(self.path)
        for rec in records:
            self._entries[(rec["identity_key"], rec["chunk_hash"])] = rec
        self.skipped_lines = len(bad)
        if not bad:
            return
        reported = self._reported()
        new = [n for n, digest in bad if f"{n}:{digest}" not in reported]
        if new:
            log.warning("%s: skipped %d unreadable line(s) (line %s); those chunks are generated again",
                        self.path, len(new), ", ".join(map(str, new[:5])) + (" ..." if len(new) > 5 else ""))
            self._remember(reported | {f"{n}:{digest}" for n, digest in bad})
        if len(new) < len(bad):
            log.info("%s: skipped %d unreadable line(s) reported before", self.path, len(bad) - len(new))

    @property
    def reported_path(self) -> Path:
        return self.path.with_name(self.path.name + ".reported")

    def _reported(self) -> set[str]:
        """The bad lines ("number:digest") already reported: a torn line is reported once, not on every command."""
        try:
            data = json.loads(self.reported_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return set()
        return {x for x in data if isinstance(x, str)} if isinstance(data, list) else set()

    def _remember(self, reported: set[str]) -> None:
        """Written beside the cache through a temp file; the cache itself is never rewritten (another process
        may be appending to it). A folder that cannot be written just means the warning comes again."""
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.reported_path.name + ".", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(sorted(reported), f)
            os.replace(tmp, self.reported_path)
        except OSError as e:
            log.debug("%s: cannot record the reported lines (%s)", self.reported_path, e.strerror or e)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self._entries)

    def records(self, identity: dict[str, Any]) -> list[dict[str, Any]]:
        """Every cached generation of this generator identity (its tokens and seconds feed the run estimate)."""
        key = identity_key(identity)
        return [rec for (k, _), rec in self._entries.items() if k == key]

    def gave_up(self, identity: dict[str, Any], chunk: Chunk) -> bool:
        """The last record of this chunk says the model gave up on it (it is asked again, see the indexer)."""
        rec = self._entries.get((identity_key(identity), generation_hash(chunk)))
        return rec is not None and is_give_up(rec)

    def get(self, identity: dict[str, Any], chunk: Chunk) -> GenerationResult | None:
        """The cached generation of this chunk; None when there is none, or only a give-up."""
        rec = self._entries.get((identity_key(identity), generation_hash(chunk)))
        if rec is None or is_give_up(rec):
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
