"""How many of an index's synthetic queries a round-trip filter would drop (`rag-augment train --round-trip K`):
a query is kept when the chunk legs alone, without the query's own vector and words, rank its parent in the top K.

Train-only: it reads the index's generated queries and nothing labelled. Promptagator credits this consistency
filter with part of its gains; it can only matter when it drops a real share of the training data.

    python -m benchmarks.studies.reranker.round_trip scifact1k-random-qwen15b
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks.paths import RUNS, command_line
from benchmarks.studies.reranker.study import HERE, RUN_SPECS, load, log, open_index
from rag_augment.rerank.training import TrainConfig
from rag_augment.rerank.training.pairs import index_queries, mine_groups


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.round_trip",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("run", choices=sorted(RUN_SPECS))
    ap.add_argument("--tops", default="1,3,10", help="the K values to count, comma-separated")
    args = ap.parse_args(argv)
    ds, spec = load(args.run)
    index, _ = open_index(args.run, ds, spec, RUNS / f"study-reranker-{args.run}")
    queries = index_queries(index)
    cfg = TrainConfig()
    rows = []
    for top in (int(k) for k in args.tops.split(",")):
        _, report = mine_groups(index, queries, cfg.negatives, cfg.mine_depth, top, cfg.seed)
        rows.append({"top": top, "queries": report.queries, "kept": report.kept,
                     "dropped_round_trip": report.dropped_round_trip, "kinds": report.kinds})
        log(json.dumps(rows[-1]))
    lines = [f"## Round-trip filter on {args.run}: synthetic queries kept", "",
             "| parent in the chunk legs' top K | queries | kept | dropped | kept % |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['top']} | {r['queries']} | {r['kept']} | {r['dropped_round_trip']} | "
              f"{100 * r['kept'] / max(1, r['queries']):.1f} |" for r in rows]
    lines += ["", f"- `{command_line('benchmarks.studies.reranker.round_trip', argv or sys.argv[1:])}`, "
                  f"{time.strftime('%Y-%m-%d')}"]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results" / f"round-trip-{args.run}.md").write_text(text)
    (HERE / "results" / f"round-trip-{args.run}.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
