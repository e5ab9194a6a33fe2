"""Tune the rerank weight on labelled queries, like the legs' weights: rank each query once (fused top-N and the
reranker's scores), then pick the weight with the best mean nDCG@10 over a grid that includes 0 (reranker off).
Labelled queries the model trained on (the index's real and feedback queries) are left out of the choice."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rag_augment import metrics as M
from rag_augment.errors import InputError
from rag_augment.rerank.stage import Ranked, RerankStage, combine_scores

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 100.0)


@dataclass
class Scored:
    """One labelled query: the fused top-N, the reranker's score of each, and the relevant documents."""
    ranked: Ranked
    scores: np.ndarray
    rels: Mapping[str, int]


def ndcg_at_10(ranked: Ranked, chunk_doc: Mapping[str, str], rels: Mapping[str, int]) -> float:
    docs, _ = M.to_documents([p for p, _ in ranked], chunk_doc)
    return M.score_query(docs, rels)["nDCG@10"]


def best_weight(examples: Sequence[Scored], chunk_doc: Mapping[str, str],
                grid: Sequence[float] = WEIGHT_GRID) -> tuple[float, dict[float, float]]:
    """The weight with the best mean nDCG@10 (ties: the smaller weight), and every weight's score."""
    table = {}
    for w in grid:
        table[w] = float(np.mean([ndcg_at_10(combine_scores(e.ranked, e.scores, w)[0], chunk_doc, e.rels)
                                  for e in examples])) if examples else 0.0
    best = min(table, key=lambda w: (-round(table[w], 10), w))
    return best, table


def score_queries(index: AugmentIndex, labelled: Mapping[str, Mapping[str, int]], stage: RerankStage,
                  profile=None) -> list[Scored]:
    """Fused top-N and reranker scores for each labelled query (text -> {doc_id: grade})."""
    from rag_augment.fusion import fuse
    retriever, prof = index.retriever, profile or index.profile
    out = []
    for text, rels in labelled.items():
        res = retriever.legs_for(text, profile=prof)
        ranked, _ = fuse(res.legs, prof, stage.top_n)
        got = index.store.get_chunks([p for p, _ in ranked])
        scores = stage.scorer.score(text, [got.get(p, {}).get("text") or "" for p, _ in ranked])
        out.append(Scored(ranked, scores, rels))
    return out


def tune_rerank_weight(index: AugmentIndex, labelled: Mapping[str, Mapping[str, int]],
                       grid: Sequence[float] = WEIGHT_GRID, kind: str = "reranker") -> dict[str, Any]:
    """Pick the weight on labelled queries and store it with the model (reranker.json)."""
    from rag_augment.rerank import model_home
    from rag_augment.rerank.stage import load_reranker
    stage = load_reranker(index, kind=kind)
    folder = model_home.model_dir(index, kind)
    trained = model_home.read_human_queries(folder)
    held_out = {t: r for t, r in labelled.items() if model_home.query_key(t) not in trained}
    if not held_out:
        raise InputError(f"tune-on: all {len(labelled)} labelled queries trained the reranker (they are real or "
                         "feedback queries of the index); tune on queries it has not seen")
    chunk_doc = {cid: m.get("doc_id", cid) for cid, m in index.store.chunk_states().items()}
    weight, table = best_weight(score_queries(index, held_out, stage), chunk_doc, grid)
    meta = model_home.read_meta(folder) or {}
    meta["rerank"] = {**meta.get("rerank", {}), "weight": weight,
                      "tuned_on": {"queries": len(held_out), "left_out_trained_on": len(labelled) - len(held_out),
                                   "nDCG@10_by_weight": {str(w): round(s, 4) for w, s in table.items()}}}
    model_home.write_meta(folder, meta)
    return meta["rerank"]
