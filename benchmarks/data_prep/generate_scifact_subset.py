"""Generate local-model queries for a >= 1,000-document SciFact test subset, with exactly the prompt and
parameters of the shared pool experiment, so its 663 imported generations and the new ones form one cache.

Subset: the pool's 663 documents + every document relevant to any of the 300 test claims + seeded random
distractors up to --size; its queries are the 300 test claims and, for tuning, the train claims whose relevant
documents are all in the subset. Writes the subset (docs + all 300 test query ids) to benchmarks/data_prep/subsets/
and the cache to benchmarks/cache/ (pool entries copied in, new ones appended as they are generated, so an
interrupted run resumes).

    python -m benchmarks.data_prep.generate_scifact_subset [--size 1000] [--seed 0] [--parallel 4]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from benchmarks.data_prep.import_pool_generations import CHUNKING, IDENTITY  # same identity: one cache
from benchmarks.paths import CACHE, SHARED, SUBSETS
from rag_augment.cache import GenerationCache
from rag_augment.chunking import chunk_documents
from rag_augment.eval.datasets import load_dataset
from rag_augment.generators.base import GenerationResult, SamplingParams
from rag_augment.generators.parsing import parse_queries

INSTRUCTION = ("Write 3 different questions a researcher might search for that this abstract answers, then 3 short "
               "one-sentence scientific claims that this abstract supports or contradicts. Use the abstract's "
               "facts. Format: Q: ... (x3) C: ... (x3)")
# create_chat_completion's defaults for what the experiment did not set (top_p 0.95, repeat_penalty 1.0)
PARAMS = SamplingParams(temperature=0.3, top_p=0.95, max_tokens=220, repeat_penalty=1.0, seed=1)


def messages(title: str, abstract: str) -> list[dict[str, str]]:
    words = " ".join(abstract.split()[:200])
    return [{"role": "system", "content": IDENTITY["prompt"]["system"]},
            {"role": "user", "content": f"{title}\n{words}\n{INSTRUCTION}"}]


def build_subset(shared: Path, size: int, seed: int) -> dict:
    pool = json.loads((shared / "experiments/scifact_pool_qwen15b/pool.json").read_text())
    raw = load_dataset(shared / "datasets/scifact", title_in_text=False)
    test = raw.split("test")
    relevant = {d for rels in test.values() for d in rels}
    docs = set(pool["docs"]) | relevant
    rest = sorted(set(raw.doc_ids) - docs)
    docs |= set(random.Random(seed).sample(rest, max(0, size - len(docs))))
    # Train claims whose relevant documents all fell into the subset: fusion is tuned on them, never on test.
    train = [q for q, rels in raw.split("train").items() if rels and set(rels) <= docs]
    return {"docs": sorted(docs), "queries": sorted(test) + sorted(train), "seed": seed,
            "test_queries": len(test), "train_queries": len(train),
            "built_from": "pool docs + all test-relevant docs + seeded random distractors; queries: every test "
                          "claim + the train claims whose relevant documents are all in the subset"}


def model_for(name_or_path: str | None) -> str:
    """The GGUF to load: the pool experiment's 1.5B model unless another is named (the product default changed
    to the 0.5B model on 2026-11-30; these caches keep the experiment's)."""
    from rag_augment.models import LARGE, resolve_model
    return resolve_model(name_or_path or LARGE.name)


def identity_for(model_path: str, named: str | None) -> dict:
    """The pool's identity, or for another model the same prompt and parameters under that model's file and hash."""
    if not named:
        return IDENTITY
    from rag_augment.models import file_hash
    return {**IDENTITY, "model": Path(model_path).name, "model_hash": file_hash(model_path),
            "source": "benchmarks/data_prep/generate_scifact_subset.py --model (the pool's prompt and "
                      "parameters, another model)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.data_prep.generate_scifact_subset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/scifact and experiments/ (default: ../shared beside the repository)")
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--pool-cache", type=Path, default=CACHE / "scifact_pool_qwen15b.jsonl",
                    help="the pool's imported generations, copied into a new cache")
    ap.add_argument("--subset-dir", type=Path, default=SUBSETS,
                    help="where scifact_test_<size>.json is written (default: benchmarks/data_prep/subsets)")
    ap.add_argument("--cache-dir", type=Path, default=CACHE,
                    help="where scifact_test<size>_qwen15b.jsonl is written (default: benchmarks/cache)")
    ap.add_argument("--model", default=None,
                    help="another model (a packaged name such as qwen2.5-coder-0.5b, or a GGUF path), same prompt "
                         "and parameters: every document is generated (no pool entry is copied) into "
                         "scifact_test<size>_<--tag>.jsonl")
    ap.add_argument("--tag", default="", help="--model: the cache file's model tag (e.g. qwen05b)")
    args = ap.parse_args(argv)
    if args.model and not args.tag:
        ap.error("--model needs --tag (names the cache file)")
    shared = args.shared
    subset = build_subset(shared, args.size, args.seed)
    sub_path = args.subset_dir / f"scifact_test_{args.size}.json"
    sub_path.parent.mkdir(parents=True, exist_ok=True)
    sub_path.write_text(json.dumps(subset, indent=1))
    model_path = model_for(args.model)
    identity = identity_for(model_path, args.model)
    out = args.cache_dir / f"scifact_test{args.size}_{args.tag or 'qwen15b'}.jsonl"
    if not args.model and not out.exists():
        out.write_text(args.pool_cache.read_text())
    cache = GenerationCache(out)

    folded = load_dataset(shared / "datasets/scifact")          # what the harness chunks (title folded in)
    raw = {d.doc_id: d for d in load_dataset(shared / "datasets/scifact", title_in_text=False).documents}
    wanted = set(subset["docs"])
    chunks = list(chunk_documents([d for d in folded.documents if d.doc_id in wanted], CHUNKING))
    todo = [c for c in chunks if cache.get(identity, c) is None]
    print(f"subset {len(wanted)} docs, {len(chunks)} chunks, {len(todo)} to generate -> {out}", flush=True)
    from rag_augment.generators.llama_cpp import LlamaCppBackend
    backend = LlamaCppBackend(model_path, n_ctx=1024 * args.parallel, parallel=args.parallel)
    generate_into(cache, identity, todo, lambda c: messages(raw[c.doc_id].title, raw[c.doc_id].text), backend,
                  args.batch)
    return 0


def generate_into(cache: GenerationCache, identity: dict, todo: list, make_messages, backend, batch_size: int
                  ) -> None:
    """Generate `todo` chunks in batches with PARAMS, parse, append each batch to the cache as it completes
    (an interrupted run resumes), and print the rate."""
    assert backend.model_hash == identity["model_hash"]
    start = time.perf_counter()
    for i in range(0, len(todo), batch_size):
        batch = todo[i:i + batch_size]
        comps = backend.complete_batch([make_messages(c) for c in batch], PARAMS)
        pairs = []
        for c, comp in zip(batch, comps):
            parsed = parse_queries(comp.text, truncated=comp.finish_reason == "length")
            pairs.append((c, GenerationResult(c.chunk_id, parsed.queries, comp.text, comp.seconds,
                                              comp.prompt_tokens, comp.completion_tokens, comp.error,
                                              parsed.notes)))
        cache.put_many(identity, pairs)
        done = i + len(batch)
        rate = done / (time.perf_counter() - start)
        print(f"{done}/{len(todo)} chunks, {rate * 60:.1f}/min, eta {(len(todo) - done) / rate / 60:.1f} min",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
