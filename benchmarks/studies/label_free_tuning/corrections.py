"""The tuning corrections the label-free study compared, besides the one that ships (shrink, in
rag_augment.tuning.label_free). RESULT.md says why shrink was chosen on the train splits."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from rag_augment.eval.tune import TuneSet, tune_profile
from rag_augment.fusion import FusionProfile
from rag_augment.tuning.ascent import ascend, profile_key
from rag_augment.tuning.label_free import Choice, _interval, correct_shrink, per_query


def ascend_worst(sets: Sequence[TuneSet], start: FusionProfile, depths: Mapping[str, int], name: str,
                 min_gain: float = 0.002, max_passes: int = 4) -> tuple[FusionProfile, dict[str, float]]:
    """Coordinate ascent (rag_augment.tuning.ascent) on the WORST gain over the start profile across
    the probe sets (plain and masked probes favour different legs: a change that helps under both is one the
    probes' own bias did not make). Ties broken by the mean gain. Returns the profile and its gain per set."""
    base = {ts.name: float(per_query(start, ts).mean()) for ts in sets}
    seen: dict[str, tuple[float, dict[str, float]]] = {}

    def value(p: FusionProfile) -> float:
        key = profile_key(p)
        if key not in seen:
            gains = {ts.name: float(per_query(p, ts).mean()) - base[ts.name] for ts in sets}
            seen[key] = (min(gains.values()) + 0.1 * float(np.mean(list(gains.values()))), gains)
        return seen[key][0]

    best = replace(start, depth={**start.depth, "query_lexical": depths["query_lexical"]})
    best, _ = ascend(best, value, depths, min_gain=min_gain, max_passes=max_passes)
    return replace(best, name=name), seen[profile_key(best)][1]


def correct_none(ts, start, tuned, depths, seed) -> Choice:
    return Choice(tuned(), tuned())


def correct_gate(ts, start, tuned, depths, seed) -> Choice:
    """Keep the start profile unless the tuned one is better on the probes beyond the bootstrap interval."""
    iv = _interval(per_query(tuned(), ts), per_query(start, ts), seed)
    return Choice(tuned() if iv["lo"] > 0 else start, tuned(), {"tuned_vs_start": iv, "passed": iv["lo"] > 0})


def correct_nosynth(ts, start, tuned, depths, seed) -> Choice:
    """Tune only the legs that read no synthetic query (chunk vectors, chunk BM25) and the fusion method; the
    synthetic legs keep the start profile's weights."""
    return Choice(tune_profile(ts, start, start.name, depths, synthetic=False).profile, tuned())


def correct_worst(ts, start, tuned, depths, seed) -> Choice:
    """Tune on the worst gain across probe sets (ascend_worst), then keep the start profile unless the result
    gains beyond the bootstrap interval on every probe set."""
    sets = [ts] if isinstance(ts, TuneSet) else list(ts)
    found, gains = ascend_worst(sets, start, depths, start.name)
    ivs = {s.name: _interval(per_query(found, s), per_query(start, s), seed) for s in sets}
    passed = all(iv["lo"] > 0 for iv in ivs.values())
    return Choice(found if passed else start, found, {"gains": gains, "vs_start": ivs, "passed": passed})


CORRECTIONS: dict[str, Callable[..., Choice]] = {
    "none": correct_none, "shrink": correct_shrink, "gate": correct_gate, "nosynth": correct_nosynth,
    "worst": correct_worst,
}
