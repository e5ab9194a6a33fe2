"""`rag-augment eval`: score rag_augment against the baselines on a labelled data set (see benchmarks/RESULTS.md).

    rag-augment eval --dataset sample_kb --split test --generator rules --tune --train-split train
    rag-augment eval --dataset ../shared/datasets/scifact --generator replay --cache benchmarks/cache/X.jsonl ...
"""
from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
from pathlib import Path
from typing import Any

from rag_augment.errors import ConfigError

GENERATORS = ("rules", "local", "openai", "replay", "none")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("eval", help="measure retrieval on labelled queries: rag_augment vs baselines",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/) or sample_kb")
    p.add_argument("--split", default="test", help="the split that is reported")
    p.add_argument("--tune", action="store_true", help="tune fusion on --train-split and write a named profile")
    p.add_argument("--train-split", default="train")
    p.add_argument("--profile-name", default=None, help="tuned profile name (default tuned-<dataset>)")
    p.add_argument("--profile-dir", default=None, help="where the tuned profile goes (default: the run folder)")
    p.add_argument("--profile", action="append", default=[],
                   help="also report this fusion profile (a shipped name or a JSON file); repeatable")
    p.add_argument("--real-from-train", action="store_true",
                   help="after tuning, add the --train-split queries to their relevant documents as real queries "
                        "(blended with the synthetic ones); measures what a query log adds")
    p.add_argument("--no-label-free", action="store_true",
                   help="do not report the profile `rag-augment tune` chooses for this index without labels")
    p.add_argument("--latency-queries", type=int, default=300,
                   help="eval queries timed end to end, system by system (the first ones by id); 0: none")
    p.add_argument("--out", default=None, help="run folder (default runs/<name>)")
    p.add_argument("--name", default=None, help="run name (default <dataset>-<split>-<generator>)")
    p.add_argument("--docs", default=None, help="search this folder of documents instead (ids = relative "
                                                "paths; unlabelled ones are distractors)")
    p.add_argument("--pool", default=None, help="JSON with 'docs' and 'queries' id lists: evaluate on that pool")
    p.add_argument("--subset", type=int, default=0, help="documents: every relevant one plus seeded distractors")
    p.add_argument("--subset-seed", type=int, default=0)
    p.add_argument("--subset-hard", type=int, default=0, help="also each query's top N BM25 documents")
    p.add_argument("--no-title", action="store_true", help="BEIR: do not prefix the title to the text")
    p.add_argument("--chunk-size", type=int, default=256)
    p.add_argument("--chunk-overlap", type=int, default=32)
    from rag_augment.filters import add_filter_arguments
    add_filter_arguments(p)
    p.add_argument("--bootstrap", type=int, default=5000, help="paired bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (and subset/example sampling)")
    from rag_augment.cli.options import add_embedding_option
    add_embedding_option(p)
    p.add_argument("--json", action="store_true", help="print the run record as JSON")
    _generator_args(p)
    return p


def _generator_args(p: argparse.ArgumentParser) -> None:
    from rag_augment.cli.options import add_backend_options, add_prompt_options, add_style_options

    add_backend_options(p, GENERATORS, "rules", seed_alias=False)  # --seed is the bootstrap seed here
    add_prompt_options(p)
    add_style_options(p)
    g = p.add_argument_group("generation cache and replay")
    g.add_argument("--cache", default=None, help="generation cache file (default RUN/generations.jsonl)")
    g.add_argument("--identity", default=None, help="replay: the generator identity key when the cache has several")
    g.add_argument("--examples-from-train", type=int, default=0,
                   help="few-shot: this many --train-split queries as style examples in the prompt")


def _dataset(args):
    from rag_augment.eval import datasets as D

    ds = D.load_dataset(args.dataset, title_in_text=not args.no_title, docs_folder=args.docs)
    if args.pool:
        pool = json.loads(Path(args.pool).read_text())
        ds = D.restrict(ds, pool["docs"], pool["queries"], {"pool": args.pool})
    if args.subset:
        splits = [args.split] + ([args.train_split] if args.tune else [])
        hard = D.bm25_top_documents(ds, [q for s in splits for q in ds.split(s)], args.subset_hard) \
            if args.subset_hard else None
        ds = D.build_subset(ds, splits, args.subset, args.subset_seed, hard, args.subset_hard)
    return ds


def _generator(args, ds):
    from rag_augment.cli.options import generator_from_args, refuse_unused

    if args.generator == "replay":
        from rag_augment.eval.replay import ReplayGenerator
        if not args.cache:
            raise ConfigError("--generator replay needs --cache FILE")
        return ReplayGenerator(args.cache, args.identity)
    if args.examples_from_train and args.generator in ("rules", "none"):
        refuse_unused(args, (("examples_from_train", "--examples-from-train"),))
    examples: tuple[str, ...] = ()
    if args.examples_from_train:
        train = sorted(ds.split_queries(args.train_split).items())
        picked = random.Random(args.seed).sample(train, min(args.examples_from_train, len(train)))
        examples = tuple(text for _, text in picked)
    return generator_from_args(args, examples=examples)


def _spec(args, name: str):
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.eval.harness import EvalSpec
    from rag_augment.filters import filters_from_args

    filters = filters_from_args(args)
    return EvalSpec(name=name, split=args.split, train_split=args.train_split if args.tune else None,
                    profile_name=args.profile_name, profile_dir=Path(args.profile_dir) if args.profile_dir else None,
                    chunking=ChunkingConfig(args.chunk_size, args.chunk_overlap), filters=filters,
                    bootstrap=args.bootstrap, seed=args.seed, batch_size=args.batch_size,
                    profiles=tuple(args.profile), real_from_train=args.real_from_train,
                    label_free=not args.no_label_free, latency_queries=args.latency_queries,
                    command="rag-augment eval " + " ".join(shlex.quote(a) for a in args.argv))


def progress_bar(total: int, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, disable=None, file=sys.stderr, dynamic_ncols=True)


def execute(args, progress=progress_bar) -> tuple[dict[str, Any], dict[str, Path]]:
    """The library calls behind the command (also used by benchmarks/run_benchmarks.py)."""
    from rag_augment.embedding import SentenceTransformerEmbedder
    from rag_augment.eval.harness import run_eval
    from rag_augment.eval.report import write_run

    ds = _dataset(args)
    generator = _generator(args, ds)
    name = args.name or f"{Path(str(args.dataset)).name}-{args.split}-{args.generator}"
    out = Path(args.out or Path("runs") / name)
    embedder = SentenceTransformerEmbedder(args.embedding_model) if args.embedding_model else None
    result = run_eval(ds, generator, out, _spec(args, name), embedder=embedder, cache_path=args.cache,
                      progress=progress)
    return result, write_run(result, out)


def run(args) -> int:
    from rag_augment.eval.report import lifts_table, systems_table, tuning_lines

    if not hasattr(args, "argv"):
        args.argv = sys.argv[2:] if len(sys.argv) > 2 and sys.argv[1] == "eval" else []
    result, paths = execute(args)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "per_query"}, indent=2, default=str))
        return 0
    print("\n".join(systems_table(result)))
    print()
    print("\n".join(lifts_table(result, reference="dense")))
    for line in tuning_lines(result):
        print(line)
    print(f"\nreport: {paths['markdown']}  json: {paths['json']}")
    return 0
