"""Tune a fusion profile jointly on several train splits, from runs already made (issue 8's tuner: its profile
ships as `tune-start`, where the label-free tuner starts).

Each `rag-augment eval ... --tune` run keeps its train split's legs in `<run>/train_legs.json.gz`; this script
loads them, runs the same coordinate ascent as `--tune` on the mean of the sets' mean nDCG@10 (each set weighs
the same, however many queries it has) and writes the profile. The ascent starts from the shipped default, from
every other shipped profile and from the hybrid without synthetic queries tuned on the same sets; the best train
score wins. No eval split is read.

    python -m benchmarks.tune_default benchmarks/runs/scifact1k-qwen15b benchmarks/runs/sample_kb-qwen15b \\
        --name tune-start --out rag_augment/profiles  # (the shipped start; study profiles are in benchmarks/profiles)

(the run folders come from `python -m benchmarks.run_benchmarks scifact1k-qwen15b sample_kb-qwen15b`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.paths import load_named_profile, profile_names
from rag_augment.eval.harness import TRAIN_LEGS_FILE
from rag_augment.eval.systems import EVAL_DEPTH, hybrid_profile
from rag_augment.eval.tune import load_tune_set, tune_profile, write_profile
from rag_augment.profiles import load_profile

METRICS = ("nDCG@10", "R@10", "R@5")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tune_default",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of `rag-augment eval --tune`")
    ap.add_argument("--name", default="tune-start")
    ap.add_argument("--out", type=Path, default=None, help="profile folder (default: the package's profiles/)")
    ap.add_argument("--start", default=None, help="start profile (default: the shipped tune-start)")
    args = ap.parse_args(argv)

    sets = []
    for run in args.runs:
        path = run / TRAIN_LEGS_FILE
        if not path.exists():
            ap.error(f"{path}: missing; run `rag-augment eval ... --tune` into {run} first")
        sets.append(load_tune_set(path))
    note = "tuned jointly on " + ", ".join(f"{ts.name} ({len(ts.qrels)} queries)" for ts in sets)
    hybrid = tune_profile(sets, hybrid_profile(), "hybrid-tuned", EVAL_DEPTH, synthetic=False).profile
    start = args.start or "tune-start"
    others = [load_named_profile(n) for n in profile_names() if n not in (args.name, start)]
    result = tune_profile(sets, load_profile(start), args.name, EVAL_DEPTH, notes=note,
                          also_from=[*others, hybrid])
    path = write_profile(result.profile, args.out)

    print(f"{note}; {result.evaluated} profiles tried")
    print("| train set | " + " | ".join(f"{m} start -> tuned" for m in METRICS) + " |")
    print("|---|" + "---:|" * len(METRICS))
    for name, row in result.per_set.items():
        cells = [f"{row['start'][m]:.3f} -> {row['tuned'][m]:.3f}" for m in METRICS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nwritten to {path}:\n{json.dumps(json.loads(result.profile.to_json()), indent=1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
