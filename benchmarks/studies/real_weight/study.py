"""Should real queries count more than synthetic ones? A cross-fitted study on SciFact TRAIN claims only.

The 328 train claims whose abstracts lie in the 1,000-document subset are split in two seeded halves: one half is
stored as real queries of its relevant abstracts (as `rag-augment eval --real-from-train` does), the other half is
searched with the shipped default profile and kind weights for "real" from 1 (today) upwards; a kind weight
multiplies the cosine of a real query vector before the chunk's query vectors are collapsed. Then the halves swap.
Works on a copy of benchmarks/runs/scifact1k-qwen15b/index (made by
`python -m benchmarks.run_benchmarks scifact1k-qwen15b`).

    python -m benchmarks.studies.real_weight.study [--run benchmarks/runs/scifact1k-qwen15b]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.paths import RUNS, SCIFACT
from rag_augment import metrics as M
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.datasets import load_dataset
from rag_augment.eval.harness import chunk_docs, clear_human_queries
from rag_augment.profiles import load_profile
from rag_augment.trust.real_queries import add_real_queries

WEIGHTS = (1.0, 1.1, 1.25, 1.5, 2.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.real_weight.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=RUNS / "scifact1k-qwen15b",
                    help="the scifact1k-qwen15b run folder, read only (default: benchmarks/runs/scifact1k-qwen15b)")
    ap.add_argument("--work", type=Path, default=RUNS / "study-real-weight",
                    help="where the index is copied and changed (default: benchmarks/runs/study-real-weight)")
    ap.add_argument("--dataset", type=Path, default=SCIFACT,
                    help="the SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    args = ap.parse_args(argv)
    run, work = args.run, args.work
    if not (run / "index").exists():
        raise SystemExit(f"{run}/index: missing; run `python -m benchmarks.run_benchmarks scifact1k-qwen15b` first")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(run / "index", work / "index")
    ds = load_dataset(args.dataset)
    index = AugmentIndex(work / "index", collection="eval", cache_path=work / "unused-cache.jsonl")
    chunk_doc = chunk_docs(index)
    indexed = set(chunk_doc.values())
    train = {q: rels for q, rels in ds.split("train").items() if rels and set(rels) <= indexed}
    qids = sorted(train)
    random.Random(0).shuffle(qids)
    halves = (sorted(qids[: len(qids) // 2]), sorted(qids[len(qids) // 2:]))
    default = load_profile(None)
    scores: dict[float, list[np.ndarray]] = {w: [] for w in WEIGHTS}
    covered_masks = []
    for stored, searched in (halves, halves[::-1]):
        clear_human_queries(index)
        records = [{"text": ds.queries[q], "doc_id": d} for q in stored for d, g in sorted(train[q].items()) if g > 0]
        add_real_queries(index, records, holdout=[ds.queries[q] for q in searched])
        with_real = {r["doc_id"] for r in records}
        covered_masks.append(np.array([any(d in with_real for d in train[q]) for q in searched]))
        retriever = index.retriever
        for w in WEIGHTS:
            prof = replace(default, kind_weights={"real": w})
            rankings = {q: M.to_documents([h.chunk_id for h in retriever.search(ds.queries[q], k=10, profile=prof,
                                                                               with_text=False)], chunk_doc)[0]
                        for q in searched}
            scores[w].append(M.score_run(rankings, {q: train[q] for q in searched}, curve_ks=())["nDCG@10"])
    covered = np.concatenate(covered_masks)
    base = np.concatenate(scores[1.0])
    print(f"{len(qids)} SciFact train claims, two folds; {int(covered.sum())} searched claims share an abstract "
          "with a stored one\n")
    print("| real kind weight | nDCG@10 all | claims whose abstract holds a real query | the others | "
          "vs weight 1 [95% CI] |\n|---:|---:|---:|---:|---:|")
    for w in WEIGHTS:
        x = np.concatenate(scores[w])
        d, lo, hi = M.paired_bootstrap(x, base, n=5000, seed=0)
        print(f"| {w} | {x.mean():.4f} | {x[covered].mean():.4f} | {x[~covered].mean():.4f} | "
              f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
