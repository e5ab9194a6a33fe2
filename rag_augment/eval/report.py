"""Write a run: result.json for machines, report.md for people, PNG plots (recall@k curves of every system; the
histogram of per-query nDCG@10 deltas against the dense baseline)."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TABLE_METRICS = ("nDCG@10", "R@1", "R@5", "R@10", "R@100", "MRR@10", "Hit@10")


def main_system(result: dict[str, Any]) -> str:
    keys = [s["key"] for s in result["systems"]]
    return "rag_augment_tuned" if "rag_augment_tuned" in keys else "rag_augment"


def write_run(result: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "result.json", "markdown": out / "report.md"}
    paths["json"].write_text(json.dumps(result, indent=1, default=str) + "\n")
    paths["per_query"] = write_per_query(result, out / PER_QUERY_FILE)
    paths.update(plot(result, out))
    paths["markdown"].write_text(markdown(result, {k: v.name for k, v in paths.items() if k.endswith("png")}))
    return paths


# ---------------------------------------------------------------- per-query record

PER_QUERY_FORMAT = 1
PER_QUERY_FILE = "per_query.json.gz"
PER_QUERY_DECIMALS = 6


def per_query_record(result: dict[str, Any]) -> dict[str, Any]:
    """What a run measured, query by query, and nothing derived: every mean, percentile and interval in a report
    is recomputed from it (result_from_per_query). Per-query metric lists follow `query_ids`; a system's latency
    list follows the first len(list) of them (the timed queries are the first ones by id)."""
    qids = result["query_ids"]
    lat = result.get("latency_per_query_ms", {})
    systems = []
    for s in result["systems"]:
        by_q = lat.get(s["key"], {})
        systems.append({
            **{k: v for k, v in s.items() if k not in ("metrics", "latency_ms")},
            "per_query": {m: [round(float(x), PER_QUERY_DECIMALS) for x in v]
                          for m, v in result["per_query"][s["key"]].items()},
            "latency_ms": [by_q[q] for q in qids if q in by_q]})
    return {"format": PER_QUERY_FORMAT, "run": result["run"], "index": result["index"], "tuning": result["tuning"],
            "latency": dict(result.get("latency") or {}),
            "pairs": result.get("pairs") or sorted({(x["system"], x["reference"]) for x in result["lifts"]}),
            "query_ids": qids, "curve_ks": result["curve_ks"], "systems": systems}


def write_per_query(result: dict[str, Any], path: str | Path) -> Path:
    """The per-query record as gzip-compressed JSON, byte for byte the same for the same record (no timestamp in
    the gzip header), so an unchanged run leaves the committed file unchanged."""
    import gzip

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(per_query_record(result), separators=(",", ":"), sort_keys=True, default=str).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(data)
    return path


def read_per_query(path: str | Path) -> dict[str, Any]:
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as f:
        record = json.load(f)
    if record.get("format") != PER_QUERY_FORMAT:
        raise ValueError(f"{path}: per-query format {record.get('format')!r}, expected {PER_QUERY_FORMAT}")
    return record


def result_from_per_query(record: dict[str, Any]) -> dict[str, Any]:
    """A run record as run_eval returns it, recomputed from a per-query record alone: each system's mean metrics
    and latency percentiles, and the paired-bootstrap lifts of its pairs (same resamples and seed as the run)."""
    from rag_augment.metrics import mean_metrics

    per_query = {s["key"]: {m: np.asarray(v, dtype=float) for m, v in s["per_query"].items()}
                 for s in record["systems"]}
    boot = record["run"]["bootstrap"]
    systems = [{**{k: v for k, v in s.items() if k not in ("per_query", "latency_ms")},
                "metrics": mean_metrics(per_query[s["key"]]), "latency_ms": latency_percentiles(s["latency_ms"])}
               for s in record["systems"]]
    return {"run": record["run"], "index": record["index"], "tuning": record["tuning"],
            "latency": record.get("latency") or {}, "systems": systems, "pairs": record["pairs"],
            "lifts": lifts(per_query, [tuple(p) for p in record["pairs"]], n=boot["resamples"], seed=boot["seed"]),
            "per_query": {k: {m: v.tolist() for m, v in by_m.items()} for k, by_m in per_query.items()},
            "query_ids": record["query_ids"], "curve_ks": record["curve_ks"]}


def latency_percentiles(ms: Sequence[float]) -> dict[str, float]:
    if not len(ms):
        return {"p50": 0.0, "p95": 0.0}
    p50, p95 = np.percentile(np.asarray(ms, dtype=float), [50, 95])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2)}


def lifts(per_query: Mapping[str, Mapping[str, np.ndarray]], pairs: Sequence[tuple[str, str]],
          metrics: Sequence[str] = ("nDCG@10", "R@10"), n: int = 5000, seed: int = 0) -> list[dict]:
    """Paired-bootstrap lift of each (system, reference) pair on each metric, with per-query wins and losses."""
    from rag_augment.metrics import paired_bootstrap, wins_losses

    out = []
    for system, ref in pairs:
        for m in metrics:
            a, b = per_query[system][m], per_query[ref][m]
            delta, lo, hi = paired_bootstrap(a, b, n=n, seed=seed)
            wins, losses, ties = wins_losses(a, b)
            out.append({"system": system, "reference": ref, "metric": m, "delta": delta, "lo": lo, "hi": hi,
                        "wins": wins, "losses": losses, "ties": ties})
    return out


# ---------------------------------------------------------------- markdown

def _fmt_delta(row: dict[str, Any]) -> str:
    return f"{100 * row['delta']:+.1f} [{100 * row['lo']:+.1f}, {100 * row['hi']:+.1f}]"


def header_lines(result: dict[str, Any]) -> list[str]:
    run, idx, gen = result["run"], result["index"], result["run"]["generator"]
    m = run["machine"]
    model = gen.get("model", "")
    if gen.get("model_hash"):
        model += f" (sha256 {gen['model_hash'][:8]}...{gen['model_hash'][-5:]})"
    recorded = idx["generation_seconds_recorded"]
    per_chunk = recorded / idx["chunks"] if idx["chunks"] else 0.0
    return [
        f"- command: `{run['command']}`" if run["command"] else "- command: (library call)",
        f"- date: {run['date']}; machine: {m['nproc']} cores, {m['cpu']}, {m['platform']}, Python {m['python']}"
        f"; load average at the end {m.get('load_avg_1_5_15')} (the machine is shared: latency varies with it)",
        f"- data: {run['dataset']} `{run['split']}` split, {run['queries']} queries, {run['documents']} documents"
        + (f"; subset {json.dumps(run['dataset_notes']['subset'])}" if "subset" in run["dataset_notes"] else "")
        + (f"; pool `{run['dataset_notes']['pool']}`" if "pool" in run["dataset_notes"] else "")
        + (f"; documents from `{run['dataset_notes']['docs_folder']}`" if "docs_folder" in run["dataset_notes"]
           else ""),
        f"- embedder: {run['embedding_model']}; generator: {gen.get('generator')} / {model} "
        f"(prompt {gen.get('prompt_version')}); chunking: {run['chunking']['chunk_size']} tokens",
        f"- index: {idx['chunks']} chunks, {idx['query_vectors']} query vectors "
        f"({idx['mean_queries_per_chunk']} per chunk; kinds {json.dumps(idx['queries_by_kind'])}); "
        f"dropped by filters: {json.dumps(idx['queries_dropped']) if idx['queries_dropped'] else 'none'}",
        f"- generation time: {recorded:.1f} s recorded in the cache ({per_chunk:.3f} s per chunk); this run "
        f"generated {idx['chunks_generated_this_run']} chunks in {idx['generation_seconds_this_run']:.1f} s "
        f"({idx['cache_hits']} cache hits); indexing this run {idx['index_seconds_this_run']:.1f} s",
    ] + _latency_line(result.get("latency")) + _real_line(idx.get("real_from_train"))


def _latency_line(lat: dict[str, Any] | None) -> list[str]:
    if not lat or not lat.get("queries"):
        return []
    untimed = f"; not timed end to end (legs summed): {', '.join(lat['not_timed'])}" if lat.get("not_timed") else ""
    return [f"- latency: {lat['queries']} queries, each system's own call returning {lat['k']} hits, end to end "
            f"(rag_augment: AugmentIndex.query, embedding and legs at once; rivals at their natural depth), systems "
            f"in rotating order after {lat['warmup_queries']} warm-up queries; load average "
            f"{lat.get('load_avg_before')} before, {lat.get('load_avg_after')} after{untimed}"]


def _real_line(real: dict[str, Any] | None) -> list[str]:
    if not real:
        return []
    return [f"- real queries blended in after tuning: the `{real['train_split']}` split's queries, one per relevant "
            f"indexed document ({real['records']} pairs), stored as kind \"real\" ({real['added']} vectors added, "
            f"{real['skipped_held_out']} skipped as eval texts{_near_text(real)}); every system that reads the "
            "queries, as vectors or as words, reads them"]


def _near_text(real: dict[str, Any]) -> str:
    near = real.get("near_duplicates_dropped")
    if near is None:
        return "; train queries near-duplicating an eval query were NOT dropped (run predates the check)"
    return (f"; {near['queries']} train queries ({near['pairs']} pairs) dropped as near-duplicates of an eval "
            f"query: token Jaccard >= {near['jaccard']} ({near['by_jaccard']}) or embedding cosine >= "
            f"{near['cosine']} ({near['by_cosine_only']} more)")


def systems_table(result: dict[str, Any]) -> list[str]:
    lines = ["| system | " + " | ".join(TABLE_METRICS) + " | p50 ms | p95 ms |",
             "|---|" + "---:|" * (len(TABLE_METRICS) + 2)]
    for s in result["systems"]:
        vals = " | ".join(f"{s['metrics'][m]:.3f}" for m in TABLE_METRICS)
        lines.append(f"| {s['label']} | {vals} | {s['latency_ms']['p50']:.1f} | {s['latency_ms']['p95']:.1f} |")
    return lines


def lifts_table(result: dict[str, Any], reference: str | None = None) -> list[str]:
    labels = {s["key"]: s["key"] for s in result["systems"]}
    rows: dict[tuple[str, str], dict[str, dict]] = {}
    for r in result["lifts"]:
        if reference is None or r["reference"] == reference:
            rows.setdefault((r["system"], r["reference"]), {})[r["metric"]] = r
    lines = ["| system vs reference | dnDCG@10 [95% CI] | dR@10 [95% CI] | nDCG@10 wins/losses |",
             "|---|---:|---:|---:|"]
    for (sys_key, ref), by_metric in rows.items():
        n, r = by_metric.get("nDCG@10"), by_metric.get("R@10")
        wl = f"{n['wins']}/{n['losses']}" if n else ""
        lines.append(f"| {labels.get(sys_key, sys_key)} vs {ref} | {_fmt_delta(n) if n else ''} | "
                     f"{_fmt_delta(r) if r else ''} | {wl} |")
    return lines


def tuning_lines(result: dict[str, Any]) -> list[str]:
    t = result.get("tuning")
    if not t:
        return []
    prof = next(s["profile"] for s in result["systems"] if s["key"] == "rag_augment_tuned")
    merged = prof["dense_pair"] != "separate"
    weights = {k: v for k, v in prof["weights"].items()
               if v and not (merged and k in ("chunk_dense", "query_dense")) and not (not merged and k == "dense")}
    return [f"Tuned on `{t['split']}` ({t['queries']} queries, {t['evaluated']} profiles tried): train nDCG@10 "
            f"{t['start_score']:.3f} (default) -> {t['score']:.3f}; written to `{_relative(t['path'])}`: method "
            f"{prof['method']}, dense pair {prof['dense_pair']}, child weight {prof['child_weight']}, rrf_k "
            f"{prof['rrf_k']}, weights {json.dumps(weights)}, depth {json.dumps(prof['depth'])}."
            + (f" The hybrid without synthetic queries, tuned the same way: train nDCG@10 "
               f"{t['hybrid_start_score']:.3f} -> {t['hybrid_score']:.3f}." if "hybrid_score" in t else "")]


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def markdown(result: dict[str, Any], pngs: dict[str, str] | None = None, level: int = 1) -> str:
    h = "#" * level
    lines = [f"{h} {result['run']['name']}", "", *header_lines(result), "", *systems_table(result), "",
             "Lifts (paired bootstrap, {} resamples, seed {}; points of the metric x100):".format(
                 result["run"]["bootstrap"]["resamples"], result["run"]["bootstrap"]["seed"]), "",
             *lifts_table(result), ""]
    tl = tuning_lines(result)
    if tl:
        lines += [*tl, ""]
    for key, name in (pngs or {}).items():
        lines += [f"![{key}]({name})", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- plots

def plot(result: dict[str, Any], out: Path) -> dict[str, Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = result["run"]["name"]
    paths = {"recall_png": out / f"{name}-recall.png", "delta_png": out / f"{name}-ndcg-delta.png"}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ks = result["curve_ks"]
    for s in result["systems"]:
        ax.plot(ks, [s["metrics"][f"R@{k}"] for k in ks], marker=".", label=s["key"])
    ax.set(xscale="log", xlabel="k (documents)", ylabel="mean Recall@k", title=f"{name}: Recall@k")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(paths["recall_png"], dpi=90)
    plt.close(fig)
    _delta_hist(result, paths["delta_png"], plt)
    return paths


def _delta_hist(result: dict[str, Any], path: Path, plt) -> None:
    main = main_system(result)
    refs = [r for r in ("dense", "hybrid") if r in result["per_query"]]
    fig, axes = plt.subplots(1, len(refs), figsize=(4.5 * len(refs), 3.5), squeeze=False)
    for ax, ref in zip(axes[0], refs):
        d = np.array(result["per_query"][main]["nDCG@10"]) - np.array(result["per_query"][ref]["nDCG@10"])
        ax.hist(d, bins=np.linspace(-1, 1, 41), color="tab:blue")
        ax.axvline(0, color="k", lw=0.8)
        ax.set(xlabel=f"nDCG@10: {main} - {ref}", ylabel="queries",
               title=f"mean {d.mean():+.3f}; {(d > 1e-9).sum()} up, {(d < -1e-9).sum()} down")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_page(result: dict[str, Any], png_dir: str = "..", note: str = "") -> str:
    """One run's detail page (benchmarks/results/runs/<run>.md): its settings, every system's metrics and latency,
    the lifts, its two plots and, when given, the reading written after looking at its figures."""
    name = result["run"]["name"]
    pngs = {"recall": f"{png_dir}/{name}-recall.png", "ndcg delta": f"{png_dir}/{name}-ndcg-delta.png"}
    text = markdown(result, pngs, level=1)
    if note.strip():
        text += "\n" + note.strip() + "\n"
    return text
