"""Would another way to collapse a chunk's synthetic-query vectors into one score help? Train claims only.

The query_dense leg ranks a chunk by its best query vector (max). Alternatives that also reward several matching
queries are tried on the SciFact subset's 328 covered TRAIN claims: the child hits are read again from the run's
index (benchmarks/runs/scifact1k-qwen15b, made by `python -m benchmarks.run_benchmarks scifact1k-qwen15b`),
collapsed each way, put in place of the query_dense leg of the saved train legs, and the fusion profile is tuned on
them from every shipped profile and the tuned hybrid (as benchmarks/tune_default.py does). Prints train nDCG@10 per
aggregation.

    python -m benchmarks.studies.child_aggregation.study [--run benchmarks/runs/scifact1k-qwen15b]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from benchmarks.paths import RUNS, SCIFACT, load_named_profile, profile_names
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.datasets import load_dataset
from rag_augment.eval.harness import TRAIN_LEGS_FILE
from rag_augment.eval.systems import EVAL_DEPTH, QueryLegs, hybrid_profile, single_leg
from rag_augment.eval.tune import TuneSet, evaluate, load_tune_set, tune_profile
from rag_augment.fusion import Ranked
from rag_augment.profiles import load_profile


def _second(v: list[float]) -> float:
    return v[1] if len(v) > 1 else 0.0


AGGREGATIONS = {
    "max (shipped)": lambda v: v[0],
    "max + 0.5 x second": lambda v: v[0] + 0.5 * _second(v),
    "mean of top two": lambda v: (v[0] + (v[1] if len(v) > 1 else v[0])) / 2,
    "log-sum-exp, t=0.05": lambda v: 0.05 * math.log(sum(math.exp(x / 0.05) for x in v)),
    "log-sum-exp, t=0.02": lambda v: 0.02 * math.log(sum(math.exp(x / 0.02) for x in v)),
}


def collapse(hits: list[tuple[str, float]], agg) -> Ranked:
    per: dict[str, list[float]] = {}
    for parent, score in hits:  # best first, as Chroma returns them
        per.setdefault(parent, []).append(score)
    return sorted(((p, agg(v)) for p, v in per.items()), key=lambda kv: (-kv[1], kv[0]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.child_aggregation.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--run", type=Path, default=RUNS / "scifact1k-qwen15b",
                    help="the scifact1k-qwen15b run folder (default: benchmarks/runs/scifact1k-qwen15b)")
    ap.add_argument("--dataset", type=Path, default=SCIFACT,
                    help="the SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    args = ap.parse_args(argv)
    run = args.run
    path = run / TRAIN_LEGS_FILE
    if not path.exists():
        raise SystemExit(f"{path}: missing; run `python -m benchmarks.run_benchmarks scifact1k-qwen15b` first")
    ts = load_tune_set(path)
    ds = load_dataset(args.dataset)
    index = AugmentIndex(run / "index", collection="eval", cache_path=run / "study-unused-cache.jsonl")
    _ = index.retriever  # the property loads the lexical index: its query -> parent map
    parent = index.lexical.query_parent
    qids = sorted(ts.qrels)
    children = {}
    for q, emb in zip(qids, index.embedder.embed([ds.queries[q] for q in qids])):
        hits = index.store.search("queries", emb, EVAL_DEPTH["query_dense"], include_meta=False)
        children[q] = [(parent[h[0]], h[1]) for h in hits]
    hybrid = tune_profile([ts], hybrid_profile(), "hybrid", EVAL_DEPTH, synthetic=False).profile
    starts = [load_profile("default")] + [load_named_profile(n) for n in profile_names() if n != "default"] + [hybrid]
    print(f"{len(qids)} SciFact train claims; tuned hybrid without synthetic queries, train nDCG@10 "
          f"{evaluate(hybrid, ts.legs, ts.qrels, ts.chunk_doc)['nDCG@10']:.4f}\n")
    print("| aggregation | query vectors alone | tuned fusion |\n|---|---:|---:|")
    for name, agg in AGGREGATIONS.items():
        legs = {q: QueryLegs(legs={**ql.legs, "query_dense": collapse(children[q], agg)}, child_rank=ql.child_rank)
                for q, ql in ts.legs.items()}
        alone = evaluate(single_leg("query_dense", EVAL_DEPTH["query_dense"]), legs, ts.qrels, ts.chunk_doc)
        tuned = tune_profile([TuneSet(ts.name, legs, ts.qrels, ts.chunk_doc)], starts[0], "x", EVAL_DEPTH,
                             also_from=starts[1:])
        print(f"| {name} | {alone['nDCG@10']:.4f} | {tuned.score:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
