"""The reranker study's table in benchmarks/RESULTS.md, rendered from its committed per-query files alone.

    python -m benchmarks.studies.reranker.report          # rewrite the block between the markers in RESULTS.md

One row per trained variant of each committed study result: the configuration chosen on the train split against
the hybrid tuned on train (test nDCG@10, paired bootstrap 95% interval, 5,000 resamples, seed 0), the variant's
own order of the default's top 20 (does it rank at all?), what training cost and what scoring one query cost.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.paths import REPO_ROOT
from rag_augment.eval import metrics as M

RESULTS = Path(__file__).resolve().parent / "results"
RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- reranker-study:start -->", "<!-- reranker-study:end -->"
WHAT = {"llm": "cross-encoder on the generator's queries", "pseudo": "cross-encoder on pseudo-queries (no LLM)",
        "adapted": "bi-encoder fine-tuned, one more dense leg",
        "llm+real": "cross-encoder on the generator's queries and half the train claims (first stage and weight "
                    "chosen on the other half)"}


def load_results(folder: Path = RESULTS) -> list[tuple[str, dict]]:
    out = []
    for f in sorted(folder.glob("*.json.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out.append((f.name[:-len(".json.gz")], json.load(fh)))
    return out


def _mean(pq: dict[str, float], qs: list[str]) -> float:
    return float(np.mean([pq[q] for q in qs]))


def _lift(pq: dict[str, float], base: dict[str, float], qs: list[str]) -> str:
    mean, lo, hi = M.paired_bootstrap(np.array([pq[q] for q in qs]), np.array([base[q] for q in qs]))
    return f"{100 * mean:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def _sources(meta: dict) -> str:
    """Who wrote the training queries: the generator's model file without its quantisation suffix, and counts."""
    by = meta["training_queries"]["by_source"]
    return ", ".join(f"{k.split(':', 1)[-1].split('-instruct')[0]} ({n})" for k, n in sorted(by.items()))


def render(results: list[tuple[str, dict]]) -> str:
    lines = ["| study result | test queries | hybrid tuned | default | variant | trained on | chosen on train: first "
             "stage, weight | test nDCG@10 | vs hybrid tuned [95% CI] | the trained model alone¹ | "
             "training (epochs, minutes) | query-time cost p50 (load) |",
             "|---|---:|---:|---:|---|---|---|---:|---:|---:|---|---:|"]
    for name, rec in results:
        pq, test = rec["per_query_nDCG@10"], rec["splits"]["test"]
        for variant, choice in rec["choices"].items():
            first = choice["first_stage"]
            chosen = pq[f"{variant}:chosen-on-train"]
            alone = pq.get(f"{variant}:default>rerank-only") or pq.get(f"{variant}:alone")
            r = rec["rerankers"][variant]
            meta = r["meta"]
            minutes = (meta["seconds"]["mining"] + meta["seconds"]["training"]) / 60
            lat = r["latency_ms_top20"]
            cost = (f"{lat['p50']} ms " + ("rerank top 20" if variant != "adapted" else "query embedding")
                    + f" ({r['load_after_timing'][0]:.1f})")
            shape = f"{meta.get('layers', 'all')} layers" + (f", {meta['max_length']} tokens"
                                                             if variant != "adapted" else "")
            lines.append(
                f"| {name} | {len(test)} | {_mean(pq['hybrid_tuned'], test):.3f} | {_mean(pq['default'], test):.3f} "
                f"| {variant}: {WHAT.get(variant, variant)}, {shape} | {_sources(meta)} | {first}, "
                f"{choice[first]['weight']:g} | {_mean(chosen, test):.3f} | "
                f"{_lift(chosen, pq['hybrid_tuned'], test)} | "
                f"{_mean(alone, test):.3f} | {meta['epochs_done']:g}, {minutes:.0f} | {cost} |")
    lines += ["", "¹ A reranker's own order of the default profile's top 20 (weight 100); the adapted bi-encoder's leg "
              "alone over the whole index."]
    return "\n".join(lines) + "\n"


def block(results: list[tuple[str, dict]]) -> str:
    return f"{START}\n{render(results)}{END}"


def committed_block(text: str | None = None) -> str:
    text = RESULTS_MD.read_text() if text is None else text
    return text[text.index(START):text.index(END) + len(END)]


def main() -> int:
    results = load_results()
    text = RESULTS_MD.read_text()
    RESULTS_MD.write_text(text.replace(committed_block(text), block(results)))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
