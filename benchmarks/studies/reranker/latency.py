"""What reranking one query's top 20 costs, by depth and length, in one run on a quiet machine (issue 19's bar:
<= 150 ms p50 added per query).

Each configuration is the packaged MiniLM cut to N layers with a one-logit head, saved and loaded through the
product's own scorer (rag_augment.rerank.stage.CrossEncoderScorer, int8 linear layers as `query --rerank` runs it):
trained weights cost the same as these. Every query is a SciFact test claim scored against 20 abstracts of the
unpooled subset drawn at random (seeded); nearly every abstract fills the token budget, as the top 20 does.

    python -m benchmarks.studies.reranker.latency --queries 40
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.paths import command_line
from benchmarks.studies.reranker.study import HERE, load
from rag_augment.rerank.stage import CrossEncoderScorer, load_cross_encoder
from rag_augment.rerank.training.train import default_base

CONFIGS = [(2, 192), (3, 192), (4, 192), (6, 192), (6, 128), (4, 128)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.latency",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--tag", default="", help="suffix of the result files (another machine or day)")
    args = ap.parse_args(argv)
    ds, _ = load("scifact1k-random")
    rng = random.Random(0)
    claims = sorted(ds.split("test"))[:args.queries]
    docs = [d.text for d in ds.documents]
    work = [(ds.queries[q], rng.sample(docs, args.top)) for q in claims]
    load_start = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layers, length in CONFIGS:
            folder = Path(tmp) / f"{layers}L-{length}"
            ce = load_cross_encoder(default_base(), layers, length)
            ce.save_pretrained(str(folder))
            scorer = CrossEncoderScorer(folder)
            scorer.score(*work[0])  # warm-up
            ms = []
            for query, passages in work:
                t0 = time.perf_counter()
                scorer.score(query, passages)
                ms.append((time.perf_counter() - t0) * 1000)
            rows.append({"layers": layers, "max_length": length, "p50_ms": round(float(np.percentile(ms, 50)), 1),
                         "p95_ms": round(float(np.percentile(ms, 95)), 1), "queries": len(ms),
                         "load_after": round(os.getloadavg()[0], 2)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    lines = [f"## Rerank latency: one query's top {args.top}, int8, {os.cpu_count()} cores", "",
             "| layers | max tokens | p50 ms | p95 ms | load after |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['layers']} | {r['max_length']} | {r['p50_ms']} | {r['p95_ms']} | {r['load_after']} |"
              for r in rows]
    lines += ["", f"- `{command_line('benchmarks.studies.reranker.latency', argv or sys.argv[1:])}`, "
                  f"{time.strftime('%Y-%m-%d')}, load {load_start:.2f} before; {len(claims)} test claims x "
                  f"{args.top} random abstracts each; torch threads {_threads()}; CPU {_cpu()}"]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results" / f"latency{args.tag}.md").write_text(text)
    (HERE / "results" / f"latency{args.tag}.json").write_text(json.dumps(rows, indent=1))
    return 0


def _cpu() -> str:
    """The processor's model name: the same command on another host of the same size can differ by half."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _threads() -> int:
    import torch
    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
