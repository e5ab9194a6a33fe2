"""`rag-augment`: thin commands over single library calls. Errors become one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from rag_augment.errors import RagAugmentError
from rag_augment.generators.factory import GENERATORS

EXIT_ERROR = 2
TRUST_COMMANDS = ("export", "review", "feedback", "real", "report")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", default=os.environ.get("RAG_AUGMENT_HOME", ".rag_augment"),
                   help="folder for settings, cache, lexical index and the embedded Chroma (env RAG_AUGMENT_HOME)")
    p.add_argument("--chroma-url", default=os.environ.get("RAG_AUGMENT_CHROMA_URL"),
                   help="use a Chroma server (e.g. http://127.0.0.1:8000) instead of the embedded database")
    p.add_argument("--collection", default="rag_augment")
    p.add_argument("--embedding-model", default=None, help="local sentence-transformers folder (default MiniLM)")
    p.add_argument("--profile", default=None, help="fusion profile: a shipped name or a JSON file")
    p.add_argument("--json", action="store_true", help="print JSON")


def _generator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generator", choices=GENERATORS, default="local",
                   help="none: no synthetic queries (chunks, then real and feedback queries only)")
    p.add_argument("--model", default=None, help="local: a GGUF path (default: the packaged Qwen2.5 1.5B); "
                                                 "openai: the model name")
    p.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"),
                   help="OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, Azure ...)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="name of the env variable holding the key")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--profile-prompt", dest="prompt_profile", default="general",
                   help="prompt domain profile: general, hr_policy, legal_contract, clinical, scientific")
    p.add_argument("--questions", type=int, default=5, help="hypothetical questions per chunk")
    p.add_argument("--claims", type=int, default=0)
    p.add_argument("--keywords", type=int, default=0)
    p.add_argument("--paraphrases", type=int, default=2, help="rewordings per seed query (headings, FAQ)")
    p.add_argument("--example", action="append", default=[], help="a real user query to match in style")
    p.add_argument("--persona", action="append", default=[])
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag-augment", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a folder or file: chunk, generate queries, filter, embed, store")
    p.add_argument("path")
    p.add_argument("--no-prune", action="store_true", help="keep documents that are no longer in PATH")
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--chunk-overlap", type=int, default=32)
    p.add_argument("--cache", default=None, help="generation cache file (default HOME/generations.jsonl)")
    from rag_augment.filters import add_filter_arguments
    add_filter_arguments(p)
    _common(p)
    _generator_args(p)

    p = sub.add_parser("query", help="search the augmented index")
    p.add_argument("text")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--explain", action="store_true", help="show legs, ranks and matched synthetic queries")
    _common(p)

    p = sub.add_parser("stats", help="counts of documents, chunks and query vectors by kind")
    _common(p)

    p = sub.add_parser("show", help="a chunk and its synthetic queries with provenance")
    p.add_argument("chunk_id")
    _common(p)

    p = sub.add_parser("delete", help="remove a document, its chunks and their query vectors")
    p.add_argument("doc_id")
    _common(p)

    from rag_augment import trust_commands
    from rag_augment.eval import command as eval_command
    eval_command.add_parser(sub)
    trust_commands.add_parsers(sub)
    return parser


def _index(args) -> dict[str, Any]:
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.filters import filters_from_args
    from rag_augment.generators.base import SamplingParams
    from rag_augment.generators.factory import make_generator
    from rag_augment.generators.prompts import PromptConfig

    prompt = PromptConfig(profile=args.prompt_profile, n_questions=args.questions, n_claims=args.claims,
                          n_keywords=args.keywords, n_paraphrases=args.paraphrases, examples=tuple(args.example),
                          personas=tuple(args.persona))
    params = SamplingParams(temperature=args.temperature, seed=args.seed)
    generator = make_generator(args.generator, model=args.model, base_url=args.base_url,
                               api_key_env=args.api_key_env, concurrency=args.concurrency, prompt=prompt,
                               params=params)
    filters = filters_from_args(args)
    index = _open(args, cache_path=args.cache)
    report = index.index_path(args.path, generator, ChunkingConfig(args.chunk_size, args.chunk_overlap), filters,
                              prune=not args.no_prune, progress=_progress_bar, batch_size=args.batch_size)
    return report.to_dict()


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="chunk", disable=None, file=sys.stderr)


def _open(args, cache_path=None):
    from rag_augment.augment_index import AugmentIndex
    return AugmentIndex(home=args.home, chroma_url=args.chroma_url, collection=args.collection,
                        embedding_model=args.embedding_model, profile=args.profile, cache_path=cache_path)


def _print_report(rep: dict[str, Any]) -> None:
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(rep["queries_dropped"].items())) or "none"
    print(f"documents: {rep['documents_seen']} seen, {rep['documents_added']} new, {rep['documents_changed']} "
          f"changed, {rep['documents_deleted']} deleted, {len(rep['documents_skipped'])} skipped")
    for s in rep["documents_skipped"]:
        print(f"  skipped {s['source']}: {s['reason']}")
    print(f"chunks: {rep['chunks_total']} total, {rep['chunks_embedded']} embedded, {rep['chunks_unchanged']} "
          f"unchanged, {rep['chunks_deleted']} deleted, {rep['chunks_generated']} generated, "
          f"{rep['cache_hits']} from cache")
    moved = f"; {rep['queries_reattached']} real/feedback moved to edited chunks" if rep["queries_reattached"] else ""
    print(f"queries: {rep['queries_generated']} generated, {rep['queries_kept']} kept; dropped: {dropped}{moved}")
    if rep["generation_errors"]:
        print(f"errors: {len(rep['generation_errors'])} chunks failed (retried on the next run), e.g. "
              f"{rep['generation_errors'][0]['chunk_id']}: {rep['generation_errors'][0]['error']}")
    print(f"time: {rep['seconds']:.1f} s ({rep['generation_seconds']:.1f} s generating)")


def _print_hits(hits, explain: bool) -> None:
    for i, h in enumerate(hits, 1):
        title = h.metadata.get("title") or h.doc_id
        snippet = " ".join(h.text.split())[:160]
        print(f"{i}. [{h.score:.4f}] {h.chunk_id}  ({title})\n   {snippet}")
        if explain:
            legs = ", ".join(f"{leg} #{lh.rank} ({lh.score:.3f})" for leg, lh in h.legs.items())
            print(f"   legs: {legs}")
            for m in h.matched_queries[:5]:
                print(f"   matched {m['kind']} via {m['leg']} ({m['score']:.3f}): {m['text']}")


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "eval":
        from rag_augment.eval import command as eval_command
        return eval_command.run(args)
    if args.command in TRUST_COMMANDS:
        from rag_augment import trust_commands
        return trust_commands.run(args) or 0
    if args.command == "index":
        rep = _index(args)
        print(json.dumps(rep, indent=2)) if args.json else _print_report(rep)
        return 0
    index = _open(args)
    if args.command == "query":
        hits = index.query(args.text, k=args.k)
        if args.json:
            print(json.dumps([h.to_dict() for h in hits], indent=2))
        else:
            _print_hits(hits, args.explain)
    elif args.command == "stats":
        print(json.dumps(index.stats(), indent=2))
    elif args.command == "show":
        print(json.dumps(index.show(args.chunk_id), indent=2, ensure_ascii=False))
    elif args.command == "delete":
        n = index.delete_document(args.doc_id)
        print(json.dumps({"deleted_doc": args.doc_id, "chunks": n}) if args.json else
              f"deleted {args.doc_id}: {n} chunks and their query vectors")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except RagAugmentError as exc:
        print(f"rag-augment: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("rag-augment: interrupted; generated queries so far are cached, run again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
