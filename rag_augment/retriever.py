"""AugmentedRetriever: embed the query once, search every enabled leg (at once), collapse children to parents, fuse,
and optionally rerank the fused top-N with a trained reranker (rag_augment.rerank).

No LLM call at query time. `k` counts distinct parent chunks. Every hit says which legs found it (rank, score),
which synthetic queries matched and, when reranked, the reranker's own rank and score (leg "rerank").
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from rag_augment.embedding import Embedder
from rag_augment.fusion import FusionProfile, Ranked, collapse_to_parents, fuse
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.rerank.stage import RERANK_LEG, RerankStage, rerank
from rag_augment.store.chroma import ChromaStore
from rag_augment.types import Hit, LegHit

LEXICAL_LEGS = {"chunk_lexical": "chunks", "doc2query_lexical": "doc2query", "query_lexical": "queries"}


@dataclass
class LegResults:
    """Every raw leg for one query, before fusion: lets the eval harness try many profiles on one retrieval."""
    legs: dict[str, Ranked] = field(default_factory=dict)
    matched: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)  # parent -> (qid, score, leg)
    query_text: dict[str, tuple[str, str]] = field(default_factory=dict)           # qid -> (text, kind)


class AugmentedRetriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, lexical: LexicalIndex | None = None,
                 profile: FusionProfile | None = None, workers: int = 4):
        """`workers`: legs searched at once. Chroma's HNSW search and bm25s' scoring release the GIL for most of
        their work, so a query waits for its slowest leg instead of the sum of all legs; 1 runs them in turn."""
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.profile = profile or load_profile(None)  # the shipped default, as everywhere else
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def legs_for(self, query: str, embedding: np.ndarray | None = None, profile: FusionProfile | None = None,
                 all_legs: bool = False) -> LegResults:
        prof = profile or self.profile
        want = (lambda leg: True) if all_legs else prof.leg_enabled
        out = LegResults()
        need_dense = want("chunk_dense") or want("query_dense")
        if need_dense and embedding is None:
            embedding = self.embedder.embed([query])[0]
        depth = {leg: prof.depth.get(leg, default) for leg, default in
                 (("chunk_dense", 50), ("query_dense", 200), ("chunk_lexical", 50), ("doc2query_lexical", 50),
                  ("query_lexical", 200))}
        tasks: dict[str, Callable[[], Any]] = {}
        if embedding is not None and want("chunk_dense"):
            tasks["chunk_dense"] = lambda: self.store.search("chunks", embedding, depth["chunk_dense"],
                                                             include_meta=False)
        if embedding is not None and want("query_dense"):
            tasks["query_dense"] = lambda: self._query_dense(embedding, prof, depth["query_dense"])
        if self.lexical is not None and any(want(leg) for leg in LEXICAL_LEGS):
            tokens = self.lexical.tokenize(query)  # once for the three lexical legs
            for leg, lex in LEXICAL_LEGS.items():
                if want(leg):
                    tasks[leg] = partial(self.lexical.search, lex, tokens, depth[leg])
        raw = self._run(tasks)
        if "chunk_dense" in raw:
            out.legs["chunk_dense"] = [(cid, s) for cid, s, _, _ in raw["chunk_dense"]]
        if "query_dense" in raw:
            children, texts = raw["query_dense"]
            out.query_text.update(texts)
            out.legs["query_dense"], matched = collapse_to_parents(children)
            self._note_matches(out, matched, {c[0]: c[2] for c in children}, "query_dense")
        for leg in ("chunk_lexical", "doc2query_lexical"):
            if leg in raw:
                out.legs[leg] = raw[leg]
        if "query_lexical" in raw and self.lexical is not None:
            parent = self.lexical.query_parent
            children = [(qid, parent[qid], s) for qid, s in raw["query_lexical"] if qid in parent]
            out.legs["query_lexical"], matched = collapse_to_parents(children)
            self._note_matches(out, matched, {c[0]: c[2] for c in children}, "query_lexical")
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

    def _query_dense(self, embedding: np.ndarray, prof: FusionProfile, depth: int) -> tuple[list, dict]:
        """Child hits as (query id, parent id, score), and the texts read on the way. The lexical index already
        maps every query id to its parent, so when no kind weight is set only ids and distances are read from
        Chroma (the hot path)."""
        parent = self.lexical.query_parent if self.lexical is not None else {}
        if parent and all(w == 1.0 for w in prof.kind_weights.values()):
            hits = self.store.search("queries", embedding, depth, include_meta=False)
            if all(qid in parent for qid, _, _, _ in hits):
                return [(qid, parent[qid], score) for qid, score, _, _ in hits], {}
        children, texts = [], {}
        for qid, score, meta, text in self.store.search("queries", embedding, depth, include_docs=True):
            kind = meta.get("kind", "")
            children.append((qid, meta["parent_id"], score * prof.kind_weights.get(kind, 1.0)))
            texts[qid] = (text, kind)
        return children, texts

    @staticmethod
    def _note_matches(out: LegResults, matched: dict[str, list[str]], scores: dict[str, float], leg: str) -> None:
        for parent, qids in matched.items():
            out.matched.setdefault(parent, []).extend((q, scores[q], leg) for q in qids[:3])

    def search(self, query: str, k: int = 10, profile: FusionProfile | None = None,
               with_text: bool = True, reranker: RerankStage | None = None) -> list[Hit]:
        """The top-k parents. With `reranker`, the fused top max(k, reranker.top_n) are reranked first."""
        prof = profile or self.profile
        if not query.strip():
            return []
        res = self.legs_for(query, profile=prof)
        return self.hits_from(res, prof, k, with_text=with_text, reranker=reranker, query=query)

    def hits_from(self, res: LegResults, profile: FusionProfile, k: int, with_text: bool = True,
                  reranker: RerankStage | None = None, query: str = "") -> list[Hit]:
        """The top-k fused hits with each leg's rank and score. Without text: no chunk text and no text of the
        matched queries (their ids only), i.e. no read from Chroma after the search itself (a reranker reads
        the texts it scores all the same)."""
        stored: dict[str, dict[str, Any]] = {}
        depth = k if reranker is None else max(k, reranker.top_n)
        ranked, fused_legs = fuse(res.legs, profile, depth)
        if reranker is not None:
            stored = self.store.get_chunks([p for p, _ in ranked])
            ranked, fused_legs[RERANK_LEG] = rerank(query, ranked, {p: stored.get(p, {}).get("text") or ""
                                                                     for p, _ in ranked}, reranker)
            ranked = ranked[:max(k, 0)]
        wanted = {p for p, _ in ranked}

        def places(legs: dict) -> dict:
            return {leg: {p: (i + 1, s) for i, (p, s) in enumerate(r) if p in wanted} for leg, r in legs.items()}

        positions, raw_positions = places(fused_legs), places(res.legs)
        if with_text and not stored:
            stored = self.store.get_chunks([p for p, _ in ranked])
        # a query can match in two legs (its vector and its words): fetch each once
        missing_text = [] if not with_text else list(dict.fromkeys(
            q for p, _ in ranked for q, _, _ in res.matched.get(p, []) if q not in res.query_text))
        if missing_text:
            for q in self.store.get_queries(missing_text):
                res.query_text[q.query_id] = (q.text, q.kind)
        hits = []
        for parent, score in ranked:
            legs: dict[str, LegHit] = {}
            for table in (raw_positions, positions):
                for leg, pos in table.items():
                    if parent in pos:
                        legs[leg] = LegHit(leg, pos[parent][0], pos[parent][1])
            info = stored.get(parent, {})
            meta: dict[str, Any] = info.get("metadata") or {}
            matched = [{"query_id": q, "text": res.query_text.get(q, ("", ""))[0],
                        "kind": res.query_text.get(q, ("", ""))[1], "leg": leg, "score": round(s, 6)}
                       for q, s, leg in res.matched.get(parent, [])]
            hits.append(Hit(chunk_id=parent, doc_id=meta.get("doc_id", ""), score=score,
                            text=(info.get("text") or "") if with_text else "", metadata=meta, legs=legs,
                            matched_queries=matched))
        return hits
