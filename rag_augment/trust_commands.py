"""CLI commands for trust: export, review apply, feedback add/apply/list, real add, report diversity.

Wired into cli.py by `add_parsers(sub)` in build_parser and `run(args)` (None: not one of these commands) in run.
Each command is one library call; results are printed as JSON. Errors are RagAugmentError, which cli.main turns
into one line on stderr.
"""
from __future__ import annotations

import json
from typing import Any

COMMANDS = ("export", "review", "feedback", "real", "report")


def add_parsers(sub) -> None:
    from rag_augment import cli
    from rag_augment.feedback import VERDICTS, STATUSES

    p = sub.add_parser("export", help="write every query vector with provenance and its chunk, for reviewers")
    p.add_argument("--output", "-o", required=True, help="file to write (.jsonl or .csv)")
    p.add_argument("--format", choices=["jsonl", "csv"], default=None, help="default: from the file suffix")
    p.add_argument("--kind", action="append", default=[], help="only these kinds (repeatable)")
    cli._common(p)

    p = sub.add_parser("review", help="apply a filled-in review file")
    rsub = p.add_subparsers(dest="review_command", required=True)
    p = rsub.add_parser("apply", help="approve / reject / edit: rejected leave, edited are re-embedded")
    p.add_argument("file")
    cli._common(p)

    p = sub.add_parser("feedback", help="record failed queries and feed them back")
    fsub = p.add_subparsers(dest="feedback_command", required=True)
    p = fsub.add_parser("add", help="record a failed query")
    p.add_argument("text", nargs="?", help="the query that failed (or --file)")
    p.add_argument("--verdict", choices=VERDICTS, default="thumbs_down")
    p.add_argument("--chunk-id", default=None, help="the chunk that should have answered")
    p.add_argument("--doc-id", default=None, help="the document that should have answered")
    p.add_argument("--rephrasing", default=None, help="what the user typed next, when that worked")
    p.add_argument("--session", default=None, help="session id")
    p.add_argument("--file", default=None, help="JSONL of {query, verdict, chunk_id, doc_id, rephrasing, session_id}")
    cli._common(p)
    p = fsub.add_parser("apply", help="one round: target, paraphrase, attach, re-check the failed queries")
    p.add_argument("-k", type=int, default=5, help="a query is fixed when its target is in the top k")
    p.add_argument("--retry-failing", action="store_true", help="also retry queries a past round did not fix")
    p.add_argument("--holdout", default=None, help="JSONL or text file of eval test queries never to attach")
    cli._common(p)
    cli._generator_args(p)
    p.set_defaults(paraphrases=3)
    p = fsub.add_parser("list", help="recorded failed queries and past rounds")
    p.add_argument("--status", choices=STATUSES, default=None)
    cli._common(p)

    p = sub.add_parser("real", help="real queries with known answers")
    qsub = p.add_subparsers(dest="real_command", required=True)
    p = qsub.add_parser("add", help='JSONL of {"text", "chunk_id"} or {"text", "doc_id"}')
    p.add_argument("file")
    p.add_argument("--holdout", default=None, help="JSONL or text file of eval test queries never to attach")
    cli._common(p)

    p = sub.add_parser("report", help="reports over an index")
    ssub = p.add_subparsers(dest="report_command", required=True)
    p = ssub.add_parser("diversity", help="distinct-n, dispersion, coverage, query types, personas")
    p.add_argument("--min-queries", "-m", type=int, default=3, help="coverage counts chunks with >= m queries")
    p.add_argument("--all-kinds", action="store_true", help="include real and feedback queries")
    cli._common(p)


def run(args) -> int | None:
    """Run one of these commands; None when args.command is not one of them."""
    if args.command not in COMMANDS:
        return None
    from rag_augment import cli
    index = cli._open(args)
    result = _dispatch(args, index)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _dispatch(args, index) -> Any:
    if args.command == "export":
        from rag_augment.reviewing import export
        n = export(index, args.output, args.format, tuple(args.kind) or None)
        return {"exported": n, "file": args.output}
    if args.command == "review":
        from rag_augment.reviewing import apply_review
        return apply_review(index, args.file)
    if args.command == "real":
        from rag_augment.real_queries import add_real_queries
        return add_real_queries(index, args.file, holdout=_holdout(args.holdout))
    if args.command == "report":
        from rag_augment.diversity import index_diversity
        from rag_augment.types import GENERATED_KINDS
        return index_diversity(index, m=args.min_queries, kinds=None if args.all_kinds else GENERATED_KINDS)
    return _feedback(args, index)


def _feedback(args, index) -> Any:
    from rag_augment.errors import InputError
    from rag_augment.feedback import FeedbackStore, apply_feedback
    with FeedbackStore.for_index(index) as fb:
        if args.feedback_command == "add":
            if bool(args.text) == bool(args.file):
                raise InputError("feedback add: give the failed query text or --file, not both")
            if args.file:
                return {"added": fb.add_many(_feedback_file(args.file), index.store.name)}
            return {"added": [fb.add(args.text, args.verdict, args.chunk_id, args.doc_id, args.rephrasing,
                                     args.session, collection=index.store.name)]}
        if args.feedback_command == "list":
            return {"feedback": [r.to_dict() for r in fb.list(index.store.name, args.status)],
                    "rounds": fb.rounds(index.store.name)}
        return apply_feedback(index, _generator(args), store=fb, k=args.k, n_paraphrases=args.paraphrases,
                              holdout=_holdout(args.holdout), retry_failing=args.retry_failing)


def _feedback_file(path: str) -> list[dict]:
    from rag_augment.real_queries import read_jsonl
    return [{**rec, "query": rec.get("query") or rec.get("text"), "_where": f"{path}: line {n}"}
            for n, rec in read_jsonl(path)]


def _holdout(path: str | None) -> list[str]:
    """Texts from a JSONL file ("text" fields, e.g. a BEIR queries file) or a plain file, one per line."""
    if not path:
        return []
    from pathlib import Path

    from rag_augment.errors import InputError
    from rag_augment.real_queries import read_jsonl
    if path.endswith(".jsonl"):
        return [str(rec.get("text") or rec.get("query") or "") for _, rec in read_jsonl(path)]
    try:
        return [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"holdout file {path}: {exc}") from exc


def _generator(args):
    from rag_augment.generators.base import SamplingParams
    from rag_augment.generators.factory import make_generator
    from rag_augment.generators.prompts import PromptConfig
    prompt = PromptConfig(profile=args.prompt_profile, n_questions=max(args.questions, 1))
    return make_generator(args.generator, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                          concurrency=args.concurrency, prompt=prompt,
                          params=SamplingParams(temperature=args.temperature, seed=args.seed))
