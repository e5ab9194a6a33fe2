"""Plain data carried between the stages. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from rag_augment.errors import InputError

# Kinds of synthetic (or real) queries attached to a chunk.
QUESTION = "question"      # hypothetical query the chunk answers
PARAPHRASE = "paraphrase"  # rewording of a generated or seed query
CLAIM = "claim"            # a statement the chunk supports (claim-style users, e.g. SciFact)
KEYWORD = "keyword"        # a terse keyword query
REAL = "real"              # a real user query with a known answer (logs, FAQ): never synthetic
FEEDBACK = "feedback"      # paraphrase of a failed real query, attached by the feedback loop
GENERATED_KINDS = (QUESTION, PARAPHRASE, CLAIM, KEYWORD)
ALL_KINDS = GENERATED_KINDS + (REAL, FEEDBACK)


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    title: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    text: str
    content_hash: str
    position: int = 0
    title: str = ""
    # Seed queries for paraphrasing: section headings, FAQ entries, real queries.
    seeds: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


class ReviewStatus(str, Enum):
    """Where a stored query stands in human review. Stored as the plain string in provenance["review_status"]
    (Chroma metadata, review files); a rejected query is deleted, so it has no status."""
    UNREVIEWED = "unreviewed"
    NEEDS_REVIEW = "needs_review"  # a feedback round guessed its target chunk: a person should look
    APPROVED = "approved"
    EDITED = "edited"              # a reviewer's own wording (it stays edited when approved again)

    def __str__(self) -> str:
        return self.value

    @property
    def by_person(self) -> bool:
        """A person approved or wrote it (the filters keep such queries)."""
        return self in (ReviewStatus.APPROVED, ReviewStatus.EDITED)

    @classmethod
    def of(cls, value: Any, where: str = "") -> ReviewStatus:
        """The status a stored string names; missing or empty (nothing reviewed it) is UNREVIEWED. Any other
        string is an InputError naming `where` (a query written by a newer version, or edited by hand)."""
        if value in (None, ""):
            return cls.UNREVIEWED
        try:
            return cls(value)
        except ValueError:
            raise InputError(f"{where or 'query'}: review_status {value!r} is not one of "
                             f"{', '.join(s.value for s in cls)}") from None


@dataclass(frozen=True)
class SyntheticQuery:
    query_id: str
    text: str
    kind: str
    parent_id: str
    doc_id: str
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def review_status(self) -> ReviewStatus:
        return ReviewStatus.of(self.provenance.get("review_status"), f"query {self.query_id}")

    def with_status(self, status: ReviewStatus) -> SyntheticQuery:
        return replace(self, provenance={**self.provenance, "review_status": status.value})


@dataclass
class LegHit:
    """Where one retrieval leg placed a parent chunk."""
    leg: str
    rank: int
    score: float


@dataclass
class Hit:
    chunk_id: str
    doc_id: str
    score: float
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    legs: dict[str, LegHit] = field(default_factory=dict)
    matched_queries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "score": round(self.score, 6),
            "text": self.text,
            "metadata": self.metadata,
            "legs": {k: {"rank": v.rank, "score": round(v.score, 6)} for k, v in self.legs.items()},
            "matched_queries": self.matched_queries,
        }


@dataclass
class IndexReport:
    documents_seen: int = 0
    documents_added: int = 0
    documents_changed: int = 0
    documents_deleted: int = 0
    documents_skipped: list[dict[str, str]] = field(default_factory=list)  # {"source", "reason"}
    chunks_total: int = 0
    chunks_embedded: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    queries_reattached: int = 0   # real/feedback queries moved off changed chunks (see Indexer)
    human_queries_deleted: int = 0  # real/feedback queries that went with their deleted documents
    chunks_generated: int = 0
    cache_hits: int = 0
    queries_generated: int = 0
    queries_kept: int = 0
    queries_dropped: dict[str, int] = field(default_factory=dict)
    generation_errors: list[dict[str, str]] = field(default_factory=list)  # retried on the next run
    generation_gave_up: list[dict[str, str]] = field(default_factory=list)  # kept without generated queries
    seconds: float = 0.0
    generation_seconds: float = 0.0
    prompt_tokens: int = 0        # what the model read and wrote this run (cache hits cost nothing)
    completion_tokens: int = 0
    chunks_done: int = 0          # chunks whose queries are stored so far (an interrupted run's progress)
    estimate: dict[str, Any] = field(default_factory=dict)  # what was expected before the run (rag_augment.estimate)

    def drop(self, reason: str, n: int = 1) -> None:
        self.queries_dropped[reason] = self.queries_dropped.get(reason, 0) + n

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict
        return asdict(self)
