"""Tune a fusion profile on a train split, offline on legs retrieved once.

Coordinate ascent from the start profile (the shipped default): one setting at a time (method, dense pair,
child weight, each leg's weight, rrf_k, each leg's depth) takes the value that most raises mean nDCG@10 on the
train queries; a change must gain at least `min_gain`, so a small train set does not chase noise and ties keep
the start profile. Stops when a full pass changes nothing. The eval split is never seen here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from rag_augment.eval import metrics as M
from rag_augment.eval.systems import QueryLegs, truncate
from rag_augment.fusion import FusionProfile, fuse
from rag_augment.profiles import PROFILE_DIR

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CHILD_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25)
RRF_KS = (5, 10, 20, 30, 60, 100)
PARENT_DEPTHS = (20, 50, 100, 200)
CHILD_DEPTHS = (50, 100, 200, 500, 1000)


@dataclass
class TuneResult:
    profile: FusionProfile
    score: float
    start_score: float
    evaluated: int
    train_metrics: dict[str, float] = field(default_factory=dict)
    start_train_metrics: dict[str, float] = field(default_factory=dict)


def evaluate(profile: FusionProfile, legs: Mapping[str, QueryLegs], qrels: Mapping[str, Mapping[str, int]],
             chunk_doc: Mapping[str, str], k: int = 10) -> dict[str, float]:
    rankings = {}
    for qid in qrels:
        ranked, _ = fuse(truncate(legs[qid], profile), profile, k)
        rankings[qid] = M.to_documents([p for p, _ in ranked], chunk_doc)[0]
    per_query = M.score_run(rankings, qrels, curve_ks=())
    return M.mean_metrics(per_query)


SYNTHETIC_LEGS = ("query_dense", "query_lexical", "doc2query_lexical")


def _moves(p: FusionProfile, depths: Mapping[str, int], synthetic: bool = True
           ) -> Iterator[tuple[str, FusionProfile]]:
    """Profiles that differ from p in one setting that matters under p's method and dense pair. Without
    `synthetic`, only the chunk legs move (a tuned baseline: dense chunks + BM25 chunks, no synthetic queries)."""
    for method in ("rrf", "weighted"):
        yield "method", replace(p, method=method)
    if p.method == "rrf":
        for k in RRF_KS:
            yield "rrf_k", replace(p, rrf_k=k)
    merged = p.dense_pair != "separate"
    if synthetic:
        for pair in ("max", "sum", "separate"):
            yield "dense_pair", replace(p, dense_pair=pair)
        if merged:
            for w in CHILD_WEIGHTS:
                yield "child_weight", replace(p, child_weight=w)
    legs = ("dense",) if merged else ("chunk_dense", "query_dense")
    legs += ("chunk_lexical", "query_lexical", "doc2query_lexical")
    legs = tuple(leg for leg in legs if synthetic or leg not in SYNTHETIC_LEGS)
    for leg in legs:
        for w in WEIGHTS:
            yield f"weight:{leg}", replace(p, weights={**p.weights, leg: w})
    for leg in ("chunk_dense", "chunk_lexical") + (("doc2query_lexical", "query_dense") if synthetic else ()):
        options = CHILD_DEPTHS if leg == "query_dense" else PARENT_DEPTHS
        for d in options:
            if d <= depths[leg]:
                yield f"depth:{leg}", replace(p, depth={**p.depth, leg: d})


def _key(p: FusionProfile) -> str:
    return replace(p, name="", notes="").to_json()


def tune_profile(legs: Mapping[str, QueryLegs], qrels: Mapping[str, Mapping[str, int]],
                 chunk_doc: Mapping[str, str], start: FusionProfile, name: str, depths: Mapping[str, int],
                 metric: str = "nDCG@10", min_gain: float = 0.002, max_passes: int = 4,
                 progress: Callable[[int, str], Any] | None = None, notes: str = "",
                 synthetic: bool = True) -> TuneResult:
    # query_lexical's depth is fixed at the eval depth (see systems.truncate), so the profile records that
    start = replace(start, depth={**start.depth, "query_lexical": depths["query_lexical"]})
    seen: dict[str, dict[str, float]] = {}

    def score(p: FusionProfile) -> float:
        key = _key(p)
        if key not in seen:
            seen[key] = evaluate(p, legs, qrels, chunk_doc)
        return seen[key][metric]

    best, best_score = start, score(start)
    start_score = best_score
    bar = progress(max_passes, "tuning passes") if progress else None
    for _ in range(max_passes):
        changed = False
        for setting in dict.fromkeys(s for s, _ in _moves(best, depths, synthetic)):
            options = [p for s, p in _moves(best, depths, synthetic) if s == setting]
            if not options:  # the setting stopped mattering after an earlier change in this pass
                continue
            scores = [score(p) for p in options]
            i = int(np.argmax(scores))
            if scores[i] >= best_score + min_gain:
                best, best_score, changed = options[i], scores[i], True
        if bar is not None:
            bar.update(1)
        if not changed:
            break
    if bar is not None:
        bar.close()
    gain = f"train {metric} {start_score:.4f} -> {best_score:.4f}"
    best = replace(best, name=name, notes=f"{notes}; {gain}".strip("; "))
    return TuneResult(best, best_score, start_score, len(seen), seen[_key(best)], seen[_key(start)])


def write_profile(profile: FusionProfile, folder: str | Path | None = None) -> Path:
    path = Path(folder or PROFILE_DIR) / f"{profile.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile.to_json() + "\n")
    return path
