"""llama.cpp builds compared: which compiler options leaving out AMX changes, and chunks per minute of the default
model with each build, timed in alternation in one run.

    python -m benchmarks.perf.bench_build                              # the compiler check and the installed build
    python -m benchmarks.perf.bench_build --build native-amx=/tmp/builds/native-amx \
        --build portable=/tmp/builds/portable --n 12 --repeat 3         # more builds, each a `pip install --target` dir

Each build is timed in its own child process (its folder first on sys.path), over the same sample_kb chunks as
`rag-augment index` cuts them, with the shipped local generator; a build that crashes is reported as such (the
canary catches it before the model is loaded in the child). Prints a markdown report.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rag_augment.generators import canary

REPO = Path(__file__).resolve().parents[2]
MARCHES = ("haswell", "skylake-avx512", "icelake-server", "znver3", "znver4", "sapphirerapids", "native")


def compiler_check(cc: str = "gcc") -> list[tuple[str, str]]:
    """(-march, what -mno-amx-* changes in the compiler's enabled target options) for each CPU family."""
    rows = []
    for march in MARCHES:
        def opts(extra: list[str], march: str = march) -> set[str]:
            out = subprocess.run([cc, f"-march={march}", *extra, "-Q", "--help=target"], capture_output=True,
                                 text=True).stdout
            return {" ".join(line.split()) for line in out.splitlines() if line.strip().startswith("-m")}
        base, noamx = opts([]), opts(canary.NO_AMX.split())
        if not base:
            rows.append((march, "not known to this compiler"))
            continue
        changed = sorted(o.split()[0] for o in base - noamx)
        rows.append((march, "identical" if not changed else "differs only in " + ", ".join(changed)))
    return rows


def child(n: int, seed: int) -> None:
    """Runs in the build's own process: time the default model on n chunks; print one JSON line."""
    from benchmarks.perf.bench_generation import load_folder_chunks, run
    from rag_augment.errors import RagAugmentError
    from rag_augment.generators.llama_cpp import local_generator
    from rag_augment.generators.prompts import PromptConfig

    info = canary.build_info()
    chunks = load_folder_chunks(REPO / "sample_kb" / "docs", n + 1, seed)
    try:
        gen = local_generator(prompt=PromptConfig(profile="hr_policy"))
    except RagAugmentError as exc:
        print(json.dumps({"build": info, "error": str(exc)[:160]}))
        return
    print(json.dumps({"build": info, **run(gen, chunks[1:], chunks[0])}))


def time_build(folder: str | None, n: int, seed: int) -> dict:
    env = dict(os.environ)
    paths = ([folder] if folder else []) + [str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "benchmarks.perf.bench_build", "--child", "--n", str(n),
                           "--seed", str(seed)], capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_build", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", default=[], metavar="NAME=DIR",
                    help="a llama-cpp-python installed with `pip install --target DIR`, timed beside the venv's")
    ap.add_argument("--n", type=int, default=12, help="sample_kb chunks per timing")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the builds this many times; report medians")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write every run's figures as JSON here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.n, args.seed)
        return

    builds: dict[str, str | None] = {"installed (scripts/build_llama_cpp.sh: native, no AMX)": None}
    builds.update(dict(spec.rsplit("=", 1) for spec in args.build))  # a name may hold "=", a folder not
    runs: dict[str, list[dict]] = {name: [] for name in builds}
    start_load = os.getloadavg()
    for rep in range(args.repeat):
        for name, folder in builds.items():
            runs[name].append(time_build(folder, args.n, args.seed))
            print(f"# rep {rep} {name}: {runs[name][-1]}", file=sys.stderr)
            time.sleep(1)
    print(f"Machine: {canary.cpu_model()}, {platform.machine()}, nproc={os.cpu_count()}; CPU flags "
          f"{' '.join(canary.cpu_flags())}; date {datetime.date.today()}; {args.n} sample_kb chunks, default model, "
          f"hr_policy prompt; median of {args.repeat} alternating run(s); load average {start_load[0]:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at the end\n")
    print(f"Command: `python -m benchmarks.perf.bench_build {shlex.join(sys.argv[1:])}`\n")
    print("## What leaving AMX out changes in the compiled code\n")
    print("gcc's enabled target options for `-march=X` against `-march=X " + canary.NO_AMX + "`:\n")
    print("| -march | difference |\n|---|---|")
    for march, diff in compiler_check():
        print(f"| {march} | {diff} |")
    print("\n## Chunks per minute by build\n")
    if args.out:
        args.out.write_text(json.dumps({"machine": canary.cpu_model(), "flags": canary.cpu_flags(), "n": args.n,
                                        "repeat": args.repeat, "date": str(datetime.date.today()), "runs": runs},
                                       indent=1) + "\n")
    print("Chunks per CPU-minute (the process's own CPU time) is steadier than chunks per minute when something else "
          "runs on the machine.\n")
    print("| build | llama.cpp features | chunks/min | chunks/CPU-min | vs installed (CPU-min) | queries/chunk | "
          "result |")
    print("|---|---|---:|---:|---:|---:|---|")
    base = None
    for name, rs in runs.items():
        ok = [r for r in rs if "chunks_per_min" in r]
        feats = next((" ".join(f.removeprefix("CPU : ") for f in r["build"]["features"]) for r in rs
                      if r.get("build", {}).get("features")), "?")
        if not ok:
            print(f"| {name} | {feats} | - | - | - | - | {rs[-1].get('error', '?')} |")
            continue
        wall, cpu = (statistics.median(r[k] for r in ok) for k in ("chunks_per_min", "chunks_per_cpu_min"))
        base = base or cpu
        print(f"| {name} | {feats} | {wall:.2f} | {cpu:.2f} | {cpu / base:.2f}x | "
              f"{statistics.median(r['queries_per_chunk'] for r in ok):.1f} | ok ({len(ok)} of {len(rs)} runs) |")


if __name__ == "__main__":
    main()
