"""Why the model's queries cost the blended SciFact claims whose abstract holds a real query: for each such test
claim whose first relevant abstract ranks lower with the model's queries (scifact1k-qwen15b-real) than without them
(scifact1k-none-real), the abstracts that newly rank above it, and through which kind of query each was matched.

    python -m benchmarks.run_benchmarks scifact1k-qwen15b-real scifact1k-none-real   # the two run folders, first
    python -m benchmarks.lifecycle.blend_intruders                                   # prints the counts
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from benchmarks.paths import RUNS, SCIFACT, SUBSETS
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.datasets import load_dataset, restrict
from rag_augment.types import FEEDBACK, REAL


def first_relevant(doc_ids: list[str], relevant) -> int:
    return min((i for i, d in enumerate(doc_ids) if d in relevant), default=len(doc_ids))


def ranked_docs(index: AugmentIndex, text: str, k: int = 10):
    hits, seen = [], set()
    for h in index.query(text, k=k):
        if h.doc_id not in seen:
            seen.add(h.doc_id)
            hits.append(h)
    return hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=RUNS)
    args = ap.parse_args(argv)
    pool = json.loads((SUBSETS / "scifact_test_1000.json").read_text())
    ds = restrict(load_dataset(SCIFACT), pool["docs"], pool["queries"])
    test = ds.split("test")
    with_model = AugmentIndex(args.runs / "scifact1k-qwen15b-real" / "index", collection="eval")
    without = AugmentIndex(args.runs / "scifact1k-none-real" / "index", collection="eval")
    held = {q.doc_id for q, _ in without.store.iter_queries() if q.kind in (REAL, FEEDBACK)}
    covered = [q for q, rels in test.items() if held & set(rels)]
    moved, counts = Counter(), Counter()
    for qid in covered:
        rels = test[qid]
        w, n = ranked_docs(with_model, ds.queries[qid]), ranked_docs(without, ds.queries[qid])
        bw, bn = first_relevant([h.doc_id for h in w], rels), first_relevant([h.doc_id for h in n], rels)
        if bw <= bn:
            continue
        moved[(bn + 1, bw + 1)] += 1
        above_before = {h.doc_id for h in n[:bn]}
        for h in w[:bw]:
            if h.doc_id in above_before:
                continue
            kinds = {m["kind"] for m in h.matched_queries}
            counts["abstracts newly above the target"] += 1
            counts["matched through the model's queries"] += bool(kinds - {REAL, FEEDBACK})
            counts["matched through real queries"] += bool(kinds & {REAL, FEEDBACK})
            counts["matched through no query (chunk legs only)"] += not kinds
    print(f"{len(covered)} test claims whose abstract holds a real query; {sum(moved.values())} rank their first "
          "relevant abstract lower with the model's queries (rank without -> with: "
          + ", ".join(f"{a}->{b} x{c}" for (a, b), c in sorted(moved.items())) + ")")
    for what, n in counts.items():
        print(f"  {what}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
