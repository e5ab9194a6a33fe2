"""The labelled sets the lifecycle benchmark streams, and how each one's order and train split are built.

A set gives: the documents to index, a stream of query ids in the order users send them (seeded), the qrels, and a
train split disjoint from the stream on which the rival (the dense + BM25 hybrid) is tuned. The learning index
never sees the train split; the rival never sees the stream.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.paths import REPO_ROOT, SCIFACT, SHARED, SUBSETS, shown
from rag_augment.chunking import ChunkingConfig
from rag_augment.eval.datasets import EvalDataset, Qrels, load_dataset

XQUAD = SHARED / "datasets" / "xquad_en"
SAMPLE_KB = REPO_ROOT / "sample_kb"
TRAIN_SHARE = 0.2  # sets without a train split: this share of the queries, seeded, tunes the rival


@dataclass
class LifecycleSet:
    name: str
    dataset: EvalDataset
    stream: list[str]                    # query ids, in arrival order
    train: list[str]                     # query ids the rival is tuned on (disjoint from the stream)
    qrels: Qrels                         # every query of stream and train -> relevant docs
    chunking: ChunkingConfig
    how: str                             # how the order and the split were built (rendered with the table)
    source: str = ""
    notes: dict = field(default_factory=dict)

    def text(self, qid: str) -> str:
        return self.dataset.queries[qid]

    def relevant(self, qid: str) -> set[str]:
        return {d for d, g in self.qrels[qid].items() if g > 0}


def seeded_order(ids: list[str], seed: int) -> list[str]:
    """The ids shuffled by random.Random(seed) from sorted order: the same on any machine."""
    out = sorted(ids)
    random.Random(seed).shuffle(out)
    return out


def xquad(seed: int = 0, path: Path = XQUAD) -> LifecycleSet:
    """XQuAD English: 240 paragraphs, 1,190 questions (about 5 per paragraph). It has one split, so the queries are
    shuffled with the seed and the first 20% tune the rival; the rest arrive in the shuffled order."""
    ds = load_dataset(path)
    qrels = ds.split("test")
    order = seeded_order(list(qrels), seed)
    n_train = round(TRAIN_SHARE * len(order))
    how = (f"{len(qrels)} questions shuffled with random.Random({seed}) from sorted ids; the first {n_train} "
           f"({TRAIN_SHARE:.0%}, a partition of queries, not of paragraphs) tune the rival hybrid, the other "
           f"{len(order) - n_train} arrive in the shuffled order; one chunk per paragraph (chunk size 2048)")
    return LifecycleSet("xquad", ds, order[n_train:], sorted(order[:n_train]), qrels, ChunkingConfig(chunk_size=2048),
                        how, shown(path))


def sample_kb(seed: int = 0, path: Path = SAMPLE_KB) -> LifecycleSet:
    """sample_kb: 20 handbook pages with their own train (94) and test (79) splits. The rival is tuned on train;
    the test questions arrive in a seeded order. Small: blocks of 20 suit it (the test uses it)."""
    ds = load_dataset(path)
    test, train = ds.split("test"), ds.split("train")
    how = (f"the {len(test)} questions of qrels/test.tsv shuffled with random.Random({seed}) from sorted ids; the "
           f"rival hybrid is tuned on the {len(train)} questions of qrels/train.tsv; default chunking")
    return LifecycleSet("sample_kb", ds, seeded_order(list(test), seed), sorted(train), {**train, **test},
                        ChunkingConfig(), how, shown(path))


def scifact(seed: int = 0, path: Path = SCIFACT, subset: Path = SUBSETS / "scifact_test_random_1000.json",
            embedder=None) -> LifecycleSet:
    """SciFact on the committed 1,000-abstract subset whose distractors are random (every test-relevant abstract,
    717 random others; data_prep/build_random_subset.py), with its 629 claims: the 300 test claims and the 329
    train claims whose abstracts are all in it. SciFact often states one finding twice, once per split; a query log
    rarely holds a reworded copy of tomorrow's question, so, as --real-from-train does, every train claim that
    near-duplicates a test claim (token Jaccard >= 0.5 or MiniLM cosine >= the filters' near-duplicate threshold)
    is dropped first. The rest are shuffled with the seed; the first 20% tune the rival, the others arrive."""
    import json

    from rag_augment.eval.datasets import restrict
    from rag_augment.eval.harness import near_duplicates_of
    from rag_augment.filters import FilterConfig

    spec = json.loads(subset.read_text(encoding="utf-8"))
    ds = restrict(load_dataset(path), spec["docs"], spec["queries"], {"subset": shown(subset)})
    qrels = {q: r for split in ("test", "train") for q, r in ds.split(split).items()}
    test, train = sorted(ds.split("test")), sorted(set(qrels) - set(ds.split("test")))
    if embedder is None:
        from rag_augment.embedding import SentenceTransformerEmbedder
        embedder = SentenceTransformerEmbedder()
    cosine = FilterConfig().dedupe_threshold
    near = near_duplicates_of(embedder, {q: ds.queries[q] for q in train}, [ds.queries[q] for q in test],
                              cosine=cosine)
    kept = [q for q in qrels if q not in near]
    order = seeded_order(kept, seed)
    n_train = round(TRAIN_SHARE * len(order))
    how = (f"the {len(qrels)} claims of the subset {shown(subset)} ({len(test)} test, {len(train)} train); "
           f"{len(near)} train claims that near-duplicate a test claim (Jaccard >= 0.5 or cosine >= {cosine}) "
           f"dropped; the {len(kept)} left shuffled with random.Random({seed}) from sorted ids; the first {n_train} "
           f"({TRAIN_SHARE:.0%}) tune the rival hybrid, the other {len(kept) - n_train} arrive in the shuffled order; "
           "chunk size 2048")
    return LifecycleSet("scifact", ds, order[n_train:], sorted(order[:n_train]), qrels,
                        ChunkingConfig(chunk_size=2048), how, shown(path), {"near_duplicates": sorted(near)})


def squad_train(seed: int = 0) -> LifecycleSet:
    from benchmarks.lifecycle.extra_sets import squad_train as load  # it builds on this module
    return load(seed)


SETS: dict[str, Callable[..., LifecycleSet]] = {"xquad": xquad, "sample_kb": sample_kb, "scifact": scifact,
                                                "squad_train": squad_train}


def load_set(name: str, seed: int = 0) -> LifecycleSet:
    if name not in SETS:
        raise SystemExit(f"lifecycle: unknown set {name!r}; choose one of {', '.join(SETS)}")
    return SETS[name](seed)
