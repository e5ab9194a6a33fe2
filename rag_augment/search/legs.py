"""Leg retrieval, in one place: the query is embedded once, then every leg asked for is searched (at once on a
thread pool), children are collapsed to their parent chunks, and each leg's ranked parents come back together.

The product's search, the label-free tuner, the eval harness and the LlamaIndex adapter all call LegSearch.search;
nothing else searches the store or the lexical index for a leg.

The guard on users' queries (FusionProfile.real_floor > 0): a query of kind real or feedback (a click, a support
person's fix, a feedback paraphrase) votes for its chunk only when the incoming query's cosine to it is at least the
floor. Below it, the query is left out of query_dense and query_lexical, and its chunk is scored in doc2query_lexical
by a document of its text and synthetic queries only (the lexical index's doc2query_synthetic, built with the rest
of it, so a query pays nothing for the guard but a cosine test). Without the guard, a logged query of another page
that shares a few words with an unrelated question raised that page's doc2query and query_lexical scores, which
moved the legs' min-max scale and pushed the question's own page down; with it, a question that is close to no
logged query is ranked as the index was before any was logged. With FusionProfile.floor_from_log the floor is the
one the index's own real queries give (rag_augment.search.floor), recomputed whenever the log changes.

With FusionProfile.step_aside (and the guard on), a chunk whose users' queries vote for it is found through them
and its text alone: its synthetic queries leave query_dense and query_lexical, and its doc2query document holds its
text and its users' queries (a BM25 index built here on first need). Where no user query votes, the synthetic
queries stay.

Depths come from the profile (FusionProfile holds the defaults); tuning and evaluation pass their own, and can
leave some query vectors out (`exclude`, with a lexical index built without them) or score some chunks by other
vectors (`chunk_vectors`).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from rag_augment.embedding import Embedder
from rag_augment.fusion import LEG_NAMES, FusionProfile, Ranked, collapse_to_parents
from rag_augment.lexical import SYNTHETIC_DOC2QUERY, Bm25, LexicalIndex, is_real_query, is_user_query
from rag_augment.search.floor import floor_from_log, log_sample
from rag_augment.store.chroma import ChromaStore

LEXICAL_LEGS = {"chunk_lexical": "chunks", "doc2query_lexical": "doc2query", "query_lexical": "queries"}
DEFAULT_PROFILE = FusionProfile()


class _UserGuard:
    """What the guard needs of one lexical index: which query ids are users', and for step_aside (built on first
    need) a BM25 index of chunk text plus users' queries only. Kept per lexical index state (its query_parent
    object is replaced whenever it is rebuilt or reloaded)."""

    def __init__(self, lex: LexicalIndex):
        self.key = lex.query_parent
        self.user = frozenset(q for q in lex.query_parent if is_user_query(q))
        self._users: Bm25 | None = None
        self._floors: dict[float, float] = {}
        self._lock = threading.Lock()

    def floor(self, store: ChromaStore, prof: FusionProfile) -> float:
        """The profile's floor, or with floor_from_log the one the index's real queries give (computed once per
        state of the log)."""
        if not prof.floor_from_log:
            return prof.real_floor
        with self._lock:
            if prof.real_floor not in self._floors:
                real = log_sample(q for q in self.user if is_real_query(q))
                self._floors[prof.real_floor] = floor_from_log(store.embeddings("queries", real), self.key,
                                                               prof.real_floor)
            return self._floors[prof.real_floor]

    def users_doc2query(self, store: ChromaStore, lex: LexicalIndex) -> Bm25:
        with self._lock:
            if self._users is None:
                chunk: dict[str, list[str]] = {}
                for ids, texts, _ in store.iter_all("chunks", include=("documents",)):
                    for cid, text in zip(ids, texts or []):
                        chunk[cid] = list(lex.tokenize(text or ""))
                parent = lex.query_parent
                for ids, texts, _ in store.iter_all("queries", include=("documents",)):
                    for qid, text in zip(ids, texts or []):
                        if qid in self.user and parent.get(qid) in chunk:
                            chunk[parent[qid]].extend(lex.tokenize(text or ""))
                self._users = Bm25.build(list(chunk), list(chunk.values()))
            return self._users


@dataclass
class LegResults:
    """Every raw leg for one query, before fusion: lets tuning and evaluation try many profiles on one retrieval."""
    legs: dict[str, Ranked] = field(default_factory=dict)
    matched: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)  # parent -> (qid, score, leg)
    query_text: dict[str, tuple[str, str]] = field(default_factory=dict)           # qid -> (text, kind)
    child_rank: dict[str, int] = field(default_factory=dict)  # parent -> rank of its best query vector (from 1)


@dataclass(frozen=True)
class ChunkVectors:
    """Chunks scored by other vectors than their stored ones (e.g. with a probe's sentence cut out)."""
    ids: list[str]
    matrix: np.ndarray

    @classmethod
    def of(cls, vectors: Mapping[str, np.ndarray] | None) -> ChunkVectors | None:
        if not vectors:
            return None
        ids = list(vectors)
        return cls(ids, np.stack([vectors[c] for c in ids]))


class LegSearch:
    def __init__(self, store: ChromaStore, embedder: Embedder | None, lexical: LexicalIndex | None = None,
                 workers: int = 4, before_search: Callable[[], None] | None = None):
        """`workers`: legs searched at once. Chroma's HNSW search and bm25s' scoring release the GIL for most of
        their work, so a query waits for its slowest leg instead of the sum of all legs; 1 runs them in turn.
        `before_search`: called before each search (the index brings its legs up to other processes' writes)."""
        self.store, self.embedder, self.lexical = store, embedder, lexical
        self.workers = max(1, workers)
        self.before_search = before_search
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._guards: dict[int, _UserGuard] = {}

    def _guard(self, lex: LexicalIndex | None, prof: FusionProfile) -> _UserGuard | None:
        """The guard of this lexical index when the profile sets a floor and the index holds users' queries."""
        if prof.real_floor <= 0 or lex is None:
            return None
        with self._pool_lock:
            g = self._guards.get(id(lex))
            if g is None or g.key is not lex.query_parent:
                g = self._guards[id(lex)] = _UserGuard(lex)
                if len(self._guards) > 8:  # temporary indexes of the tuner: keep the latest few
                    self._guards.pop(next(iter(self._guards)))
        return g if g.user else None

    def floor(self, profile: FusionProfile | None = None) -> float | None:
        """The guard's floor in use now (None: no guard: no floor set, or no user query in the index)."""
        prof = profile or DEFAULT_PROFILE
        guard = self._guard(self.lexical, prof)
        return guard.floor(self.store, prof) if guard is not None else None

    def search(self, query: str, embedding: np.ndarray | None = None, profile: FusionProfile | None = None,
               legs: Iterable[str] | None = None, depths: Mapping[str, int] | None = None,
               exclude: Iterable[str] = (), lexical: LexicalIndex | None = None,
               chunk_vectors: ChunkVectors | None = None) -> LegResults:
        """The legs `legs` names (default: those the profile enables) at `depths` (default: the profile's).
        `exclude`: query vector ids left out of the query legs (`lexical` is then an index without them)."""
        if self.before_search is not None:
            self.before_search()
        prof = profile or DEFAULT_PROFILE
        wanted = set(legs) if legs is not None else {leg for leg in LEG_NAMES if prof.leg_enabled(leg)}
        depth = {**DEFAULT_PROFILE.depth, **prof.depth, **(depths or {})}
        lex = lexical if lexical is not None else self.lexical
        excluded = frozenset(exclude)
        guard = self._guard(lex, prof) if wanted & {"query_dense", "query_lexical", "doc2query_lexical"} else None
        dense = wanted & {"chunk_dense", "query_dense"}
        if (dense or guard is not None) and embedding is None and self.embedder is not None:
            embedding = self.embedder.embed([query])[0]
        if dense and embedding is None:
            raise ValueError("LegSearch: a dense leg needs an embedder or the query's embedding")
        tasks: dict[str, Callable[[], Any]] = {}
        if embedding is not None and "chunk_dense" in wanted:
            tasks["chunk_dense"] = partial(self._chunk_dense, embedding, depth["chunk_dense"], chunk_vectors)
        if embedding is not None and ("query_dense" in wanted or guard is not None):
            tasks["query_dense"] = partial(self._query_dense, embedding, prof, depth["query_dense"], excluded, lex)
        lexical_legs = [leg for leg in LEXICAL_LEGS if leg in wanted]
        if lex is not None and lexical_legs:
            tokens = lex.tokenize(query)  # once for the three lexical legs
            for leg in lexical_legs:
                tasks[leg] = partial(lex.search, LEXICAL_LEGS[leg], tokens, depth[leg])
            if guard is not None and "doc2query_lexical" in wanted:
                tasks["doc2query_synthetic"] = partial(lex.search, SYNTHETIC_DOC2QUERY, tokens,
                                                       depth["doc2query_lexical"])
                if prof.step_aside:
                    tasks["doc2query_users"] = partial(guard.users_doc2query(self.store, lex).search, tokens,
                                                       depth["doc2query_lexical"])
        raw = self._run(tasks)
        if guard is not None:
            floor = guard.floor(self.store, prof)
            raw = _apply_guard(raw, guard, prof, floor, lex, depth["doc2query_lexical"])
            if "query_dense" not in wanted:
                raw.pop("query_dense", None)
        return self._collect(raw, lex, excluded)

    def _collect(self, raw: dict[str, Any], lex: LexicalIndex | None, excluded: frozenset[str]) -> LegResults:
        out = LegResults()
        if "chunk_dense" in raw:
            out.legs["chunk_dense"] = raw["chunk_dense"]
        if "query_dense" in raw:
            children, texts, _ = raw["query_dense"]
            out.query_text.update(texts)
            for rank, (_, parent, _) in enumerate(children, 1):
                out.child_rank.setdefault(parent, rank)
            out.legs["query_dense"], matched = collapse_to_parents(children)
            _note_matches(out, matched, {c[0]: c[2] for c in children}, "query_dense")
        for leg in ("chunk_lexical", "doc2query_lexical"):
            if leg in raw:
                out.legs[leg] = raw[leg]
        if "query_lexical" in raw and lex is not None:
            parent = lex.query_parent
            children = [(qid, parent[qid], s) for qid, s in raw["query_lexical"] if qid in parent
                        and qid not in excluded]
            out.legs["query_lexical"], matched = collapse_to_parents(children)
            _note_matches(out, matched, {c[0]: c[2] for c in children}, "query_lexical")
        return out

    def _run(self, tasks: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        """Each leg's raw result; at once on the thread pool when there is more than one (an error in a leg is
        raised here, as it would be in turn)."""
        if self.workers == 1 or len(tasks) < 2:
            return {leg: task() for leg, task in tasks.items()}
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rag-augment-leg")
        futures = {leg: self._pool.submit(task) for leg, task in tasks.items()}
        return {leg: f.result() for leg, f in futures.items()}

    def _chunk_dense(self, embedding: np.ndarray, depth: int, override: ChunkVectors | None) -> Ranked:
        hits = [(cid, s) for cid, s, _, _ in self.store.search("chunks", embedding, depth, include_meta=False)]
        if override is None:
            return hits
        return _override(hits, dict(zip(override.ids, (override.matrix @ embedding).tolist())), depth)

    def _query_dense(self, embedding: np.ndarray, prof: FusionProfile, depth: int, excluded: frozenset[str],
                     lex: LexicalIndex | None
                     ) -> tuple[list[tuple[str, str, float]], dict[str, tuple[str, str]], dict[str, float]]:
        """Child hits as (query id, parent id, score), the texts read on the way, and each hit's cosine before
        any kind weight. The lexical index already maps every query id to its parent, so when no kind weight is
        set only ids and distances are read from Chroma (the hot path)."""
        parent = lex.query_parent if lex is not None else {}
        n = depth + len(excluded)
        if parent and all(w == 1.0 for w in prof.kind_weights.values()):
            hits = [h for h in self.store.search("queries", embedding, n, include_meta=False) if h[0] not in excluded]
            if all(qid in parent for qid, _, _, _ in hits):
                hits = hits[:depth]
                return [(qid, parent[qid], score) for qid, score, _, _ in hits], {}, {h[0]: h[1] for h in hits}
        children, texts, cosine = [], {}, {}
        for qid, score, meta, text in self.store.search("queries", embedding, n, include_docs=True):
            if qid in excluded:
                continue
            kind = meta.get("kind", "")
            children.append((qid, meta["parent_id"], score * prof.kind_weights.get(kind, 1.0)))
            texts[qid], cosine[qid] = (text, kind), score
        return children[:depth], texts, cosine


def _apply_guard(raw: dict[str, Any], guard: _UserGuard, prof: FusionProfile, floor: float,
                 lex: LexicalIndex | None, d2q_depth: int) -> dict[str, Any]:
    """The guard (see the module's text): users' queries below the floor leave the query legs, and a chunk none of
    whose users' queries is at the floor is scored in doc2query_lexical without them. With step_aside, a chunk one
    of whose users' queries is at the floor loses its synthetic queries instead."""
    parent = lex.query_parent if lex is not None else {}
    close: set[str] = set()
    if "query_dense" in raw:
        close = {q for q in guard.user if raw["query_dense"][2].get(q, -1.0) >= floor}
    voted = {parent[q] for q in close if q in parent}

    def kept(qid: str) -> bool:
        if qid in guard.user:
            return qid in close
        return not (prof.step_aside and parent.get(qid) in voted)

    if "query_dense" in raw:
        children, texts, cosine = raw["query_dense"]
        raw = {**raw, "query_dense": ([c for c in children if kept(c[0])], texts, cosine)}
    if "query_lexical" in raw:
        raw = {**raw, "query_lexical": [(q, s) for q, s in raw["query_lexical"] if kept(q)]}
    if "doc2query_synthetic" in raw:
        merged = {p: s for p, s in raw.pop("doc2query_synthetic") if not (prof.step_aside and p in voted)}
        voting = raw.pop("doc2query_users", None) if prof.step_aside else raw.get("doc2query_lexical", [])
        merged.update({p: s for p, s in voting or [] if p in voted})
        raw = {**raw, "doc2query_lexical": sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:d2q_depth]}
    return raw


def _note_matches(out: LegResults, matched: dict[str, list[str]], scores: dict[str, float], leg: str) -> None:
    for parent, qids in matched.items():
        out.matched.setdefault(parent, []).extend((q, scores[q], leg) for q in qids[:3])


def _override(hits: list[tuple[str, float]], scores: Mapping[str, float], depth: int) -> list[tuple[str, float]]:
    """A dense leg with some chunks' scores replaced: a replaced chunk enters where its new score places it
    among the hits (or leaves them when it falls below the last hit of a full leg)."""
    floor = hits[-1][1] if len(hits) >= depth else -np.inf
    merged = {c: s for c, s in hits if c not in scores}
    merged.update({c: s for c, s in scores.items() if s >= floor})
    return sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
