"""Commands for trust: export, review apply, feedback add/apply/list, real add, report diversity.

Each command is one method of AugmentIndex; results are printed as JSON.
"""
from __future__ import annotations

import json
from typing import Any

from rag_augment.cli import commands
from rag_augment.cli.options import (
    add_backend_options,
    add_index_options,
    add_style_options,
    generator_from_args,
    refuse_unused,
)
from rag_augment.generators.factory import GENERATORS

COMMANDS = ("export", "review", "feedback", "real", "report", "tune")


def add_parsers(sub) -> None:
    from rag_augment.trust.feedback import STATUSES, VERDICTS

    p = sub.add_parser("export", help="write every query vector with provenance and its chunk, for reviewers")
    p.add_argument("--output", "-o", required=True, help="file to write (.jsonl or .csv)")
    p.add_argument("--format", choices=["jsonl", "csv"], default=None, help="default: from the file suffix")
    p.add_argument("--kind", action="append", default=[], help="only these kinds (repeatable)")
    add_index_options(p)

    p = sub.add_parser("review", help="apply a filled-in review file")
    rsub = p.add_subparsers(dest="review_command", required=True)
    p = rsub.add_parser("apply", help="approve / reject / edit: rejected leave, edited are re-embedded")
    p.add_argument("file")
    add_index_options(p)
    p = rsub.add_parser("serve", help="the review page in a browser: queue, search playground, feedback, diversity")
    p.add_argument("--host", default="127.0.0.1", help="bind address; anything but loopback requires a token")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token", default=None, help="access token off loopback (default: a new one, printed)")
    add_index_options(p)

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
    add_index_options(p)
    p = fsub.add_parser("apply", help="one round: target, paraphrase, attach, re-check the failed queries")
    p.add_argument("-k", type=int, default=5, help="a query is fixed when its target is in the top k")
    p.add_argument("--retry-failing", action="store_true", help="also retry queries a past round did not fix")
    p.add_argument("--holdout", default=None, help="JSONL or text file of eval test queries never to attach")
    p.add_argument("--paraphrases", type=int, default=3, help="rewordings written per failed query")
    add_index_options(p)
    add_backend_options(p, GENERATORS, "local")
    add_style_options(p)
    p = fsub.add_parser("list", help="recorded failed queries and past rounds")
    p.add_argument("--status", choices=STATUSES, default=None)
    add_index_options(p)

    p = sub.add_parser("real", help="real queries with known answers")
    qsub = p.add_subparsers(dest="real_command", required=True)
    p = qsub.add_parser("add", help='JSONL of {"text", "chunk_id"} or {"text", "doc_id"}')
    p.add_argument("file")
    p.add_argument("--holdout", default=None, help="JSONL or text file of eval test queries never to attach")
    add_index_options(p)

    p = sub.add_parser("tune", help="choose this index's fusion weights without labels (held-out probes, then "
                                    "real and feedback queries); query uses them from then on")
    p.add_argument("--min-real", type=int, default=None, help="judged real/feedback queries needed before they decide")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="print the choice and its evidence; save nothing")
    p.add_argument("--force", action="store_true",
                   help="save the choice even when it did not beat the current profile on held-out evidence")
    add_index_options(p)

    p = sub.add_parser("report", help="reports over an index")
    ssub = p.add_subparsers(dest="report_command", required=True)
    p = ssub.add_parser("diversity", help="distinct-n, dispersion, coverage, query types, personas")
    p.add_argument("--min-queries", "-m", type=int, default=3, help="coverage counts chunks with >= m queries")
    p.add_argument("--all-kinds", action="store_true", help="include real and feedback queries")
    add_index_options(p)


def run(args) -> int:
    index = commands.open_index(args)  # looked up at call time: one definition of how a command opens an index
    if args.command == "review" and args.review_command == "serve":
        return _serve(args, index)
    result = _dispatch(args, index)
    if result is not None:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _serve(args, index) -> int:
    """Ctrl+C is how the page is stopped: uvicorn finishes the open requests and the last writes, then re-raises
    the interrupt, which must not read like an interrupted indexing run."""
    import sys

    from rag_augment.web import serve
    try:
        serve(index, host=args.host, port=args.port, token=args.token)
    except KeyboardInterrupt:
        print("rag-augment: review page stopped (decisions are saved as they are made)", file=sys.stderr)
    return 0


def _dispatch(args, index) -> Any:
    if args.command == "export":
        n = index.export_review(args.output, args.format, tuple(args.kind) or None)
        return {"exported": n, "file": args.output}
    if args.command == "review":  # apply (serve returned above)
        return index.apply_review(args.file)
    if args.command == "real":
        return index.add_real_queries(args.file, holdout=_holdout(args.holdout))
    if args.command == "tune":
        options = {"seed": args.seed, **({"min_real": args.min_real} if args.min_real is not None else {})}
        rep = index.tune(save=not args.dry_run, force=args.force, **options)
        if not args.json:
            print("\n".join(rep.lines()))
            return None
        return rep.to_dict()
    if args.command == "report":
        from rag_augment.types import GENERATED_KINDS
        return index.diversity(m=args.min_queries, kinds=None if args.all_kinds else GENERATED_KINDS)
    return _feedback(args, index)


def _feedback(args, index) -> Any:
    from rag_augment.errors import InputError
    with index.feedback_store() as fb:
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
        return index.apply_feedback(_rewriter(args), store=fb, k=args.k, n_paraphrases=args.paraphrases,
                                    holdout=_holdout(args.holdout), retry_failing=args.retry_failing,
                                    batch_size=args.batch_size)


def _feedback_file(path: str) -> list[dict]:
    from rag_augment.trust.real_queries import read_jsonl
    return [{**rec, "query": rec.get("query") or rec.get("text"), "_where": f"{path}: line {n}"}
            for n, rec in read_jsonl(path)]


def _holdout(path: str | None) -> list[str]:
    """Texts from a JSONL file ("text" fields, e.g. a BEIR queries file) or a plain file, one per line."""
    if not path:
        return []
    from pathlib import Path

    from rag_augment.errors import InputError
    from rag_augment.trust.real_queries import read_jsonl
    if path.endswith(".jsonl"):
        return [str(rec.get("text") or rec.get("query") or "") for _, rec in read_jsonl(path)]
    try:
        return [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"holdout file {path}: {exc}") from exc


def _rewriter(args):
    """The feedback round's writer: an LLM generator whose style flags (persona, example) reach the paraphrase
    prompt, or the rules generator (templated paraphrases, which take no style)."""
    if args.generator in ("rules", "none"):
        refuse_unused(args, (("example", "--example"), ("persona", "--persona")))
    if args.generator == "none":
        return None  # attach the failed queries themselves, no paraphrases
    args.prompt_profile, args.questions, args.claims, args.keywords = "general", 1, None, None
    return generator_from_args(args)
