"""The quality gate every LLM generation passes before it is cached.

A model (or a proxy, or a hostile endpoint) can answer with nothing, a refusal or garbage: "Lorem ipsum ...",
`{"tool_call": null}`, `0xDEADBEEF`, chat-template tokens, the API key, a URL or e-mail address it made up,
someone's card number. Cached, such an answer would mark the chunk done for good and store the garbage as queries.
The gate drops each line that is not plausibly a query, scrubs lines that leak something from the raw answer
(which is cached too), and turns a generation left with no usable query into an error ("soft failure: ..."):
errors are not cached and their chunks are not marked done, so the next run asks again.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from rag_augment.filters import pii_found
from rag_augment.generators.parsing import REFUSAL

if TYPE_CHECKING:  # base.py imports this module
    from rag_augment.generators.base import GenerationResult

log = logging.getLogger(__name__)

SecretCheck = Callable[[str], bool]

_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]{2,}")
_HEX = re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+", re.I)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MAX_LINE = 1000  # no one types a 1,000-character search; also bounds what every pattern below can cost
_SECRET_LIKE = re.compile(
    r"\bsk-[A-Za-z0-9_-]{12,}|\b(?:ghp|gho|ghu|ghs|github_pat)_[A-Za-z0-9_]{20,}|\bAKIA[0-9A-Z]{16}\b"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{30,}|\bBearer\s+[A-Za-z0-9._~+/-]{12,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----")
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=_-])(?=[A-Za-z0-9+/=_-]{0,80}\d)[A-Za-z0-9+/=_-]{32,}")  # base64, hashes, tokens
_JSON = re.compile(r"^\{|\}$|^\[\s*[\"\[{\d\]]|[\"\]}\d\[]\s*\]$|\"[\w-]+\"\s*:"
                   r"|^(?:null|true|false|none|undefined|nan)$", re.I)
_LOREM = re.compile(r"\blorem ipsum\b|\bdolor sit amet\b|\bconsectetur adipiscing\b|\bsed do eiusmod\b", re.I)
_SPECIAL_TOKEN = re.compile(r"<\|[^|>]{1,40}\|>|\[/?INST\]|</?s>|<eos>|<bos>|<unk>|<pad>", re.I)
_MORE_REFUSAL = re.compile(
    r"\b(?:as an? (?:ai|language model|assistant)|i (?:do not|don't) have (?:access|enough)|i'?m not able to"
    r"|i am not able to|i won'?t be able|unable to (?:help|assist|comply|generate|provide)"
    r"|not (?:able|allowed|permitted) to (?:help|assist|generate|provide))\b", re.I)

def _foreign(pattern: re.Pattern, text: str, source: str) -> bool:
    """The line carries a match of pattern (URL, e-mail, token) that the model was not shown."""
    low = source.lower()
    return any(m.group().rstrip(".,;:!?)]}").lower() not in low for m in pattern.finditer(text))


def leak_reason(text: str, source: str, secret: SecretCheck | None = None) -> str | None:
    """'secret', 'foreign_url', 'foreign_email' or 'pii' when text leaks something, else None."""
    if (secret is not None and secret(text)) or _foreign(_SECRET_LIKE, text, source):
        return "secret"
    if _foreign(_URL, text, source):
        return "foreign_url"
    if _foreign(_EMAIL, text, source):
        return "foreign_email"
    if pii_found(text):
        return "pii"
    return None


def garbage_reason(text: str, source: str) -> str | None:
    """Why text is not plausibly a query a person would type, or None."""
    t = text.strip()
    if not _LETTER.search(t):
        return "no_letters"
    if REFUSAL.search(t) or _MORE_REFUSAL.search(t):
        return "refusal"
    if _SPECIAL_TOKEN.search(t):
        return "template_token"
    if _JSON.search(t):
        return "json_fragment"
    if _LOREM.search(t) and not _LOREM.search(source):
        return "lorem_ipsum"
    if not _WORD.search(_HEX.sub(" ", t)):
        return "hex_blob"
    if _foreign(_BLOB, t, source):
        return "blob"
    words = t.lower().split()
    if len(words) >= 6 and len(set(words)) <= len(words) // 3:
        return "repetition"
    return None


def line_reason(text: str, source: str, secret: SecretCheck | None = None) -> str | None:
    if len(text) > MAX_LINE:
        return "too_long"
    return leak_reason(text, source, secret) or garbage_reason(text, source)


def scrub_raw(raw: str, source: str, secret: SecretCheck | None = None) -> str:
    """The raw answer with every line that leaks something replaced by a marker (the raw answer is cached)."""
    lines = raw.split("\n")
    out = []
    for line in lines:
        reason = "too_long" if len(line) > 2 * MAX_LINE else leak_reason(line, source, secret)
        out.append(f"[removed by the quality gate: {reason}]" if reason else line)
    return "\n".join(out)


def gate(result: GenerationResult, source: str, secret: SecretCheck | None = None) -> GenerationResult:
    """The result with only plausible queries; an error ("soft failure: ...") when none is left.
    `source`: everything the model was shown (chunk text, title, seeds), so URLs and e-mails it holds are fine."""
    raw = scrub_raw(result.raw, source, secret)
    if result.error:
        return replace(result, raw=raw, queries=[])
    kept: list[tuple[str, str]] = []
    dropped: Counter[str] = Counter()
    for text, kind in result.queries:
        reason = line_reason(text, source, secret)
        if reason:
            dropped[reason] += 1
        else:
            kept.append((text, kind))
    notes = result.notes + [f"gate_dropped_{reason}" for reason in sorted(dropped)]
    if kept:
        return replace(result, queries=kept, raw=raw, notes=notes)
    error = f"soft failure: {_why(result.notes, dropped)}"
    log.warning("chunk %s: %s; not cached, asked again next run", result.chunk_id, error)
    return replace(result, queries=[], raw=raw, notes=notes, error=error)


def _why(notes: list[str], dropped: Counter) -> str:
    if "empty" in notes:
        return "empty answer"
    if "refusal" in notes or (dropped and set(dropped) == {"refusal"}):
        return "refusal"
    if dropped:
        return "no usable query (dropped: " + ", ".join(f"{r} x{n}" for r, n in sorted(dropped.items())) + ")"
    return "no usable query in the answer"
