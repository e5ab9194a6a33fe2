"""Every quality switch proves itself before it changes a ranking.

A change (a profile chosen by `tune`, a reranker trained by `train`) is scored against the ranking it would replace
on held-out evidence: probes cut from chunks the change was not chosen on (never indexed, never trained on), or real
and feedback queries scored out of fold. It is installed only when it wins beyond the paired bootstrap interval
(lower end above the margin); otherwise the current ranking stays and the command says why, with the figures.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

import numpy as np

from rag_augment import metrics as M

METRIC = "nDCG@10"
MARGIN = 0.0  # the interval's lower end must be above this (nDCG@10, 0-1 scale)
T = TypeVar("T")


@dataclass(frozen=True)
class Verdict:
    """The change against the current ranking on the same held-out queries (means of nDCG@10, 0-1)."""
    evidence: str
    queries: int
    change: float
    current: float
    delta: float
    lo: float
    hi: float
    passed: bool
    margin: float = MARGIN

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self, what: str, installed: bool, kept: str, force: str = "--force installs it anyway") -> str:
        """One line for people: the figures, the interval and what happened."""
        if not self.queries:
            figures = f"{what}: no held-out query to check it on"
        else:
            figures = (f"{what} on {self.queries} {self.evidence}: {METRIC} {self.change:.3f} vs {self.current:.3f} "
                       f"now, {100 * self.delta:+.1f} [{100 * self.lo:+.1f}, {100 * self.hi:+.1f}] points")
        if installed:
            return f"{figures}: installed" + ("" if self.passed else " anyway (--force)")
        if self.passed:
            return f"{figures}: it wins, but nothing was saved (dry run)"
        return f"{figures}: not installed, {kept} ({force})"


def verdict(change: np.ndarray, current: np.ndarray, evidence: str, seed: int = 0,
            margin: float = MARGIN) -> Verdict:
    """Paired bootstrap of change minus current over the same queries."""
    if len(change) != len(current):
        raise ValueError("a self-check compares the same queries under both rankings")
    if len(change) == 0:
        return Verdict(evidence, 0, 0.0, 0.0, 0.0, 0.0, 0.0, False, margin)
    d, lo, hi = M.paired_bootstrap(np.asarray(change, float), np.asarray(current, float), n=2000, seed=seed)
    return Verdict(evidence, len(change), float(np.mean(change)), float(np.mean(current)), round(d, 4),
                   round(lo, 4), round(hi, 4), bool(lo > margin), margin)


def split_by_chunk(items: Sequence[T], chunk_of: Callable[[T], str], seed: int) -> tuple[list[T], list[T]]:
    """Two halves with no chunk in both (seeded): one to choose a change on, one to check it on."""
    chunks = sorted({chunk_of(i) for i in items})
    random.Random(f"self-check:{seed}").shuffle(chunks)
    check = set(chunks[:len(chunks) // 2])
    return [i for i in items if chunk_of(i) not in check], [i for i in items if chunk_of(i) in check]


def document_ndcg(rankings: Sequence[Sequence[str]], targets: Sequence[str], k: int = 10) -> np.ndarray:
    """nDCG@k of each query whose one relevant document is its target (ranked document ids, best first)."""
    return np.array([M.ndcg(list(dict.fromkeys(r)), {t: 1}, k) for r, t in zip(rankings, targets)], dtype=float)
