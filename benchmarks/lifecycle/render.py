"""The lifecycle table (markdown) and learning curve (PNG), rendered from the committed per-query files only.

    python -m benchmarks.lifecycle xquad --render-only     # results/xquad/{table.md,curve.png} from its files

Every figure is computed here from scored.jsonl.gz, use.jsonl.gz and run.json (tests/results/test_lifecycle.py renders
again and compares with the committed table, so a hand-typed figure fails).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lifecycle import files
from rag_augment.metrics import paired_bootstrap

SYSTEMS = ("learning", "frozen", "hybrid_tuned", "dense", "bm25")
LABELS = {"learning": "learning", "frozen": "frozen", "hybrid_tuned": "hybrid tuned", "dense": "dense",
          "bm25": "BM25"}
PAIRS = (("learning", "hybrid_tuned"), ("learning", "frozen"), ("frozen", "hybrid_tuned"))
PICKED = {"synthetic": "kept the profile tuned on probes", "tuned": "adopted the profile tuned on real queries",
          "start": "went back to the start profile"}  # label_free.real_choice's picks
BAR_USED, BAR_SHARE, BAR_LIFT = 500, 0.8, 3.0   # the bar: after 500 used (80% of a smaller set), +3 points


# ---------------------------------------------------------------- figures from the files

def blocks(scored: Sequence[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for row in scored:
        out.setdefault(row["used"], []).append(row)
    return dict(sorted(out.items()))


def column(rows: Sequence[dict], metric: str, system: str) -> np.ndarray:
    return np.array([r[metric][system] for r in rows], dtype=float)


def lift(rows: Sequence[dict], a: str, b: str, config: dict, metric: str = "ndcg") -> tuple[float, float, float]:
    d, lo, hi = paired_bootstrap(column(rows, metric, a), column(rows, metric, b), n=config["bootstrap"],
                                 seed=config["seed"])
    return 100 * d, 100 * lo, 100 * hi


def bar_block(run: dict, used: Sequence[int]) -> int | None:
    """The block the bar reads: after 500 queries of use, or 80% of a smaller stream, on a block boundary."""
    step = run["config"]["block"]
    want = min(BAR_USED, int(BAR_SHARE * run["stream"]) // step * step)
    return want if want in used else None


# ---------------------------------------------------------------- markdown

def fmt_lift(t: tuple[float, float, float]) -> str:
    return f"{t[0]:+.1f} [{t[1]:+.1f}, {t[2]:+.1f}]"


def metric_table(by_block: dict[int, list[dict]], config: dict, metric: str) -> list[str]:
    head = ("| queries used | scored | " + " | ".join(LABELS[s] for s in SYSTEMS) + " | "
            + " | ".join(f"{LABELS[a]} - {LABELS[b]}" for a, b in PAIRS) + " |")
    out = [head, "|" + "---:|" * (2 + len(SYSTEMS) + len(PAIRS))]
    for used, rows in by_block.items():
        means = " | ".join(f"{column(rows, metric, s).mean():.3f}" for s in SYSTEMS)
        lifts = " | ".join(fmt_lift(lift(rows, a, b, config, metric)) for a, b in PAIRS)
        out.append(f"| {used} | {len(rows)} | {means} | {lifts} |")
    return out


def use_table(use: Sequence[dict], by_block: dict[int, list[dict]], step: int) -> list[str]:
    out = ["| queries | clicks (logged as real queries) | reports with the document named | thumbs-down only | "
           "judge right / wrong / declined | report targets right / wrong | reports fixed by their round |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for used in list(by_block)[:-1]:
        rows = [r for r in use if used < r["pos"] <= used + step]
        act = [r["action"] for r in rows]
        thumbs = [r for r in rows if r["action"] == "thumbs_down"]
        judge = [r.get("judge", {}) for r in thumbs]
        right = sum(bool(j.get("correct")) for j in judge)
        declined = sum(j.get("choice") == 0 for j in judge if j)
        handled = [r for r in rows if "round" in r]
        logged = sum(r["action"] == "click" and r.get("logged", True) for r in rows)
        out.append(f"| {used + 1}-{used + len(rows)} | {act.count('click')} ({logged}) | {act.count('fix')} | "
                   f"{len(thumbs)} | {right} / {sum(1 for j in judge if j) - right - declined} / {declined} | "
                   f"{sum(r['target_right'] for r in handled)} / {sum(not r['target_right'] for r in handled)} | "
                   f"{sum(bool(r['fixed']) for r in handled)} of {len(handled)} |")
    return out


def moved(rows: Sequence[dict]) -> tuple[int, int]:
    """How many queries rank their first relevant document lower (fell) or higher (rose) on the learning index than
    on the frozen one."""
    far = 10 ** 6
    pairs = [(r["rank"]["learning"] or far, r["rank"]["frozen"] or far) for r in rows]
    return sum(a > b for a, b in pairs), sum(a < b for a, b in pairs)


def covered_lines(scored: Sequence[dict], config: dict) -> list[str]:
    """Learning minus frozen where the query's document already held a logged query, and where it did not."""
    out = []
    for label, want in (("held a real or feedback query", True), ("held none", False)):
        rows = [r for r in scored if r["used"] > 0 and r["covered"] == want]
        if rows:
            fell, rose = moved(rows)
            out.append(f"- scored queries whose document {label} by then: {len(rows)}, learning - frozen "
                       f"{fmt_lift(lift(rows, 'learning', 'frozen', config))}; its rank rose on {rose}, fell on "
                       f"{fell}")
    return out


def tune_lines(run: dict) -> list[str]:
    if not run["config"]["tune_every"]:
        return ["- label-free tuning: off (`--tune-every 0`); the learning index keeps the shipped default profile"]
    out = [f"- label-free tuning every {run['config']['tune_every']} queries (`AugmentIndex.tune`):"]
    for t in run["tunes"]:
        s = t["scores"]
        scores = (f"chosen {s['chosen']:.3f} vs start {s['start']:.3f}, hybrid {s['hybrid']:.3f}"
                  if "chosen" in s else "no scores")
        weights = ", ".join(f"{k} {v:g}" for k, v in t["weights"].items())
        out.append(f"  - after {t['after']}: {t['source']} evidence ({t['real_queries']} real/feedback queries"
                   f"{'; ' + PICKED.get(t['picked'], t['picked']) if t['picked'] else ''}; {scores}); {t['method']}/"
                   f"{t['normalize']}, {weights}; {self_check(t)}; {t['seconds']:.0f} s")
    return out


def self_check(t: dict) -> str:
    """AugmentIndex.tune installs a profile only when it beats the current one on held-out queries."""
    c = t.get("check")
    if not c:
        return "installed" if t.get("installed", True) else "not installed"
    got = (f"self-check on {c['queries']} {c['evidence']}: {100 * c['delta']:+.1f} [{100 * c['lo']:+.1f}, "
           f"{100 * c['hi']:+.1f}] points vs the current profile")
    return f"{got}, {'installed' if t['installed'] else 'not installed'}"


def round_lines(run: dict) -> list[str]:
    rounds = run["rounds"]
    if not rounds:
        return ["- no feedback round ran"]
    total = {k: sum(r[k] for r in rounds) for k in ("handled", "fixed", "queries_added", "wrong_target")}
    secs = [r["seconds"] for r in rounds]
    return [f"- {len(rounds)} feedback rounds ({run['feedback_generator']}, every {run['config']['feedback_every']} "
            f"reports): {total['handled']} items handled, {total['fixed']} fixed (target in the top "
            f"{run['config']['click_depth']} after the round), {total['queries_added']} query vectors attached, "
            f"{total['wrong_target']} attached to a wrong document; median {np.median(secs):.1f} s a round, "
            f"max {max(secs):.1f} s"]


def bar_lines(run: dict, by_block: dict[int, list[dict]]) -> list[str]:
    config = run["config"]
    at = bar_block(run, list(by_block))
    out = []
    if at is None:
        out.append(f"- the bar's block ({BAR_USED} used, or {BAR_SHARE:.0%} of the stream) was not scored")
    else:
        d, lo, hi = lift(by_block[at], "learning", "hybrid_tuned", config)
        met = d >= BAR_LIFT and lo > 0
        short = [] if met else [f"{BAR_LIFT - d:.1f} points short of +{BAR_LIFT:g}" if d < BAR_LIFT else "",
                                "interval not above 0" if lo <= 0 else ""]
        ceiling = 100 * (1 - column(by_block[at], "ndcg", "hybrid_tuned").mean())
        out.append(f"- after {at} queries used, the next {len(by_block[at])}: learning - hybrid tuned "
                   f"{fmt_lift((d, lo, hi))} points; bar +{BAR_LIFT:g} with the interval above 0: "
                   + ("**met**" if met else "**not met** (" + "; ".join(s for s in short if s) + ")")
                   + f"; the most any system could gain over the hybrid tuned on these queries is +{ceiling:.1f}")
    below = [u for u, rows in by_block.items() if lift(rows, "learning", "frozen", config)[2] < 0]
    out.append("- learning below frozen beyond the interval at: "
               + (", ".join(f"{u} used" for u in below) + " (**bar not met**)" if below else "no block (bar met)"))
    gaps = ", ".join(f"{fmt_lift(lift(rows, 'frozen', 'hybrid_tuned', config))} at {u}" for u, rows in
                     by_block.items() if u in (0, at))
    out.append(f"- frozen - hybrid tuned: {gaps}")
    return out


def click_policy(config: dict) -> str:
    start = config.get("click_from_rank", 1)
    logged = (" (every click)" if start <= 1 else " (no click)" if start > config["click_depth"]
              else f" (only clicks at rank {start} or lower)")
    return f"{logged}, imported every {config.get('log_every', 10)} queries"


def setup_line(run: dict) -> str:
    config = run["config"]
    judge = ("they wait: the rules rewriter has no judge" if config["judge"] == "none" else
             f"judged by a simulated judge right {config['judge_accuracy']:.0%} of the time, marked for review")
    return (f"Index: {run['embedding_model']}, `{run['generator']['generator']}` generator, shipped default profile "
            f"at the start (frozen: the same index never fed). A relevant document in the top "
            f"{config['click_depth']} is a click, logged as a real query of the clicked chunk{click_policy(config)}; "
            f"otherwise a report, {config['fix_share']:.0%} with the document named (seeded per query), the rest "
            f"thumbs-down only ({judge}); a feedback round every {config['feedback_every']} reports and at the end "
            f"of a block with reports left."
            + (f" Synthetic queries step aside: a chunk's are removed once it holds a real or feedback query "
               f"({run.get('stepped_aside', 0)} removed)." if config.get("step_aside") else ""))


def floor_lines(run: dict) -> list[str]:
    """With floor_from_log: the guard's floor the learning index set from its real queries, at each block."""
    if "floors" not in run:
        return []
    shown = ", ".join(f"{f['floor']:g} at {f['used']}" if f["floor"] is not None else f"none at {f['used']}"
                      for f in run["floors"])
    return [f"- the guard's floor, set from the index's own real queries (rag_augment.search.floor): {shown}"]


def table(result: dict[str, Any]) -> str:
    run, scored, use = result["run"], result["scored"], result["use"]
    config, by_block = run["config"], blocks(scored)
    machine = run["machine"]
    lines = [
        f"# Lifecycle benchmark: {run['set']}",
        "",
        "<!-- generated by python -m benchmarks.lifecycle from scored.jsonl.gz, use.jsonl.gz and run.json -->",
        "",
        f"Set: `{run['source']}`, {run['documents']} documents ({run['chunks']} chunks), {run['stream']} queries in "
        f"the stream, {run['train']} train queries for the rival. {run['how']}.",
        "",
        setup_line(run),
        "",
        f"Run {run.get('date', '')} on {machine.get('cpu', '')} ({machine.get('nproc')} cores, load "
        f"{machine.get('load_avg_1_5_15')}), {run['seconds']:.0f} s"
        + (f"; command `{run['command']}`" if run.get("command") else "") + ".",
        "",
        f"nDCG@10 of the next {config['block']} queries (never seen by the index) after each block of use; "
        f"differences in points (x100) with paired bootstrap 95% intervals ({config['bootstrap']:,} resamples):",
        "",
        *metric_table(by_block, config, "ndcg"),
        "",
        "R@10, the same blocks:",
        "",
        *metric_table(by_block, config, "r10"),
        "",
        "What the users did, per block of use (the block scored on the row of the same start above):",
        "",
        *use_table(use, by_block, config["block"]),
        "",
        "Where the learning index gained:",
        "",
        *covered_lines(scored, config),
        *round_lines(run),
        *tune_lines(run),
        *floor_lines(run),
        "",
        "The issue's bar:",
        "",
        *bar_lines(run, by_block),
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- the curve

def curve(result: dict[str, Any], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run, by_block = result["run"], blocks(result["scored"])
    config, used = run["config"], list(by_block)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, height_ratios=(3, 2))
    for s in SYSTEMS:
        top.plot(used, [column(r, "ndcg", s).mean() for r in by_block.values()], marker="o" if s == "learning"
                 else ".", lw=2.5 if s == "learning" else 1.2, label=LABELS[s])
    top.set_ylabel(f"nDCG@10, next {config['block']} queries")
    top.set_title(f"Lifecycle: {run['set']} ({run['stream']} queries in the stream)")
    top.legend(loc="lower right", fontsize=8)
    top.grid(alpha=0.3)
    for (a, b), dx in zip(PAIRS[:2], (-0.01, 0.01)):
        t = np.array([lift(r, a, b, config) for r in by_block.values()])
        x = np.array(used) + dx * config["block"] * len(used)
        bottom.errorbar(x, t[:, 0], yerr=[t[:, 0] - t[:, 1], t[:, 2] - t[:, 0]], marker="o", capsize=3,
                        label=f"{LABELS[a]} - {LABELS[b]} [95%]")
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.axhline(BAR_LIFT, color="red", lw=0.8, ls="--", label=f"bar: +{BAR_LIFT:g} over hybrid tuned")
    bottom.set_ylabel("points (x100)")
    bottom.set_xlabel("queries used before the scored block")
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(folder: Path) -> tuple[Path, Path]:
    result = files.read_run(folder)
    out = folder / files.TABLE
    out.write_text(table(result), encoding="utf-8")
    return out, curve(result, folder / files.CURVE)


# ---------------------------------------------------------------- variants

def compare_line(base: Path, variant: Path) -> str:
    """One line: the variant's learning index against the base run's at the bar's block, and the blocks where it
    differs beyond the interval."""
    a, b = files.read_run(base), files.read_run(variant)
    config, by_block = b["run"]["config"], blocks(b["scored"])
    left = {(r["used"], r["qid"]): r["ndcg"]["learning"] for r in a["scored"]}
    diffs = {}
    for used, rows in by_block.items():
        y = np.array([r["ndcg"]["learning"] for r in rows])
        x = np.array([left[(used, r["qid"])] for r in rows])
        d, lo, hi = paired_bootstrap(y, x, n=config["bootstrap"], seed=config["seed"])
        diffs[used] = (100 * d, 100 * lo, 100 * hi)
    at = bar_block(b["run"], list(by_block))
    beyond = [f"{u} used ({fmt_lift(v)})" for u, v in diffs.items() if v[1] > 0 or v[2] < 0]
    return (f"learning index minus {base.name}'s at the bar's block ({at} used): {fmt_lift(diffs[at])} points; "
            f"beyond the interval at: {', '.join(beyond) or 'no block'}")


def compare(base: Path, variant: Path) -> str:
    """The variant's learning index against the base run's, paired on the same scored queries, block by block
    (both runs must stream the same set in the same order: same set and seed)."""
    a, b = files.read_run(base), files.read_run(variant)
    config = b["run"]["config"]
    left = {(r["used"], r["qid"]): r for r in a["scored"]}
    lines = [f"{variant.name} - {base.name}, learning index, nDCG@10 points (x100) [95%]:", "",
             "| queries used | scored | base | variant | variant - base | rank rose / fell |",
             "|---:|---:|---:|---:|---:|---:|"]
    for used, rows in blocks(b["scored"]).items():
        pairs = [(left[(used, r["qid"])], r) for r in rows if (used, r["qid"]) in left]
        x = np.array([p[0]["ndcg"]["learning"] for p in pairs])
        y = np.array([p[1]["ndcg"]["learning"] for p in pairs])
        d, lo, hi = paired_bootstrap(y, x, n=config["bootstrap"], seed=config["seed"])
        far = 10 ** 6
        ranks = [(p[0]["rank"]["learning"] or far, p[1]["rank"]["learning"] or far) for p in pairs]
        lines.append(f"| {used} | {len(pairs)} | {x.mean():.3f} | {y.mean():.3f} | "
                     f"{fmt_lift((100 * d, 100 * lo, 100 * hi))} | {sum(v < u for u, v in ranks)} / "
                     f"{sum(v > u for u, v in ranks)} |")
    return "\n".join(lines) + "\n"
