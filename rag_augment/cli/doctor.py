"""`rag-augment doctor`: the machine, the llama.cpp build, the packaged models and the index home in one report."""
from __future__ import annotations

import json

from rag_augment.cli.options import add_index_options

COMMANDS = ("doctor",)


def add_parsers(sub) -> None:
    p = sub.add_parser("doctor", help="report the machine, llama.cpp build, models and index home (attach to bugs)")
    p.add_argument("--canary", action="store_true",
                   help="run the local model's one-token test generation now, in a child process")
    add_index_options(p)


def run(args) -> int:
    from rag_augment.cli.exits import EXIT_ERROR
    from rag_augment.doctor import lines, report

    rep = report(args.home, chroma_url=args.chroma_url, collection=args.collection, run_canary=args.canary)
    print(json.dumps(rep, indent=2) if args.json else "\n".join(lines(rep)))
    return EXIT_ERROR if rep["problems"] else 0
