"""Throughput of the rules generator (no model): chunks per second on copies of the 18F handbook chunks in the
test data, one batch per repeat. Prints the figures; asserts nothing (the unit suite checks correctness only).

    python benchmarks/perf/bench_rules_generator.py [--docs tests/data/handbook_18f] [--copies 400] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from rag_augment.chunking import chunk_documents, load_documents
from rag_augment.generators.rules import RulesGenerator
from rag_augment.types import Chunk

REPO = Path(__file__).resolve().parents[2]


def copies_of(chunks: list[Chunk], n: int) -> list[Chunk]:
    """n copies of every chunk under new ids (the rules generator's cost depends on the text, not the id)."""
    return [Chunk(chunk_id=f"{c.chunk_id}/{i}", doc_id=c.doc_id, text=c.text, content_hash=c.content_hash,
                  title=c.title, seeds=c.seeds) for i in range(n) for c in chunks]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=Path, default=REPO / "tests" / "data" / "handbook_18f",
                    help="folder of documents to chunk (default: the 18F handbook sample in tests/data)")
    ap.add_argument("--copies", type=int, default=400, help="copies of each chunk per batch (default 400)")
    ap.add_argument("--repeats", type=int, default=5, help="batches timed (default 5)")
    args = ap.parse_args()

    docs, _ = load_documents(args.docs)
    base = chunk_documents(docs)
    batch = copies_of(base, args.copies)
    gen = RulesGenerator()
    gen.generate_batch(base)  # warm up (regex compilation, first allocations)
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        results = gen.generate_batch(batch)
        rates.append(len(batch) / (time.perf_counter() - start))
        assert len(results) == len(batch)
    print(json.dumps({"benchmark": "rules_generator", "chunks_per_batch": len(batch), "distinct_chunks": len(base),
                      "repeats": args.repeats, "chunks_per_second_median": round(statistics.median(rates)),
                      "chunks_per_second_min": round(min(rates)), "chunks_per_second_max": round(max(rates)),
                      "python": platform.python_version(), "machine": platform.machine()}, indent=2))


if __name__ == "__main__":
    main()
