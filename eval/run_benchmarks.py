"""The benchmark runs behind eval/RESULTS.md, and the regeneration of its "## Retrieval quality" section.

    python eval/run_benchmarks.py pool sample_kb xquad scifact     # run (sequentially), then rewrite RESULTS.md
    python eval/run_benchmarks.py --results-only                   # rewrite RESULTS.md from eval/runs/*/result.json

Run from the repository root. Data sets are read from ../shared (see its README); run folders go to eval/runs/
(gitignored); the plots that RESULTS.md shows are copied to eval/results/. Each run needs only its cache file:
the rules generator is deterministic and fast, the model runs replay committed caches (--generator replay).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from rag_augment.eval import command
from rag_augment.eval.report import results_section, write_run

SHARED = Path("../shared")
SCIFACT = str(SHARED / "datasets" / "scifact")
XQUAD = str(SHARED / "datasets" / "xquad_en")
POOL_DIR = SHARED / "experiments" / "scifact_pool_qwen15b"
POOL_CACHE = "eval/cache/scifact_pool_qwen15b.jsonl"
RESULTS = Path("eval/RESULTS.md")
PNG_DIR = Path("eval/results")
SECTION = "## Retrieval quality"

# name -> `rag-augment eval` arguments. Model runs replay a committed cache; see eval/cache/PROVENANCE.md.
RUNS: dict[str, list[str]] = {
    "sample_kb-rules": ["--dataset", "sample_kb", "--split", "test", "--generator", "rules", "--tune",
                        "--train-split", "train", "--profile-name", "sample_kb"],
    "xquad-rules": ["--dataset", XQUAD, "--split", "test", "--generator", "rules", "--chunk-size", "2048"],
    "scifact-rules": ["--dataset", SCIFACT, "--split", "test", "--generator", "rules", "--chunk-size", "2048",
                      "--tune", "--train-split", "train", "--profile-name", "scifact"],
    # Need a cache generated with the local model (another session's work): see the TODO in RESULTS.md.
    "sample_kb-qwen15b": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                          "--cache", "eval/cache/sample_kb_qwen15b.jsonl", "--tune", "--train-split", "train",
                          "--profile-name", "sample_kb-qwen15b"],
    "scifact1k-qwen15b": ["--dataset", SCIFACT, "--split", "test", "--generator", "replay",
                          "--cache", "eval/cache/scifact1k_qwen15b.jsonl", "--chunk-size", "2048",
                          "--subset", "1000", "--subset-seed", "0", "--tune", "--train-split", "train",
                          "--profile-name", "scifact1k-qwen15b"],
}
ORDER = ["pool-qwen15b", "scifact-rules", "scifact1k-qwen15b", "sample_kb-rules", "sample_kb-qwen15b",
         "xquad-rules"]


def log_progress(total: int, desc: str):
    """Progress that also shows in a log file (the CLI's bars hide when stderr is not a terminal)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=20, ascii=True)


def _parse(name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rag-augment")
    command.add_parser(parser.add_subparsers(dest="command"))
    argv = ["eval", *RUNS[name], "--name", name]
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    return args


def run_pool() -> None:
    """Cross-check against shared/experiments/scifact_pool_qwen15b: its 100 test queries and 663 documents, its
    generations (imported into POOL_CACHE), no filters, every leg retrieved in full, the README's systems."""
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.eval.datasets import load_dataset, restrict
    from rag_augment.eval.harness import EvalSpec, run_eval
    from rag_augment.eval.replay import ReplayGenerator
    from rag_augment.eval.systems import ablation_systems
    from rag_augment.filters import FilterConfig

    pool = json.loads((POOL_DIR / "pool.json").read_text())
    ds = restrict(load_dataset(SCIFACT), pool["docs"], pool["queries"], {"pool": str(POOL_DIR / "pool.json")})
    no_filters = FilterConfig(min_words=0, max_words=10_000, not_a_query=False, dedupe_threshold=0, pii=False,
                              injection=False)
    # every leg in full (663 documents, 4,328 query vectors), as the experiment scored them in numpy
    depths = {"chunk_dense": 1000, "chunk_lexical": 1000, "doc2query_lexical": 1000, "query_dense": 5000,
              "query_lexical": 5000}
    spec = EvalSpec(name="pool-qwen15b", split="test", chunking=ChunkingConfig(2048, 32), filters=no_filters,
                    depths=depths, command="python eval/run_benchmarks.py pool")
    out = Path("eval/runs/pool-qwen15b")
    systems = ablation_systems()
    pairs = [(s.key, "dense") for s in systems if s.key != "dense"]
    result = run_eval(ds, ReplayGenerator(POOL_CACHE), out, spec, cache_path=POOL_CACHE, systems=systems,
                      pairs=pairs, progress=log_progress)
    write_run(result, out)


def write_results() -> list[str]:
    """Rewrite the Retrieval quality section from the run folders that exist; returns the names written."""
    results, names = [], []
    for name in ORDER:
        path = Path("eval/runs") / name / "result.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            names.append(name)
            PNG_DIR.mkdir(parents=True, exist_ok=True)
            for png in path.parent.glob(f"{name}-*.png"):
                shutil.copy(png, PNG_DIR / png.name)
    body = results_section(results, png_dir=PNG_DIR.name)
    missing = [n for n in ORDER if n not in names]
    if missing:
        body += "\n### TODO: runs not yet made\n\n" + "\n".join(
            f"- `{n}`: `rag-augment eval {' '.join(RUNS.get(n, []))} --name {n}` (needs "
            f"{_cache_of(n)})" for n in missing) + "\n"
    _replace_section(body)
    return names


def _cache_of(name: str) -> str:
    args = RUNS.get(name, [])
    return args[args.index("--cache") + 1] if "--cache" in args else "nothing but the data set"


def _replace_section(body: str) -> None:
    """Replace only this file's Retrieval quality section; other sections stay as others wrote them."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Results\n"
    block = f"{SECTION}\n\n<!-- generated by eval/run_benchmarks.py: edit the intro there -->\n\n{INTRO}\n{body}"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(text)


INTRO = """Every run below scores the same index with several systems (same chunks, same embedder, same
generated queries from one cache; see rag_augment/eval/systems.py for exactly what each system does). Metrics are
on distinct documents; lifts are paired bootstrap 95% intervals (5,000 resamples, seed 0) in points x100;
latency is per query on the machine named, embedding included, legs run in sequence, measured at the eval depth.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help=f"pool and/or {', '.join(RUNS)}")
    ap.add_argument("--results-only", action="store_true")
    args = ap.parse_args(argv)
    for name in [] if args.results_only else args.runs:
        if name in ("pool", "pool-qwen15b"):
            run_pool()
        elif name in RUNS:
            command.execute(_parse(name), progress=log_progress)
        else:
            ap.error(f"unknown run {name!r}")
    print("RESULTS.md: " + ", ".join(write_results()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
