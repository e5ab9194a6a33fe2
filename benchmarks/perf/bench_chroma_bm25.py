"""Issue 8: does Chroma's own BM25 sparse index work locally, and how does it compare with our lexical leg?

Chroma 1.x declares BM25 as a sparse vector index in a collection Schema:

    schema = Schema()
    schema.create_index(key="bm25_sparse", config=SparseVectorIndexConfig(
        source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction(), bm25=True))
    schema.create_index(config=VectorIndexConfig(embedding_function=<dense ef>))   # dense ef goes in the schema too
    col = client.create_collection(name, schema=schema)
    col.search(Search().rank(Knn(query="text", key="bm25_sparse", limit=10)).limit(10))

This script tries that for real against the embedded client (chromadb.PersistentClient) and, with --server, an
HTTP server started by `chroma run`, and records the exact error of every step that fails. Where it works it
indexes SciFact (title + ". " + text, 5,183 docs) and runs the 300 test claims. It always measures the project's
lexical leg (rag_augment.lexical.LexicalIndex: bm25s + PyStemmer), and, for a quality reference of Chroma's BM25
*formula* (tokenizer + fixed avg_doc_length), an offline emulation: ChromaBm25EmbeddingFunction's document
weights times a Lucene IDF, scored with scipy. The emulation is not Chroma's index; its latency is not Chroma's.

Metrics: nDCG@10 (trec_eval gain rel / log2(rank + 1), graded qrels, ideal DCG over all judged docs),
Recall@10 (share of a query's relevant docs in the top 10), mean top-10 overlap with bm25s, build time,
per-query latency p50/p95 (time.perf_counter, one query at a time, tokenization included), disk size.

Needs `snowballstemmer` (chromadb's optional dependency of ChromaBm25EmbeddingFunction).

    chroma run --path /tmp/chroma_srv --host 127.0.0.1 --port 8765 &        # optional, for --server
    python -m benchmarks.perf.bench_chroma_bm25 [--dataset ../shared/datasets/scifact] \
        [--server 127.0.0.1:8765 --server-path /tmp/chroma_srv] [--out benchmarks/results/bench_chroma_bm25.md]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.paths import SCIFACT, command_line

K_EVAL = 10
SPARSE_KEY = "bm25_sparse"


# ---- data and metrics ----------------------------------------------------------------------------------
def load_scifact(root: Path):
    ids, texts = [], []
    with open(root / "corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            ids.append(str(d["_id"]))
            texts.append((d.get("title") or "") + ". " + (d.get("text") or ""))
    qrels: dict[str, dict[str, int]] = {}
    with open(root / "qrels" / "test.tsv") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {}
    with open(root / "queries.jsonl") as f:
        for line in f:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    return ids, texts, queries, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = K_EVAL) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = K_EVAL) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def run_queries(search, queries: dict[str, str]) -> tuple[dict[str, list[str]], list[float]]:
    """search(text) -> ranked ids. One warm-up query, then every query timed alone."""
    first = next(iter(queries.values()))
    search(first)
    runs, lat = {}, []
    for qid, text in queries.items():
        t0 = time.perf_counter()
        runs[qid] = search(text)
        lat.append(time.perf_counter() - t0)
    return runs, lat


def summarize(name, runs, lat, qrels, build_s, disk, reference=None, note=""):
    row = {
        "system": name,
        "ndcg": statistics.mean(ndcg_at(runs[q], qrels[q]) for q in qrels),
        "recall": statistics.mean(recall_at(runs[q], qrels[q]) for q in qrels),
        "build_s": build_s,
        "p50_ms": 1000 * float(np.percentile(lat, 50)) if lat else None,
        "p95_ms": 1000 * float(np.percentile(lat, 95)) if lat else None,
        "disk": disk,
        "note": note,
        "runs": runs,
    }
    if reference is not None:
        row["overlap"] = statistics.mean(
            len(set(runs[q][:K_EVAL]) & set(reference[q][:K_EVAL])) / K_EVAL for q in qrels)
    return row


# ---- the project's lexical leg -------------------------------------------------------------------------
def bench_bm25s(ids, texts, queries, qrels, work: Path):
    from rag_augment.lexical import LexicalIndex

    folder = work / "lexical"
    t0 = time.perf_counter()
    index = LexicalIndex(folder)
    index.build(ids, texts, query_ids=[], query_texts=[], query_parents=[])
    build_s = time.perf_counter() - t0
    index.save()
    # the chunks leg is the one compared; the two other legs are empty here (a few bytes)
    disk = disk_bytes(folder / "chunks")
    runs, lat = run_queries(lambda t: [d for d, _ in index.search("chunks", t, K_EVAL)], queries)
    return summarize("bm25s + PyStemmer (LexicalIndex, in-process)", runs, lat, qrels, build_s, disk,
                     note="build = tokenize + index; disk = saved `chunks` leg")


# ---- Chroma, for real ----------------------------------------------------------------------------------
def _err(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__name__}: {exc}".replace("\n", " ")


def _dense_ef():
    import chromadb

    class HashDense(chromadb.EmbeddingFunction):
        """8-dim hash vector: the dense index must exist but plays no part in the BM25 search."""

        def __init__(self):
            pass

        def __call__(self, input):
            out = []
            for t in input:
                h = hashlib.blake2b(t.encode(), digest_size=8).digest()
                out.append([b / 255.0 for b in h])
            return out

        @staticmethod
        def name():
            return "bench_hash_dense"

        def get_config(self):
            return {}

        @staticmethod
        def build_from_config(config):
            return HashDense()

    return HashDense()


def bench_chroma(label, client, data_path, ids, texts, queries, qrels, reference):
    """Returns (probe steps [(step, outcome)], row or None)."""
    from chromadb import K, Schema, SparseVectorIndexConfig, VectorIndexConfig
    from chromadb.execution.expression import Knn, Search
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    steps: list[tuple[str, str]] = []
    name = "bench_bm25"
    try:
        client.delete_collection(name)
    except Exception:
        pass
    schema = Schema()
    schema.create_index(key=SPARSE_KEY, config=SparseVectorIndexConfig(
        source_key=K.DOCUMENT, embedding_function=ChromaBm25EmbeddingFunction(), bm25=True))
    schema.create_index(config=VectorIndexConfig(embedding_function=_dense_ef(), space="l2"))
    try:
        col = client.create_collection(name, schema=schema)
        steps.append(("create_collection(schema with SparseVectorIndexConfig(bm25=True))", "ok"))
    except Exception as exc:
        steps.append(("create_collection(schema with SparseVectorIndexConfig(bm25=True))", _err(exc)))
        col = None

    if col is None:
        # Without the sparse index: can the search API or sparse metadata be used at all?
        try:
            client.delete_collection(name + "_plain")
        except Exception:
            pass
        plain = client.create_collection(name + "_plain", embedding_function=_dense_ef())
        plain.add(ids=ids[:2], documents=texts[:2])
        sv = ChromaBm25EmbeddingFunction().embed_query([queries[next(iter(queries))]])[0]
        probes = [
            ("search(Knn(query=SparseVector, key=sparse key)) on a collection without the index",
             lambda: plain.search(Search().rank(Knn(query=sv, key=SPARSE_KEY)).limit(K_EVAL))),
            ("search(Knn(query=dense vector)) (the Search API itself)",
             lambda: plain.search(Search().rank(Knn(query=[0.5] * 8)).limit(K_EVAL))),
            ("add(metadatas=[{key: SparseVector}]) (store BM25 vectors yourself)",
             lambda: plain.add(ids=["sv"], documents=["x"], metadatas=[{SPARSE_KEY: sv}])),
        ]
        for step, fn in probes:
            try:
                fn()
                steps.append((step, "ok"))
            except Exception as exc:
                steps.append((step, _err(exc)))
        client.delete_collection(name + "_plain")
        return steps, None

    batch = min(client.get_max_batch_size(), 1000)
    t0 = time.perf_counter()
    try:
        for i in range(0, len(ids), batch):
            col.add(ids=ids[i:i + batch], documents=texts[i:i + batch])
    except Exception as exc:
        steps.append(("add documents", _err(exc)))
        return steps, None
    build_s = time.perf_counter() - t0
    steps.append(("add documents", "ok"))

    def search(text):
        res = col.search(Search().rank(Knn(query=text, key=SPARSE_KEY, limit=K_EVAL)).limit(K_EVAL))
        return list(res["ids"][0])

    try:
        search(next(iter(queries.values())))
        steps.append(("search(Knn(query=str, key=sparse key))", "ok"))
    except Exception as exc:
        steps.append(("search(Knn(query=str, key=sparse key))", _err(exc)))
        return steps, None
    runs, lat = run_queries(search, queries)
    disk = disk_bytes(data_path) if data_path else None
    return steps, summarize(f"Chroma BM25 sparse index ({label})", runs, lat, qrels, build_s, disk, reference,
                            note="build = add() incl. client-side BM25 encoding; disk = whole Chroma dir")


# ---- Chroma's BM25 formula, emulated offline -----------------------------------------------------------
def bench_chroma_formula(ids, texts, queries, qrels, reference, avg_doc_length=None):
    """ChromaBm25EmbeddingFunction document weights (tf saturation with a *fixed* avg_doc_length, 256 by
    default) dotted with Lucene IDF ln(1 + (N - df + .5) / (df + .5)) per query term. Chroma computes IDF
    server-side when bm25=True; the exact server formula is not in the Python package, so this is an estimate."""
    import scipy.sparse as sp
    from chromadb.utils.embedding_functions import ChromaBm25EmbeddingFunction

    ef = ChromaBm25EmbeddingFunction() if avg_doc_length is None else \
        ChromaBm25EmbeddingFunction(avg_doc_length=avg_doc_length)
    t0 = time.perf_counter()
    vecs = ef(texts)
    col_of: dict[int, int] = {}
    rows, cols, vals = [], [], []
    for r, v in enumerate(vecs):
        for h, w in zip(v.indices, v.values):
            rows.append(r)
            cols.append(col_of.setdefault(h, len(col_of)))
            vals.append(w)
    X = sp.csc_matrix((vals, (rows, cols)), shape=(len(texts), len(col_of)), dtype=np.float32)
    df = np.diff(X.indptr)
    n = len(texts)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    build_s = time.perf_counter() - t0

    def search(text):
        q = ef.embed_query([text])[0]
        cs = sorted({col_of[h] for h in q.indices if h in col_of})  # set: a repeated query term counts once
        if not cs:
            return []
        scores = X[:, cs] @ idf[cs]
        top = np.argpartition(-scores, K_EVAL - 1)[:K_EVAL]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [ids[i] for i in top if scores[i] > 0]

    runs, lat = run_queries(search, queries)
    adl = ef.avg_doc_length
    return summarize(f"Chroma BM25 formula, offline emulation (avg_doc_length={adl:g})", runs, lat, qrels,
                     build_s, None, reference,
                     note="not Chroma's index: ChromaBm25EmbeddingFunction weights x Lucene IDF in scipy")


# ---- report --------------------------------------------------------------------------------------------
def fmt_table(rows):
    out = ["| system | nDCG@10 | Recall@10 | top-10 overlap with bm25s | build (s) | query p50 (ms) | "
           "query p95 (ms) | disk |",
           "|---|---|---|---|---|---|---|---|"]

    def f(x, spec):
        return "—" if x is None else format(x, spec)

    for r in rows:
        disk = "—" if r.get("disk") is None else f"{r['disk'] / 2**20:.2f} MiB"
        out.append(f"| {r['system']} | {f(r['ndcg'], '.4f')} | {f(r['recall'], '.4f')} | "
                   f"{f(r.get('overlap'), '.3f') if 'overlap' in r else '(reference)'} | {f(r['build_s'], '.2f')} | "
                   f"{f(r['p50_ms'], '.3f')} | {f(r['p95_ms'], '.3f')} | {disk} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_chroma_bm25",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=SCIFACT, type=Path,
                    help="SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    ap.add_argument("--server", default=None, help="host:port of a `chroma run` server to test as well")
    ap.add_argument("--server-path", default=None, type=Path, help="the server's --path, for its disk size")
    ap.add_argument("--no-emulation", action="store_true", help="skip the offline emulation of Chroma's formula")
    ap.add_argument("--out", default=None, type=Path, help="also write the markdown here")
    args = ap.parse_args()

    import bm25s
    import chromadb

    ids, texts, queries, qrels = load_scifact(args.dataset)
    print(f"# corpus {len(ids)} docs, {len(queries)} test queries", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="bench_chroma_bm25_"))
    try:
        rows = [bench_bm25s(ids, texts, queries, qrels, work)]
        reference = rows[0]["runs"]
        probes: list[tuple[str, list[tuple[str, str]]]] = []

        emb_path = work / "chroma_embedded"
        client = chromadb.PersistentClient(path=str(emb_path))
        steps, row = bench_chroma("embedded PersistentClient", client, emb_path, ids, texts, queries, qrels,
                                  reference)
        probes.append(("embedded `chromadb.PersistentClient`", steps))
        if row:
            rows.append(row)
        if args.server:
            host, port = args.server.rsplit(":", 1)
            client = chromadb.HttpClient(host=host, port=int(port))
            steps, row = bench_chroma(f"server HttpClient {args.server}", client, args.server_path, ids, texts,
                                      queries, qrels, reference)
            probes.append((f"server `chromadb.HttpClient` (`chroma run`, {args.server})", steps))
            if row:
                rows.append(row)
        if not args.no_emulation:
            try:
                rows.append(bench_chroma_formula(ids, texts, queries, qrels, reference))
                from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import (
                    DEFAULT_CHROMA_BM25_STOPWORDS,
                    Bm25Tokenizer,
                    get_english_stemmer,
                )
                tok = Bm25Tokenizer(get_english_stemmer(), DEFAULT_CHROMA_BM25_STOPWORDS, 40)
                mean_len = statistics.mean(len(tok.tokenize(d)) for d in texts)  # SciFact's real avgdl
                rows.append(bench_chroma_formula(ids, texts, queries, qrels, reference,
                                                 avg_doc_length=round(mean_len)))
            except Exception as exc:  # e.g. snowballstemmer missing
                probes.append(("offline emulation", [("ChromaBm25EmbeddingFunction", _err(exc))]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(row.split(":", 1)[1].strip() for row in info if row.startswith("model name"))
    except Exception:
        pass
    lines = [
        "# Chroma BM25 sparse index vs the lexical leg (bm25s) — SciFact",
        "",
        f"- command: `{command_line(__spec__.name, sys.argv[1:])}`",
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores {cpu}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}; shared with another CPU-heavy job, so latencies are upper bounds",
        f"- chromadb {chromadb.__version__}, bm25s {bm25s.__version__}",
        f"- data: {len(ids)} docs (title + \". \" + text), {len(queries)} test queries, qrels/test.tsv",
        "",
        "## Does Chroma's BM25 sparse index work locally?",
        "",
    ]
    for where, steps in probes:
        lines.append(f"**{where}**")
        lines.append("")
        for step, outcome in steps:
            lines.append(f"- {step}: " + ("ok" if outcome == "ok" else f"fails — `{outcome}`"))
        lines.append("")
    lines += ["## Results", "", fmt_table(rows), ""]
    lines += [f"- {r['system']}: {r['note']}" for r in rows if r.get("note")]
    lines.append("- latency: one query at a time after one warm-up, tokenization/encoding included")
    lines += [
        "",
        "## Where the limits are stated",
        "",
        "- chromadb `Collection.search` docstring: \"This is an experimental API that only works for distributed and "
        "hosted Chroma for now.\" The embedded client's `RustBindingsAPI._search` (chromadb/api/rust.py) raises "
        "`NotImplementedError(\"Search is not implemented for Local Chroma\")` before reaching the Rust bindings.",
        "- The single-node Rust frontend (embedded and `chroma run` alike) rejects any schema whose sparse index is "
        "enabled (\"Sparse vector indexing is not enabled in local\"); maintainers call local BM25 planned, pending a "
        "storage refactor (github.com/chroma-core/chroma/issues/6185).",
        "- What does work locally: `ChromaBm25EmbeddingFunction` itself (pure Python, needs `snowballstemmer`); its "
        "vectors can only be scored outside Chroma, which is what the emulation rows do.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
