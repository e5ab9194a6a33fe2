"""Retrieval metrics on distinct document ids, paired bootstrap intervals and per-query wins and losses.

A ranking is first collapsed to distinct documents (chunk hits -> their document, first occurrence kept), so a
document found through several chunks or synthetic queries counts once and no metric can exceed 1. nDCG uses the
graded qrels with linear gain (as trec_eval and BEIR do). An empty ranking scores 0.

Some systems (LangChain's MultiVectorRetriever) cut by the number of child vectors, not documents: for those, a
ranking carries a "cost" per document (the rank of the child vector that first brought it) and metric@k keeps the
documents whose cost is <= k.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

CUTOFFS = (1, 5, 10, 100)
METRICS = ("nDCG@10", "R@1", "R@5", "R@10", "R@100", "MRR@10", "Hit@10")
CURVE_KS = (1, 2, 3, 5, 10, 20, 30, 50, 100)


def dedupe(ids: Sequence[str], costs: Sequence[int] | None = None) -> tuple[list[str], list[int]]:
    """First occurrence of each id, with its cost (default: its position among distinct ids, from 1)."""
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x not in seen:
            seen[x] = costs[i] if costs is not None else len(seen) + 1
    return list(seen), list(seen.values())


def to_documents(chunk_ids: Sequence[str], chunk_doc: Mapping[str, str],
                 costs: Sequence[int] | None = None) -> tuple[list[str], list[int] | None]:
    """Chunk ranking -> distinct document ranking (a document ranks where its best chunk ranks)."""
    docs = [chunk_doc.get(c, c) for c in chunk_ids]
    out, out_costs = dedupe(docs, costs)
    return out, (out_costs if costs is not None else None)


def _top(docs: Sequence[str], costs: Sequence[int] | None, k: int) -> list[str]:
    if costs is None:
        return list(docs[:k])
    return [d for d, c in zip(docs, costs) if c <= k]


def score_query(ranking: Sequence[str], rels: Mapping[str, int], costs: Sequence[int] | None = None,
                curve_ks: Sequence[int] = ()) -> dict[str, float]:
    """All metrics for one query. `ranking` may repeat ids; it is deduplicated here."""
    docs, doc_costs = dedupe(ranking, costs)
    costs = doc_costs if costs is not None else None
    relevant = {d for d, g in rels.items() if g > 0}
    out: dict[str, float] = {}
    if not relevant:
        raise ValueError("score_query: a query needs at least one relevant document")
    for k in sorted(set(CUTOFFS) | set(curve_ks)):
        out[f"R@{k}"] = len(relevant.intersection(_top(docs, costs, k))) / len(relevant)
    top10 = _top(docs, costs, 10)
    first = next((i for i, d in enumerate(top10, 1) if d in relevant), None)
    out["MRR@10"] = 1.0 / first if first else 0.0
    out["Hit@10"] = 1.0 if first else 0.0
    out["nDCG@10"] = ndcg(top10, rels, 10)
    return out


def ndcg(docs: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    dcg = sum(max(rels.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(docs[:k], 1))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, 1))
    return dcg / idcg if idcg > 0 else 0.0


def score_run(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]],
              costs: Mapping[str, Sequence[int]] | None = None,
              curve_ks: Sequence[int] = CURVE_KS) -> dict[str, np.ndarray]:
    """Per-query metric arrays over the queries of qrels in sorted order; a query with no ranking scores 0."""
    qids = sorted(qrels)
    rows = [score_query(rankings.get(q, []), qrels[q], (costs or {}).get(q), curve_ks) for q in qids]
    return {m: np.array([r[m] for r in rows], dtype=float) for m in rows[0]} if rows else {}


def mean_metrics(per_query: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {m: float(v.mean()) if len(v) else 0.0 for m, v in per_query.items()}


def paired_bootstrap(system: np.ndarray, baseline: np.ndarray, n: int = 5000, seed: int = 0,
                     alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean lift of system over baseline on the same queries and its (1 - alpha) percentile interval from n
    resamples of queries with replacement. Seeded: the same inputs give the same interval."""
    diff = np.asarray(system, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.size == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = np.empty(n)
    for start in range(0, n, 1000):  # bounded memory for large query sets
        idx = rng.integers(0, diff.size, size=(min(1000, n - start), diff.size))
        means[start:start + len(idx)] = diff[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(diff.mean()), float(lo), float(hi)


def wins_losses(system: np.ndarray, baseline: np.ndarray, eps: float = 1e-9) -> tuple[int, int, int]:
    diff = np.asarray(system) - np.asarray(baseline)
    wins, losses = int((diff > eps).sum()), int((diff < -eps).sum())
    return wins, losses, int(diff.size - wins - losses)
