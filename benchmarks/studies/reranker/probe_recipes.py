"""Which cross-encoder recipe learns from the index's queries at all? A short, train-only probe (issue 19).

The groups `rag-augment train` would mine from a study run's index (each synthetic query, its parent chunk and 3
hard negatives of other documents) are split by parent document: 90% train each recipe for a fixed number of steps
from the same seed, 10% are held out. Reported per recipe: seconds per step, the mean loss of the first and last
20 steps (chance, one positive among four: ln 4 = 1.386), and on the held-out groups how often the positive is
scored first among its four (chance 0.25) and the mean reciprocal rank, before and after. No labelled query (train
or test) is read, so the choice it informs does not touch the test split.

    python -m benchmarks.studies.reranker.probe_recipes scifact1k-random --steps 60
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np

from benchmarks.paths import RUNS, command_line
from benchmarks.studies.reranker.study import HERE, load, log, open_index
from rag_augment.rerank.stage import load_cross_encoder
from rag_augment.rerank.training import TrainConfig
from rag_augment.rerank.training.pairs import index_queries, load_groups, mine_groups, save_groups
from rag_augment.rerank.training.train import (
    default_base,
    has_fresh_head,
    identity_pooler,
    param_groups,
    train_step,
)


@dataclass(frozen=True)
class Recipe:
    name: str
    layers: int | None
    lr: float
    head_lr: float | None      # None: the head at the encoder's rate (the recipe before this probe)
    pooler: bool               # start the untrained pooler as identity


RECIPES = {r.name: r for r in (
    Recipe("2L lr5e-5 (before)", 2, 5e-5, None, False),
    Recipe("2L lr5e-5 head1e-3 pooler=I", 2, 5e-5, 1e-3, True),
    Recipe("2L lr1e-4 head1e-3 pooler=I", 2, 1e-4, 1e-3, True),
    Recipe("3L lr5e-5 head1e-3 pooler=I", 3, 5e-5, 1e-3, True),
    Recipe("4L lr5e-5 head1e-3 pooler=I", 4, 5e-5, 1e-3, True),
    Recipe("6L lr5e-5 head1e-3 pooler=I", None, 5e-5, 1e-3, True),
)}


def held_out(groups, share: int = 10):
    """Split by the parent's document (a chunk id's document part), so no held-out passage was trained on."""
    def doc(g):
        return g.parent_id.rsplit("#", 1)[0]
    test = [g for g in groups if zlib.crc32(doc(g).encode()) % share == 0]
    train = [g for g in groups if zlib.crc32(doc(g).encode()) % share != 0]
    return train, test


def evaluate(ce, groups) -> dict[str, float]:
    import torch
    ce.model.eval()
    ranks = []
    with torch.no_grad():
        for g in groups:
            passages = [g.positive, *g.negatives]
            s = np.asarray(ce.predict([(g.query, p) for p in passages], batch_size=32, show_progress_bar=False))
            ranks.append(1 + int((s[1:] > s[0]).sum()))
    ce.model.train()
    r = np.array(ranks)
    return {"top1": round(float((r == 1).mean()), 3), "mrr": round(float((1 / r).mean()), 3)}


def run_recipe(recipe: Recipe, train, test, steps: int, max_length: int) -> dict:
    import torch
    torch.manual_seed(0)
    base = default_base()
    ce = load_cross_encoder(base, recipe.layers, max_length)
    if recipe.pooler and has_fresh_head(base):
        identity_pooler(ce)
    cfg = TrainConfig(layers=recipe.layers, max_length=max_length, lr=recipe.lr, head_lr=recipe.head_lr, seed=0,
                      latency_ms=None)
    opt = torch.optim.AdamW(param_groups(ce, recipe.lr, recipe.head_lr), lr=recipe.lr)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
    before = evaluate(ce, test)
    order = list(range(len(train)))
    random.Random(0).shuffle(order)
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        batch = [train[order[(step * cfg.batch_groups + i) % len(order)]] for i in range(cfg.batch_groups)]
        losses.append(train_step(ce, opt, sched, batch, cfg, step))
    seconds = time.perf_counter() - t0
    after = evaluate(ce, test)
    return {"recipe": recipe.name, "steps": steps, "s_per_step": round(seconds / steps, 2),
            "loss_first20": round(float(np.mean(losses[:20])), 4),
            "loss_last20": round(float(np.mean(losses[-20:])), 4),
            "held_out_before": before, "held_out_after": after, "losses": [round(x, 4) for x in losses]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.probe_recipes",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--held-out", type=int, default=200, help="held-out groups scored (the first N of the 10%%)")
    ap.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated names from the list above")
    args = ap.parse_args(argv)
    ds, spec = load(args.run)
    work = RUNS / f"study-reranker-{args.run}"
    index, _ = open_index(args.run, ds, spec, work)
    cached = work / "probe-groups.jsonl"
    if cached.exists():
        groups = load_groups(cached)
    else:
        groups, _ = mine_groups(index, index_queries(index), 3, 20, 0, 0, profile=index.profile)
        save_groups(groups, cached)
    train, test = held_out(groups)
    test = test[:args.held_out]
    log(f"{len(groups)} groups: {len(train)} train, {len(test)} held out")
    out = HERE / "results" / f"probe-{args.run}"
    # rows of earlier invocations (other recipes, same settings) are kept: the table grows recipe by recipe
    earlier = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else []
    rows = [r for r in earlier if r.get("steps") == args.steps and r["recipe"] in RECIPES]
    for name in [n for n in args.recipes.split(",") if n]:
        log(f"recipe {name} ...")
        row = {**run_recipe(RECIPES[name], train, test, args.steps, args.max_length),
               "command": command_line("benchmarks.studies.reranker.probe_recipes", argv or sys.argv[1:]),
               "date": time.strftime("%Y-%m-%d"), "load_after": round(os.getloadavg()[0], 1)}
        rows = [r for r in rows if r["recipe"] != name] + [row]
        log(json.dumps({k: v for k, v in row.items() if k != "losses"}))
    rows.sort(key=lambda r: list(RECIPES).index(r["recipe"]))
    lines = [f"## {args.run}: recipe probe ({args.steps} steps of 8 groups, {len(test)} held-out groups)", "",
             "| recipe | s/step | loss, first 20 | loss, last 20 | held-out top-1 before | after | MRR after |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['s_per_step']} | {r['loss_first20']} | {r['loss_last20']} | "
                     f"{r['held_out_before']['top1']} | {r['held_out_after']['top1']} | {r['held_out_after']['mrr']} |")
    lines.append("")
    for cmd in dict.fromkeys(r.get("command", "") for r in rows):
        which = [r for r in rows if r.get("command", "") == cmd]
        loads = ", ".join(str(r.get("load_after", "?")) for r in which)
        lines.append(f"- `{cmd}`: {', '.join(r['recipe'] for r in which)}; {which[0].get('date', '')}, "
                     f"{os.cpu_count()} cores, load {loads} after each")
    text = "\n".join(lines) + "\n"
    print(text)
    out.with_suffix(".md").write_text(text)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
