"""Where a stored query came from: one record type for generated, real and feedback queries.

Stored flat in the query's Chroma metadata (empty fields left out), exported beside the query for reviewers, and
never carrying anything secret (no keys, no endpoint URLs, no source paths).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from rag_augment.types import ReviewStatus

GENERATED, REAL_ORIGIN, FEEDBACK_ORIGIN = "generated", "real", "feedback"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Provenance:
    origin: str                        # generated | real | feedback
    generator: str                     # rules, local, openai, human, feedback-llm ...
    model: str = ""
    model_hash: str = ""
    prompt_version: str = ""
    prompt_hash: str = ""
    temperature: float | None = None
    seed: int | None = None
    persona: str = ""
    created_at: str = field(default_factory=now_iso)
    source_chunk_hash: str = ""
    review_status: ReviewStatus = ReviewStatus.UNREVIEWED
    round: int | None = None           # feedback round that attached it
    feedback_id: int | None = None     # the failed query it answers
    reattached_from: str = ""          # the chunk it pointed at before its document changed

    def to_dict(self) -> dict[str, Any]:
        return {k: v.value if isinstance(v, ReviewStatus) else v for k, v in asdict(self).items()
                if v is not None and v != ""}

    @classmethod
    def generated(cls, identity: dict[str, Any], source_chunk_hash: str, persona: str = "",
                  created_at: str | None = None) -> Provenance:
        params = identity.get("params", {})
        return cls(origin=GENERATED, generator=str(identity.get("generator") or ""),
                   model=str(identity.get("model") or ""), model_hash=str(identity.get("model_hash") or ""),
                   prompt_version=str(identity.get("prompt_version") or ""),
                   prompt_hash=str(identity.get("prompt_hash") or ""), temperature=params.get("temperature"),
                   seed=params.get("seed"), persona=persona, source_chunk_hash=source_chunk_hash,
                   created_at=created_at or now_iso())

    @classmethod
    def real(cls, source_chunk_hash: str) -> Provenance:
        return cls(origin=REAL_ORIGIN, generator="human", source_chunk_hash=source_chunk_hash)

    @classmethod
    def feedback(cls, generator: str, model: str, prompt_version: str, source_chunk_hash: str, round_id: int,
                 feedback_id: int, needs_review: bool) -> Provenance:
        return cls(origin=FEEDBACK_ORIGIN, generator=generator, model=model, prompt_version=prompt_version,
                   source_chunk_hash=source_chunk_hash, round=round_id, feedback_id=feedback_id,
                   review_status=ReviewStatus.NEEDS_REVIEW if needs_review else ReviewStatus.UNREVIEWED)


PROVENANCE_KEYS = tuple(f.name for f in fields(Provenance))


def shown(provenance: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer sees of a query's provenance: every field it has, its review status aside (shown apart)."""
    return {k: provenance[k] for k in PROVENANCE_KEYS
            if k != "review_status" and provenance.get(k) not in (None, "")}
