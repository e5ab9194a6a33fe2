"""README's command lines say what the parser does: every flag a README command shows exists for that command,
and a default README shows in `[--flag VALUE]` is the parser's default (or the one its help text names)."""
import re

import pytest
from support import REPO

from rag_augment.cli import build_parser

README = REPO / "README.md"


def _subparsers(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def _commands() -> list[tuple[str, str]]:
    """(command words, the rest of the line) of every `rag-augment ...` line in README's bash blocks, with the
    continuation lines of a usage block joined on."""
    out, current = [], None
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            code = line.split("  #", 1)[0].rstrip()
            if code.startswith("rag-augment "):
                current = [code[len("rag-augment "):]]
                out.append(current)
            elif current is not None and code.startswith(" ") and code.strip().startswith("["):
                current.append(code.strip())
            else:
                current = None
    return [(" ".join(parts).split()[0], " ".join(parts)) for parts in out]


def _parser_for(words: str, text: str):
    sub = _subparsers(build_parser())[words]
    nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
    if nested:
        second = text.split()[1]
        return nested[0].choices[second]
    return sub


COMMANDS = _commands()


def test_readme_shows_commands():
    assert {"index", "query", "tune", "train", "doctor"} <= {c for c, _ in COMMANDS}


@pytest.mark.parametrize("command,text", COMMANDS, ids=[t[:40] for _, t in COMMANDS])
def test_every_flag_in_a_readme_command_exists_with_the_default_it_shows(command, text):
    parser = _parser_for(command, text)
    options = {s: a for a in parser._actions for s in a.option_strings}
    for flag in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", text):
        assert flag in options, f"README: `rag-augment {command}` has no {flag}"
    for flag, value in re.findall(r"\[(--[a-z][\w-]*) ([0-9][\w.]*)\]", text):
        action = options[flag]
        shown = action.default if action.default is not None else _help_default(action.help or "")
        assert shown is not None and float(value) == float(shown), (
            f"README shows {flag} {value}; the parser's default is {shown}")


def _help_default(help_text: str):
    m = re.search(r"default ([0-9.]+)", help_text)
    return m.group(1) if m else None
