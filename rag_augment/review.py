"""Human review decisions (approve / reject / edit) that survive re-indexing and regeneration.

Decisions are keyed by (parent chunk id, normalised original text), not by query id, so a regenerated query with
the same text meets the same decision. Stored as append-only JSONL; the last decision for a key wins.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from rag_augment.errors import InputError
from rag_augment.types import IndexReport, SyntheticQuery

DECISIONS = ("approve", "reject", "edit")


def review_key(parent_id: str, text: str) -> str:
    return parent_id + "\x00" + " ".join(text.lower().split())


class ReviewBook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.decisions: dict[str, dict] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn last line after a crash
                self.decisions[review_key(rec["parent_id"], rec["text"])] = rec

    def record(self, records: Sequence[dict]) -> None:
        lines = []
        for i, rec in enumerate(records, 1):
            decision = rec.get("decision")
            if decision not in DECISIONS:
                raise InputError(f"review record {i}: decision {decision!r} is not one of {DECISIONS}")
            for field in ("parent_id", "text"):
                if not rec.get(field):
                    raise InputError(f"review record {i}: field {field!r} is missing")
            if decision == "edit" and not (rec.get("edited_text") or "").strip():
                raise InputError(f"review record {i}: an edit needs 'edited_text'")
            self.decisions[review_key(rec["parent_id"], rec["text"])] = rec
            lines.append(json.dumps(rec, ensure_ascii=False) + "\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())

    def apply(self, queries: Sequence[SyntheticQuery], report: IndexReport | None = None) -> list[SyntheticQuery]:
        """Drop rejected queries, replace edited ones, mark approved ones."""
        from rag_augment.indexer import query_id

        out = []
        for q in queries:
            rec = self.decisions.get(review_key(q.parent_id, q.text))
            if rec is None:
                out.append(q)
            elif rec["decision"] == "reject":
                if report is not None:
                    report.drop("rejected_in_review")
            elif rec["decision"] == "approve":
                out.append(replace(q, provenance={**q.provenance, "review_status": "approved"}))
            else:
                text = rec["edited_text"].strip()
                out.append(replace(q, text=text, query_id=query_id(q.parent_id, q.kind, text),
                                   provenance={**q.provenance, "review_status": "edited"}))
        return out
