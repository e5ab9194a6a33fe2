"""Human review of a live index: what reviewers read, the export of every query vector, their decisions applied back.

The review page reads the index through the functions below (`show`, `entries`, `chunk_infos`, `stored_queries`).

`export` writes one flat row per query (text, kind, provenance, and the chunk it points at) as JSONL or CSV; a
reviewer fills in `decision` (approve / reject / edit) and, for edits, `edited_text`. `apply_review` records the
decisions in the index's ReviewBook -- so they survive re-indexing and regeneration, because the indexer applies
the book to every newly generated query -- and changes the live index at once: rejected vectors are deleted,
edited ones re-embedded under a new id, approved ones marked. Nothing secret is exported: provenance never holds
keys, and the chunk's source path is left out.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_augment.errors import InputError
from rag_augment.filters import echoes_injection, injection_sentences, pii_found
from rag_augment.hashing import norm_text
from rag_augment.trust.real_queries import now_iso, read_jsonl
from rag_augment.trust.review import check_record, edited
from rag_augment.types import ReviewStatus, SyntheticQuery

PROVENANCE_FIELDS = ("origin", "generator", "model", "model_hash", "prompt_version", "prompt_hash", "temperature",
                     "seed", "persona", "created_at", "source_chunk_hash", "review_status")  # reviewers' subset
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXPORT_FIELDS = ("query_id", "kind", "text", "decision", "edited_text", "reviewer_note", "parent_id", "doc_id",
                 *PROVENANCE_FIELDS, "chunk_title", "chunk_section", "chunk_text")
FORMATS = ("jsonl", "csv")
_SYNONYMS = {"approved": "approve", "ok": "approve", "keep": "approve", "rejected": "reject", "drop": "reject",
             "delete": "reject", "edited": "edit"}


# ---- reading the index for reviewers ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    """One stored query as the review queue filters it (metadata only)."""
    query_id: str
    parent_id: str
    doc_id: str
    kind: str
    persona: str
    generator: str
    status: ReviewStatus
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChunkInfo:
    doc_id: str
    position: int
    title: str
    planted: tuple[str, ...] = ()  # sentences of the chunk that read like instructions to a model


def query_flags(text: str, status: ReviewStatus, planted: Sequence[str] = ()) -> tuple[str, ...]:
    """What the indexing filters would say about this text now, plus a feedback round's needs_review mark.
    A query the filters dropped is not in the index; these flag queries a person kept or wrote (filters off,
    edits, feedback paraphrases) and judge picks that wait for a person."""
    flags = []
    if pii_found(text):
        flags.append("pii")
    if echoes_injection(text, planted):
        flags.append("injection_echo")
    if status == ReviewStatus.NEEDS_REVIEW:
        flags.append("needs_review")
    return tuple(flags)


def entry_of(q: SyntheticQuery, planted: Sequence[str] = ()) -> Entry:
    status = q.review_status
    return Entry(q.query_id, q.parent_id, q.doc_id, q.kind, str(q.provenance.get("persona") or ""),
                 str(q.provenance.get("generator") or ""), status, query_flags(q.text, status, planted))


def chunk_infos(index) -> dict[str, ChunkInfo]:
    out = {}
    for ids, texts, metas in index.store.iter_all("chunks", include=("documents", "metadatas")):
        for cid, text, meta in zip(ids, texts, metas):
            meta = meta or {}
            out[cid] = ChunkInfo(str(meta.get("doc_id") or ""), int(meta.get("position") or 0),
                                 str(meta.get("title") or ""), tuple(injection_sentences(text or "")))
    return out


def entries(index, chunks: dict[str, ChunkInfo], parent_ids: Sequence[str] | None = None) -> list[Entry]:
    """Every stored query's entry, or those of these chunks."""
    queries = (q for q, _ in index.store.iter_queries()) if parent_ids is None else \
        index.store.queries_of(list(parent_ids))
    return [entry_of(q, chunks[q.parent_id].planted if q.parent_id in chunks else ()) for q in queries]


def show(index, chunk_id: str) -> tuple[dict[str, Any], list[SyntheticQuery]]:
    """A stored chunk ({"text", "metadata"}) and its queries by kind, then text; an InputError when it is gone."""
    got = index.store.get_chunks([chunk_id])
    if chunk_id not in got:
        raise InputError(f"chunk {chunk_id!r} is not in the index")
    return got[chunk_id], sorted(index.store.queries_of([chunk_id]), key=lambda q: (q.kind, q.text.lower()))


def stored_queries(index, ids: Sequence[str]) -> list[SyntheticQuery]:
    return index.store.get_queries(ids)


# ---- export -------------------------------------------------------------------------------------------------
def export_rows(index, kinds: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
    """One flat row per stored query vector, grouped by document and chunk position."""
    queries = [q for q, _ in index.store.iter_queries() if not kinds or q.kind in kinds]
    chunks = index.store.get_chunks(sorted({q.parent_id for q in queries}))

    def order(q: SyntheticQuery):
        pos = (chunks.get(q.parent_id, {}).get("metadata") or {}).get("position", 0)
        return q.doc_id, pos, q.parent_id, q.kind, q.text

    for q in sorted(queries, key=order):
        chunk = chunks.get(q.parent_id, {})
        cmeta = chunk.get("metadata") or {}
        yield {"query_id": q.query_id, "kind": q.kind, "text": q.text, "decision": "", "edited_text": "",
               "reviewer_note": "", "parent_id": q.parent_id, "doc_id": q.doc_id,
               **{f: q.provenance.get(f, "") for f in PROVENANCE_FIELDS},
               "chunk_title": cmeta.get("title", ""), "chunk_section": cmeta.get("section", ""),
               "chunk_text": chunk.get("text") or ""}


def export(index, path: str | Path, fmt: str | None = None, kinds: tuple[str, ...] | None = None) -> int:
    """Write the review file (format from `fmt` or the file suffix); returns the number of rows."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "jsonl").lower()
    if fmt not in FORMATS:
        raise InputError(f"export: format {fmt!r} is not one of {', '.join(FORMATS)}")
    rows = list(export_rows(index, kinds))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")  # two exports never collide
    tmp = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        if fmt == "csv":
            writer = csv.DictWriter(f, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            writer.writerows({k: _csv_cell(v) for k, v in r.items()} for r in rows)
        else:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    os.replace(tmp, path)  # a reviewer never opens a half-written file
    return len(rows)


def _csv_cell(value: Any) -> Any:
    """A spreadsheet runs a cell starting with = + - @ as a formula (CSV injection, OWASP): prefix a quote.
    Reading the file back strips it again (_uncsv_cell), so the texts round-trip unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _uncsv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


# ---- reading decisions --------------------------------------------------------------------------------------
def read_decisions(source: str | Path | Sequence[dict]) -> list[tuple[str, dict]]:
    """(where, row) for each row with a decision (from a review file, or rows given directly); rows left blank
    are not reviewed and are skipped."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"review file {path} does not exist")
        rows = _read_csv(path) if path.suffix.lower() == ".csv" else \
            [(f"{path}: line {n}", rec) for n, rec in read_jsonl(path)]
    else:
        rows = [(f"review row {i}", rec) for i, rec in enumerate(source, 1)]
    out = []
    for where, rec in rows:
        if not isinstance(rec, dict):
            raise InputError(f"{where}: expected an object with a decision")
        decision = str(rec.get("decision") or "").strip().lower()
        if not decision:
            continue
        rec = {**rec, "decision": _SYNONYMS.get(decision, decision)}
        check_record(rec, where)
        out.append((where, rec))
    return out


def _read_csv(path: Path) -> list[tuple[str, dict]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: spreadsheets add a byte-order mark
            reader = csv.DictReader(f)
            missing = {"decision", "parent_id", "text"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"{path}: line 1: the header lacks column(s) {', '.join(sorted(missing))}")
            rows = []
            for row in reader:
                rows.append((f"{path}: line {reader.line_num}", {k: _uncsv_cell(v) for k, v in row.items()}))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read as CSV: {exc}") from exc


# ---- applying decisions -------------------------------------------------------------------------------------
def apply_review(index, source: str | Path | Sequence[dict]) -> dict[str, Any]:
    """Apply review decisions (a filled-in review file, or rows) to the live index and remember them for future
    indexing. Every row is checked before anything changes, so a bad row (named by file and line) changes nothing."""
    rows = read_decisions(source)
    label = Path(source).name if isinstance(source, (str, Path)) else "rows"
    resolved = _match_stored(index, rows)
    records = [_decision_record(rec, stored, label) for (where, rec), stored in zip(rows, resolved)]
    counts = {"rows": len(rows), "approved": 0, "rejected": 0, "edited": 0, "not_in_index": 0}
    approve, reject, edits = [], [], []
    for (_, rec), stored in zip(rows, resolved):
        if stored is None:
            counts["not_in_index"] += 1  # recorded: applied when the same text is generated again
        elif rec["decision"] == "approve":
            approve.append(stored.query_id)
        elif rec["decision"] == "reject":
            reject.append(stored.query_id)
        else:
            edits.append((stored, rec["edited_text"].strip()))
    with index.writing() as store:
        index.review_book.record(records)
        _approve(store, approve)
        store.delete_queries(reject)
        _edit(index, store, edits)
    counts.update(approved=len(approve), rejected=len(reject), edited=len(edits))
    return counts


def _match_stored(index, rows: list[tuple[str, dict]]) -> list[SyntheticQuery | None]:
    """The indexed query each row is about: by query_id when given, else by (parent, text)."""
    by_id = {q.query_id: q for q in index.store.get_queries(
        [str(r["query_id"]) for _, r in rows if r.get("query_id")])}
    parents = sorted({str(r["parent_id"]) for _, r in rows if not r.get("query_id")})
    by_text = {(q.parent_id, norm_text(q.text)): q for q in index.store.queries_of(parents)} if parents else {}
    out = []
    for where, rec in rows:
        if rec.get("query_id"):
            q = by_id.get(str(rec["query_id"]))
            if q is not None and (q.parent_id != rec["parent_id"] or norm_text(q.text) != norm_text(rec["text"])):
                raise InputError(f"{where}: text or parent_id differ from indexed query {rec['query_id']}; "
                                 "leave them as exported and put a new wording in edited_text with decision edit")
        else:
            q = by_text.get((str(rec["parent_id"]), norm_text(str(rec["text"]))))
        out.append(q)
    return out


def _decision_record(rec: dict, stored: SyntheticQuery | None, label: str) -> dict:
    out = {"parent_id": str(rec["parent_id"]), "text": stored.text if stored else str(rec["text"]),
           "decision": rec["decision"], "kind": stored.kind if stored else str(rec.get("kind") or ""),
           "query_id": stored.query_id if stored else str(rec.get("query_id") or ""),
           "decided_at": now_iso(), "source": label}
    if rec["decision"] == "edit":
        out["edited_text"] = rec["edited_text"].strip()
    if rec.get("reviewer_note"):
        out["note"] = str(rec["reviewer_note"])
    return out


def _approve(store, ids: list[str]) -> None:
    # Chroma merges metadata on update: only review_status changes; an edited query stays "edited".
    store.set_review_status([q.query_id for q in store.get_queries(ids) if not q.review_status.by_person],
                            ReviewStatus.APPROVED.value)


def _edit(index, store, edits: list[tuple[SyntheticQuery, str]]) -> None:
    if not edits:
        return
    new = {q.query_id: q for q in (edited(old, text) for old, text in edits)}
    queries = list(new.values())
    store.upsert_queries(queries, index.embedder.embed([q.text for q in queries]))
    store.delete_queries([old.query_id for old, _ in edits if old.query_id not in new])
