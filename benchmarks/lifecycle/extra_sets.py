"""More labelled sets for the lifecycle benchmark, each with several queries per need and none used to choose
anything in rag_augment (register a loader in sets.SETS to stream it).

squad_train: SQuAD v1.1 TRAIN articles (disjoint by article from SQuAD dev, so from XQuAD), laid out under
benchmarks/runs/datasets/squad_train_2k/ (gitignored) by

    python -m benchmarks.data_prep.get_lifecycle_sets --from <clone of github.com/rajpurkar/SQuAD-explorer>

(source, licence and counts: benchmarks/data_prep/README.md and the README.txt written beside the set).
"""
from __future__ import annotations

from pathlib import Path

from benchmarks.lifecycle.sets import TRAIN_SHARE, LifecycleSet, seeded_order
from benchmarks.paths import RUNS, shown
from rag_augment.chunking import ChunkingConfig
from rag_augment.eval.datasets import load_dataset

SQUAD_TRAIN = RUNS / "datasets" / "squad_train_2k"


def squad_train(seed: int = 0, path: Path = SQUAD_TRAIN, max_queries: int = 0) -> LifecycleSet:
    """SQuAD v1.1 train, 49 seeded whole articles: 2,015 paragraphs and 9,578 questions (about 5 per paragraph;
    articles of about 40 paragraphs each, so most distractors share the right paragraph's topic). One split, so as
    xquad(): the questions are shuffled with the seed, the first 20% tune the rival, the rest arrive in the shuffled
    order. max_queries > 0 keeps only the first that many of the shuffled questions (before the split); the
    benchmark's --max-blocks is the other way to shorten a run."""
    if not (path / "corpus.jsonl").exists():
        raise SystemExit(f"lifecycle: {shown(path)} is not laid out; run python -m "
                         "benchmarks.data_prep.get_lifecycle_sets --from <clone of rajpurkar/SQuAD-explorer>")
    ds = load_dataset(path)
    qrels = ds.split("test")
    order = seeded_order(list(qrels), seed)
    kept = order[:max_queries] if max_queries > 0 else order
    n_train = round(TRAIN_SHARE * len(kept))
    cut = f", the first {len(kept)} kept" if len(kept) < len(order) else ""
    how = (f"{len(qrels)} SQuAD v1.1 train questions on {len(ds.documents)} paragraphs of whole articles, shuffled "
           f"with random.Random({seed}) from sorted ids{cut}; the first {n_train} ({TRAIN_SHARE:.0%}, a partition of "
           f"queries, not of paragraphs) tune the rival hybrid, the other {len(kept) - n_train} arrive in the "
           "shuffled order; one chunk per paragraph (chunk size 2048)")
    return LifecycleSet("squad_train", ds, kept[n_train:], sorted(kept[:n_train]),
                        {q: qrels[q] for q in kept}, ChunkingConfig(chunk_size=2048), how, shown(path))
