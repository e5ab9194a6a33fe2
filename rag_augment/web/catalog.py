"""An in-memory catalog of the index's query vectors (metadata only), so the review queue can filter, count and
page through 100k queries without a Chroma scan per request.

Chroma cannot list "the chunks that have an unreviewed query of persona X" page by page, so the catalog reads
every query's entry once (`trust.reviewing.entries`) and answers filters from memory. It stays current two ways:
the review page's own writes replace the touched chunk's entries (`reload_chunks`, then `adopt` the version its
write section ended at), and a write by anyone else (the CLI, another page) moves `index.version`, which `refresh`
notices before each page and answers with a full reload.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rag_augment.errors import InputError
from rag_augment.trust.reviewing import ChunkInfo, Entry, chunk_infos, entries
from rag_augment.types import FEEDBACK, GENERATED_KINDS, ReviewStatus

log = logging.getLogger(__name__)

REVIEWABLE_KINDS = GENERATED_KINDS + (FEEDBACK,)  # real queries are users' own words: listed only on request
# status filter -> the review statuses it admits (None: any)
STATUS_FILTERS: dict[str, tuple[ReviewStatus, ...] | None] = {
    "to_review": (ReviewStatus.UNREVIEWED, ReviewStatus.NEEDS_REVIEW),
    "unreviewed": (ReviewStatus.UNREVIEWED,),
    "needs_review": (ReviewStatus.NEEDS_REVIEW,),
    "approved": (ReviewStatus.APPROVED,),
    "edited": (ReviewStatus.EDITED,),
    "reviewed": (ReviewStatus.APPROVED, ReviewStatus.EDITED),
    "any": None,
}
FLAGS = ("pii", "injection_echo", "needs_review")


@dataclass(frozen=True)
class QueueFilter:
    kind: str = ""          # "" = every reviewable kind (not real), "all", or one kind
    persona: str = ""
    status: str = "to_review"
    doc: str = ""
    generator: str = ""
    flagged: str = ""       # "" = any, "any" = some flag, or one flag name

    @classmethod
    def from_params(cls, params) -> QueueFilter:
        flt = cls(**{f: str(params.get(f) or "").strip() for f in ("kind", "persona", "doc", "generator",
                                                                     "flagged")},
                  status=str(params.get("status") or "to_review").strip())
        if flt.status not in STATUS_FILTERS:
            raise InputError(f"status filter {flt.status!r} is not one of {', '.join(STATUS_FILTERS)}")
        if flt.flagged not in ("", "any", *FLAGS):
            raise InputError(f"flagged filter {flt.flagged!r} is not one of any, {', '.join(FLAGS)}")
        return flt

    def params(self, **changes) -> dict[str, str]:
        """Non-default fields, for links that keep the filter."""
        data = {**{f: getattr(self, f) for f in ("kind", "persona", "status", "doc", "generator", "flagged")},
                **changes}
        return {k: v for k, v in data.items() if v and not (k == "status" and v == "to_review")}

    def matches(self, e: Entry) -> bool:
        if self.kind == "" and e.kind not in REVIEWABLE_KINDS:
            return False
        if self.kind not in ("", "all") and e.kind != self.kind:
            return False
        statuses = STATUS_FILTERS[self.status]
        if statuses is not None and e.status not in statuses:
            return False
        if self.persona and e.persona != self.persona:
            return False
        if self.doc and e.doc_id != self.doc:
            return False
        if self.generator and e.generator != self.generator:
            return False
        if self.flagged == "any" and not e.flags:
            return False
        return self.flagged in ("", "any") or self.flagged in e.flags


@dataclass
class Position:
    """Where a chunk stands in a filtered queue."""
    index: int              # 0-based among the matching chunks; -1 when the chunk itself no longer matches
    total: int
    prev: str | None
    next: str | None


@dataclass
class _Snapshot:
    chunks: dict[str, ChunkInfo] = field(default_factory=dict)
    rank: dict[str, int] = field(default_factory=dict)            # chunk id -> place in document order
    by_parent: dict[str, dict[str, Entry]] = field(default_factory=dict)


class QueryCatalog:
    def __init__(self, index, cache_size: int = 32):
        self.index = index
        self._lock = threading.RLock()
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self.version = 0  # bumped on every change the catalog takes in (keys its caches)
        self._index_version = ""  # the index version the entries are current with
        self._snap = _Snapshot()
        self.load()

    # ---- loading and staying current ------------------------------------------------------------------------
    def load(self) -> None:
        snap = _Snapshot()
        seen = self.index.version  # taken first: a write during the scan shows as a change later
        snap.chunks = chunk_infos(self.index)
        order = sorted(snap.chunks, key=lambda c: (snap.chunks[c].doc_id, snap.chunks[c].position, c))
        snap.rank = {c: i for i, c in enumerate(order)}
        for e in entries(self.index, snap.chunks):
            snap.by_parent.setdefault(e.parent_id, {})[e.query_id] = e
        with self._lock:
            self._snap = snap
            self._index_version = seen
            self._bump()
        log.debug("review catalog: %d chunks, %d queries", len(snap.chunks), self.query_count())

    def refresh(self) -> bool:
        """Reload when someone else wrote since; True if it did."""
        if self.index.version == self._index_version:
            return False
        self.load()
        return True

    def reload_chunks(self, parent_ids: Iterable[str]) -> None:
        """After our own write: re-read the touched chunks' entries."""
        parents = sorted(set(parent_ids))
        fresh = entries(self.index, self._snap.chunks, parents) if parents else []
        with self._lock:
            snap = self._snap
            for p in parents:
                snap.by_parent.pop(p, None)
            for e in fresh:
                snap.by_parent.setdefault(e.parent_id, {})[e.query_id] = e
            self._bump()

    def adopt(self, before: str, after: str) -> None:
        """Our write section moved the index from version `before` to `after`. Nobody else wrote meanwhile (the
        section holds the index's lock) and reload_chunks took our writes in: if the catalog was current at
        `before`, it is current at `after`, and no full reload is needed."""
        with self._lock:
            if self._index_version == before:
                self._index_version = after

    def _bump(self) -> None:
        self.version += 1
        self._cache.clear()

    # ---- reading --------------------------------------------------------------------------------------------
    def query_count(self) -> int:
        return sum(len(v) for v in self._snap.by_parent.values())

    def chunk(self, chunk_id: str) -> ChunkInfo | None:
        return self._snap.chunks.get(chunk_id)

    def planted(self, chunk_id: str) -> tuple[str, ...]:
        info = self._snap.chunks.get(chunk_id)
        return info.planted if info else ()

    def matching_chunks(self, flt: QueueFilter) -> list[str]:
        """Chunks with at least one query the filter admits, in document order (cached per filter)."""
        key = (flt, self.version)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit[0]
            snap = self._snap
            out = [p for p, entries in snap.by_parent.items() if p in snap.rank
                   and any(flt.matches(e) for e in entries.values())]
            out.sort(key=snap.rank.__getitem__)
            count = sum(1 for entries in snap.by_parent.values() for e in entries.values() if flt.matches(e))
            self._cache[key] = (out, count)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return out

    def matching_count(self, flt: QueueFilter) -> int:
        self.matching_chunks(flt)
        with self._lock:
            hit = self._cache.get((flt, self.version))
        return hit[1] if hit else 0

    def position(self, flt: QueueFilter, chunk_id: str) -> Position:
        """Place of chunk_id among the matching chunks, with its neighbours. A chunk that no longer matches
        (its last query was just decided) keeps its place in document order, so "next" still moves on."""
        from bisect import bisect_left, bisect_right

        chunks = self.matching_chunks(flt)
        rank = self._snap.rank
        ranks = [rank[c] for c in chunks]
        r = rank.get(chunk_id, -1)
        lo, hi = bisect_left(ranks, r), bisect_right(ranks, r)
        index = lo if hi > lo else -1
        prev = chunks[lo - 1] if lo > 0 else None
        nxt = chunks[hi] if hi < len(chunks) else None
        return Position(index, len(chunks), prev, nxt)

    def facets(self) -> dict[str, list[str]]:
        with self._lock:
            key = ("facets", self.version)
            hit = self._cache.get(key)
            if hit is not None:
                return hit
            kinds, personas, generators = set(), set(), set()
            for entries in self._snap.by_parent.values():
                for e in entries.values():
                    kinds.add(e.kind)
                    personas.add(e.persona)
                    generators.add(e.generator)
            docs = sorted({c.doc_id for c in self._snap.chunks.values()})
            out = {"kind": sorted(kinds - {""}), "persona": sorted(personas - {""}),
                   "generator": sorted(generators - {""}), "doc": docs, "status": list(STATUS_FILTERS),
                   "flagged": ["any", *FLAGS]}
            self._cache[key] = out
            return out

    def doc_coverage(self, m: int = 3, kinds: Sequence[str] = GENERATED_KINDS) -> list[dict]:
        """Per document: chunks, chunks with at least m queries of these kinds, and those queries; least
        covered first, so the parts of the knowledge base with few queries stand out."""
        per_doc: dict[str, dict] = {}
        snap = self._snap
        for cid, info in snap.chunks.items():
            n = sum(1 for e in snap.by_parent.get(cid, {}).values() if e.kind in kinds)
            d = per_doc.setdefault(info.doc_id, {"doc_id": info.doc_id, "chunks": 0, "covered": 0, "queries": 0})
            d["chunks"] += 1
            d["queries"] += n
            d["covered"] += n >= m
        out = list(per_doc.values())
        for d in out:
            d["share"] = round(d["covered"] / d["chunks"], 4) if d["chunks"] else 0.0
        out.sort(key=lambda d: (d["share"], d["queries"], d["doc_id"]))
        return out

    def entries_of(self, chunk_id: str) -> list[Entry]:
        return list(self._snap.by_parent.get(chunk_id, {}).values())
