"""Real queries with known answers (from logs or an FAQ), stored beside the synthetic ones as kind "real".

They are never filtered and never replaced by re-indexing (the indexer only replaces generated kinds); fusion can
weight them above synthetic ones through FusionProfile.kind_weights. The helpers here that read a live index are
shared with the feedback loop and review; writes go through AugmentIndex.attach_queries.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag_augment.errors import InputError
from rag_augment.hashing import norm_text
from rag_augment.indexer import query_id
from rag_augment.trust.provenance import Provenance, now_iso  # noqa: F401  (now_iso re-exported)
from rag_augment.types import REAL, Chunk, SyntheticQuery


# ---- shared helpers over a live index --------------------------------------------------------------------
def stored_chunk(index, chunk_id: str) -> Chunk | None:
    """A stored chunk rebuilt as a Chunk (what filters and provenance need), or None."""
    got = index.store.get_chunks([chunk_id]).get(chunk_id)
    if got is None:
        return None
    meta = got.get("metadata") or {}
    return Chunk(chunk_id=chunk_id, doc_id=meta.get("doc_id", ""), text=got.get("text") or "",
                 content_hash=meta.get("content_hash", ""), position=int(meta.get("position", 0) or 0),
                 title=meta.get("title", ""))


class ChunkPicker:
    """Picks the chunk of a document most similar to a query; caches each document's chunk vectors."""

    def __init__(self, index):
        self.index = index
        self._docs: dict[str, tuple[list[str], np.ndarray]] = {}

    def chunks_of(self, doc_id: str) -> tuple[list[str], np.ndarray]:
        if doc_id not in self._docs:
            ids = sorted(self.index.store.chunk_ids_of_docs([doc_id]))
            vecs = self.index.store.embeddings("chunks", ids)
            self._docs[doc_id] = (ids, np.stack([vecs[i] for i in ids]) if ids else np.zeros((0, 1)))
        return self._docs[doc_id]

    def best(self, doc_id: str, query_vec: np.ndarray) -> str | None:
        ids, mat = self.chunks_of(doc_id)
        if not ids:
            return None
        return ids[int(np.argmax(mat @ query_vec))]


# ---- real queries ----------------------------------------------------------------------------------------
def read_jsonl(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; InputError naming file and line otherwise."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read: {exc}") from exc
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: line {n}: not valid JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise InputError(f"{p}: line {n}: expected a JSON object")
        out.append((n, rec))
    return out


def _check_real(rec: dict, where: str) -> None:
    if not isinstance(rec.get("text"), str) or not rec["text"].strip():
        raise InputError(f"{where}: field 'text' must be a non-empty string")
    for field in ("chunk_id", "doc_id"):
        if rec.get(field) is not None and not isinstance(rec[field], str):
            raise InputError(f"{where}: field {field!r} must be a string")
    if not (rec.get("chunk_id") or rec.get("doc_id")):
        raise InputError(f"{where}: give 'chunk_id' or 'doc_id' (the answer this query should find)")


def add_real_queries(index, source: str | Path | Iterable[dict], holdout: Iterable[str] = ()) -> dict:
    """Store real queries with known answers as kind "real". `source` is a JSONL file or dicts with "text" and
    "chunk_id", or "text" and "doc_id" (then the document's chunk most similar to the query is used).
    Queries whose text is in `holdout` (an eval test split) are skipped: they must not leak into the index."""
    if isinstance(source, (str, Path)):
        rows = [(f"{source}: line {n}", rec) for n, rec in read_jsonl(source)]
    else:
        rows = [(f"record {i}", rec) for i, rec in enumerate(source, 1)]
    for where, rec in rows:
        _check_real(rec, where)
    held = {norm_text(t) for t in holdout}
    rows_kept = [(w, r) for w, r in rows if norm_text(r["text"]) not in held]
    vecs = index.embedder.embed([r["text"].strip() for _, r in rows_kept]) if rows_kept else np.zeros((0, 1))
    picker, chunks, queries = ChunkPicker(index), {}, []
    for (where, rec), vec in zip(rows_kept, vecs):
        target = _target(index, picker, rec, vec, where)
        if target not in chunks:
            chunks[target] = _must(stored_chunk(index, target), target)
        chunk = chunks[target]
        text = rec["text"].strip()
        queries.append(SyntheticQuery(
            query_id=query_id(target, REAL, text), text=text, kind=REAL, parent_id=target, doc_id=chunk.doc_id,
            provenance=Provenance.real(chunk.content_hash).to_dict()))
    existing = {q.query_id for q in index.store.get_queries([q.query_id for q in queries])} if queries else set()
    stored = index.attach_queries(queries, vecs if queries else None)
    return {"added": sum(q.query_id not in existing for q in stored), "already_present": len(existing),
            "rejected_in_review": len(queries) - len(stored), "skipped_held_out": len(rows) - len(rows_kept),
            "by_chunk_id": sum(bool(r.get("chunk_id")) for _, r in rows_kept),
            "by_doc_id": sum(not r.get("chunk_id") for _, r in rows_kept)}


def _must(chunk: Chunk | None, chunk_id: str) -> Chunk:
    if chunk is None:  # deleted between the lookup and now, by another writer
        raise InputError(f"chunk {chunk_id!r} is not in the index")
    return chunk


def _target(index, picker: ChunkPicker, rec: dict, vec: np.ndarray, where: str) -> str:
    if rec.get("chunk_id"):
        cid = str(rec["chunk_id"])
        if cid not in index.store.get_chunks([cid]):
            raise InputError(f"{where}: chunk {cid!r} is not in the index")
        return cid
    best = picker.best(str(rec["doc_id"]), vec)
    if best is None:
        raise InputError(f"{where}: document {rec['doc_id']!r} is not in the index")
    return best
