"""Throughput of query generation, in chunks per minute, on SciFact abstracts or a folder's chunks.

    python -m benchmarks.perf.bench_generation --n 20           # naive loop vs multi-sequence, the 1.5B model
    python -m benchmarks.perf.bench_generation --n 20 --parallel 4,8 --server 4
    python -m benchmarks.perf.bench_generation --docs ../shared/kb/handbook_18f/pages --profile hr_policy \
        --variant "0.5B, parallel=16:model=qwen2.5-coder-0.5b,parallel=16"     # chunks as `rag-augment index` cuts them

Modes: `naive` calls create_chat_completion once per chunk (parallel=1); `parallel=P` decodes P chunks together
in one llama.cpp context with the shared prompt prefix evaluated once; `server` sends the same chunks to a
local `python -m llama_cpp.server` through the OpenAI back end with N concurrent requests.
Prints a markdown table. Timings depend on the machine: they belong in results, not in tests.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

from benchmarks.paths import SCIFACT
from rag_augment import models
from rag_augment.generators.base import SamplingParams
from rag_augment.generators.prompts import PromptConfig
from rag_augment.hashing import sha1_hex
from rag_augment.types import Chunk

DEFAULT_CORPUS = SCIFACT / "corpus.jsonl"


def load_chunks(path: Path, n: int) -> list[Chunk]:
    chunks = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            if len(doc["text"].split()) < 80:  # skip stubs: a real abstract is the unit of work
                continue
            chunks.append(Chunk(chunk_id=doc["_id"], doc_id=doc["_id"], text=doc["text"], title=doc["title"],
                                content_hash=sha1_hex(doc["text"])))
            if len(chunks) == n:
                break
    return chunks


def load_folder_chunks(path: Path, n: int, seed: int = 0) -> list[Chunk]:
    """n chunks of a folder, cut as `rag-augment index` cuts them (headings become paraphrase seeds), drawn at
    random with a fixed seed so every mode and every run reads the same ones."""
    import random

    from rag_augment.chunking import chunk_documents, load_documents
    docs, _ = load_documents(path)
    chunks = chunk_documents(docs)
    random.Random(seed).shuffle(chunks)
    return chunks[:n]


def run(gen, chunks: list[Chunk], warmup: Chunk) -> dict:
    gen.generate_batch([warmup])  # pages the model in; not timed
    start, cpu = time.perf_counter(), time.process_time()
    results = gen.generate_batch(chunks)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "chunks_per_min": 60 * len(chunks) / seconds,
            "chunks_per_cpu_min": 60 * len(chunks) / cpu,  # steadier than wall time on a shared machine
            "gen_tokens": sum(r.completion_tokens for r in results),
            "prompt_tokens": sum(r.prompt_tokens for r in results),
            "queries_per_chunk": sum(len(r.queries) for r in results) / len(chunks),
            "errors": sum(bool(r.error) for r in results)}


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["chunks_per_min"])[len(runs) // 2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, n_threads: int, n_ctx: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads),
                             "--n_threads_batch", str(n_threads)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("llama_cpp.server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf.bench_generation",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="number of SciFact abstracts")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                    help="SciFact corpus.jsonl (default: ../shared/datasets/scifact/corpus.jsonl beside the "
                         "repository)")
    ap.add_argument("--docs", type=Path, default=None,
                    help="a folder of documents: time --n of its chunks (seeded draw) instead of SciFact abstracts")
    ap.add_argument("--model", default=models.LARGE.name,
                    help="the naive baseline's model, a packaged name or a GGUF path (default: the 1.5B model, the "
                         "default generator until 2026-11-30)")
    ap.add_argument("--parallel", default="16", help="comma-separated sequence counts for the multi-sequence "
                                                    "mode; N-spread spreads prompt tokens over decode steps; "
                                                    "N-streams gives each sequence its own KV stream")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--server", type=int, default=0, help="also run the openai back end against llama_cpp.server "
                                                          "with this many concurrent requests")
    ap.add_argument("--max-tokens", type=int, default=SamplingParams().max_tokens)
    ap.add_argument("--repeat", type=int, default=1, help="alternate the modes this many times; report medians")
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--profile", default="scientific")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=V,...",
                    help="one more mode, timed in the same alternating loop: keys model (packaged name or GGUF "
                         "path), parallel, "
                         "questions (n_questions), words (max_chunk_words), streams (1: one KV stream per "
                         "sequence); e.g. 'lean:parallel=16,questions=3,words=150'")
    args = ap.parse_args()

    from rag_augment.generators.llama_cpp import local_generator
    from rag_augment.generators.openai import openai_generator

    model = models.resolve_model(args.model)
    chunks = load_folder_chunks(args.docs, args.n + 1) if args.docs else load_chunks(args.corpus, args.n + 1)
    source = f"{args.docs.name} chunks" if args.docs else "SciFact abstracts"
    warmup, chunks = chunks[0], chunks[1:]
    prompt = PromptConfig(profile=args.profile)
    params = SamplingParams(max_tokens=args.max_tokens)
    modes = ([] if args.no_naive else ["1"]) + [p for p in args.parallel.split(",") if p]
    gens = {}
    for mode in modes:
        p, spread, streams = int(mode.split("-")[0]), "-spread" in mode, "-streams" in mode
        name = "naive (1 chunk per call)" if p == 1 else f"local, parallel={p}" + (
            ", spread prefill" if spread else "") + (", one KV stream per sequence" if streams else "")
        gens[name] = local_generator(model, prompt=prompt, params=params, n_ctx=args.n_ctx, n_threads=args.threads,
                                     parallel=p, spread_prefill=spread, kv_unified=not streams)
    for spec in args.variant:
        name, _, opts = spec.partition(":")
        kv = dict(item.split("=", 1) for item in opts.split(",") if item)
        unknown = set(kv) - {"model", "parallel", "questions", "words", "streams"}
        if unknown:
            ap.error(f"--variant {spec!r}: unknown keys {sorted(unknown)}")
        vprompt = replace(prompt, n_questions=int(kv.get("questions", prompt.n_questions)),
                          max_chunk_words=int(kv.get("words", prompt.max_chunk_words)))
        gens[name] = local_generator(models.resolve_model(kv.get("model", model)), prompt=vprompt, params=params,
                                     n_ctx=args.n_ctx, n_threads=args.threads, parallel=int(kv.get("parallel", 16)),
                                     kv_unified=kv.get("streams", "0") != "1")
    runs: dict[str, list[dict]] = {name: [] for name in gens}
    for rep in range(args.repeat):  # modes alternate, so a busy neighbour slows all of them alike
        for name, gen in gens.items():
            runs[name].append(run(gen, chunks, warmup))
            print(f"# rep {rep} {name}: {runs[name][-1]}", file=sys.stderr)
    rows = [(name, median_run(rs)) for name, rs in runs.items()]
    del gens
    gc.collect()
    if args.server:
        proc, url = start_server(model, args.threads, args.n_ctx)
        try:
            gen = openai_generator(os.path.basename(model), base_url=url, prompt=prompt, params=params,
                                   concurrency=args.server, timeout=600,
                                   extra_body={"repeat_penalty": params.repeat_penalty, "top_k": 40, "min_p": 0.05})
            row = run(gen, chunks, warmup)
            row["chunks_per_cpu_min"] = None  # the work happens in the server process
            rows.append((f"openai -> llama_cpp.server, {args.server} concurrent", row))
        finally:
            proc.terminate()
            proc.wait()

    base = rows[0][1] if not args.no_naive else None
    print(f"Machine: {platform.machine()}, nproc={os.cpu_count()}, threads={args.threads}; "
          f"date {datetime.date.today()}; model {os.path.basename(model)}; "
          f"llama-cpp-python {version('llama-cpp-python')}; {len(chunks)} {source}; "
          f"median of {args.repeat} alternating run(s); load average {os.getloadavg()[0]:.1f}; "
          f"prompt {prompt.version}/{prompt.profile}, n_questions={prompt.n_questions}; {params.to_dict()}\n")
    print("| mode | seconds | chunks/min | speed-up | chunks/CPU-min | speed-up (CPU) | prompt tok | gen tok "
          "| gen tok/s | queries/chunk | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        speed = f"{r['chunks_per_min'] / base['chunks_per_min']:.2f}x" if base else "-"
        cpu = r["chunks_per_cpu_min"]
        speed_cpu = f"{cpu / base['chunks_per_cpu_min']:.2f}x" if base and cpu else "-"
        print(f"| {name} | {r['seconds']:.1f} | {r['chunks_per_min']:.2f} | {speed} | "
              f"{f'{cpu:.2f}' if cpu else '-'} | {speed_cpu} | {r['prompt_tokens']} | "
              f"{r['gen_tokens']} | {r['gen_tokens'] / r['seconds']:.1f} | {r['queries_per_chunk']:.1f} | "
              f"{r['errors']} |")


if __name__ == "__main__":
    main()
