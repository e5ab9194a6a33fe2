"""Measure one round of the feedback loop: feed back the TRAIN queries that fail, report held-out TEST queries.

    python -m benchmarks.perf.bench_feedback_loop                        # sample_kb, rules generator, MiniLM
    python -m benchmarks.perf.bench_feedback_loop --dataset ../shared/datasets/scifact --variants rules

Steps: index the data set with the rules generator into a temporary home; score train and test queries
(document level: a ranking of chunks collapses to distinct documents); every train query whose relevant document
is not in the top k becomes a feedback record (verdict thumbs_down, its relevant document as the target); one
round of apply_feedback runs per variant, on its own copy of the index:
  none   -- attach only the failed query itself to its target chunk;
  rules  -- the failed query plus deterministic templated paraphrases (the rules generator);
  llm    -- the failed query plus LLM paraphrases (--llm-model GGUF, needs llama-cpp-python).
Test queries are passed as the holdout, so none of them can be attached. Train queries are what was fed back, so
train gains are expected (the exact text is now a child vector); test gains come only from generalisation to
different wordings of similar needs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag_augment.augment_index import AugmentIndex
from rag_augment.chunking import ChunkingConfig
from rag_augment.eval.datasets import build_subset, load_dataset
from rag_augment.fusion import fuse
from rag_augment.generators.rules import RulesGenerator
from rag_augment.metrics import paired_bootstrap, score_query, wins_losses
from rag_augment.trust.feedback import FeedbackStore, apply_feedback

METRICS = ("R@1", "R@5", "MRR@10", "nDCG@10")


def rankings(index: AugmentIndex, queries: dict[str, str], depth: int) -> dict[str, list[str]]:
    """What index.query ranks, as document ids: queries embedded in one batch, legs fused without fetching text."""
    chunk_doc = {cid: m.get("doc_id", "") for cid, m in index.store.chunk_states().items()}
    qids = sorted(queries)
    vecs = index.embedder.embed([queries[q] for q in qids])
    retriever = index.retriever
    out = {}
    for qid, vec in zip(qids, vecs):
        ranked, _ = fuse(retriever.legs_for(queries[qid], embedding=vec).legs, retriever.profile, depth)
        out[qid] = [chunk_doc.get(cid, cid) for cid, _ in ranked]
    return out


def score(index, queries, qrels, depth) -> dict[str, np.ndarray]:
    ranks = rankings(index, queries, depth)
    rows = [score_query(ranks[q], qrels[q]) for q in sorted(queries)]
    return {m: np.array([r[m] for r in rows]) for m in METRICS}


def summarise(before: dict, after: dict) -> dict:
    out = {}
    for m in METRICS:
        lift, lo, hi = paired_bootstrap(after[m], before[m])
        wins, losses, _ties = wins_losses(after[m], before[m])
        out[m] = {"before": round(float(before[m].mean()), 4), "after": round(float(after[m].mean()), 4),
                  "lift": round(lift, 4), "ci95": [round(lo, 4), round(hi, 4)], "wins": wins, "losses": losses}
    return out


def make_embedder(name: str):
    if name.startswith("hash"):
        from rag_augment.embedding import HashEmbedder
        return HashEmbedder(256)
    from rag_augment.embedding import SentenceTransformerEmbedder
    return SentenceTransformerEmbedder()


def variant_generator(name: str, args):
    if name == "none":
        return None
    if name == "rules":
        return RulesGenerator()
    from rag_augment.generators.llama_cpp import LlamaCppBackend
    return LlamaCppBackend(model_path=args.llm_model, n_ctx=2048, parallel=args.llm_parallel)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_feedback_loop",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="sample_kb",
                   help="'sample_kb' (the repository's) or a BEIR folder with train and test qrels")
    p.add_argument("--k", type=int, default=5, help="a query fails when no relevant document is in the top k")
    p.add_argument("--depth", type=int, default=30, help="chunks retrieved per query before collapsing to docs")
    p.add_argument("--variants", default="none,rules", help="comma list of none, rules, llm")
    p.add_argument("--llm-model", default=None, help="GGUF for the llm variant (default: the packaged model)")
    p.add_argument("--llm-parallel", type=int, default=4)
    p.add_argument("--embedder", default="minilm", help="minilm (default) or hash (fast, not meaningful)")
    p.add_argument("--paraphrases", type=int, default=3)
    p.add_argument("--subset-docs", type=int, default=0, help="BEIR sets: every document relevant to a train or "
                   "test query plus seeded random distractors up to this many (0: the whole corpus)")
    p.add_argument("--profile", default=None, help="fusion profile for every ranking (a shipped name or JSON file)")
    p.add_argument("--home", default=None, help="keep the indexes here (a rerun reuses the base index; "
                   "default: a temporary folder, removed at the end)")
    p.add_argument("--out", default=None, help="write the JSON result here")
    args = p.parse_args(argv)

    t0 = time.time()
    ds = load_dataset(args.dataset)
    if args.subset_docs:
        ds = build_subset(ds, ["train", "test"], args.subset_docs, seed=0)
    train_q, test_q = ds.split_queries("train"), ds.split_queries("test")
    train_rels, test_rels = ds.split("train"), ds.split("test")
    overlap = {t.lower().strip() for t in train_q.values()} & {t.lower().strip() for t in test_q.values()}
    work = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench_feedback_"))
    try:
        base = AugmentIndex(work / "base", embedder=make_embedder(args.embedder), profile=args.profile)
        rep = base.index_documents(ds.documents, RulesGenerator(), ChunkingConfig())
        t_index = time.time() - t0
        test_before = score(base, test_q, test_rels, args.depth)
        train_before = score(base, train_q, train_rels, args.depth)
        failing = [q for q, r in zip(sorted(train_q), train_before[f"R@{args.k}"]) if r == 0.0]
        result = {"dataset": ds.name, "date": datetime.date.today().isoformat(), "nproc": os.cpu_count(),
                  "embedder": base.embedder.name, "profile": base.profile.name, "k": args.k, "depth": args.depth,
                  "documents": len(ds.documents), "chunks": base.store.counts()["chunks"],
                  "queries_indexed": base.store.counts()["queries"], "index_reused": rep.chunks_embedded == 0,
                  "train_queries": len(train_q), "test_queries": len(test_q), "train_test_text_overlap": len(overlap),
                  "train_failing_before": len(failing), "index_seconds": round(t_index, 1), "variants": {}}
        for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
            result["variants"][name] = run_variant(name, base, work, args, failing, train_q, train_rels, test_q,
                                                   test_rels, train_before, test_before)
        result["seconds"] = round(time.time() - t0, 1)
    finally:
        if not args.home:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    return 0


def markdown(r: dict) -> str:
    lines = [f"{r['dataset']}: {r['documents']} docs, {r['chunks']} chunks, {r['queries_indexed']} rules queries; "
             f"embedder {r['embedder']}; k={r['k']}; train {r['train_queries']} queries "
             f"({r['train_failing_before']} fail at k), test {r['test_queries']}; nproc {r['nproc']}; {r['date']}",
             "", "| variant | fed back | fixed (round, target in top k) | test " + " | test ".join(METRICS) +
             " | train " + " | train ".join(METRICS) + " |",
             "|---|---|---|" + "---|" * (2 * len(METRICS))]
    for name, v in r["variants"].items():
        cells = [f"{v[s][m]['before']:.3f} -> {v[s][m]['after']:.3f} ({v[s][m]['lift']:+.3f}, "
                 f"[{v[s][m]['ci95'][0]:+.3f}, {v[s][m]['ci95'][1]:+.3f}])" for s in ("test", "train") for m in METRICS]
        lines.append(f"| {name} | {v['round']['handled']} | {v['round']['fixed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_variant(name, base, work, args, failing, train_q, train_rels, test_q, test_rels, train_before,
                test_before) -> dict:
    home = work / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base.home, home)  # each variant starts from the same index
    idx = AugmentIndex(home, embedder=base.embedder, profile=base.profile)
    targets = {q: max(sorted(train_rels[q]), key=lambda d: train_rels[q][d]) for q in failing}
    with FeedbackStore.for_index(idx) as fb:
        fb.add_many([{"query": train_q[q], "verdict": "thumbs_down", "session_id": "bench", "doc_id": targets[q]}
                     for q in failing], idx.store.name)
    t = time.time()
    rnd = apply_feedback(idx, variant_generator(name, args), k=args.k, n_paraphrases=args.paraphrases,
                         holdout=list(test_q.values()))
    seconds = time.time() - t
    train_after = score(idx, train_q, train_rels, args.depth)
    test_after = score(idx, test_q, test_rels, args.depth)
    fixed_docs = sum(1 for q, r in zip(sorted(train_q), train_after[f"R@{args.k}"]) if q in set(failing) and r > 0)
    return {"round": {k: rnd[k] for k in ("handled", "fixed", "still_failing", "skipped", "queries_added",
                                          "dropped")},
            "round_seconds": round(seconds, 1), "train_failing_fixed_doc_level": fixed_docs,
            "test": summarise(test_before, test_after), "train": summarise(train_before, train_after),
            "test_by_fed_doc": by_fed_doc(set(targets.values()), test_q, test_rels, test_before, test_after)}


def by_fed_doc(fed_docs: set[str], test_q, test_rels, before, after) -> dict:
    """Test lift split by whether a relevant document of the test query received feedback vectors: where do
    held-out gains come from?"""
    share = np.array([bool(set(test_rels[q]) & fed_docs) for q in sorted(test_q)])
    out = {}
    for name, mask in (("relevant_doc_fed_back", share), ("other", ~share)):
        out[name] = {"queries": int(mask.sum())}
        for m in ("R@5", "nDCG@10"):
            out[name][m] = {"before": round(float(before[m][mask].mean()), 4) if mask.any() else None,
                            "lift": round(float((after[m][mask] - before[m][mask]).mean()), 4) if mask.any() else None}
    return out


if __name__ == "__main__":
    sys.exit(main())
