"""Query latency of chunks-only vs augmented search at 1k / 10k / 100k synthetic vectors, the lexical leg at
100k chunks and 1M synthetic queries' terms, embedding throughput, and peak memory.

Chunks are real SciFact abstracts embedded with the packaged MiniLM. Synthetic vectors are the chunk vectors plus
noise (embedding 100k generated texts would take an hour here and does not change search cost); their texts are
word samples of their chunk, so the lexical leg indexes realistic terms. Latencies are medians of real SciFact
claims, measured in one process so the ratios compare like with like.

    python -m benchmarks.perf.bench_search [--corpus ../shared/datasets/scifact] \
        [--out benchmarks/results/bench_search/latest.json]

The runs RESULTS.md cites ("Search latency") are in benchmarks/results/bench_search/, one JSON per run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks.paths import RESULTS, SCIFACT
from rag_augment.embedding import SentenceTransformerEmbedder
from rag_augment.fusion import FusionProfile
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.search.pipeline import SearchPipeline
from rag_augment.store.chroma import ChromaStore, open_chroma_client
from rag_augment.types import Chunk, SyntheticQuery

CHUNKS_ONLY = FusionProfile(name="chunks-only", weights={"chunk_dense": 1.0}, dense_pair="separate")
DENSE_AUG = FusionProfile(name="dense-augmented", weights={"dense": 1.0}, dense_pair="max")
HYBRID_AUG = FusionProfile(name="hybrid-augmented", weights={"dense": 1.0, "chunk_lexical": 1.0,
                                                            "query_lexical": 1.0})
# the synthetic leg's cost grows with how many query vectors it asks for (200 by default; tuned profiles pick 50)
DENSE_AUG_50 = FusionProfile(name="dense-augmented-depth50", weights={"dense": 1.0}, dense_pair="max",
                             depth={**FusionProfile().depth, "query_dense": 50})
SHIPPED = replace(load_profile(None), name="shipped-default")
PROFILES = (CHUNKS_ONLY, DENSE_AUG, HYBRID_AUG, DENSE_AUG_50, SHIPPED)
IN_TURN = " (legs in turn)"  # the same retriever with workers=1: one leg after another, as before 2026-11-28


def load_corpus(folder: Path, limit: int | None = None):
    docs = []
    with open(folder / "corpus.jsonl") as f:
        for line in f:
            rec = json.loads(line)
            docs.append((rec["_id"], f"{rec.get('title', '')}. {rec['text']}"))
    with open(folder / "queries.jsonl") as f:
        queries = [json.loads(line)["text"] for line in f]
    return docs[:limit] if limit else docs, queries


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50_ms": round(1000 * statistics.median(s), 2), "p95_ms": round(1000 * s[int(0.95 * (len(s) - 1))], 2)}


def fake_children(chunk_ids, texts, vecs, n, rng: np.random.Generator):
    words = [t.split() for t in texts]
    parents = rng.integers(0, len(chunk_ids), size=n)
    noise = rng.normal(scale=0.35 / np.sqrt(vecs.shape[1]), size=(n, vecs.shape[1])).astype(np.float32) * 8
    cvecs = vecs[parents] + noise
    cvecs /= np.linalg.norm(cvecs, axis=1, keepdims=True)
    qs = []
    for i, p in enumerate(parents):
        w = words[p]
        start = int(rng.integers(0, max(1, len(w) - 8)))
        qs.append(SyntheticQuery(f"{chunk_ids[p]}::q{i}", " ".join(w[start:start + 8]), "question", chunk_ids[p],
                                 chunk_ids[p], {"generator": "bench"}))
    return qs, cvecs


def time_queries(retriever, profile, qvecs, qtexts, k=10):
    lat = []
    for v, t in zip(qvecs, qtexts):
        t0 = time.perf_counter()
        res = retriever.legs_for(t, embedding=v, profile=profile)
        retriever.hits_from(res, profile, k, with_text=False)
        lat.append(time.perf_counter() - t0)
    return percentiles(lat)


def bench_dense(docs, queries, embedder, sizes, n_queries, tmp: Path) -> dict:
    ids = [d for d, _ in docs]
    texts = [t for _, t in docs]
    t0 = time.perf_counter()
    vecs = embedder.embed(texts)
    embed_s = time.perf_counter() - t0
    qtexts = queries[:n_queries]
    qvecs = embedder.embed(qtexts)
    t0 = time.perf_counter()
    embedder.embed(qtexts)
    query_embed = (time.perf_counter() - t0) / len(qtexts)
    out = {"embedding": {"texts": len(texts), "seconds": round(embed_s, 1),
                         "texts_per_s": round(len(texts) / embed_s, 1),
                         "query_embed_ms": round(1000 * query_embed, 2)}, "sizes": {}}
    rng = np.random.default_rng(0)
    for n in sizes:
        home = tmp / f"dense-{n}"
        store = ChromaStore(open_chroma_client(path=str(home)), "bench")
        chunks = [Chunk(i, i, t, str(j)) for j, (i, t) in enumerate(zip(ids, texts))]
        store.upsert_chunks(chunks, vecs)
        children, cvecs = fake_children(ids, texts, vecs, n, rng)
        t0 = time.perf_counter()
        store.upsert_queries(children, cvecs)
        upsert_s = time.perf_counter() - t0
        lex = LexicalIndex(home / "lex")
        t0 = time.perf_counter()
        lex.build(ids, texts, [q.query_id for q in children], [q.text for q in children],
                  [q.parent_id for q in children])
        lex_s = time.perf_counter() - t0
        # legs at once (the default retriever) and in turn (workers=1), interleaved per profile
        row = {}
        for _suffix, r in (("", SearchPipeline(store, embedder, lex)),
                           (IN_TURN, SearchPipeline(store, embedder, lex, workers=1))):
            for prof in PROFILES:
                time_queries(r, prof, qvecs[:20], qtexts[:20])  # warm caches
        for prof in PROFILES:
            for suffix, r in (("", SearchPipeline(store, embedder, lex)),
                              (IN_TURN, SearchPipeline(store, embedder, lex, workers=1))):
                row[prof.name + suffix] = time_queries(r, prof, qvecs, qtexts)
        for suffix in ("", IN_TURN):
            base = row["chunks-only" + suffix]["p50_ms"]
            row["ratio_dense_aug_p50" + suffix] = round(row["dense-augmented" + suffix]["p50_ms"] / base, 2)
            row["ratio_hybrid_aug_p50" + suffix] = round(row["hybrid-augmented" + suffix]["p50_ms"] / base, 2)
            for prof in (DENSE_AUG_50, SHIPPED):
                row[f"ratio_{prof.name}_p50" + suffix] = round(row[prof.name + suffix]["p50_ms"] / base, 2)
        row["upsert_synthetic_per_s"] = round(n / upsert_s, 1)
        # issue 8's budget: the lexical build against the Chroma writes alone (embedding, the larger cost of
        # indexing, left out: the ratio is an upper bound of the lexical share of indexing time)
        row["lexical_build_s"], row["chroma_upsert_synthetic_s"] = round(lex_s, 2), round(upsert_s, 2)
        row["lexical_vs_chroma_upsert"] = round(lex_s / upsert_s, 3)
        out["sizes"][str(n)] = row
        shutil.rmtree(home, ignore_errors=True)
    return out


def bench_lexical(docs, queries, n_chunks, n_queries_terms, n_probe, tmp: Path) -> dict:
    """Lexical leg alone at scale: chunks made of abstract sentences, 1M 8-word synthetic queries."""
    rng = random.Random(0)
    sentences = [s for _, t in docs for s in t.split(". ") if len(s.split()) > 5]
    chunk_texts = [" ".join(rng.sample(sentences, 4)) for _ in range(n_chunks)]
    chunk_ids = [f"c{i}" for i in range(n_chunks)]
    words = [s.split() for s in sentences]
    q_texts, q_parents = [], []
    for i in range(n_queries_terms):
        w = words[rng.randrange(len(words))]
        q_texts.append(" ".join(w[:8]))
        q_parents.append(chunk_ids[i % n_chunks])
    lex = LexicalIndex(tmp / "lex-scale")
    t0 = time.perf_counter()
    lex.build(chunk_ids, chunk_texts, [f"q{i}" for i in range(n_queries_terms)], q_texts, q_parents)
    build_s = time.perf_counter() - t0
    probes = queries[:n_probe]
    for leg in ("chunks", "queries"):
        for q in probes[:10]:
            lex.search(leg, q, 50)
    res = {"n_chunks": n_chunks, "synthetic_queries": n_queries_terms, "build_s": round(build_s, 1)}
    for leg, depth in (("chunks", 50), ("queries", 200), ("doc2query", 50)):
        lat = []
        for q in probes:
            t0 = time.perf_counter()
            lex.search(leg, q, depth)
            lat.append(time.perf_counter() - t0)
        res[leg] = percentiles(lat)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_search",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=SCIFACT,
                    help="SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    ap.add_argument("--docs", type=int, default=2000, help="chunks: the first N SciFact abstracts")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--lexical-chunks", type=int, default=100_000)
    ap.add_argument("--lexical-queries", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_search" / "latest.json")
    args = ap.parse_args()
    docs, queries = load_corpus(args.corpus, args.docs)
    embedder = SentenceTransformerEmbedder()
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        result = {"date": date.today().isoformat(), "machine": f"{platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores", "corpus": f"SciFact, first {len(docs)} abstracts",
                  "load_average_start": os.getloadavg(),
                  "dense": bench_dense(docs, queries, embedder, [int(s) for s in args.sizes.split(",")],
                                       args.queries, tmp)}
        result["lexical_scale"] = bench_lexical(docs, queries, args.lexical_chunks, args.lexical_queries,
                                                args.queries, tmp)
        result["load_average_end"] = os.getloadavg()
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
