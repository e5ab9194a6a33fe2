"""`rag-augment train`: fine-tune a reranker on the index's own queries and store it in the index home.

    rag-augment train --home .rag_augment --max-minutes 30        # then: rag-augment query "..." --rerank
    rag-augment train --status                                     # what is stored, and whether it is stale
"""
from __future__ import annotations

import json
import sys
from typing import Any

from rag_augment.cli.options import add_index_options
from rag_augment.rerank.training import TrainConfig

COMMANDS = ("train",)


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a reranker on the index's own queries (then query --rerank)")
    p.add_argument("--status", action="store_true", help="only show the stored reranker and whether it is stale")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="CPU budget for the whole run; the training schedule is planned to end inside it")
    p.add_argument("--base-model", default=None,
                   help="a local model folder to start from (default: the packaged MiniLM, with a fresh head)")
    p.add_argument("--layers", type=int, default=0,
                   help="keep the base model's first N layers (0: the deepest that meets --latency-ms here)")
    p.add_argument("--latency-ms", type=float, default=TrainConfig.latency_ms,
                   help="what reranking one query's top N may cost on this machine (p50, timed before training "
                        "to choose the depth of a bi-encoder start; 0: keep every layer)")
    p.add_argument("--max-length", type=int, default=128, help="tokens of query + passage")
    p.add_argument("--negatives", type=int, default=3, help="hard negatives per query, mined by the index's legs")
    p.add_argument("--mine-depth", type=int, default=20, help="negatives are drawn from this many best chunks")
    p.add_argument("--round-trip", type=int, default=0,
                   help="keep a query only if the chunk legs rank its chunk in this top (0: keep all)")
    p.add_argument("--kind", action="append", default=[],
                   help="train only on these stored query kinds (repeatable; default all)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8, help="queries per step")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--head-lr", type=float, default=None,
                   help="learning rate of a fresh scoring head on a bi-encoder base (default 1e-3); a ready "
                        "cross-encoder's head trains at --lr")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top-n", type=int, default=20, help="fused hits the reranker rescores at query time")
    p.add_argument("--weight", type=float, default=1.0,
                   help="the reranker score's weight against the fused score (0: reranker off)")
    p.add_argument("--force", action="store_true",
                   help="train and install even when the machine is too slow for --latency-ms, the budget fits "
                        "too little training, or the reranker does not win its self-check on held-out probes")
    p.add_argument("--tune-on", default=None,
                   help="JSONL of labelled queries ({\"text\", \"doc_id\"}): pick the weight on them after training")
    add_index_options(p)


def run(args) -> int:
    from rag_augment.cli.commands import open_index
    from rag_augment.rerank import status
    from rag_augment.rerank.training import gate_reranker, train_reranker, tune_rerank_weight

    index = open_index(args)
    if args.status:
        info = status(index, "reranker")
        print(json.dumps(info, indent=2) if args.json else _status_lines(info))
        return 0
    config = TrainConfig(base_model=args.base_model, layers=args.layers or None, max_length=args.max_length,
                         negatives=args.negatives, mine_depth=args.mine_depth, round_trip=args.round_trip,
                         kinds=tuple(args.kind), epochs=args.epochs, batch_groups=args.batch_size, lr=args.lr,
                         head_lr=TrainConfig.head_lr if args.head_lr is None else args.head_lr, seed=args.seed,
                         max_minutes=args.max_minutes, top_n=args.top_n, weight=args.weight,
                         latency_ms=args.latency_ms or None, force=args.force)
    labelled = _read_labelled(args.tune_on) if args.tune_on else None
    try:
        meta = train_reranker(index, config, progress=_bar, on_plan=_print_plan)
    except KeyboardInterrupt:
        print("\nrag-augment: interrupted; the last checkpoint is kept: run the same command again to resume",
              file=sys.stderr)
        raise
    if labelled:
        meta["rerank"] = tune_rerank_weight(index, labelled)
    meta = gate_reranker(index, force=args.force)
    print(json.dumps(meta, indent=2) if args.json else _summary(meta))
    return 0


def _bar(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step" if "train" in desc else "query", disable=None,
                file=sys.stderr, dynamic_ncols=True)


def _print_plan(plan) -> None:
    budget = f" (budget {plan.budget_minutes:g} min)" if plan.budget_minutes else ""
    cut = "" if plan.steps_planned >= plan.steps_total else (
        f"; the budget fits {plan.steps_planned} of {plan.steps_total} steps "
        f"({plan.steps_planned / plan.steps_per_epoch:.2f} epochs)")
    again = f", resuming at step {plan.resumed_at}" if plan.resumed_at else ""
    if plan.revised:
        print(f"rag-augment: steady steps take {plan.step_seconds:.2f} s: {plan.steps_planned} steps in all, about "
              f"{plan.estimate_minutes:g} min more{budget}", file=sys.stderr, flush=True)
        return
    print(f"rag-augment: training on {plan.groups:,} queries, {plan.pairs_per_step} passages per step, "
          f"{plan.step_seconds:.2f} s per step: about {plan.estimate_minutes:g} min{budget}{cut}{again}",
          file=sys.stderr, flush=True)


def _read_labelled(path: str) -> dict[str, dict[str, int]]:
    from rag_augment.errors import InputError
    out: dict[str, dict[str, int]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InputError(f"--tune-on {path}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, doc = str(row["text"]), str(row["doc_id"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"--tune-on {path}: line {n} is not a JSON object with \"text\" and \"doc_id\"") from None
        out.setdefault(text, {})[doc] = int(row.get("grade", 1))
    if not out:
        raise InputError(f"--tune-on {path}: no labelled query")
    return out


def _summary(meta: dict[str, Any]) -> str:
    q = meta["training_queries"]
    mining = q.get("mining", {})
    sources = ", ".join(f"{k} {v}" for k, v in sorted(q["by_source"].items()))
    budget = "; stopped by the budget" if meta["stopped_by_budget"] else ""
    rr = meta["rerank"]
    tuned = ""
    if rr.get("tuned_on"):
        left = rr["tuned_on"].get("left_out_trained_on", 0)
        tuned = (f" (tuned on {rr['tuned_on']['queries']} labelled queries"
                 f"{f'; {left} it trained on left out' if left else ''})")
    fitted = meta.get("depth_fitted")
    fit = "" if not fitted else (f" (fitted to {fitted['budget_ms']:g} ms here: " + ", ".join(
        f"{n} layers {ms:g} ms" for n, ms in fitted["measured_ms"].items()) + ")")
    head = (f"reranker: {meta['base_model']}, {meta['layers']} layers{fit}, {meta['steps']} steps "
            f"({meta['epochs_done']:g} epochs){budget}")
    last = f"query time: reranks the top {rr['top_n']} at weight {rr['weight']:g}{tuned}"
    if rr.get("off_reason"):
        last = rr["off_reason"]
    elif meta.get("self_check"):
        from rag_augment.tuning.self_check import Verdict
        check = {k: v for k, v in meta["self_check"].items() if k not in ("installed", "forced")}
        last += "\n" + Verdict(**check).line("self-check", True, "")
    return "\n".join([
        head,
        f"queries: {q['groups']} trained ({sources}); dropped: round trip {mining.get('dropped_round_trip', 0)}, "
        f"no negative {mining.get('dropped_no_negative', 0)}",
        f"time: {meta['seconds']['mining']:.0f} s mining, {meta['seconds']['training']:.0f} s training",
        last,
    ])


def _status_lines(info: dict[str, Any]) -> str:
    if not info["trained"]:
        return "nothing trained for this index yet: run `rag-augment train`"
    state = f"STALE: {info['stale_reason']}" if info["stale"] else "up to date with the index"
    return (f"reranker trained {info['created_at']} on {info['training_queries']['groups']} queries, "
            f"{info['steps']} steps; {state}")
