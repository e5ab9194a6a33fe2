"""Coordinate ascent over fusion profiles: one setting at a time (method, normalisation or rrf_k, dense pair, child
weight, each leg's weight, each leg's depth) takes the value that most raises an objective; a change must gain at
least `min_gain`, so a small set does not chase noise and ties keep the start. Stops when a full pass changes
nothing. Every tuner in the project runs this one loop with its own objective."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from rag_augment.fusion import NORMALIZERS, FusionProfile

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CHILD_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25)
RRF_KS = (5, 10, 20, 30, 60, 100)
PARENT_DEPTHS = (20, 50, 100, 200)
CHILD_DEPTHS = (50, 100, 200, 500, 1000)
SYNTHETIC_LEGS = ("query_dense", "query_lexical", "doc2query_lexical")


def moves(p: FusionProfile, depths: Mapping[str, int], synthetic: bool = True
          ) -> Iterator[tuple[str, FusionProfile]]:
    """Profiles that differ from p in one setting that matters under p's method and dense pair. Without
    `synthetic`, only the chunk legs move (a tuned baseline: dense chunks + BM25 chunks, no synthetic queries)."""
    for method in ("rrf", "weighted"):
        yield "method", replace(p, method=method)
    if p.method == "rrf":
        for k in RRF_KS:
            yield "rrf_k", replace(p, rrf_k=k)
    else:
        for norm in NORMALIZERS:
            yield "normalize", replace(p, normalize=norm)
    merged = p.dense_pair != "separate"
    if synthetic:
        for pair in ("max", "sum", "separate"):
            yield "dense_pair", replace(p, dense_pair=pair)
        if merged:
            for w in CHILD_WEIGHTS:
                yield "child_weight", replace(p, child_weight=w)
    legs: tuple[str, ...] = ("dense",) if merged else ("chunk_dense", "query_dense")
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


def profile_key(p: FusionProfile) -> str:
    """What makes two profiles rank alike (the name and notes do not)."""
    return replace(p, name="", notes="").to_json()


def ascend(start: FusionProfile, objective: Callable[[FusionProfile], float], depths: Mapping[str, int],
           synthetic: bool = True, min_gain: float = 0.002, max_passes: int = 4,
           bar: Any = None) -> tuple[FusionProfile, float]:
    """The best profile found from `start` and its objective. `objective` is called once per candidate per pass:
    memoise it (by profile_key) when it is costly. `bar`: a progress bar, updated once per pass."""
    best, best_value = start, objective(start)
    for _ in range(max_passes):
        changed = False
        for setting in dict.fromkeys(s for s, _ in moves(best, depths, synthetic)):
            options = [p for s, p in moves(best, depths, synthetic) if s == setting]
            if not options:  # the setting stopped mattering after an earlier change in this pass
                continue
            values = [objective(p) for p in options]
            i = int(np.argmax(values))
            if values[i] >= best_value + min_gain:
                best, best_value, changed = options[i], values[i], True
        if bar is not None:
            bar.update(1)
        if not changed:
            break
    return best, best_value
