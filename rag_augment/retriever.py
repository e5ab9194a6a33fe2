"""AugmentedRetriever: the legs (rag_augment.search.legs: embed once, every enabled leg at once, children collapsed
to parents), fused, optionally reranked (rag_augment.rerank), each hit explained (rag_augment.search.explain).

No LLM call at query time. `k` counts distinct parent chunks. Every hit says which legs found it (rank, score),
which synthetic queries matched and, when reranked, the reranker's own rank and score (leg "rerank").
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rag_augment.embedding import Embedder
from rag_augment.fusion import LEG_NAMES, FusionProfile, fuse
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.rerank.stage import RERANK_LEG, RerankStage, rerank
from rag_augment.search.explain import fetch_matched_texts, leg_positions, matched_queries
from rag_augment.search.legs import LegResults, LegSearch
from rag_augment.store.chroma import ChromaStore
from rag_augment.types import Hit, LegHit

__all__ = ["AugmentedRetriever", "LegResults"]


class AugmentedRetriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, lexical: LexicalIndex | None = None,
                 profile: FusionProfile | None = None, workers: int = 4,
                 before_search: Callable[[], None] | None = None):
        """`workers` and `before_search`: see LegSearch (holders that keep this retriever, e.g. a LlamaIndex app
        server, see other processes' writes through `before_search`)."""
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.profile = profile or load_profile(None)  # the shipped default, as everywhere else
        self.legs = LegSearch(store, embedder, lexical, workers, before_search)

    def legs_for(self, query: str, embedding: np.ndarray | None = None, profile: FusionProfile | None = None,
                 all_legs: bool = False) -> LegResults:
        return self.legs.search(query, embedding, profile or self.profile, legs=LEG_NAMES if all_legs else None)

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
        wanted = [p for p, _ in ranked]
        positions, raw_positions = leg_positions(fused_legs, wanted), leg_positions(res.legs, wanted)
        if with_text and not stored:
            stored = self.store.get_chunks(wanted)
        if with_text:
            fetch_matched_texts(self.store, res, wanted)
        hits = []
        for parent, score in ranked:
            legs: dict[str, LegHit] = {}
            for table in (raw_positions, positions):
                for leg, pos in table.items():
                    if parent in pos:
                        legs[leg] = LegHit(leg, pos[parent][0], pos[parent][1])
            info = stored.get(parent, {})
            meta: dict[str, Any] = info.get("metadata") or {}
            hits.append(Hit(chunk_id=parent, doc_id=meta.get("doc_id", ""), score=score,
                            text=(info.get("text") or "") if with_text else "", metadata=meta, legs=legs,
                            matched_queries=matched_queries(res, parent)))
        return hits
