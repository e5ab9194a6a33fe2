"""Parse small-model output into (text, kind) pairs.

Real output from a 1.5B model (see tests/data) has preambles ("Here are 5 questions:"), numbering, bullets,
markdown bold, quotes, section headers instead of per-line tags, duplicates, refusals, and a last line cut off
by max_tokens. Each is handled here, once.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rag_augment.generators.prompts import KIND_OF_TAG
from rag_augment.types import CLAIM, KEYWORD, PARAPHRASE, QUESTION

_TAG = re.compile(r"^(?:[-*•>\d.)\s]*)\**\s*(?P<tag>[QPCK])\s*\d*\s*\**\s*[:.)\-]\**\s*(?P<rest>.*)$", re.I)
_HEADER = re.compile(r"^\W*(?P<word>questions?|paraphrases?|rewordings?|claims?|statements?|keywords?|"
                     r"keyword searches|search queries|queries)\b[^:]*:\s*\**\s*$", re.I)
_HEADER_KIND = {"question": QUESTION, "paraphrase": PARAPHRASE, "rewording": PARAPHRASE, "claim": CLAIM,
                "statement": CLAIM, "keyword": KEYWORD, "search": QUESTION, "querie": QUESTION, "query": QUESTION}
_LIST_MARK = re.compile(r"^\s*(?:[-*•]+|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+", re.I)
_PREAMBLE = re.compile(r"^(?:sure|certainly|of course|okay|ok|here (?:are|is)|below (?:are|is)|these are|"
                       r"the following|i hope|let me know|note:|based on the passage)\b", re.I)
REFUSAL = re.compile(r"\b(?:i'?m sorry|i cannot|i can'?t|i am unable|as an ai|i apologi[sz]e|"
                      r"cannot assist|can'?t help with)\b", re.I)
_WRAP = "\"'`“”‘’*_ "


@dataclass
class Parsed:
    queries: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().strip(_WRAP).strip()
    return re.sub(r"\*\*(.+?)\*\*", r"\1", text)


def _kind_for_header(word: str) -> str:
    word = word.lower().rstrip("s")
    for prefix, kind in _HEADER_KIND.items():
        if word.startswith(prefix):
            return kind
    return QUESTION


def _fix_kind(kind: str, text: str) -> str:
    # Claims written as questions are questions (seen often in the 1.5B model's output).
    if kind == CLAIM and text.endswith("?"):
        return QUESTION
    return kind


def _json_strings(raw: str) -> list[str]:
    """The strings of an answer written as JSON ({"questions": ["...", ...]}), each a line; [] otherwise."""
    text = raw.strip()
    if not text.startswith(("{", "[")):
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    out: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.extend(ln for ln in item.split("\n") if ln.strip())
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


def parse_queries(raw: str, default_kind: str = QUESTION, truncated: bool = False) -> Parsed:
    out = Parsed()
    if not raw or not raw.strip():
        out.notes.append("empty")
        return out
    lines = _json_strings(raw) or [ln for ln in raw.replace("\r", "").split("\n") if ln.strip()]
    if truncated and lines:
        lines = lines[:-1]  # the last line was cut off by max_tokens
        out.notes.append("truncated")
    current = default_kind
    seen: set[str] = set()
    refusals = 0
    for line in lines:
        stripped = line.strip()
        if REFUSAL.search(stripped) and len(stripped) < 300:
            refusals += 1
            continue
        header = _HEADER.match(stripped)
        if header:
            current = _kind_for_header(header.group("word"))
            continue
        m = _TAG.match(stripped)
        if m:
            kind, text = KIND_OF_TAG[m.group("tag").upper()], m.group("rest")
        else:
            if _PREAMBLE.match(stripped) or stripped.endswith(":") or stripped.startswith("#"):
                continue
            kind, text = current, _LIST_MARK.sub("", stripped)
        text = _clean(text)
        if len(text) < 3 or not re.search(r"[A-Za-z0-9]", text):
            continue
        kind = _fix_kind(kind, text)
        key = re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
        if key in seen:
            out.notes.append("duplicate")
            continue
        seen.add(key)
        out.queries.append((text, kind))
    if refusals and not out.queries:
        out.notes.append("refusal")
    elif not out.queries:
        out.notes.append("unparseable")
    return out
