"""Pure fusion of retrieval legs into one ranking of parent chunks. No I/O.

Legs: chunk_dense (cosine of chunk vectors), query_dense (cosine of synthetic-query vectors, collapsed to their
parent chunk by max), chunk_lexical (BM25 on chunk text), query_lexical (BM25 on synthetic queries, collapsed),
doc2query_lexical (BM25 on chunk text with its queries appended). The two dense legs share a scale (cosine), so
they may first be merged into one "dense" leg by max or weighted sum, as measured in shared/experiments; then
all remaining legs are fused by weighted reciprocal-rank fusion or a weighted sum of normalised scores. Scores are
normalised per query and leg: min-max over the leg's hits; by the leg's best score with a theoretical minimum of
0 (the convex combination "TM2C2" of Bruch et al. 2023, which keeps the ratios between a leg's scores); or by
the leg's score distribution (mean +- 3 sigma, "DBSF"), where only a hit that stands out from the rest of its leg
gets near 1, so a leg whose hits are all alike barely reorders anything. The tuner picks one on train data.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rag_augment.errors import ConfigError

LEG_NAMES = ("chunk_dense", "query_dense", "chunk_lexical", "query_lexical", "doc2query_lexical")
Ranked = list[tuple[str, float]]  # (parent id, score), best first


@dataclass(frozen=True)
class FusionProfile:
    name: str = "default"
    method: str = "rrf"                  # rrf | weighted
    dense_pair: str = "max"              # max | sum | separate
    child_weight: float = 1.0            # multiplies the best child's cosine inside the dense pair
    rrf_k: int = 60
    normalize: str = "minmax"            # weighted only: minmax | max | dbsf
    weights: dict[str, float] = field(default_factory=lambda: {
        "dense": 1.0, "chunk_dense": 1.0, "query_dense": 1.0, "chunk_lexical": 1.0, "query_lexical": 0.0,
        "doc2query_lexical": 0.0})
    depth: dict[str, int] = field(default_factory=lambda: {
        "chunk_dense": 50, "query_dense": 200, "chunk_lexical": 50, "query_lexical": 200, "doc2query_lexical": 50})
    kind_weights: dict[str, float] = field(default_factory=lambda: {"real": 1.0})  # e.g. real above synthetic
    # the guard on users' queries (kinds real and feedback): a user query votes for its chunk (in the query legs
    # and in its chunk's doc2query document) only when the incoming query's cosine to it is at least this; below,
    # the legs are as if it were not in the index. 0: off (user queries vote like synthetic ones). See
    # rag_augment.search.legs; the shipped default's value is chosen by `python -m benchmarks.lifecycle.floor`
    # (it depends on the embedder: a floor that lets few questions about other documents through).
    real_floor: float = 0.0
    # with the guard on: where a user query votes (at the floor), its chunk's synthetic queries step aside (they
    # leave the query legs, and the chunk's doc2query document holds its text and users' queries only)
    step_aside: bool = False
    # with the guard on: the index sets its floor from its own log (rag_augment.search.floor): the lowest floor, from
    # real_floor up, at which most of its real queries' votes for one another are for their own chunk. Off: it lost
    # on SciFact's train claims and moved no lifecycle run beyond its interval (benchmarks/studies/users_vote,
    # benchmarks/RESULTS.md)
    floor_from_log: bool = False
    notes: str = ""

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "weighted"):
            raise ConfigError(f"fusion.method: {self.method!r} is not rrf or weighted")
        if self.dense_pair not in ("max", "sum", "separate"):
            raise ConfigError(f"fusion.dense_pair: {self.dense_pair!r} is not max, sum or separate")
        unknown = set(self.weights) - set(LEG_NAMES) - {"dense"}
        if unknown:
            raise ConfigError(f"fusion.weights: unknown legs {sorted(unknown)}")
        if self.normalize not in NORMALIZERS:
            raise ConfigError(f"fusion.normalize: {self.normalize!r} is not one of {sorted(NORMALIZERS)}")
        if self.rrf_k < 1:
            raise ConfigError("fusion.rrf_k must be >= 1")
        if not 0.0 <= self.real_floor < 1.0:
            raise ConfigError(f"fusion.real_floor: {self.real_floor!r} is not in [0, 1)")
        if self.floor_from_log and self.real_floor <= 0:
            raise ConfigError("fusion.floor_from_log: needs the guard on (a real_floor above 0)")

    def leg_enabled(self, leg: str) -> bool:
        """A raw leg runs when its own weight, or the merged dense leg's weight, is positive."""
        if leg in ("chunk_dense", "query_dense") and self.dense_pair != "separate":
            if leg == "query_dense" and self.child_weight <= 0:
                return False
            return self.weights.get("dense", 0.0) > 0
        return self.weights.get(leg, 0.0) > 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> FusionProfile:
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            raise ConfigError(f"fusion profile: unknown fields {sorted(extra)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> FusionProfile:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"fusion profile {path}: {exc}") from exc


def collapse_to_parents(child_hits: Iterable[tuple[str, str, float]]) -> tuple[Ranked, dict[str, list[str]]]:
    """Child hits (child id, parent id, score) -> parents ranked by their best child, and the matching children
    of each parent in score order. A parent appears once however many children matched (k counts parents).
    One sort of the children (ties by child id), then one pass: this runs on every query, over up to 1,000 hits."""
    best: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for child, parent, score in sorted(child_hits, key=lambda h: (-h[2], h[0])):
        if parent not in best:
            best[parent] = score
            matched[parent] = []
        matched[parent].append(child)
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0])), matched


def merge_dense(chunk: Ranked, child: Ranked, mode: str, child_weight: float) -> Ranked:
    """Merge the two cosine legs. A parent missing from one leg gets that leg's lowest seen score (it ranked
    below the leg's depth, so that is an upper bound; for max it never wins)."""
    c, q = dict(chunk), {p: s * child_weight for p, s in child}
    floor_c = min(c.values()) if c else 0.0
    floor_q = min(q.values()) if q else 0.0
    merged = {}
    for p in set(c) | set(q):
        a, b = c.get(p, floor_c), q.get(p, floor_q)
        merged[p] = max(a, b) if mode == "max" else a + b
    return sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))


def rrf(legs: dict[str, Ranked], weights: dict[str, float], k: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for leg, ranked in legs.items():
        w = weights.get(leg, 0.0)
        if w <= 0:
            continue
        for rank, (parent, _) in enumerate(ranked, start=1):
            out[parent] = out.get(parent, 0.0) + w / (k + rank)
    return out


def _minmax(scores: list[float]) -> tuple[float, float]:
    return min(scores), max(scores)


def _by_max(scores: list[float]) -> tuple[float, float]:
    return min(0.0, min(scores)), max(scores)


def _dbsf(scores: list[float]) -> tuple[float, float]:
    mean = sum(scores) / len(scores)
    sd = (sum((s - mean) ** 2 for s in scores) / len(scores)) ** 0.5
    return mean - 3 * sd, mean + 3 * sd


NORMALIZERS = {"minmax": _minmax, "max": _by_max, "dbsf": _dbsf}  # scores -> (lo, hi) mapped to 0 and 1


def weighted_sum(legs: dict[str, Ranked], weights: dict[str, float], normalize: str = "minmax") -> dict[str, float]:
    """Normalise each leg's scores to [0, 1] (see NORMALIZERS; clipped), then add with weights; a parent missing
    from a leg adds 0."""
    bounds = NORMALIZERS[normalize]
    out: dict[str, float] = {}
    for leg, ranked in legs.items():
        w = weights.get(leg, 0.0)
        if w <= 0 or not ranked:
            continue
        lo, hi = bounds([s for _, s in ranked])
        for parent, s in ranked:
            norm = 1.0 if hi <= lo else min(1.0, max(0.0, (s - lo) / (hi - lo)))
            out[parent] = out.get(parent, 0.0) + w * norm
    return out


def combine(legs: dict[str, Ranked], weights: dict[str, float], profile: FusionProfile) -> dict[str, float]:
    """The profile's method over legs already merged (see fuse); weights may add legs, e.g. a caller's ranking."""
    if profile.method == "rrf":
        return rrf(legs, weights, profile.rrf_k)
    return weighted_sum(legs, weights, profile.normalize)


def fuse(legs: dict[str, Ranked], profile: FusionProfile, k: int) -> tuple[Ranked, dict[str, Ranked]]:
    """Fuse raw legs into the top-k parents. Returns the ranking and the legs as fused (after the dense merge),
    which the caller uses to explain each hit."""
    legs = {name: ranked for name, ranked in legs.items() if ranked is not None}
    if profile.dense_pair != "separate" and ("chunk_dense" in legs or "query_dense" in legs):
        legs["dense"] = merge_dense(legs.pop("chunk_dense", []), legs.pop("query_dense", []),
                                    profile.dense_pair, profile.child_weight)
    scores = combine(legs, profile.weights, profile)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:max(k, 0)]
    return ranked, legs
