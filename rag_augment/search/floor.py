"""The guard's floor from an index's own log (FusionProfile.floor_from_log).

A user's query at the floor votes for its chunk (rag_augment.search.legs). Whether such a vote is worth having
depends on the corpus: where two questions about one passage ask about the same thing (claims about one finding), a
close logged question is good evidence; where they ask about different facts of one article (SQuAD-style pages), the
logged questions close to a new one are mostly about other passages. The log itself says which: among the index's
real queries, each with the chunk it was logged for, a pair at or above a floor is a vote, right when both are for
the same chunk. The floor is the lowest candidate, from the profile's real_floor up, at which at least half of the
votes are right. Fewer than MIN_VOTES votes at the profile's floor: the log is too small to judge, and that floor
stands; fewer at a higher candidate (the ones below were wrong too often): that candidate, where votes become rare.
If no candidate is right that often, only near-copies vote (the highest candidate).
"""
from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import numpy as np

CANDIDATES = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
MIN_VOTES = 20         # votes at a floor before its share of right ones is trusted
RIGHT_SHARE = 0.5      # a vote is right at least as often as it is wrong
MAX_QUERIES = 2000     # a seeded sample of a larger log (the pairs grow with its square)


def log_sample(ids: Iterable[str]) -> list[str]:
    """The real queries the floor is judged on: all of them, or a seeded sample of a larger log (read only these
    vectors from the store)."""
    ids = sorted(ids)
    return sorted(random.Random(0).sample(ids, MAX_QUERIES)) if len(ids) > MAX_QUERIES else ids


def floor_from_log(vectors: Mapping[str, np.ndarray], chunk_of: Mapping[str, str], start: float) -> float:
    """The floor for a log of real queries (id -> stored vector, id -> its chunk); `start`: the profile's floor."""
    ids = log_sample(q for q in vectors if q in chunk_of)
    if len(ids) < 2:
        return start
    vecs = np.stack([vectors[q] for q in ids]).astype(np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    upper = np.triu_indices(len(ids), 1)
    sims = (vecs @ vecs.T)[upper]
    chunk = np.array([chunk_of[q] for q in ids])
    same = (chunk[:, None] == chunk[None, :])[upper]
    for floor in (start, *(f for f in CANDIDATES if f > start)):
        votes = sims >= floor
        n = int(votes.sum())
        if n < MIN_VOTES:  # too few to judge: at the start, the profile's floor; later, where votes become rare
            return floor
        if int((same & votes).sum()) >= RIGHT_SHARE * n:
            return floor
    return CANDIDATES[-1]
