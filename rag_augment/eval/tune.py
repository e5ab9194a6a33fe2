"""Tune a fusion profile on a train split, offline on legs retrieved once.

Coordinate ascent (rag_augment.tuning.ascent) from the start profile (the shipped default) on mean nDCG@10 over
the train queries. Greedy ascent stops at the first local
optimum, so it can also run from further starts (e.g. the tuned hybrid without synthetic queries) and keep the
best. The eval split is never seen here.

Several train sets (e.g. SciFact train and sample_kb train for the shipped default) are tuned jointly: a profile
scores the mean of the sets' means, so a small set weighs as much as a large one. A set's legs can be saved
beside its run (`save_tune_set`) and tuned again later without re-indexing (`python -m benchmarks.tune_default`).
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment import metrics as M
from rag_augment.eval.systems import QueryLegs, truncate
from rag_augment.fusion import FusionProfile, fuse
from rag_augment.profiles import PROFILE_DIR
from rag_augment.tuning.ascent import ascend, profile_key


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
        key = profile_key(p)
        if key not in seen:
            each = {ts.name: evaluate(p, ts.legs, ts.qrels, ts.chunk_doc) for ts in sets}
            seen[key] = {**each, "": _mean(list(each.values()))}
        return seen[key][""][metric]

    # query_lexical's depth is fixed at the eval depth (see systems.truncate), so the profile records that
    starts = [replace(p, depth={**p.depth, "query_lexical": depths["query_lexical"]}) for p in (start, *also_from)]
    bar = progress(max_passes * len(starts), "tuning passes") if progress else None
    best, best_score, origin = starts[0], score(starts[0]), starts[0].name
    for first in starts:
        found, found_score = ascend(first, score, depths, synthetic, min_gain, max_passes, bar)
        if found_score > best_score:
            best, best_score, origin = found, found_score, first.name
    if bar is not None:
        bar.close()
    gain = f"ascent from {origin}; train {metric} {score(starts[0]):.4f} -> {best_score:.4f}"
    best = replace(best, name=name, notes=f"{notes}; {gain}".strip("; "))
    tuned, first_metrics = seen[profile_key(best)], seen[profile_key(starts[0])]
    per_set = {ts.name: {"start": first_metrics[ts.name], "tuned": tuned[ts.name]} for ts in sets}
    return TuneResult(best, best_score, score(starts[0]), len(seen), tuned[""], first_metrics[""], per_set)


def write_profile(profile: FusionProfile, folder: str | Path | None = None) -> Path:
    path = Path(folder or PROFILE_DIR) / f"{profile.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profile.to_json() + "\n")
    return path
