"""Issue 19: does a reranker trained on the index's own synthetic queries beat the tuned hybrid?

One run = one labelled data set indexed once with a committed generation cache (the local 1.5B model's queries),
then, on the same index and queries:

- the rivals and the default, offline from the raw legs as the eval harness scores them: dense, BM25, hybrid
  RRF(dense, BM25), hybrid tuned on train (no synthetic legs), rag_augment's shipped default profile;
- rerankers fine-tuned by `rag_augment.rerank.train_reranker` (the library path `rag-augment train` runs), on
  (a) the index's synthetic queries ("llm") and (b) pseudo-queries without any generator, each chunk's title or
  first sentence ("pseudo"), so that the synthetic data's own share is visible; and (c) the synthetic queries
  blended with half of the real train claims ("llm+real", cross-fitted: see real_fold); with `--extra-queries RUN`,
  "llm" also trains on a second generator's queries for the same chunks (another run's index);
- each reranker reranks the top 20 of a first stage (the default profile, or the tuned hybrid); the first stage and
  the rerank weight (grid incl. 0 = off) are chosen on the train split only, then scored once on the test split.

nDCG@10 on distinct documents, paired bootstrap intervals (5,000 resamples, seed 0) against the tuned hybrid and
the default. Rerank latency: the reranker's scoring of one query's top 20 (texts already read), p50/p95 over the
test queries, with the load average. Every per-query figure is written to results/<run>.json.gz.

    python -m benchmarks.studies.reranker.study sample_kb --max-minutes 10
    python -m benchmarks.studies.reranker.study scifact1k --max-minutes 60 --variants llm
    python -m benchmarks.studies.reranker.study scifact1k-random-qwen15b --variants llm --layers 0 --max-length 128 \
        --extra-queries scifact1k-random --max-minutes 40 --tag=-6L128-both
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.paths import CACHE, RUNS, SCIFACT, SHARED, SUBSETS, command_line
from rag_augment import metrics as M
from rag_augment.chunking import ChunkingConfig, chunk_documents
from rag_augment.eval import datasets as D
from rag_augment.eval.harness import (
    NEAR_DUPLICATE_JACCARD,
    EvalSpec,
    build_index,
    chunk_docs,
    clear_human_queries,
    collect_legs,
    near_duplicates_of,
)
from rag_augment.eval.replay import ReplayGenerator
from rag_augment.eval.systems import EVAL_DEPTH, MAX_K, hybrid_profile, single_leg, truncate
from rag_augment.eval.tune import TuneSet, tune_profile
from rag_augment.filters import FilterConfig
from rag_augment.fusion import fuse
from rag_augment.profiles import load_profile
from rag_augment.rerank import combine_scores, load_reranker
from rag_augment.rerank.training import TrainConfig, best_weight, pseudo_queries, train_reranker
from rag_augment.rerank.training.pairs import TrainingQuery, index_queries
from rag_augment.rerank.training.tune import WEIGHT_GRID, Scored

HERE = Path(__file__).resolve().parent
RUN_SPECS = {
    "sample_kb": {"dataset": "sample_kb", "cache": CACHE / "sample_kb_qwen15b_hr_policy.jsonl", "chunk_size": 256,
                  "pool": None},
    "sample_kb-qwen05b": {"dataset": "sample_kb", "cache": CACHE / "sample_kb_qwen05b_hr_policy.jsonl",
                          "chunk_size": 256, "pool": None},
    "scifact1k": {"dataset": SCIFACT, "cache": CACHE / "scifact_test1000_qwen15b.jsonl", "chunk_size": 2048,
                  "pool": SUBSETS / "scifact_test_1000.json"},
    # the bar: the unpooled subset (random distractors) with the default local model's queries
    "scifact1k-random": {"dataset": SCIFACT, "cache": CACHE / "scifact_random1000_qwen05b.jsonl", "chunk_size": 2048,
                         "pool": SUBSETS / "scifact_test_random_1000.json"},
    # the same subset with the larger packaged model's queries (`--model qwen2.5-coder-1.5b`)
    "scifact1k-random-qwen15b": {"dataset": SCIFACT, "cache": CACHE / "scifact_random1000_qwen15b.jsonl",
                                 "chunk_size": 2048, "pool": SUBSETS / "scifact_test_random_1000.json"},
    # sample_kb's labelled queries over the whole 18F handbook (226 unlabelled pages), the default model's queries
    "handbook-qwen05b": {"dataset": "sample_kb", "docs": SHARED / "kb" / "handbook_18f" / "pages",
                         "cache": CACHE / "handbook_qwen05b_hr_policy.jsonl", "chunk_size": 256, "pool": None},
    # XQuAD-en's 240 Wikipedia paragraphs, the default model's queries; a seeded third of the articles is train
    "xquad-qwen05b": {"dataset": SHARED / "datasets" / "xquad_en", "cache": CACHE / "xquad_qwen05b.jsonl",
                      "chunk_size": 2048, "pool": None, "article_split": {"train_fraction": 1 / 3, "seed": 0}},
}
TOP_N = 20


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load(run: str):
    spec = RUN_SPECS[run]
    ds = D.load_dataset(spec["dataset"], docs_folder=spec.get("docs"))
    if spec["pool"]:
        pool = json.loads(Path(spec["pool"]).read_text())
        ds = D.restrict(ds, pool["docs"], pool["queries"], {"pool": str(spec["pool"])})
    if spec.get("article_split"):
        ds.qrels = article_split(ds.qrels["test"], **spec["article_split"])
    return ds, spec


def article_split(qrels, train_fraction: float, seed: int) -> dict[str, dict]:
    """A set with only a test split (XQuAD) split by article (document ids "<Article>__p<i>"), seeded: no article's
    paragraphs are relevant to both train and test questions, so the weight chosen on train has not seen them."""
    article = {q: next(iter(rels)).split("__p")[0] for q, rels in qrels.items()}
    names = sorted(set(article.values()))
    train = set(random.Random(seed).sample(names, round(len(names) * train_fraction)))
    return {"train": {q: r for q, r in qrels.items() if article[q] in train},
            "test": {q: r for q, r in qrels.items() if article[q] not in train}}


def open_index(run: str, ds, spec, work: Path, embedder=None):
    """The run's index built from its committed cache (reused when already built), without human queries."""
    chunking = ChunkingConfig(spec["chunk_size"], 32)
    chunks = chunk_documents(ds.documents, chunking)
    index, info = build_index(ds, chunks, ReplayGenerator(spec["cache"]), work / "index",
                              EvalSpec(name=run, chunking=chunking), embedder=embedder,
                              cache_path=Path(spec["cache"]))
    clear_human_queries(index)
    return index, info


def real_fold(ds, index, splits, repeat: int, seed: int = 0) -> tuple[list[TrainingQuery], list[str], dict]:
    """Real queries blended into the training data, cross-fitted: a seeded half of the train claims (fold A) joins
    the synthetic queries, each as a query of the first chunk of each relevant document (`repeat` times, so that a
    few hundred claims are not drowned by thousands of generated questions); the other half (fold B) is all the
    weight and first stage are chosen on. A train claim that near-duplicates a test claim (harness rule: token
    Jaccard or embedding cosine) never trains."""
    train = sorted(splits["train"])
    fold_a = set(random.Random(seed).sample(train, len(train) // 2))
    near = near_duplicates_of(index.embedder, {q: ds.queries[q] for q in sorted(fold_a)},
                              [ds.queries[q] for q in splits["test"]], NEAR_DUPLICATE_JACCARD,
                              FilterConfig().dedupe_threshold)
    chunks_of: dict[str, list[str]] = {}
    for cid, doc in sorted(chunk_docs(index).items()):
        chunks_of.setdefault(doc, []).append(cid)
    out = [TrainingQuery(ds.queries[q], cid, "real", "real:train-fold-a")
           for q in sorted(fold_a - set(near)) for doc, grade in sorted(splits["train"][q].items()) if grade > 0
           for cid in chunks_of.get(doc, [])[:1]]
    info = {"fold_a": len(fold_a), "near_duplicates_dropped": len(near), "training_queries": len(out),
            "repeat": repeat, "fold_b": len(train) - len(fold_a), "seed": seed}
    return out * repeat, [q for q in train if q not in fold_a], info


def extra_queries(run: str, chunk_doc: dict[str, str]) -> tuple[list[TrainingQuery], dict]:
    """The synthetic queries of another run's index over the same documents and chunking (a second generator's
    queries: more, and differently worded, per chunk). Its filters applied as they were when it was indexed."""
    ds, spec = load(run)
    other, _ = open_index(run, ds, spec, RUNS / f"study-reranker-{run}")
    qs = index_queries(other)
    kept = [q for q in qs if q.parent_id in chunk_doc]
    if len(kept) < len(qs):
        raise SystemExit(f"--extra-queries {run}: {len(qs) - len(kept)} of its {len(qs)} queries point at chunks "
                         "this index does not hold (other documents or chunking)")
    return kept, {"run": run, "cache": Path(spec["cache"]).name, "queries": len(kept)}


def ndcgs(rankings: dict[str, list[str]], qrels, chunk_doc) -> dict[str, float]:
    return {q: M.score_query(M.to_documents(r, chunk_doc)[0], qrels[q])["nDCG@10"] for q, r in rankings.items()}


def offline(profile, legs) -> dict[str, list[tuple[str, float]]]:
    out = {}
    for q, ql in legs.items():
        ranked, _ = fuse(truncate(ql, profile), profile, MAX_K)
        out[q] = ranked
    return out


def adapted(args, index, texts, qrels, splits, legs, firsts, chunk_doc, per_query, record) -> None:
    """The bi-encoder fine-tuned on the same groups, fused as one more leg (weight chosen on train, 0 = off)."""
    from benchmarks.studies.reranker.adapted import AdaptedLeg, fuse_with, train_adapted_embedder
    folder = index.home / f"adapted-{index.store.name}"
    if args.retrain or not (folder / "reranker.json").exists():
        # the whole 6-layer model is tuned: one hard negative (plus the batch's) and 128 tokens keep a step affordable
        cfg = TrainConfig(max_length=128, negatives=1, epochs=args.epochs, max_minutes=args.max_minutes, seed=0,
                          force=True,
                          batch_groups=16)
        log(f"training the adapted embedder (budget {args.max_minutes:g} min) ...")
        meta = train_adapted_embedder(index, cfg, on_plan=lambda p: log(f"  plan: {json.dumps(p.to_dict())}"))
    else:
        meta = json.loads((folder / "reranker.json").read_text())
    leg = AdaptedLeg(folder)
    t0 = time.perf_counter()
    vecs = dict(zip(qrels, leg.embed([texts[q] for q in qrels])))
    embed_ms = (time.perf_counter() - t0) * 1000 / max(1, len(qrels))
    extra = {q: leg.search(texts[q], n=50, embedding=vecs[q]) for q in qrels}
    per_query["adapted:alone"] = ndcgs({q: [p for p, _ in extra[q]] for q in qrels}, qrels, chunk_doc)
    choice = {}
    for first, prof in firsts.items():
        table = {}
        for w in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0):
            rk = {q: [p for p, _ in fuse_with(truncate(legs[q], prof), extra[q], w, prof, MAX_K)] for q in qrels}
            table[w] = ndcgs(rk, qrels, chunk_doc)
        best = max(table, key=lambda w: (round(float(np.mean([table[w][q] for q in splits["train"]])), 10), -w))
        choice[first] = {"weight": best, "train_nDCG@10_by_weight": {
            str(w): round(float(np.mean([v[q] for q in splits["train"]])), 4) for w, v in table.items()}}
        per_query[f"adapted:{first}+leg"] = table[best]
    best_first = max(firsts, key=lambda f: (choice[f]["train_nDCG@10_by_weight"][str(choice[f]["weight"])],
                                            f == "default"))
    per_query["adapted:chosen-on-train"] = per_query[f"adapted:{best_first}+leg"]
    record["choices"]["adapted"] = {"first_stage": best_first, **choice}
    record["rerankers"]["adapted"] = {"meta": meta, "latency_ms_top20": {"p50": round(embed_ms, 1), "p95": None,
                                                                         "n": len(qrels), "what": "mean query "
                                                                         "embedding, batched"},
                                      "load_after_timing": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.reranker.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("run", choices=sorted(RUN_SPECS))
    ap.add_argument("--max-minutes", type=float, default=10.0, help="training budget per reranker")
    ap.add_argument("--variants", default="llm,pseudo,adapted")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=192)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--retrain", action="store_true", help="train again even when a model is stored")
    ap.add_argument("--lr", type=float, default=TrainConfig.lr, help="the rerankers' learning rate")
    ap.add_argument("--head-lr", type=float, default=TrainConfig.head_lr,
                    help="the fresh head's learning rate (the first runs of this study: the encoder's)")
    ap.add_argument("--real-repeat", type=int, default=4,
                    help="variant llm+real: how often each fold-A train claim repeats in the training data")
    ap.add_argument("--extra-queries", metavar="RUN", choices=sorted(RUN_SPECS),
                    help="variant llm also trains on this run's index's synthetic queries (same documents)")
    ap.add_argument("--seed", type=int, default=0, help="training seed of the rerankers (order, negatives, head)")
    ap.add_argument("--latency-ms", type=float, default=None,
                    help="with --layers 0, fit the depth to this rerank latency here (default: keep every layer)")
    ap.add_argument("--tag", default="", help="suffix of the model folders and result files (another setting)")
    ap.add_argument("--smoke", action="store_true",
                    help="check the script in a minute: hash embedder, 12 queries per split, nothing written here")
    args = ap.parse_args(argv)
    started = time.time()
    ds, spec = load(args.run)
    work = RUNS / f"study-reranker-{args.run}{'-smoke' if args.smoke else ''}"
    embedder = None
    if args.smoke:
        from rag_augment.testing import HashEmbedder
        embedder = HashEmbedder(128)
        ds.qrels = {s: dict(sorted(ds.split(s).items())[:12]) for s in ("train", "test")}
    index, info = open_index(args.run, ds, spec, work, embedder)
    chunk_doc = chunk_docs(index)
    splits = {"train": ds.split("train"), "test": ds.split("test")}
    qrels = {**splits["train"], **splits["test"]}
    texts = {q: ds.queries[q] for q in qrels}
    log(f"{args.run}: {info['chunks']} chunks, {info['query_vectors']} query vectors; "
        f"{len(splits['train'])} train, {len(splits['test'])} test queries")
    legs = collect_legs(index, texts, EVAL_DEPTH)
    train_legs = {q: legs[q] for q in splits["train"]}
    tuned = tune_profile([TuneSet("train", train_legs, splits["train"], chunk_doc)], hybrid_profile(),
                         "hybrid_tuned", EVAL_DEPTH, synthetic=False).profile
    firsts = {"default": load_profile(None), "hybrid_tuned": tuned}
    rivals = {"dense": single_leg("chunk_dense"), "bm25": single_leg("chunk_lexical"), "hybrid": hybrid_profile(),
              **firsts}
    ranked = {name: offline(prof, legs) for name, prof in rivals.items()}
    per_query = {name: ndcgs({q: [p for p, _ in r] for q, r in rk.items()}, qrels, chunk_doc)
                 for name, rk in ranked.items()}
    record = {"run": args.run, "command": command_line("benchmarks.studies.reranker.study", argv or sys.argv[1:]),
              "index": info, "machine": {"cpus": os.cpu_count(), "load_start": os.getloadavg()},
              "hybrid_tuned_profile": json.loads(tuned.to_json()), "rerankers": {}, "choices": {}}
    all_chunk_text = {cid: got["text"] or "" for cid, got in index.store.get_chunks(list(chunk_doc)).items()}
    for variant in [v for v in args.variants.split(",") if v]:
        if variant == "adapted":
            adapted(args, index, texts, qrels, splits, legs, firsts, chunk_doc, per_query, record)
            continue
        kind = f"reranker-{variant}{args.tag}"
        cfg = TrainConfig(layers=args.layers or None, max_length=args.max_length, epochs=args.epochs,
                          max_minutes=args.max_minutes, seed=args.seed, lr=args.lr,
                          head_lr=args.head_lr, latency_ms=args.latency_ms,
                          force=True)  # the study measures what was asked, even a budget that undertrains
        folder = index.home / f"{kind}-{index.store.name}"
        choose_on = sorted(splits["train"])
        qs = pseudo_queries(index) if variant == "pseudo" else None
        if variant == "llm" and args.extra_queries:
            more, record["extra_queries"] = extra_queries(args.extra_queries, chunk_doc)
            qs = index_queries(index) + more
        if variant == "llm+real":
            real, choose_on, record["real_fold"] = real_fold(ds, index, splits, args.real_repeat)
            qs = index_queries(index) + real
            record["real_fold"]["choose_on"] = choose_on
        if args.retrain or not (folder / "reranker.json").exists():
            log(f"training {kind} (budget {args.max_minutes:g} min) ...")
            meta = train_reranker(index, cfg, queries=qs, kind=kind,
                                  on_plan=lambda p: log(f"  plan: {json.dumps(p.to_dict())}"))
        else:
            meta = json.loads((folder / "reranker.json").read_text())
        stage = load_reranker(index, kind=kind)
        scored: dict[str, dict[str, Scored]] = {f: {} for f in firsts}
        seconds: list[float] = []
        for q in qrels:  # the default's top 20 timed as the product runs it; the rest of the union scored once
            heads = {f: ranked[f][q][:TOP_N] for f in firsts}
            t0 = time.perf_counter()
            got = dict(zip([p for p, _ in heads["default"]], stage.scorer.score(
                texts[q], [all_chunk_text.get(p, "") for p, _ in heads["default"]])))
            if q in splits["test"]:
                seconds.append(time.perf_counter() - t0)
            rest = [p for f in firsts for p, _ in heads[f] if p not in got]
            rest = list(dict.fromkeys(rest))
            got.update(zip(rest, stage.scorer.score(texts[q], [all_chunk_text.get(p, "") for p in rest])))
            for f in firsts:
                scored[f][q] = Scored(heads[f], np.array([got[p] for p, _ in heads[f]]), qrels[q])
        choice = {}
        for first in firsts:
            w, table = best_weight([scored[first][q] for q in choose_on], chunk_doc, WEIGHT_GRID)
            choice[first] = {"weight": w, "train_nDCG@10_by_weight": {str(k): round(v, 4) for k, v in table.items()}}
            for label, weight in ((f"{variant}:{first}+rerank", w), (f"{variant}:{first}>rerank-only", 100.0)):
                per_query[label] = {q: M.score_query(M.to_documents(
                    [p for p, _ in combine_scores(e.ranked, e.scores, weight)[0]] +
                    [p for p, _ in ranked[first][q][TOP_N:]], chunk_doc)[0], qrels[q])["nDCG@10"]
                    for q, e in scored[first].items()}
        best_first = max(firsts, key=lambda f: (choice[f]["train_nDCG@10_by_weight"][str(choice[f]["weight"])],
                                                f == "default"))
        per_query[f"{variant}:chosen-on-train"] = per_query[f"{variant}:{best_first}+rerank"]
        record["choices"][variant] = {"first_stage": best_first, "chosen_on": len(choose_on), **choice}
        ms = np.array(seconds) * 1000
        record["rerankers"][variant] = {
            "meta": meta, "latency_ms_top20": {"p50": round(float(np.percentile(ms, 50)), 1),
                                               "p95": round(float(np.percentile(ms, 95)), 1), "n": len(ms)},
            "load_after_timing": os.getloadavg()}
    record["machine"]["load_end"] = os.getloadavg()
    record["seconds"] = round(time.time() - started, 1)
    test = sorted(splits["test"])
    train = sorted(splits["train"])
    record["per_query_nDCG@10"] = per_query
    record["splits"] = {"train": train, "test": test}
    results = work if args.smoke else HERE / "results"
    out = results / f"{args.run}{args.tag}.json.gz"
    with gzip.open(out, "wt", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    lines = [f"## {args.run}{args.tag}: nDCG@10 ({len(test)} test / {len(train)} train queries)", "",
             "| system | test | train | test - hybrid tuned [95% CI] | test - default [95% CI] "
             "| wins/losses vs tuned |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, pq in per_query.items():
        a = np.array([pq[q] for q in test])
        h = np.array([per_query["hybrid_tuned"][q] for q in test])
        d = np.array([per_query["default"][q] for q in test])
        lift_h, lift_d = M.paired_bootstrap(a, h), M.paired_bootstrap(a, d)
        wl = M.wins_losses(a, h)
        lines.append(f"| {name} | {a.mean():.4f} | {np.mean([pq[q] for q in train]):.4f} | "
                     f"{100 * lift_h[0]:+.1f} [{100 * lift_h[1]:+.1f}, {100 * lift_h[2]:+.1f}] | "
                     f"{100 * lift_d[0]:+.1f} [{100 * lift_d[1]:+.1f}, {100 * lift_d[2]:+.1f}] | {wl[0]}/{wl[1]} |")
    lines.append("")
    for variant, r in record["rerankers"].items():
        m = r["meta"]
        lines.append(f"- {variant}: {m['training_queries']['groups']} training queries "
                     f"({json.dumps(m['training_queries']['by_source'])}), {m.get('layers', 'all')} layers, "
                     f"{m['steps']}/{m['steps_total']} steps ({m['epochs_done']} epochs), "
                     f"mining {m['seconds']['mining']:.0f} s + training {m['seconds']['training']:.0f} s; "
                     f"rerank top 20 p50 {r['latency_ms_top20']['p50']} ms, p95 {r['latency_ms_top20']['p95']} ms "
                     f"(load {r['load_after_timing'][0]:.1f}); chosen on train: first stage "
                     f"{record['choices'][variant]['first_stage']}, weights "
                     f"{ {f: record['choices'][variant][f]['weight'] for f in firsts} }")
    if "extra_queries" in record:
        ex = record["extra_queries"]
        lines.append(f"- llm also trained on the {ex['queries']} synthetic queries of run {ex['run']}'s index "
                     f"({ex['cache']}, same documents and chunking)")
    if "real_fold" in record:
        rf = record["real_fold"]
        lines.append(f"- llm+real: {rf['fold_a']} train claims in fold A ({rf['near_duplicates_dropped']} dropped as "
                     f"near-duplicates of test claims), {rf['training_queries']} real training queries x "
                     f"{rf['repeat']}; weight and first stage chosen on the {rf['fold_b']} fold-B claims only (the "
                     "train column of its rows includes fold A, which it trained on)")
    lines.append(f"- `{record['command']}`: {record['seconds'] / 60:.1f} min, load "
                 f"{record['machine']['load_start'][0]:.1f} -> {record['machine']['load_end'][0]:.1f} on "
                 f"{os.cpu_count()} cores; per query: {out.name}")
    text = "\n".join(lines) + "\n"
    print(text)
    (results / f"{args.run}{args.tag}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
