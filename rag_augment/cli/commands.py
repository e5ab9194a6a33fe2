"""index, query, stats, show, delete: each one library call, printed for people or as JSON."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from rag_augment.cli.options import (
    add_backend_options,
    add_index_options,
    add_prompt_options,
    add_style_options,
    generator_from_args,
)
from rag_augment.generators.factory import GENERATORS

COMMANDS = ("index", "query", "stats", "show", "delete")
# terminal escapes and line breaks in documents (or file names) never reach the terminal, nor do lone surrogates
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def add_parsers(sub) -> None:
    from rag_augment.filters import add_filter_arguments

    p = sub.add_parser("index", help="index a folder or file: chunk, generate queries, filter, embed, store")
    p.add_argument("path")
    p.add_argument("--no-prune", action="store_true", help="keep documents that are no longer in PATH")
    p.add_argument("--force", action="store_true",
                   help="prune even when PATH holds no readable document, and drop unreadable documents")
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--chunk-overlap", type=int, default=32)
    p.add_argument("--cache", default=None, help="generation cache file (default HOME/generations.jsonl)")
    p.add_argument("--estimate", action="store_true",
                   help="only say what the run would do and cost (chunks, tokens, time or money); write nothing")
    p.add_argument("--no-calibrate", action="store_true",
                   help="--estimate: do not time the local model on a few chunks (time then only from earlier runs)")
    p.add_argument("--price-in", type=float, default=None, help="--estimate: USD per million prompt tokens")
    p.add_argument("--price-out", type=float, default=None, help="--estimate: USD per million output tokens")
    p.add_argument("--tune", action="store_true",
                   help="then choose this index's fusion weights without labels, as `rag-augment tune` does")
    add_filter_arguments(p)
    add_index_options(p)
    add_backend_options(p, GENERATORS, "local")
    add_prompt_options(p)
    add_style_options(p)

    p = sub.add_parser("query", help="search the augmented index")
    p.add_argument("text")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--explain", action="store_true", help="show legs, ranks and matched synthetic queries")
    p.add_argument("--rerank", action="store_true",
                   help="rerank the fused top hits with the reranker `rag-augment train` fitted to this index")
    add_index_options(p)

    p = sub.add_parser("stats", help="counts of documents, chunks and query vectors by kind")
    add_index_options(p)

    p = sub.add_parser("show", help="a chunk and its synthetic queries with provenance")
    p.add_argument("chunk_id")
    add_index_options(p)

    p = sub.add_parser("delete", help="remove a document, its chunks and their query vectors")
    p.add_argument("doc_id")
    add_index_options(p)


def open_index(args, cache_path=None, create: bool = False):
    """The index the flags name. Only `index` creates a home; every other command needs one that exists."""
    from rag_augment.augment_index import AugmentIndex
    return AugmentIndex(home=args.home, chroma_url=args.chroma_url, collection=args.collection,
                        embedding_model=args.embedding_model, profile=args.profile, cache_path=cache_path,
                        create=create)


def run(args) -> int:
    from rag_augment.cli.exits import EXIT_INCOMPLETE

    if args.command == "index" and args.estimate:
        est = _estimate(args)
        print(json.dumps(est.to_dict(), indent=2) if args.json else "\n".join(est.lines()))
        return 0
    if args.command == "index":
        index, rep = _index(args)
        # tune on a complete index only: chunks still missing their queries would bias the choice
        tuned = index.tune() if args.tune and not rep["generation_errors"] else None
        if args.json:
            print(json.dumps({**rep, **({"tune": tuned.to_dict()} if tuned else {})}, indent=2))
        else:
            _print_report(rep)
            if tuned:
                print("\n".join(tuned.lines()))
        missing = len(rep["generation_errors"]) + len(rep["generation_gave_up"])
        if missing:
            print(f"rag-augment: {missing} chunks have no queries yet (generation failed or gave up); "
                  "run the same command again to retry them", file=sys.stderr)
            return EXIT_INCOMPLETE
        return 0
    index = open_index(args)
    if args.command == "query":
        hits = index.query(args.text, k=args.k, rerank=args.rerank)
        if args.json:
            print(json.dumps([h.to_dict() for h in hits], indent=2))
        else:
            _print_hits(hits, args.explain)
    elif args.command == "stats":
        print(json.dumps(index.stats(), indent=2))
    elif args.command == "show":
        print(json.dumps(index.show(args.chunk_id), indent=2))  # ensure_ascii: control characters escaped
    elif args.command == "delete":
        n = index.delete_document(args.doc_id)
        print(json.dumps({"deleted_doc": args.doc_id, "chunks": n}) if args.json else
              f"deleted {safe(args.doc_id)}: {n} chunks and their query vectors")
    return 0


def _index(args) -> tuple[Any, dict[str, Any]]:
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.filters import filters_from_args
    from rag_augment.types import IndexReport

    generator = generator_from_args(args)
    filters = filters_from_args(args)
    index = open_index(args, cache_path=args.cache, create=True)
    report = IndexReport()
    try:
        index.index_path(args.path, generator, ChunkingConfig(args.chunk_size, args.chunk_overlap), filters,
                         prune=not args.no_prune, progress=progress_bar, batch_size=args.batch_size,
                         force=args.force, report=report)
    except KeyboardInterrupt:
        todo = report.estimate.get("chunks_to_generate", 0)
        print(f"\nrag-augment: interrupted after storing the queries of {report.chunks_done} of {todo} chunks "
              f"({report.queries_kept} queries); every generation so far is cached in {index.cache.path}",
              file=sys.stderr)
        raise
    return index, report.to_dict()


def _estimate(args):
    from rag_augment.chunking import ChunkingConfig

    if (args.price_in is None) != (args.price_out is None):
        from rag_augment.errors import ConfigError
        raise ConfigError("--price-in and --price-out go together (USD per million tokens)")
    generator = generator_from_args(args)
    chunking = ChunkingConfig(args.chunk_size, args.chunk_overlap)
    prices = (args.price_in, args.price_out) if args.price_in is not None else None
    options = {"prune": not args.no_prune, "force": args.force, "prices": prices, "calibrate": not args.no_calibrate}
    if Path(args.home).is_dir():
        return open_index(args, cache_path=args.cache).estimate(args.path, generator, chunking, **options)
    from rag_augment.augment_index import estimate_source  # a new index: everything is to do, nothing is created
    from rag_augment.cache import GenerationCache
    from rag_augment.home import IndexHome
    cache = GenerationCache(args.cache or IndexHome(Path(args.home), args.collection).generations)
    return estimate_source(args.path, generator, chunking, {}, cache, **options)


def progress_bar(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="chunk", disable=None, file=sys.stderr, dynamic_ncols=True)


def safe(text: Any) -> str:
    return _CONTROL.sub("?", str(text))


def _print_report(rep: dict[str, Any]) -> None:
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(rep["queries_dropped"].items())) or "none"
    print(f"documents: {rep['documents_seen']} seen, {rep['documents_added']} new, {rep['documents_changed']} "
          f"changed, {rep['documents_deleted']} deleted, {len(rep['documents_skipped'])} skipped")
    for s in rep["documents_skipped"]:
        print(f"  skipped {safe(s['source'])}: {safe(s['reason'])}")
    print(f"chunks: {rep['chunks_total']} total, {rep['chunks_embedded']} embedded, {rep['chunks_unchanged']} "
          f"unchanged, {rep['chunks_deleted']} deleted, {rep['chunks_generated']} generated, "
          f"{rep['cache_hits']} from cache")
    moved = f"; {rep['queries_reattached']} real/feedback moved to edited chunks" if rep["queries_reattached"] else ""
    print(f"queries: {rep['queries_generated']} generated, {rep['queries_kept']} kept; dropped: {dropped}{moved}")
    if rep.get("human_queries_deleted"):
        print(f"  {rep['human_queries_deleted']} real/feedback queries went with deleted documents")
    est = rep.get("estimate") or {}
    if rep["chunks_generated"] and est.get("prompt_tokens"):
        print(f"tokens: {rep['prompt_tokens']:,} in, {rep['completion_tokens']:,} out "
              f"(estimated {est['prompt_tokens']:,} in, {est['output_tokens']:,} out)")
    if rep.get("generation_gave_up"):
        print(f"  {len(rep['generation_gave_up'])} chunks kept without generated queries: the model gave nothing "
              "usable in 3 tries; asked again on a later run (see generation_gave_up in --json)")
    if rep["generation_errors"]:
        first = rep["generation_errors"][0]
        print(f"errors: {len(rep['generation_errors'])} chunks failed (retried on the next run), e.g. "
              f"{safe(first['chunk_id'])}: {safe(first['error'])}")
    print(f"time: {rep['seconds']:.1f} s ({rep['generation_seconds']:.1f} s generating)")


def _print_hits(hits, explain: bool) -> None:
    for i, h in enumerate(hits, 1):
        title = h.metadata.get("title") or h.doc_id
        snippet = " ".join(h.text.split())[:160]
        print(safe(f"{i}. [{h.score:.4f}] {h.chunk_id}  ({title})") + "\n   " + safe(snippet))
        if explain:
            legs = ", ".join(f"{leg} #{lh.rank} ({lh.score:.3f})" for leg, lh in h.legs.items())
            print(f"   legs: {legs}")
            for m in h.matched_queries[:5]:
                print(safe(f"   matched {m['kind']} via {m['leg']} ({m['score']:.3f}): {m['text']}"))
