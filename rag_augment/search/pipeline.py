"""The query path: legs (search.legs: embed once, every enabled leg at once, children collapsed to parents), fused,
then any stage (the reranker), then each hit explained (search.explain).

The product's search and the LlamaIndex adapter both run these steps; the adapter adds the app's own ranking as one
more leg and builds its nodes from the explained hits. No LLM call at query time. `k` counts distinct parent chunks.
Every hit says which legs found it (rank, score), which synthetic queries matched and, after a stage, the stage's
own rank and score (a leg of its name, e.g. "rerank").
"""
from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rag_augment.embedding import Embedder
from rag_augment.fusion import LEG_NAMES, FusionProfile, Ranked, combine, fuse
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.search.explain import fetch_matched_texts, leg_positions, matched_queries
from rag_augment.search.legs import LegResults, LegSearch
from rag_augment.store.chroma import ChromaStore
from rag_augment.types import Hit, LegHit


class Stage(Protocol):
    """A step after fusion: it reorders the fused top `top_n` from their texts, and its own ranking of them is
    shown as the leg `leg`. The trained reranker (rag_augment.rerank.stage.RerankStage) is one."""
    @property
    def top_n(self) -> int: ...

    @property
    def leg(self) -> str: ...

    def apply(self, query: str, ranked: Ranked, texts: Mapping[str, str]) -> tuple[Ranked, Ranked]: ...


@dataclass
class Plan:
    ranked: Ranked            # the top parents with their scores, best first
    legs: dict[str, Ranked]   # raw legs, the legs as fused, a caller's and a stage's: what explains each hit


class SearchPipeline:
    def __init__(self, store: ChromaStore, embedder: Embedder, lexical: LexicalIndex | None = None,
                 profile: FusionProfile | None = None, workers: int = 4,
                 before_search: Callable[[], None] | None = None):
        """`workers` and `before_search`: see LegSearch (holders that keep this pipeline, e.g. a LlamaIndex app
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
               with_text: bool = True, reranker: Stage | None = None) -> list[Hit]:
        """The top-k parents. With `reranker`, the fused top max(k, reranker.top_n) are reranked first."""
        prof = profile or self.profile
        if not query.strip():
            return []
        return self.hits_from(self.legs_for(query, profile=prof), prof, k, with_text, reranker, query)

    def hits_from(self, res: LegResults, profile: FusionProfile, k: int, with_text: bool = True,
                  reranker: Stage | None = None, query: str = "") -> list[Hit]:
        """The top-k fused hits with each leg's rank and score. Without text: no chunk text and no text of the
        matched queries (their ids only), i.e. no read from Chroma after the search itself (a stage reads the
        texts it scores all the same)."""
        plan = self.plan(res, profile, k, reranker)
        stored: dict[str, dict[str, Any]] = {}
        if reranker is not None:
            stored = self.store.get_chunks([p for p, _ in plan.ranked])
            plan = restage(plan, query, {p: stored.get(p, {}).get("text") or "" for p, _ in plan.ranked},
                           reranker, k)
        if with_text:
            wanted = [p for p, _ in plan.ranked]
            stored = stored or self.store.get_chunks(wanted)
            fetch_matched_texts(self.store, res, wanted)
        return explained(plan, res, stored, with_text)

    def plan(self, res: LegResults, profile: FusionProfile, k: int, stage: Stage | None = None,
             extra: Mapping[str, tuple[Ranked, float]] | None = None, keep: Container[str] | None = None) -> Plan:
        """The fused top k (with a stage, the top max(k, stage.top_n): its candidates). `extra`: a caller's legs
        with their weights, fused with the profile's (a LlamaIndex app's own ranking); `keep`: only these parents
        may rank."""
        depth = max(k, stage.top_n) if stage is not None else k
        if not extra and keep is None:
            ranked, fused = fuse(res.legs, profile, depth)
        else:
            _, fused = fuse(res.legs, profile, 0)  # the legs as fused: the two dense legs merged per the profile
            fused.update({leg: r for leg, (r, _) in (extra or {}).items()})
            weights = {**profile.weights, **{leg: w for leg, (_, w) in (extra or {}).items()}}
            scores = sorted(combine(fused, weights, profile).items(), key=lambda kv: (-kv[1], kv[0]))
            ranked = [(p, s) for p, s in scores if keep is None or p in keep][:max(depth, 0)]
        return Plan(ranked, {**res.legs, **fused})


def restage(plan: Plan, query: str, texts: Mapping[str, str], stage: Stage, k: int) -> Plan:
    """The stage's order of the candidates, cut to k; its own ranking joins the legs that explain a hit."""
    ranked, own = stage.apply(query, plan.ranked, texts)
    return Plan(ranked[:max(k, 0)], {**plan.legs, stage.leg: own})


def explained(plan: Plan, res: LegResults, stored: Mapping[str, dict[str, Any]], with_text: bool = True
              ) -> list[Hit]:
    """A Hit per ranked parent: its text and metadata as `stored` has them, each leg's rank and score, and the
    synthetic queries that matched it."""
    positions = leg_positions(plan.legs, [p for p, _ in plan.ranked])
    hits = []
    for parent, score in plan.ranked:
        info = stored.get(parent, {})
        meta: dict[str, Any] = info.get("metadata") or {}
        hits.append(Hit(chunk_id=parent, doc_id=meta.get("doc_id", ""), score=score,
                        text=(info.get("text") or "") if with_text else "", metadata=meta,
                        legs={leg: LegHit(leg, *pos[parent]) for leg, pos in positions.items() if parent in pos},
                        matched_queries=matched_queries(res, parent)))
    return hits
