"""Human review decisions (approve / reject / edit) that survive re-indexing and regeneration.

Decisions are keyed by (parent chunk id, normalised original text), not by query id, so a regenerated query with
the same text meets the same decision. Stored as append-only JSONL; the last decision for a key wins.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rag_augment.errors import InputError
from rag_augment.hashing import norm_text
from rag_augment.types import IndexReport, ReviewStatus, SyntheticQuery

DECISIONS = ("approve", "reject", "edit")


def review_key(parent_id: str, text: str) -> str:
    return parent_id + "\x00" + norm_text(text)


class ReviewBook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.decisions: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    check_record(rec, "")
                except (json.JSONDecodeError, InputError, AttributeError):
                    continue  # a torn line after a crash, or a hand-edited line that is not a decision
                self.decisions[review_key(rec["parent_id"], rec["text"])] = rec

    def record(self, records: Sequence[dict]) -> None:
        """Validate every record first, then append them all in one write (a bad record changes nothing)."""
        for i, rec in enumerate(records, 1):
            check_record(rec, f"review record {i}")
        lines = "".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            # A crash may have left a torn last line without its newline; never glue a record onto it.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    lines = "\n" + lines
            f.write(lines.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        for rec in records:
            self.decisions[review_key(rec["parent_id"], rec["text"])] = rec

    def decision_for(self, parent_id: str, text: str) -> dict | None:
        return self.decisions.get(review_key(parent_id, text))

    def apply(self, queries: Sequence[SyntheticQuery], report: IndexReport | None = None) -> list[SyntheticQuery]:
        """Drop rejected queries, replace edited ones, mark approved ones. An edited text may itself have been
        reviewed later (approved, rejected or edited again): the chain is followed to its last decision."""
        out = []
        for query in queries:
            q = self._resolve(query)
            if q is None:
                if report is not None:
                    report.drop("rejected_in_review")
            else:
                out.append(q)
        return out

    def _resolve(self, q: SyntheticQuery) -> SyntheticQuery | None:
        seen: set[str] = set()
        while (key := review_key(q.parent_id, q.text)) in self.decisions and key not in seen:
            seen.add(key)
            rec = self.decisions[key]
            if rec["decision"] == "reject":
                return None
            if rec["decision"] == "approve":
                return approved(q)
            q = edited(q, rec["edited_text"])
        return q


def approved(q: SyntheticQuery) -> SyntheticQuery:
    """q approved: a reviewer's own wording stays edited."""
    return q if q.review_status.by_person else q.with_status(ReviewStatus.APPROVED)


def edited(q: SyntheticQuery, text: str) -> SyntheticQuery:
    """q in a reviewer's wording: a new id (the id follows the text) and the status edited."""
    from rag_augment.indexer import query_id

    text = text.strip()
    return replace(q, text=text, query_id=query_id(q.parent_id, q.kind, text)).with_status(ReviewStatus.EDITED)


def check_record(rec: dict, where: str) -> None:
    """Raise InputError (prefixed with `where`) unless rec is a complete decision."""
    decision = rec.get("decision")
    if decision not in DECISIONS:
        raise InputError(f"{where}: decision {decision!r} is not one of {', '.join(DECISIONS)}")
    for field in ("parent_id", "text"):
        if not str(rec.get(field) or "").strip():
            raise InputError(f"{where}: field {field!r} is missing")
    if decision == "edit" and not str(rec.get("edited_text") or "").strip():
        raise InputError(f"{where}: an edit needs 'edited_text'")
