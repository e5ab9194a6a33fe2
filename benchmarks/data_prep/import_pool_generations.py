"""Import the shared SciFact pool experiment's generations into a GenerationCache file.

The experiment (shared/experiments/scifact_pool_qwen15b) generated questions (Q) and claims (C) for 663 SciFact
documents with the local 1.5B model. This writes them as cache entries keyed by the chunk hash of each document
as the eval harness chunks it (BEIR title folded into the text, chunk_size 2048: one chunk per abstract), under a
generator identity that records exactly that experiment's model, prompt and parameters. The parsed Q and C lists
are kept as the experiment parsed them (kinds question and claim); exact repeats within a kind are dropped (they
would share a query id).

    python -m benchmarks.data_prep.import_pool_generations [--shared ../shared] \\
        [--out benchmarks/cache/scifact_pool_qwen15b.jsonl]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.paths import CACHE, SHARED
from rag_augment.cache import GenerationCache
from rag_augment.chunking import ChunkingConfig, chunk_documents
from rag_augment.eval.datasets import load_dataset
from rag_augment.generators.base import GenerationResult
from rag_augment.hashing import stable_json_hash
from rag_augment.types import CLAIM, QUESTION

CHUNKING = ChunkingConfig(chunk_size=2048, chunk_overlap=32)
PROMPT = {
    "system": "You write search queries for a scientific literature search engine.",
    "user": "<title>\n<the first 200 words of the abstract>\nWrite 3 different questions a researcher might search "
            "for that this abstract answers, then 3 short one-sentence scientific claims that this abstract "
            "supports or contradicts. Use the abstract's facts. Format: Q: ... (x3) C: ... (x3)",
    "chat_template": "the GGUF's own",
}
IDENTITY = {
    "generator": "llm",
    "model": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "model_hash": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "prompt_version": "scifact-pool-qwen15b-2026-11-27",
    "prompt_hash": stable_json_hash(PROMPT),
    "prompt": PROMPT,
    "params": {"temperature": 0.3, "seed": 1, "max_tokens": 220, "n_ctx": 1024, "n_threads": 2,
               "backend": "llama-cpp-python 0.3.36"},
    # Part of the identity, hence of every cache key: recorded as generated, never edited.
    "source": "shared/experiments/scifact_pool_qwen15b/generations.jsonl (2026-11-27)",
}


def _queries(rec: dict) -> list[tuple[str, str]]:
    out, seen = [], set()
    for kind, texts in ((QUESTION, rec["questions"]), (CLAIM, rec["claims"])):
        for text in texts:
            key = (kind, text.strip().lower())
            if text.strip() and key not in seen:
                seen.add(key)
                out.append((text.strip(), kind))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.data_prep.import_pool_generations",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/scifact and experiments/ (default: ../shared beside the repository)")
    ap.add_argument("--out", type=Path, default=CACHE / "scifact_pool_qwen15b.jsonl",
                    help="cache file to (re)write (default: benchmarks/cache/scifact_pool_qwen15b.jsonl)")
    args = ap.parse_args(argv)
    exp = args.shared / "experiments" / "scifact_pool_qwen15b"
    pool = json.loads((exp / "pool.json").read_text())
    ds = load_dataset(args.shared / "datasets" / "scifact")
    docs = [d for d in ds.documents if d.doc_id in set(pool["docs"])]
    chunks = {c.doc_id: c for c in chunk_documents(docs, CHUNKING)}
    if len(chunks) != len(docs) or len(docs) != len(pool["docs"]):
        raise SystemExit("expected one chunk per pool document")
    out = args.out
    if out.exists():
        out.unlink()  # rebuilt from the experiment's file, so the result is the same every time
    cache = GenerationCache(out)
    pairs = []
    with open(exp / "generations.jsonl", encoding="utf-8") as lines:
        for line in lines:
            rec = json.loads(line)
            chunk = chunks[rec["doc_id"]]
            pairs.append((chunk, GenerationResult(chunk_id=chunk.chunk_id, queries=_queries(rec), raw=rec["raw"],
                                                  seconds=rec["seconds"], prompt_tokens=rec["prompt_tokens"],
                                                  completion_tokens=rec["completion_tokens"])))
    cache.put_many(IDENTITY, pairs)
    print(f"wrote {len(pairs)} entries ({sum(len(r.queries) for _, r in pairs)} queries) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
