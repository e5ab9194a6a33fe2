"""How deep a reranker this machine can afford: the deepest cut of the base model whose scoring of one query's
top N stays within a latency budget, timed here before training starts.

The same model costs very different time on different 2-core hosts (one query's top 20, 6 layers x 128 tokens:
137, 185 and 194 ms p50 on three of them, benchmarks/studies/reranker/results/latency*.md), so a depth fixed in
advance meets a budget on one machine and misses it on the next. Only a bi-encoder start is cut, and never below
MIN_LAYERS; a ready cross-encoder keeps all its layers (cutting would discard what it learned). Timed on a busy
machine, the choice comes out shallower: `--layers N` fixes the depth instead.
"""
from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# a bi-encoder start with 2 or 3 layers barely learned in the study's train-only probe; 4 and 6 did
MIN_LAYERS = 4
TIMED_RUNS = 5


@dataclass(frozen=True)
class DepthChoice:
    layers: int                      # the depth to train
    budget_ms: float
    measured_ms: dict[int, float] = field(default_factory=dict)   # p50 per depth tried, deepest first
    fits: bool = True                # False: even MIN_LAYERS is over the budget here

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measured_ms"] = {str(k): v for k, v in self.measured_ms.items()}
        return d


def fit_depth(measure: Callable[[int], float], total: int, budget_ms: float,
              min_layers: int = MIN_LAYERS) -> DepthChoice:
    """Try depths from `total` down to `min_layers`; the first whose measured p50 fits the budget wins."""
    measured: dict[int, float] = {}
    floor = min(total, min_layers)
    for layers in range(total, floor - 1, -1):
        measured[layers] = round(measure(layers), 1)
        if measured[layers] <= budget_ms:
            return DepthChoice(layers, budget_ms, measured, True)
    return DepthChoice(floor, budget_ms, measured, False)


def base_layers(folder: str | Path) -> int | None:
    """The base model's transformer depth from its config.json (None when it does not say)."""
    try:
        n = json.loads((Path(folder) / "config.json").read_text()).get("num_hidden_layers")
    except (OSError, ValueError):
        return None
    return int(n) if isinstance(n, int) else None


def scoring_ms(base: str | Path, layers: int, max_length: int, query: str, texts: Sequence[str]) -> float:
    """p50 milliseconds of scoring `texts` for `query` with the base cut to `layers`, through the rerank stage's
    own scorer (int8), after one warm-up call."""
    from rag_augment.rerank.stage import CrossEncoderScorer
    scorer = CrossEncoderScorer(base, layers=layers, max_length=max_length)
    times = []
    for run in range(TIMED_RUNS + 1):
        t0 = time.perf_counter()
        scorer.score(query, texts)
        if run:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def fit_to_budget(base: str | Path, max_length: int, budget_ms: float, query: str,
                  texts: Sequence[str]) -> DepthChoice | None:
    """The depth to train from a bi-encoder base on this machine, or None when the base's depth is unknown."""
    total = base_layers(base)
    if total is None:
        return None
    choice = fit_depth(lambda n: scoring_ms(base, n, max_length, query, texts), total, budget_ms)
    if choice.fits:
        log.info("reranker: %d layers score a top %d in %.0f ms here (budget %.0f ms)", choice.layers, len(texts),
                 choice.measured_ms[choice.layers], budget_ms)
    else:
        log.warning("reranker: even %d layers take %.0f ms for a top %d here, over the %.0f ms budget; training "
                    "%d layers anyway (fewer barely learn)", choice.layers, choice.measured_ms[choice.layers],
                    len(texts), budget_ms, choice.layers)
    return choice
