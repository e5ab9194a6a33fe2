"""Tune a fusion profile on a train split, offline on legs retrieved once.

Coordinate ascent from the start profile (the shipped default): one setting at a time (method, normalisation,
dense pair, child weight, each leg's weight, rrf_k, each leg's depth) takes the value that most raises mean
nDCG@10 on the train queries; a change must gain at least `min_gain`, so a small train set does not chase noise
and ties keep the start profile. Stops when a full pass changes nothing. Greedy ascent stops at the first local
optimum, so it can also run from further starts (e.g. the tuned hybrid without synthetic queries) and keep the
best. The eval split is never seen here.

Several train sets (e.g. SciFact train and sample_kb train for the shipped default) are tuned jointly: a profile
scores the mean of the sets' means, so a small set weighs as much as a large one. A set's legs can be saved
beside its run (`save_tune_set`) and tuned again later without re-indexing (`python -m benchmarks.tune_default`).
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment.eval import metrics as M
from rag_augment.eval.systems import QueryLegs, truncate
from rag_augment.fusion import NORMALIZERS, FusionProfile, fuse
from rag_augment.profiles import PROFILE_DIR

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
CHILD_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25)
RRF_KS = (5, 10, 20, 30, 60, 100)
PARENT_DEPTHS = (20, 50, 100, 200)
CHILD_DEPTHS = (50, 100, 200, 500, 1000)


@dataclass(frozen=True)
class TuneSet:
    """One train split's legs, retrieved once, with what is needed to score a profile on them."""
    name: str
    legs: Mapping[str, QueryLegs]
    qrels: Mapping[str, Mapping[str, int]]
    chunk_doc: Mapping[str, str]


def save_tune_set(ts: TuneSet, path: str | Path) -> Path:
    """Only what `evaluate` reads: the raw legs and child ranks (not timings or other systems' rankings)."""
    record = {"name": ts.name, "qrels": ts.qrels, "chunk_doc": ts.chunk_doc,
              "legs": {q: {"legs": ql.legs, "child_rank": ql.child_rank} for q, ql in ts.legs.items()}}
    path = Path(path)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(record, f)
    return path


def load_tune_set(path: str | Path) -> TuneSet:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        record = json.load(f)
    legs = {q: QueryLegs(legs={leg: [(p, s) for p, s in ranked] for leg, ranked in ql["legs"].items()},
                         child_rank=ql["child_rank"]) for q, ql in record["legs"].items()}
    return TuneSet(record["name"], legs, record["qrels"], record["chunk_doc"])


@dataclass
class TuneResult:
    profile: FusionProfile
    score: float
    start_score: float
    evaluated: int
    train_metrics: dict[str, float] = field(default_factory=dict)
    start_train_metrics: dict[str, float] = field(default_factory=dict)
    per_set: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # set -> start|tuned -> metrics


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


def _key(p: FusionProfile) -> str:
    return replace(p, name="", notes="").to_json()


def _mean(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows])) for m in rows[0]}


def tune_profile(sets: TuneSet | Sequence[TuneSet], start: FusionProfile, name: str, depths: Mapping[str, int],
                 metric: str = "nDCG@10", min_gain: float = 0.002, max_passes: int = 4,
                 progress: Callable[[int, str], Any] | None = None, notes: str = "",
                 synthetic: bool = True, also_from: Sequence[FusionProfile] = ()) -> TuneResult:
    """Coordinate ascent from `start` and from each profile in `also_from` (greedy ascent stops at the first
    local optimum, so several starts find better ones); the best train score wins, ties go to the earliest
    start. `start_score` and the per-set "start" figures are always `start`'s, the reference."""
    sets = [sets] if isinstance(sets, TuneSet) else list(sets)
    if not sets or len({ts.name for ts in sets}) != len(sets):
        raise ValueError("tune_profile needs at least one train set, each with its own name")
    seen: dict[str, dict[str, dict[str, float]]] = {}  # profile -> set name -> metrics ("" = mean of sets)

    def score(p: FusionProfile) -> float:
        key = _key(p)
        if key not in seen:
            each = {ts.name: evaluate(p, ts.legs, ts.qrels, ts.chunk_doc) for ts in sets}
            seen[key] = {**each, "": _mean(list(each.values()))}
        return seen[key][""][metric]

    # query_lexical's depth is fixed at the eval depth (see systems.truncate), so the profile records that
    starts = [replace(p, depth={**p.depth, "query_lexical": depths["query_lexical"]}) for p in (start, *also_from)]
    bar = progress(max_passes * len(starts), "tuning passes") if progress else None
    best, best_score, origin = starts[0], score(starts[0]), starts[0].name
    for first in starts:
        found, found_score = _ascend(first, score, depths, synthetic, min_gain, max_passes, bar)
        if found_score > best_score:
            best, best_score, origin = found, found_score, first.name
    if bar is not None:
        bar.close()
    gain = f"ascent from {origin}; train {metric} {score(starts[0]):.4f} -> {best_score:.4f}"
    best = replace(best, name=name, notes=f"{notes}; {gain}".strip("; "))
    tuned, first_metrics = seen[_key(best)], seen[_key(starts[0])]
    per_set = {ts.name: {"start": first_metrics[ts.name], "tuned": tuned[ts.name]} for ts in sets}
    return TuneResult(best, best_score, score(starts[0]), len(seen), tuned[""], first_metrics[""], per_set)


def _ascend(best: FusionProfile, score: Callable[[FusionProfile], float], depths: Mapping[str, int],
            synthetic: bool, min_gain: float, max_passes: int, bar: Any) -> tuple[FusionProfile, float]:
    best_score = score(best)
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
    return best, best_score


def write_profile(profile: FusionProfile, folder: str | Path | None = None) -> Path:
    path = Path(folder or PROFILE_DIR) / f"{profile.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile.to_json() + "\n")
    return path
