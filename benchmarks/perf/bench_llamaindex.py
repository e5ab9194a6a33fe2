"""Recall of a plain LlamaIndex VectorStoreIndex retriever with and without QueryAugmentPostprocessor, and the
latency the postprocessor adds per query.

The app: documents -> SentenceSplitter(chunk_size) -> a VectorStoreIndex on Chroma with the packaged MiniLM
(RagAugmentEmbedding). Augmentation: augment_vector_store_index. Metrics are per document, as the qrels are (a
document counts once, at its best node): hit@n, recall@n, MRR@n over the n nodes returned.

- sample_kb: SimpleDirectoryReader over sample_kb/docs (node -> doc id: file_path relative to docs/), the rules
  generator (or --generator local), 79 test queries.
- scifact-pool: the shared SciFact pool (663 abstracts, 100 test queries; shared/experiments/scifact_pool_qwen15b),
  one node per abstract (chunk_size 2048), node -> doc id: ref_doc_id; the local 1.5B model's generations replayed
  from benchmarks/cache/scifact_pool_qwen15b.jsonl (the node texts hash exactly like the harness's chunks).

    python -m benchmarks.perf.bench_llamaindex sample_kb --chunk-size 1024 256
    python -m benchmarks.perf.bench_llamaindex scifact-pool
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.paths import CACHE, REPO_ROOT, SHARED, command_line


@dataclass
class AppData:
    documents: list            # LlamaIndex Documents
    queries: dict[str, str]
    qrels: dict[str, set[str]]
    doc_of: Callable           # node -> qrels doc id
    generator: object
    clean: bool                # clean markup before augmenting (markdown yes; plain abstracts need not)
    cache: str | None


def sample_kb(args) -> AppData:
    from llama_index.core import SimpleDirectoryReader

    from rag_augment.generators.factory import make_generator
    qrels: dict[str, set[str]] = {}
    kb = args.sample_kb
    for line in (kb / "qrels" / f"{args.split}.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        if int(score) > 0:
            qrels.setdefault(qid, set()).add(doc)
    queries = {}
    for line in (kb / "queries.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["_id"] in qrels:
            queries[rec["_id"]] = rec["text"]
    docs = SimpleDirectoryReader(str(kb / "docs"), recursive=True, required_exts=[".md"],
                                 filename_as_id=True).load_data()
    root = (kb / "docs").resolve()
    return AppData(docs, queries, qrels, lambda n: Path(n.metadata["file_path"]).resolve().relative_to(root).as_posix(),
                   make_generator(args.generator), True, args.cache)


def scifact_pool(args) -> AppData:
    from llama_index.core import Document

    from rag_augment.eval.datasets import load_dataset, restrict
    from rag_augment.eval.replay import ReplayGenerator
    pool_dir = args.shared / "experiments" / "scifact_pool_qwen15b"
    if args.split != "test":
        raise SystemExit("scifact-pool: the pool's generations cover its 100 test queries only")
    pool = json.loads((pool_dir / "pool.json").read_text())
    ds = restrict(load_dataset(args.shared / "datasets" / "scifact"), pool["docs"], pool["queries"])
    split = ds.split("test")
    qrels = {q: {d for d, g in rels.items() if g > 0} for q, rels in split.items()}
    docs = [Document(id_=d.doc_id, text=d.text, metadata={"title": d.title}, excluded_embed_metadata_keys=["title"])
            for d in ds.documents]  # the title is already folded into the text, as the harness does
    return AppData(docs, ds.split_queries("test"), qrels, lambda n: n.ref_doc_id, ReplayGenerator(args.pool_cache),
                   False, str(args.pool_cache))


def scores(nodes, relevant: set[str], doc_of) -> dict[str, float]:
    docs = list(dict.fromkeys(doc_of(n.node) for n in nodes))
    first = next((i + 1 for i, d in enumerate(docs) if d in relevant), None)
    added = sum(bool(n.node.metadata.get("rag_augment", {}).get("added")) for n in nodes)
    return {"hit": float(first is not None), "recall": len(relevant & set(docs)) / len(relevant),
            "mrr": 1.0 / first if first else 0.0, "added_nodes": added}


def mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.fmean(r[k] for r in rows), 4) for k in rows[0]
            if k != "added_nodes" or any(r[k] for r in rows)}


def paired_ci(a: list[float], b: list[float], n: int = 2000, seed: int = 7) -> list[float]:
    """95% bootstrap interval of mean(b - a) over queries."""
    rng, diffs = random.Random(seed), [y - x for x, y in zip(a, b)]
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(n))
    return [round(means[int(0.025 * n)], 4), round(means[int(0.975 * n)], 4)]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000, 1)


def run_config(chunk_size: int, args, embedder, data: AppData) -> dict:
    import chromadb
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import QueryBundle
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag_augment.augment_index import AugmentIndex
    from rag_augment.integrations.llamaindex import (
        QueryAugmentPostprocessor,
        RagAugmentEmbedding,
        RagAugmentRetriever,
        augment_vector_store_index,
    )

    queries, qrels = data.queries, data.qrels
    tmp = tempfile.mkdtemp(prefix="bench_li_")
    collection = chromadb.PersistentClient(path=f"{tmp}/app").get_or_create_collection("app")
    # Node ids from the document id and position (LlamaIndex's default is a random uuid): fusion breaks score ties
    # by id, so random ids would move the figures a little from run to run.
    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=args.overlap,
                                id_func=lambda i, d: f"{d.doc_id}#{i}")
    app = VectorStoreIndex.from_documents(
        data.documents, embed_model=RagAugmentEmbedding(embedder), transformations=[splitter],
        storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection)))
    augment = AugmentIndex(f"{tmp}/rag_augment", collection="app", embedder=embedder, cache_path=data.cache)
    t0 = time.perf_counter()
    report = augment_vector_store_index(app, augment, data.generator, clean=data.clean)
    augment_s = time.perf_counter() - t0

    n, k, w0 = args.top_n, args.base_k, args.base_weights[0]
    plain, deep = app.as_retriever(similarity_top_k=n), app.as_retriever(similarity_top_k=k)

    def pp(weight: float, **kw):
        return QueryAugmentPostprocessor(index=augment, top_n=n, reuse_query_embedding=True, base_weight=weight, **kw)

    main = f"plain top-{k} + postprocessor -> {n}"
    variants = {f"plain top-{n}": (plain, None)}  # name -> (first stage, postprocessor)
    for w in args.base_weights:
        variants[main if w == w0 else f"{main}, base_weight={w}"] = (deep, pp(w))
    variants[f"plain top-{n} + postprocessor -> {n}"] = (plain, pp(w0))
    variants[f"plain top-{k} + postprocessor, re-rank only (add_missing=False) -> {n}"] = (
        deep, pp(w0, add_missing=False))
    variants[f"RagAugmentRetriever alone, top-{n} (no base retriever)"] = (RagAugmentRetriever(augment, n), None)
    rows = {name: [] for name in variants}
    base_ms, added_ms = [], []
    for qid in list(queries)[:3]:  # warm-up: model, Chroma and BM25 caches
        qb = QueryBundle(queries[qid])
        variants[main][1].postprocess_nodes(deep.retrieve(qb), qb)
    for qid, text in queries.items():
        for name, (first, post) in variants.items():
            qb = QueryBundle(text)
            t0 = time.perf_counter()
            nodes = first.retrieve(qb)
            t1 = time.perf_counter()
            if post is not None:
                nodes = post.postprocess_nodes(nodes, qb)
            t2 = time.perf_counter()
            if name == main:
                base_ms.append(t1 - t0)
                added_ms.append(t2 - t1)
            row = scores(nodes, qrels[qid], data.doc_of)
            if first is not plain and first is not deep:
                row.pop("added_nodes")  # every node comes from rag_augment: "added" means nothing here
            rows[name].append(row)
    shutil.rmtree(tmp, ignore_errors=True)  # the app's and rag_augment's Chroma folders of this run
    baseline = rows[f"plain top-{n}"]
    out = {"chunk_size": chunk_size, "chunk_overlap": args.overlap, "app_nodes": collection.count(),
           "augment": {"seconds": round(augment_s, 1), "chunks": report.chunks_total,
                       "queries_kept": report.queries_kept, "cache_hits": report.cache_hits,
                       "chunks_generated": report.chunks_generated},
           "metrics": {}, "latency_ms": {
               f"base retrieve top-{k}": {"p50": pct(base_ms, 0.5), "p95": pct(base_ms, 0.95)},
               "added by postprocessor": {"p50": pct(added_ms, 0.5), "p95": pct(added_ms, 0.95)}}}
    for name, r in rows.items():
        out["metrics"][name] = mean(r)  # added_nodes: mean number of returned nodes the base retriever missed
        if r is not baseline:
            out["metrics"][name]["delta_ci95"] = {m: paired_ci([x[m] for x in baseline], [x[m] for x in r])
                                                  for m in ("hit", "mrr")}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_llamaindex",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", choices=["sample_kb", "scifact-pool"])
    ap.add_argument("--chunk-size", type=int, nargs="+", default=None,
                    help="default: 1024 (LlamaIndex's default) and 256 for sample_kb; 2048 for scifact-pool")
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/scifact and experiments/ (default: ../shared beside the repository)")
    ap.add_argument("--sample-kb", type=Path, default=REPO_ROOT / "sample_kb", help="the sample_kb folder")
    ap.add_argument("--pool-cache", type=Path, default=CACHE / "scifact_pool_qwen15b.jsonl",
                    help="scifact-pool: the pool's generations, replayed")
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--top-n", type=int, default=5)
    ap.add_argument("--base-k", type=int, default=10)
    ap.add_argument("--base-weights", type=float, nargs="+", default=[1.0],
                    help="fusion weight of the base retriever's leg; the first is used by every variant")
    ap.add_argument("--split", default="test", help="qrels split (sample_kb has train and test)")
    ap.add_argument("--generator", default="rules", choices=["rules", "local"])
    ap.add_argument("--cache", default=None, help="generation cache (JSONL); default: a fresh one per run")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="1 keeps per-query latency stable on a shared machine (2 threads spin under contention)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(args.torch_threads)
    from rag_augment.embedding import SentenceTransformerEmbedder

    data = sample_kb(args) if args.dataset == "sample_kb" else scifact_pool(args)
    sizes = args.chunk_size or ([1024, 256] if args.dataset == "sample_kb" else [2048])
    embedder = SentenceTransformerEmbedder()
    result = {"command": command_line(__spec__.name, sys.argv[1:]),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"nproc": os.cpu_count(), "platform": platform.platform(), "torch_threads": args.torch_threads,
                          "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
              "dataset": args.dataset, "split": args.split, "generator": data.generator.identity(),
              "queries": len(data.queries),
              "configs": []}
    for cs in sizes:
        result["configs"].append(run_config(cs, args, embedder, data))
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
