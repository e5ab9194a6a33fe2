"""A SciFact test subset whose distractors are random only: every document relevant to a test claim plus seeded
random documents up to --size. The pooled subset (scifact_test_1000.json) holds the shared experiment's 663-document
pool, whose hard distractors were chosen by the dense and BM25 baselines for 100 of the test claims: distractors
picked by the rivals make the rivals look worse. This one has no such bias.

Writes benchmarks/data_prep/subsets/scifact_test_random_<size>.json (docs + the 300 test claims + the train claims
whose relevant documents all fell into the subset, the pooled subset's rule) and reports how many of its documents
have no generation yet in the local model's caches (benchmarks/cache/scifact_test1000_qwen15b.jsonl and
scifact_pool_qwen15b.jsonl, one generator identity).

    python -m benchmarks.data_prep.build_random_subset                 # subset + count, no model
    python -m benchmarks.data_prep.build_random_subset --generate \\
        --parallel 16 --batch 16                                         # also generate the missing ones (hours)

With --generate, benchmarks/cache/scifact_random1000_qwen15b.jsonl receives the existing entries of the subset's
chunks, then the missing ones, appended batch by batch with the pooled subset's prompt and parameters
(generate_scifact_subset.py): an interrupted run resumes where it stopped when started again.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from benchmarks.data_prep.import_pool_generations import CHUNKING, IDENTITY
from benchmarks.paths import CACHE, SHARED, SUBSETS, shown
from rag_augment.cache import GenerationCache
from rag_augment.chunking import chunk_documents
from rag_augment.eval.datasets import load_dataset

SOURCE_CACHES = (CACHE / "scifact_test1000_qwen15b.jsonl", CACHE / "scifact_pool_qwen15b.jsonl")
SECONDS_PER_CHUNK = 6.0  # the 1.5B model here, 16 sequences at once (about 10 chunks a minute); the 0.5B: ~3 s


def build_subset(shared: Path, size: int, seed: int) -> dict:
    """Deterministic: the same data set, size and seed give the same subset on any machine."""
    raw = load_dataset(shared / "datasets/scifact", title_in_text=False)
    test = raw.split("test")
    relevant = {d for rels in test.values() for d, g in rels.items() if g > 0}
    rest = sorted(set(raw.doc_ids) - relevant)
    random_docs = random.Random(seed).sample(rest, max(0, size - len(relevant)))
    docs = relevant | set(random_docs)
    train = [q for q, rels in raw.split("train").items() if rels and set(rels) <= docs]
    return {"docs": sorted(docs), "queries": sorted(test) + sorted(train), "seed": seed,
            "test_queries": len(test), "train_queries": len(train), "relevant_docs": len(relevant),
            "random_docs": len(random_docs),
            "built_from": "all test-relevant docs + seeded random distractors (random.Random(seed).sample of the "
                          "other documents, sorted by id); queries: every test claim + the train claims whose "
                          "relevant documents are all in the subset"}


def missing_chunks(shared: Path, doc_ids: list[str], caches=SOURCE_CACHES, identity: dict = IDENTITY
                   ) -> tuple[list, list, list]:
    """(chunks of the subset as the harness makes them, the cached (chunk, result) pairs, the chunks no cache
    holds) under the local model's identity."""
    folded = load_dataset(shared / "datasets/scifact")  # what the harness chunks (title folded in)
    wanted = set(doc_ids)
    chunks = chunk_documents([d for d in folded.documents if d.doc_id in wanted], CHUNKING)
    opened = [GenerationCache(c) for c in caches if Path(c).exists()]
    found, todo = [], []
    for c in chunks:
        hit = next((h for h in (cache.get(identity, c) for cache in opened) if h is not None), None)
        (found.append((c, hit)) if hit is not None else todo.append(c))
    return chunks, found, todo


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.data_prep.build_random_subset",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/scifact (default: ../shared beside the repository)")
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subset-dir", type=Path, default=SUBSETS)
    ap.add_argument("--generate", action="store_true",
                    help="generate the missing chunks with the local model into --cache (hours on 2 cores)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="cache the run replays (default: benchmarks/cache/scifact_random<size>_<tag>.jsonl)")
    ap.add_argument("--model", default=None,
                    help="another model than the pool experiment's 1.5B (a packaged name or a GGUF path), same "
                         "prompt and parameters; its entries are reused from scifact_test1000_<tag>.jsonl")
    ap.add_argument("--tag", default="", help="--model: the cache files' model tag (e.g. qwen05b)")
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args(argv)
    if args.model and not args.tag:
        ap.error("--model needs --tag (names the cache file)")
    tag = args.tag or "qwen15b"
    subset = build_subset(args.shared, args.size, args.seed)
    path = args.subset_dir / f"scifact_test_random_{args.size}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(subset, indent=1) + "\n")
    out = args.cache or CACHE / f"scifact_random{args.size}_{tag}.jsonl"
    from benchmarks.data_prep.generate_scifact_subset import identity_for, model_for
    model_path = model_for(args.model) if args.generate or args.model else ""
    identity = identity_for(model_path, args.model)
    sources = SOURCE_CACHES if not args.model else (CACHE / f"scifact_test1000_{tag}.jsonl",)
    chunks, found, todo = missing_chunks(args.shared, subset["docs"], (out, *sources), identity)
    hours = len(todo) * SECONDS_PER_CHUNK / 3600
    print(f"{shown(path)}: {len(subset['docs'])} docs ({subset['relevant_docs']} test-relevant, "
          f"{subset['random_docs']} random), {subset['test_queries']} test + {subset['train_queries']} train claims; "
          f"{len(chunks)} chunks, {len(found)} with a cached generation, {len(todo)} without "
          f"(about {hours:.1f} h at {SECONDS_PER_CHUNK:.0f} s per chunk)", flush=True)
    if not args.generate or not todo:
        return 0
    from benchmarks.data_prep.generate_scifact_subset import generate_into, messages
    from rag_augment.generators.llama_cpp import LlamaCppBackend

    cache = GenerationCache(out)
    have = {c.chunk_id for c, _ in found if cache.get(identity, c) is not None}
    cache.put_many(identity, [(c, hit) for c, hit in found if c.chunk_id not in have])
    raw = {d.doc_id: d for d in load_dataset(args.shared / "datasets/scifact", title_in_text=False).documents}
    backend = LlamaCppBackend(model_path, n_ctx=1024 * args.parallel, parallel=args.parallel)
    generate_into(cache, identity, todo, lambda c: messages(raw[c.doc_id].title, raw[c.doc_id].text), backend,
                  args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
