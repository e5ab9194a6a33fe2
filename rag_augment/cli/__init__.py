"""`rag-augment`: thin commands over single library calls. Errors become one line on stderr and exit code 2.

The package: options (flags shared by several commands, defined once), commands (index, query, stats, show,
delete), trust (export, review, feedback, real, report), and rag_augment.eval.command (eval).
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rag_augment.cli.exits import EXIT_ERROR, EXIT_INCOMPLETE
from rag_augment.errors import RagAugmentError

__all__ = ["EXIT_ERROR", "EXIT_INCOMPLETE", "build_parser", "main", "run"]



def build_parser() -> argparse.ArgumentParser:
    from rag_augment.cli import commands, doctor, train, trust
    from rag_augment.eval import command as eval_command

    parser = argparse.ArgumentParser(prog="rag-augment", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does (info level)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_parsers(sub)
    eval_command.add_parser(sub)
    trust.add_parsers(sub)
    train.add_parsers(sub)
    doctor.add_parsers(sub)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    from rag_augment.cli import commands, doctor, train, trust
    from rag_augment.eval import command as eval_command

    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    if args.command == "eval":
        return eval_command.run(args)
    if args.command in trust.COMMANDS:
        return trust.run(args)
    if args.command in train.COMMANDS:
        return train.run(args)
    if args.command in doctor.COMMANDS:
        return doctor.run(args)
    return commands.run(args)


def _configure_logging(verbose: bool) -> None:
    """The library only logs; the command line shows its warnings (or more with -v) on stderr."""
    root = logging.getLogger("rag_augment")
    if not any(getattr(h, "_rag_augment_cli", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("rag-augment: %(levelname)s: %(message)s"))
        handler._rag_augment_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


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
        print("rag-augment: interrupted; generated queries so far are cached, run the same command again to "
              "resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
