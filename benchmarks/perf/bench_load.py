"""Load on a `chroma run` server: one indexer and N query clients at once, then a million vectors.

Part 1 (bounded, default 60 s): the handbook pages (rules generator, real MiniLM) are indexed into a Chroma server
on 127.0.0.1; then N client processes, each with its own home (lexical index) on the same collection, send queries
in a loop while one more process re-indexes the folder with a document added and removed each round. Reported:
query latency p50/p95/p99 and errors per client kind, indexer rounds and errors.
Part 2: `--vectors` (default 1,000,000) random unit vectors (dimension 384, what MiniLM gives) upserted into one
collection of the same server in batches: insert time, the server's resident memory, query p50 over 200 queries.
The vectors are synthetic: Chroma's cost does not depend on what they mean.

    python -m benchmarks.perf.bench_load --out benchmarks/results/bench_load.json
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.paths import RESULTS, SHARED, command_line, shown

QUERIES = ["how do I request annual leave", "who approves travel", "transit benefit amount", "zoom guests",
           "reset my password", "parental leave weeks", "working remotely abroad", "expense a taxi",
           "sick leave advance", "name change in systems", "PIV card pickup", "jury duty leave"]


def start_server(path: Path, port: int) -> subprocess.Popen:
    log = open(path.parent / "chroma-server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([shutil.which("chroma") or "chroma", "run", "--path", str(path), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=log)
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise SystemExit(f"chroma server did not start: see {path.parent / 'chroma-server.log'}") from None
            time.sleep(0.3)


def _index(home: str, url: str, docs: str):
    from rag_augment import AugmentIndex
    from rag_augment.generators.rules import RulesGenerator
    return AugmentIndex(home, chroma_url=url, collection="load"), RulesGenerator()


def query_client(home: str, url: str, seconds: float, seed: int, out: mp.Queue) -> None:
    from rag_augment import AugmentIndex
    index = AugmentIndex(home, chroma_url=url, collection="load")
    rng = np.random.default_rng(seed)
    lat, errors, first_error = [], 0, ""
    index.query("warm up", k=5)
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        try:
            index.query(QUERIES[int(rng.integers(len(QUERIES)))], k=5)
            lat.append(time.perf_counter() - t)
        except Exception as exc:  # noqa: BLE001 - counted, the point of the benchmark
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
    out.put({"kind": "query", "latencies": lat, "errors": errors, "first_error": first_error})


def indexer_client(home: str, url: str, docs: str, seconds: float, out: mp.Queue) -> None:
    from rag_augment import AugmentIndex
    from rag_augment.generators.rules import RulesGenerator
    index, gen = AugmentIndex(home, chroma_url=url, collection="load"), RulesGenerator()
    extra = Path(docs) / "zz-load-test.md"
    rounds, errors, first_error, times = 0, 0, "", []
    end = time.time() + seconds
    try:
        while time.time() < end:
            if rounds % 2 == 0:
                extra.write_text(f"# Load round {rounds}\n\nThe cafeteria menu for round {rounds} lists soup.\n")
            else:
                extra.unlink(missing_ok=True)
            t = time.perf_counter()
            try:
                index.index_path(docs, gen)
                times.append(time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001
                errors += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"[:300]
            rounds += 1
    finally:
        extra.unlink(missing_ok=True)
    out.put({"kind": "index", "rounds": rounds, "errors": errors, "first_error": first_error,
             "round_seconds": times})


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def concurrent_part(work: Path, url: str, docs: Path, clients: int, seconds: float) -> dict:
    folder = work / "docs"
    shutil.copytree(docs, folder)
    t = time.perf_counter()
    index, gen = _index(str(work / "home-indexer"), url, str(folder))
    first = index.index_path(folder, gen)
    build = time.perf_counter() - t
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=query_client, args=(str(work / f"home-q{i}"), url, seconds, i, out))
             for i in range(clients)]
    procs.append(ctx.Process(target=indexer_client, args=(str(work / "home-indexer"), url, str(folder), seconds,
                                                          out)))
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 900) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    lat = [x for r in results if r["kind"] == "query" for x in r["latencies"]]
    idx = next(r for r in results if r["kind"] == "index")
    return {"documents": first.documents_seen, "chunks": first.chunks_total, "first_build_s": round(build, 1),
            "clients": clients, "seconds": seconds, "queries": len(lat),
            "query_p50_ms": pct(lat, 50), "query_p95_ms": pct(lat, 95), "query_p99_ms": pct(lat, 99),
            "query_errors": sum(r["errors"] for r in results if r["kind"] == "query"),
            "query_first_error": next((r["first_error"] for r in results if r.get("first_error") and
                                       r["kind"] == "query"), ""),
            "index_rounds": idx["rounds"], "index_errors": idx["errors"], "index_first_error": idx["first_error"],
            "index_round_p50_s": round(statistics.median(idx["round_seconds"]), 2) if idx["round_seconds"] else None}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def million_part(url: str, server_pid: int, n: int, dim: int = 384, batch: int = 5000) -> dict:
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings
    u = urlparse(url)
    client = chromadb.HttpClient(host=u.hostname, port=u.port, settings=Settings(anonymized_telemetry=False))
    col = client.get_or_create_collection("million", embedding_function=None,
                                          configuration={"hnsw": {"space": "cosine"}})
    rng = np.random.default_rng(0)
    rss_before = rss_mb(server_pid)
    t = time.perf_counter()
    for start in range(0, n, batch):
        m = min(batch, n - start)
        v = rng.standard_normal((m, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        col.add(ids=[f"v{i}" for i in range(start, start + m)], embeddings=v,
                metadatas=[{"parent_id": f"c{i // 10}"} for i in range(start, start + m)])
    insert = time.perf_counter() - t
    qs = rng.standard_normal((200, dim)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    lat = []
    for q in qs:
        t = time.perf_counter()
        col.query(query_embeddings=[q], n_results=200, include=["distances", "metadatas"])
        lat.append(time.perf_counter() - t)
    return {"vectors": col.count(), "dim": dim, "insert_s": round(insert, 1),
            "insert_per_s": round(n / insert), "server_rss_mb_before": rss_before,
            "server_rss_mb_after": rss_mb(server_pid), "query_top200_p50_ms": pct(lat, 50),
            "query_top200_p95_ms": pct(lat, 95)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_load", description=__doc__.split("\n")[0])
    ap.add_argument("--docs", default=str(SHARED / "kb" / "handbook_18f" / "pages"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--vectors", type=int, default=1_000_000, help="0 skips part 2")
    ap.add_argument("--out", default=str(RESULTS / "bench_load.json"))
    args = ap.parse_args(argv)
    from rag_augment.testing import free_port
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    port = free_port()
    server = start_server(work / "chroma", port)
    url = f"http://127.0.0.1:{port}"
    try:
        record = {"command": command_line("benchmarks.perf.bench_load", sys.argv[1:] if argv is None else argv),
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "machine": f"{platform.machine()}, nproc={os.cpu_count()}, load average at start "
                             f"{os.getloadavg()[0]:.1f}", "docs": shown(args.docs),
                  "concurrent": concurrent_part(work, url, Path(args.docs), args.clients, args.seconds)}
        print(json.dumps(record["concurrent"], indent=2))
        if args.vectors:
            record["million"] = million_part(url, server.pid, args.vectors)
            print(json.dumps(record["million"], indent=2))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
