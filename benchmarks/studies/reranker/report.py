"""The reranker study's table and verdict, rendered from its committed per-query files alone: the verdict in
benchmarks/RESULTS.md, both on its detail page benchmarks/results/reranker.md (`<!-- rendered:reranker-verdict -->`
and `<!-- rendered:reranker-table -->` blocks, filled by `[[rr verdict]]` and `[[rr table]]` in
benchmarks/results/notes.md).

    python -m benchmarks.studies.reranker.report          # rewrite those blocks (as --results-only does)

One row per trained variant of each committed study result: the configuration chosen on the train split against
the hybrid tuned on train (test nDCG@10, paired bootstrap 95% interval, 5,000 resamples, seed 0), the variant's
own order of the default's top 20 (does it rank at all?), what training cost and what scoring one query cost.
A second block sets the same files, and the latency probes' (results/latency*.json), against the issue's bar.
"""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.paths import REPO_ROOT
from rag_augment import metrics as M

RESULTS = Path(__file__).resolve().parent / "results"
RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
DETAIL_MD = REPO_ROOT / "benchmarks" / "results" / "reranker.md"
TABLE_BLOCK, VERDICT_BLOCK = "reranker-table", "reranker-verdict"
BAR_RUNS = ("scifact1k-random", "scifact1k-random-qwen15b")  # the bar: unpooled SciFact, local queries
RIVALS = ("dense", "bm25", "hybrid", "hybrid_tuned", "default")
BAR_LIFT, BAR_MINUTES, BAR_MS = 2.0, 60, 150
DEFAULT_SHAPE = (6, 128)  # the study's recipe: all 6 layers, 128 tokens
FITTED_SHAPE = (4, 128)   # the shallowest `rag-augment train` fits to a latency budget (rerank/depth.py)
RECIPES = (DEFAULT_SHAPE, FITTED_SHAPE)
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


def _bootstrap(pq: dict[str, float], base: dict[str, float], qs: list[str]) -> tuple[float, float, float]:
    """Mean paired difference and its 95% interval, in nDCG points (x100)."""
    mean, lo, hi = M.paired_bootstrap(np.array([pq[q] for q in qs]), np.array([base[q] for q in qs]))
    return 100 * mean, 100 * lo, 100 * hi


def _lift(pq: dict[str, float], base: dict[str, float], qs: list[str]) -> str:
    return "{:+.1f} [{:+.1f}, {:+.1f}]".format(*_bootstrap(pq, base, qs))


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


def _rows(results: list[tuple[str, dict]]):
    """(result name, record, variant, meta) of every trained configuration except the pseudo-query controls."""
    for name, rec in results:
        for variant in rec["choices"]:
            if variant != "pseudo":
                yield name, rec, variant, rec["rerankers"][variant]["meta"]


def load_latencies(folder: Path = RESULTS) -> list[tuple[str, str, dict[tuple[int, int], float]]]:
    """(file, CPU model or "", p50 ms by (layers, tokens)) of every latency probe."""
    out = []
    for f in sorted(folder.glob("latency*.json")):
        p50 = {(r["layers"], r["max_length"]): r["p50_ms"] for r in json.loads(f.read_text())}
        md = f.with_name(f.name[:-len(".json")] + ".md")
        text = md.read_text() if md.exists() else ""
        cpu = text.rsplit("; CPU ", 1)[1].strip() if "; CPU " in text else ""
        out.append((f.name, cpu, p50))
    return out


def render_verdict(results: list[tuple[str, dict]], latencies: list[tuple[str, str, dict[tuple[int, int], float]]]
                   ) -> str:
    bar, other, minutes = [], [], []
    for name, rec, variant, meta in _rows(results):
        pq, test = rec["per_query_nDCG@10"], rec["splits"]["test"]
        chosen = pq[f"{variant}:chosen-on-train"]
        recipe = variant != "adapted" and (meta.get("layers"), meta.get("max_length")) in RECIPES
        if rec["run"].startswith("scifact1k") and recipe:
            minutes.append((meta["seconds"]["mining"] + meta["seconds"]["training"]) / 60)
        if rec["run"] in BAR_RUNS:
            bar.append((name, variant, _bootstrap(chosen, pq["hybrid_tuned"], test)))
        elif variant == "adapted" or recipe:
            rival = max(RIVALS, key=lambda r: (_mean(pq[r], test), r))
            other.append((name, variant, rival, _bootstrap(chosen, pq[rival], test)))
    lifts = sorted(m for _, _, (m, _, _) in bar)
    best = max(bar, key=lambda b: b[2][0])
    met = [b for b in bar if b[2][0] >= BAR_LIFT and b[2][1] > 0]
    fmt = "{:+.1f} [{:+.1f}, {:+.1f}]".format
    lines = [f"- **Quality, the bar's run** (unpooled SciFact, {', '.join(BAR_RUNS)}): {len(bar)} trained "
             f"configurations, each chosen on train, lift the tuned hybrid by {lifts[0]:+.1f} to {lifts[-1]:+.1f} "
             f"nDCG@10 points (median {float(np.median(lifts)):+.1f}); {sum(1 for b in bar if b[2][1] > 0)} of them "
             f"with the interval above 0. The largest is {best[0]} ({best[1]}): {fmt(*best[2])}. "
             f"{len(met)} meet the bar (>= {BAR_LIFT:+g} with the interval above 0); the median is "
             f"{BAR_LIFT - float(np.median(lifts)):.1f} points short of it."]
    worst = min(other, key=lambda o: o[3][0])
    lines += [f"- **The other runs** (6 or 4 layers over 128 tokens, and the adapted leg, chosen on train, against the "
              f"best rival "
              f"on test): {len(other)} configurations, from {worst[3][0]:+.1f} ({worst[0]}, {worst[1]} vs "
              f"{worst[2]}: {fmt(*worst[3])}) to {max(o[3][0] for o in other):+.1f}; "
              f"{sum(1 for o in other if o[3][2] < 0)} of them significantly below it."]
    lines += [f"- **Training** (6 or 4 layers over 128 tokens on a SciFact-1k index's queries): {min(minutes):.0f} to "
              f"{max(minutes):.0f} minutes on 2 cores "
              f"(bar: {BAR_MINUTES})."]
    hosts = "; ".join(f"{f}{' (' + cpu + ')' if cpu else ''}: " + ", ".join(
        f"{p50[s]} ms at {s[0]} layers" for s in RECIPES if s in p50) for f, cpu, p50 in latencies)
    under = ", ".join(f"{s[0]} layers on {sum(1 for *_, p50 in latencies if p50.get(s, BAR_MS + 1) <= BAR_MS)} of "
                      f"{sum(1 for *_, p50 in latencies if s in p50)} hosts" for s in RECIPES)
    lines += [f"- **Latency** (scoring one query's top 20 over {DEFAULT_SHAPE[1]} tokens, int8, p50, quiet 2-core "
              f"hosts): {hosts}. Within {BAR_MS} ms: {under}."]
    return "\n".join(lines) + "\n"


def committed_block(name: str, path: Path = DETAIL_MD) -> str:
    """The body of the rendered block NAME as `path` holds it now (without its markers and generated-by line)."""
    text = path.read_text()
    start, end = f"<!-- rendered:{name}:start -->\n", f"<!-- rendered:{name}:end -->"
    body = text[text.index(start) + len(start):text.index(end)]
    return body.split("\n", 1)[1] if body.startswith("<!-- generated by") else body


def main() -> int:
    from benchmarks import run_benchmarks as rb

    results, latencies = load_results(), load_latencies()
    committed = rb.load_results()
    for path in (RESULTS_MD, DETAIL_MD):
        path.write_text(rb.render_blocks(path.read_text(), committed))
    print(render_verdict(results, latencies))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
