"""Issue 31's done-when for `train`: does the reranker's self-check install only what helps on a labelled test split?

For one labelled set, the index is built as the reranker study builds it (study.load / study.open_index: the
committed generation cache replayed, nothing generated, human queries cleared). Then the product's own path runs
with its defaults (those of `rag-augment train`) and a recorded time budget: `index.train_reranker(TrainConfig(
max_minutes=...))` trains the cross-encoder on the index's synthetic queries and `gate_reranker` checks it on
held-out probes, keeping it (installed) only when it wins beyond the interval. Its verdict is recorded (probe gain,
interval, probes, installed or not); the product may also refuse to train (too slow here, or a budget that
undertrains), which is recorded as such.

Then every test query of the set is ranked twice with the index's current profile, as `query` ranks it: without
the reranker (the ranking the gate would replace) and with the trained reranker at the weight it was trained for,
forced on even when the gate switched it off, so that both of the gate's decisions can be judged. nDCG@10 on
distinct documents (rag_augment.metrics), the reranked top N followed by the fused ranking below it; paired
bootstrap (5,000 resamples, seed 0) at rendering. Nothing is chosen on any split: the labels only score.

    flock /tmp/heavy.lock python -m benchmarks.studies.reranker.gate_check sample_kb-qwen05b --max-minutes 10
    python -m benchmarks.studies.reranker.gate_check --render     # results/gate-check.md from the committed files

Per-query results: results/gate-<set>.json.gz; the table: results/gate-check.md (rendered from those files alone).
Agreement (issue 31's done-when): an installed reranker must be at or above the ranking it replaced on test (the
mean gain >= 0; "beyond the lower bound" when the interval's lower end is >= 0 too); a reranker left off agrees
unless its test gain is above 0 beyond the interval (a missed win).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag_augment import metrics as M
from rag_augment.eval.harness import machine_info

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TABLE = RESULTS / "gate-check.md"
PREFIX = "gate-"
BOOTSTRAP = {"n": 5000, "seed": 0}


# ---------------------------------------------------------------- judging and rendering (no index needed)

def agreement(installed: bool, gain: float, lo: float, hi: float) -> tuple[bool, str]:
    """Whether the gate's decision agrees with the test split (gain and interval of with-reranker minus before)."""
    if installed:
        if lo >= 0:
            return True, "yes (at or above, interval's lower end >= 0)"
        if gain >= 0:
            return True, "yes (at or above, within the interval)"
        if hi >= 0:
            return False, "NO: installed, below on test (within the interval)"
        return False, "NO: installed, worse on test beyond the interval"
    if lo > 0:
        return False, "NO: left off, a missed win (test interval above 0)"
    return True, "yes (left off; no clear test win)"


def test_gain(rec: dict) -> tuple[float, float, float]:
    """Mean nDCG@10 gain of the reranker over the ranking before on the test split, with its interval (0-1)."""
    pq, test = rec["per_query_nDCG@10"], rec["splits"]["test"]
    return M.paired_bootstrap(np.array([pq["with_reranker"][q] for q in test]),
                              np.array([pq["before"][q] for q in test]), **BOOTSTRAP)


def load_records(folder: Path = RESULTS) -> list[tuple[str, dict]]:
    out = []
    for f in sorted(folder.glob(f"{PREFIX}*.json.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out.append((f.name[len(PREFIX):-len(".json.gz")], json.load(fh)))
    return out


def points(d: float, lo: float, hi: float) -> str:
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def render(records: list[tuple[str, dict]]) -> str:
    lines = ["## Issue 31: the reranker's self-check against labelled test splits", "",
             "`rag-augment train`'s defaults (the product's `index.train_reranker`), its self-check's verdict on "
             "held-out probes, and the same reranker on the set's test queries at the weight it was trained for "
             "(forced on when the self-check left it off) against the ranking before it. Gains in nDCG@10 points, "
             "paired bootstrap 95% interval.", "",
             "| set (cache) | trained | probes | probe gain [95% CI] | installed? | test queries | test nDCG@10 "
             "before / with | test gain [95% CI] | wins/losses | agrees? |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---|"]
    notes, agree, judged = [], 0, 0
    for name, rec in records:
        cache = rec["index"]["cache"]
        if rec.get("refused"):
            lines.append(f"| {name} ({cache}) | refused | - | - | no (train stopped) | - | - | - | - | "
                         "n/a (nothing trained) |")
            notes.append(f"- {name}: `rag-augment train` refused: {rec['refused']}")
        else:
            t, gate = rec["train"], rec["gate"]
            pq, test = rec["per_query_nDCG@10"], rec["splits"]["test"]
            before = np.array([pq["before"][q] for q in test])
            after = np.array([pq["with_reranker"][q] for q in test])
            g = test_gain(rec)
            ok, label = agreement(gate["installed"], *g)
            judged += 1
            agree += ok
            wl = M.wins_losses(after, before)
            minutes = (t["seconds"]["mining"] + t["seconds"]["training"]) / 60
            installed = "yes" + (" (forced)" if gate.get("forced") else "") if gate["installed"] else "no (weight 0)"
            lines.append(
                f"| {name} ({cache}) | {t['layers']} layers, {t['steps']}/{t['steps_total']} steps "
                f"({t['epochs_done']:g} epoch), {minutes:.1f} min | {gate['queries']} | "
                f"{points(gate['delta'], gate['lo'], gate['hi'])} | {installed} | {len(test)} | "
                f"{before.mean():.4f} / {after.mean():.4f} | {points(*g)} | {wl[0]}/{wl[1]} | {label} |")
        m = rec["machine"]
        notes.append(f"- {name}: `{rec['command']}` ({rec['date']}, {m.get('cpu') or 'CPU not recorded'}, "
                     f"{m['cpus']} cores, load "
                     f"{m['load_start'][0]:.1f} -> {m['load_end'][0]:.1f}): index {rec['index']['chunks']} chunks, "
                     f"{rec['index']['query_vectors']} query vectors; budget {rec['budget_minutes']:g} min"
                     + ("" if rec.get("refused") else
                        f", depth {_depth(rec['train'])}; scored at weight {rec['scored_weight']:g} on the top "
                        f"{rec['top_n']} (rerank p50 {rec['rerank_ms_p50']:.0f} ms); {rec['seconds_total'] / 60:.1f} "
                        "min in all"))
    lines += ["", f"{agree} of {judged} trained rerankers' self-check decisions agree with the test split.", "",
              *notes, ""]
    return "\n".join(lines)


def _depth(train: dict) -> str:
    fit = train.get("depth_fitted")
    if not fit:
        return f"{train['layers']} layers (not fitted)"
    ms = ", ".join(f"{n} layers {v:g} ms" for n, v in fit["measured_ms"].items())
    return f"fitted to {fit['budget_ms']:g} ms here ({ms})"


# ---------------------------------------------------------------- one run

def run_set(name: str, max_minutes: float, smoke: bool, argv: list[str]) -> dict:
    from benchmarks.paths import RUNS, command_line
    from benchmarks.studies.reranker.study import load, log, open_index
    from rag_augment.errors import ConfigError
    from rag_augment.eval.harness import chunk_docs
    from rag_augment.eval.systems import MAX_K
    from rag_augment.rerank import load_reranker
    from rag_augment.rerank.training import TrainConfig

    started = time.time()
    load_start = os.getloadavg()
    ds, spec = load(name)
    embedder = None
    work = RUNS / f"gate-check-{name}{'-smoke' if smoke else ''}"
    # the product's defaults (`rag-augment train`'s are TrainConfig's) with a budget; the smoke run only checks
    # the script: a 1-layer model, a hash embedder and a dozen test queries
    config = TrainConfig(max_minutes=max_minutes)
    if smoke:
        from rag_augment.testing import HashEmbedder
        embedder = HashEmbedder(128)
        config = TrainConfig(layers=1, max_length=64, latency_ms=None)
    index, info = open_index(name, ds, spec, work, embedder)
    test = sorted(ds.split("test"))[:12 if smoke else None]
    qrels = ds.split("test")
    log(f"{name}: {info['chunks']} chunks, {info['query_vectors']} query vectors, {len(test)} test queries; "
        f"training (budget {max_minutes:g} min) ...")
    record = {"set": name, "command": command_line("benchmarks.studies.reranker.gate_check", argv),
              "date": time.strftime("%Y-%m-%d"), "budget_minutes": max_minutes,
              "train_config": {**asdict(config), "kinds": list(config.kinds)},
              "index": {**{k: info[k] for k in ("documents", "chunks", "query_vectors", "queries_by_kind",
                                                "chunks_generated_this_run", "cache_hits")},
                        "cache": Path(spec["cache"]).name, "chunk_size": spec["chunk_size"],
                        "pool": Path(spec["pool"]).name if spec["pool"] else None},
              "machine": {"cpus": os.cpu_count(), "cpu": machine_info()["cpu"], "load_start": load_start},
              "refused": None}
    t0 = time.time()
    try:
        meta = index.train_reranker(config)   # trains, then gate_reranker (the self-check), as `train` does
    except ConfigError as exc:
        meta = None
        record["refused"] = str(exc)
        log(f"train refused: {exc}")
    record["seconds_train_and_gate"] = round(time.time() - t0, 1)
    per_query: dict[str, dict[str, float]] = {"before": {}, "with_reranker": {}}
    top10: dict[str, dict[str, list[str]]] = {"before": {}, "with_reranker": {}}
    if meta is not None:
        record["train"] = {k: meta.get(k) for k in ("base_model", "layers", "max_length", "depth_fitted", "steps",
                                                    "steps_total", "steps_planned", "epochs_done",
                                                    "stopped_by_budget", "seconds", "loss_every_50_steps",
                                                    "cpu_threads")}
        record["train"]["training_queries"] = meta["training_queries"]
        record["gate"] = meta["self_check"]
        record["rerank"] = meta["rerank"]
        log(f"self-check: {json.dumps(meta['self_check'])}")
        rr = meta["rerank"]
        weight = float(rr.get("trained_weight", rr.get("weight", 1.0)))
        stage = load_reranker(index, weight=weight)   # forced on at the weight it was trained for
        record["scored_weight"], record["top_n"] = weight, stage.top_n
        retriever = index.retriever
        profile = retriever.profile
        record["profile"] = json.loads(profile.to_json())
        chunk_doc = chunk_docs(index)
        ms = []
        for q in test:
            text = ds.queries[q]
            legs = retriever.legs_for(text, profile=profile)
            fused = [h.chunk_id for h in retriever.hits_from(legs, profile, MAX_K, with_text=False)]
            t1 = time.perf_counter()
            head = [h.chunk_id for h in retriever.hits_from(legs, profile, stage.top_n, with_text=False,
                                                             reranker=stage, query=text)]
            ms.append(1000 * (time.perf_counter() - t1))
            for label, ranking in (("before", fused), ("with_reranker", head + fused[len(head):])):
                docs = M.to_documents(ranking, chunk_doc)[0]
                per_query[label][q] = M.score_query(docs, qrels[q])["nDCG@10"]
                top10[label][q] = docs[:10]
        record["rerank_ms_p50"] = round(float(np.percentile(ms, 50)), 1)
        log(f"test nDCG@10: before {np.mean(list(per_query['before'].values())):.4f}, with the reranker "
            f"{np.mean(list(per_query['with_reranker'].values())):.4f}")
    # per_query_nDCG@10, splits and an empty choices keep this file readable by the study's report.py, which
    # reads every *.json.gz in results/ and renders one row per entry of "choices" (none here)
    record.update({"per_query_nDCG@10": per_query, "top10_documents": top10, "splits": {"test": test},
                   "choices": {}})
    record["machine"]["load_end"] = os.getloadavg()
    record["seconds_total"] = round(time.time() - started, 1)
    return record


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.gate_check",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("set", nargs="?", help="a run of the reranker study (study.RUN_SPECS)")
    ap.add_argument("--max-minutes", type=float, default=10.0, help="`rag-augment train --max-minutes`")
    ap.add_argument("--render", action="store_true", help="only render results/gate-check.md from the files")
    ap.add_argument("--smoke", action="store_true", help="check the script in a minute; nothing written here")
    args = ap.parse_args(argv)
    if args.set and not args.render:
        from benchmarks.studies.reranker.study import RUN_SPECS
        if args.set not in RUN_SPECS:
            ap.error(f"unknown set {args.set!r}: one of {', '.join(sorted(RUN_SPECS))}")
        record = run_set(args.set, args.max_minutes, args.smoke, argv)
        if args.smoke:
            print(render([(args.set, record)]))
            return 0
        with gzip.open(RESULTS / f"{PREFIX}{args.set}.json.gz", "wt", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
    elif not args.render:
        ap.error("give a set, or --render")
    text = render(load_records())
    TABLE.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
