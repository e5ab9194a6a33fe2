"""Run the lifecycle benchmark on a set, write its per-query files and render its table and curve.

    python -m benchmarks.lifecycle xquad [--block 100] [--fix-share 0.5] [--feedback-every 10] [--tune-every 0]
    python -m benchmarks.lifecycle xquad --render-only
    python -m benchmarks.lifecycle scifact --render-only --out benchmarks/lifecycle/results/scifact-step-aside \
        --compare benchmarks/lifecycle/results/scifact      # a variant against the base run, paired per query

Uses the rules generator (no model) and the MiniLM embedder; the index homes go under benchmarks/runs/lifecycle-<set>
(gitignored), the committed files under benchmarks/lifecycle/results/<set>/ (or --out).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from benchmarks.lifecycle import files
from benchmarks.lifecycle.loop import Config, run
from benchmarks.lifecycle.render import compare, render
from benchmarks.lifecycle.sets import SETS, load_set
from benchmarks.paths import RUNS, command_line, shown


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lifecycle", description=__doc__.split("\n")[0])
    p.add_argument("set", choices=sorted(SETS))
    defaults = Config()
    for f in fields(Config):
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            p.add_argument("--" + f.name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=value)
        else:
            p.add_argument("--" + f.name.replace("_", "-"), type=type(value), default=value)
    p.add_argument("--out", type=Path, help="folder of the per-query files (default results/<set>)")
    p.add_argument("--work", type=Path, help="folder of the index homes (default benchmarks/runs/lifecycle-<set>)")
    p.add_argument("--render-only", action="store_true", help="only render table.md and curve.png from the files")
    p.add_argument("--compare", type=Path, metavar="BASE", help="with --render-only: also print this run's learning "
                   "index against the run in BASE (a folder of per-query files), paired per query")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    out = args.out or files.RESULTS / args.set
    if not args.render_only:
        cfg = Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
        ls = load_set(args.set, cfg.seed)
        result = run(ls, cfg, args.work or RUNS / f"lifecycle-{args.set}")
        result["run"]["command"] = command_line("benchmarks.lifecycle", argv)
        files.write_run(out, result)
    table, png = render(out)
    print(f"wrote {shown(table)} and {shown(png)}")
    if args.compare:
        print(compare(args.compare, out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
