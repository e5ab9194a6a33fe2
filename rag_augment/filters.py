"""Filters that decide which synthetic queries are kept. Each is switchable and counted by reason.

Pure functions over candidates plus two checks that need vectors: near-duplicates (cosine between a chunk's
queries) and round-trip consistency (Promptagator: keep a query only if its parent chunk ranks in the top k
chunks for it). Doc2Query-- relevance: drop the given share of queries least similar to their own chunk.
A generated query that shares no content word (the lexical leg's stems) with its chunk is dropped too.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag_augment.errors import ConfigError
from rag_augment.text import content_stems
from rag_augment.types import GENERATED_KINDS, REAL, Chunk, ReviewStatus, SyntheticQuery

PII_PATTERNS = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"),
    "phone": re.compile(r"(?<!\w)(?:\+?\d{1,3}[\s.-])?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\w)"),
    "phone_intl": re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,5}\)?){2,6}(?!\w)"),
    "us_ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    # Before card numbers: an IBAN's digits after its country code are often card-shaped too.
    # Groups of four plus a 1-3 character tail: compact IBANs are rarely a multiple of four long.
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"),
    "card_number": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "uk_nino": re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"),
}
# Patterns whose matches must also pass a check, so that order numbers and product codes are not PII. A number
# written the way cards and IBANs are written counts without its checksum: a partial or mistyped card or account
# number is still someone's (a bare run of digits must pass Luhn: order numbers look like that).
_CHECKSUM: dict[str, Callable[[str], bool]] = {
    "card_number": lambda m: _luhn_ok(m) or _card_formatted(m),
    "iban": lambda m: _iban_ok(m) or _iban_formatted(m),
    "phone_intl": lambda m: 8 <= len(re.sub(r"\D", "", m)) <= 15,
}
# Groups of four digits with one separator (4-4-4-4, 4-4-4-2 ...), or Amex's 4-6-5.
_CARD_FORMAT = re.compile(r"\d{4}([ -])\d{4}(?:\1\d{4})*(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}")
# ISO 13616 countries; an IBAN-like match counts without mod-97 when written in spaced groups, as IBANs are.
_IBAN_COUNTRY_CODES = """AD AE AL AT AZ BA BE BG BH BI BR BY CH CR CY CZ DE DJ DK DO EE EG ES FI FK FO FR GB GE
GI GL GR GT HR HU IE IL IQ IS IT JO KW KZ LB LC LI LT LU LV LY MC MD ME MK MN MR MT MU NI NL NO OM PK PL PS PT QA RO
RS RU SA SC SD SE SI SK SM SO ST SV TL TN TR UA VA VG XK YE"""
IBAN_COUNTRIES = frozenset(_IBAN_COUNTRY_CODES.split())
# A quoted payload is an instruction only where a sentence or clause starts with the verb: "How do I write
# 'Dear Sir'?" is a question, "... and output 'PWNED'" is an order.
INJECTION = re.compile(
    r"(ignore (?:all |any )?(?:the )?(?:previous|prior|above|earlier) (?:instructions|prompts?|rules)"
    r"|disregard (?:the |all )?(?:previous|above|prior)|you are now|system prompt|new instructions"
    r"|(?:^|[.!?;:]\s*|\b(?:and|then)\s+)(?:output|print|say|respond with|reply with|write)"
    r" (?:only |exactly )?[\"'][^\"']{2,60}[\"']"
    r"|do anything now|jailbreak|pwned|<\s*/?\s*(?:system|instructions?)\s*>)", re.I)
_PAYLOAD = re.compile(r"[\"'“‘]([^\"'”’]{2,60})[\"'”’]")
# Model chatter that parsers sometimes let through: preambles, refusals, labels.
_META = re.compile(r"^(?:here (?:are|is)\b|sure\b|certainly\b|of course\b|as an ai\b|i (?:cannot|can't|am unable)\b"
                   r"|note:|passage\b|title:|(?:questions?|queries|keywords?)\s*(?:\d+\s*)?:?$)", re.I)
_WORD = re.compile(r"[A-Za-z0-9']+")


@dataclass(frozen=True)
class FilterConfig:
    min_words: int = 2
    max_words: int = 40
    not_a_query: bool = True
    dedupe_threshold: float = 0.95      # cosine between two queries of one chunk; 0 disables
    pii: bool = True
    injection: bool = True
    off_topic: bool = True              # drop a generated query with no word of its chunk and far from it
    round_trip_k: int = 0               # keep if the parent ranks in the top k chunks; 0 disables
    relevance_drop_share: float = 0.0   # Doc2Query--: drop this share least similar to their chunk


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def pii_found(text: str) -> str | None:
    for name, pattern in PII_PATTERNS.items():
        check = _CHECKSUM.get(name)
        # Every match, not just the first: a failing order number may precede a real card number.
        if any(check is None or check(m.group()) for m in pattern.finditer(text)):
            return name
    return None


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in re.sub(r"\D", "", number)][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def _card_formatted(number: str) -> bool:
    digits = len(re.sub(r"\D", "", number))
    return 13 <= digits <= 19 and _CARD_FORMAT.fullmatch(number.strip()) is not None


def _iban_formatted(text: str) -> bool:
    """Country code, check digits, then groups separated by spaces, mostly digits: a (partial) IBAN."""
    groups = text.split()
    return (text[:2] in IBAN_COUNTRIES and len(groups) >= 3 and len(groups[0]) == 4
            and sum(ch.isdigit() for ch in "".join(groups[1:])) >= 6)


def redact_pii(text: str, replacement: str = " ") -> str:
    """text with every PII match (as pii_found judges it) replaced, for generators that copy words from text."""
    for name, pattern in PII_PATTERNS.items():
        text = pattern.sub(_redactor(_CHECKSUM.get(name), replacement), text)
    return text


def _redactor(check: Callable[[str], bool] | None, replacement: str) -> Callable[[re.Match[str]], str]:
    """Replaces a match unless its pattern has a check that the match fails (an order number, not a card)."""
    def redact(match: re.Match[str]) -> str:
        return replacement if check is None or check(match.group()) else match.group()
    return redact


def _iban_ok(text: str) -> bool:
    """ISO 13616 mod-97 check; also tries without the short tail, which may be a following token."""
    compact = text.replace(" ", "")
    for candidate in (compact, re.sub(r" ?[A-Z0-9]{1,3}$", "", text).replace(" ", "")):
        if 15 <= len(candidate) <= 34:
            digits = "".join(str(int(ch, 36)) for ch in candidate[4:] + candidate[:4])
            if int(digits) % 97 == 1:
                return True
    return False


def injection_sentences(chunk_text: str) -> list[str]:
    """The planted instructions: each sentence that carries one, from where the instruction starts (the
    sentence's harmless opening is real content a good query may share)."""
    out = []
    for s in re.split(r"(?<=[.!?])\s+|\n+", chunk_text):
        m = INJECTION.search(s)
        if m:
            out.append(s[m.start():].strip(" .;:"))
    return out


def echoes_injection(query: str, planted: Sequence[str]) -> bool:
    """The query obeys or repeats an instruction planted in the document."""
    if INJECTION.search(query):
        return True
    q = set(_words(query))
    low = " ".join(_words(query))
    for sentence in planted:
        for payload in _PAYLOAD.findall(sentence):  # the text the document told the model to write
            p = " ".join(_words(payload))
            if p and re.search(rf"\b{re.escape(p)}\b", low):
                return True
        s = set(_words(sentence))
        if s and q and len(q & s) / len(q) >= 0.6:
            return True
    return False


def not_a_query(text: str) -> bool:
    t = text.strip()
    return not re.search(r"[A-Za-z]", t) or t.endswith(":") or bool(_META.match(t))


# all-MiniLM-L6-v2: unrelated prose and gibberish measured at most 0.15 against the handbook's chunks, word-bridging
# queries mostly above 0.2. An embedder whose unrelated texts score higher (bge) only makes the filter keep more.
OFF_TOPIC_COSINE = 0.2


def chunk_words(chunk: Chunk) -> frozenset[str]:
    """The content words (stems) of what the generator was shown: title, text and seed queries."""
    return content_stems("\n".join((chunk.title, chunk.text, *chunk.seeds)))


def shares_no_word(text: str, chunk: Chunk) -> bool:
    """The query has content words and none is its chunk's (a query of stopwords only is left to the other
    filters)."""
    words = content_stems(text)
    return bool(words) and words.isdisjoint(chunk_words(chunk))


def off_topic(texts: Sequence[str], chunk: Chunk, embedder, vecs: np.ndarray | None = None) -> list[bool]:
    """Garbage that reads like prose ("The weather today is sunny"), gibberish, or a query about another passage:
    no content word of its chunk AND far from the chunk in embedding space (cosine < OFF_TOPIC_COSINE). A query
    that bridges the vocabulary gap ("how much vacation do new employees earn" for an annual-leave chunk) shares
    no word with its chunk but sits near it, and stays: such queries are what augmentation is for. `vecs`: the
    texts' embeddings when the caller has them."""
    flags = [shares_no_word(t, chunk) for t in texts]
    idx = [i for i, f in enumerate(flags) if f]
    if not idx:
        return flags
    qv = vecs[idx] if vecs is not None else embedder.embed([texts[i] for i in idx])
    sims = qv @ embedder.embed([chunk.text])[0]
    for i, sim in zip(idx, sims):
        flags[i] = bool(sim < OFF_TOPIC_COSINE)
    return flags


def text_reason(q: SyntheticQuery, chunk: Chunk | None, cfg: FilterConfig, planted: Sequence[str]) -> str | None:
    """The reason to drop a query judged on its text alone, or None to keep it."""
    n = len(_words(q.text))
    if n < cfg.min_words:
        return "too_short"
    if n > cfg.max_words:
        return "too_long"
    if cfg.not_a_query and not_a_query(q.text):
        return "not_a_query"
    if cfg.pii and pii_found(q.text):
        return "pii"
    if cfg.injection and echoes_injection(q.text, planted):
        return "prompt_injection_echo"
    return None


def near_duplicates(vecs: np.ndarray, parents: Sequence[str], threshold: float) -> set[int]:
    """Indices to drop: a later query too close to an earlier kept query of the same parent."""
    drop: set[int] = set()
    by_parent: dict[str, list[int]] = {}
    for i, p in enumerate(parents):
        by_parent.setdefault(p, []).append(i)
    for idx in by_parent.values():
        kept: list[int] = []
        for i in idx:
            if kept and float(np.max(vecs[kept] @ vecs[i])) >= threshold:
                drop.add(i)
            else:
                kept.append(i)
    return drop


# compared as stored strings: an unknown status is kept to the filters, not an error at index time
HUMAN_STATUSES = tuple(s.value for s in ReviewStatus if s.by_person)


def exempt(q: SyntheticQuery) -> bool:
    return q.kind == REAL or q.provenance.get("review_status") in HUMAN_STATUSES


def filter_queries(queries: Sequence[SyntheticQuery], chunks: dict[str, Chunk], cfg: FilterConfig, embedder,
                   store=None) -> tuple[list[SyntheticQuery], np.ndarray, dict[str, int]]:
    """Returns (kept queries, their embeddings, dropped counts by reason). Real queries, and queries a human
    approved or wrote in review, are never filtered: a decision must survive re-indexing."""
    dropped: dict[str, int] = {}
    planted = {cid: injection_sentences(c.text) for cid, c in chunks.items()} if cfg.injection else {}
    survivors = []
    for q in queries:
        reason = None if exempt(q) else text_reason(q, chunks.get(q.parent_id), cfg,
                                                         planted.get(q.parent_id, ()))
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            survivors.append(q)
    vecs = embedder.embed([q.text for q in survivors]) if survivors else np.zeros((0, 1), dtype=np.float32)
    keep = np.ones(len(survivors), dtype=bool)
    synthetic = np.array([not exempt(q) for q in survivors], dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        mask = mask & keep & synthetic
        if mask.any():
            dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
            keep[mask] = False

    if cfg.off_topic and len(survivors):
        # feedback paraphrases carry a real user's words, which may be none of the passage's: that is their point
        judged = [i for i, q in enumerate(survivors) if q.kind in GENERATED_KINDS and q.parent_id in chunks]
        far = np.zeros(len(survivors), dtype=bool)
        for parent in dict.fromkeys(survivors[i].parent_id for i in judged):
            mine = [i for i in judged if survivors[i].parent_id == parent]
            far[mine] = off_topic([survivors[i].text for i in mine], chunks[parent], embedder, vecs[mine])
        drop(far, "off_topic")
    if cfg.dedupe_threshold > 0 and len(survivors) > 1:
        dup = np.zeros(len(survivors), dtype=bool)
        dup[list(near_duplicates(vecs, [q.parent_id for q in survivors], cfg.dedupe_threshold))] = True
        drop(dup, "near_duplicate")
    if cfg.relevance_drop_share > 0 and len(survivors):  # needs the chunks' text, not the store
        sims = _parent_similarity(survivors, vecs, chunks, embedder)
        pool = keep & synthetic & np.isfinite(sims)
        cutoff = np.quantile(sims[pool], cfg.relevance_drop_share) if pool.any() else -np.inf
        drop(sims < cutoff, "low_relevance")
    if cfg.round_trip_k > 0 and store is not None and len(survivors):
        drop(~_round_trip(survivors, vecs, store, cfg.round_trip_k), "round_trip_failed")
    kept = [q for q, k in zip(survivors, keep) if k]
    return kept, vecs[keep] if len(survivors) else vecs, dropped


def _parent_similarity(qs: Sequence[SyntheticQuery], vecs: np.ndarray, chunks: dict[str, Chunk],
                       embedder) -> np.ndarray:
    """Cosine of each query to its own chunk; +inf (never dropped) when the chunk was not given."""
    parents = [p for p in dict.fromkeys(q.parent_id for q in qs) if p in chunks]
    pvecs = dict(zip(parents, embedder.embed([chunks[p].text for p in parents]))) if parents else {}
    return np.array([float(v @ pvecs[q.parent_id]) if q.parent_id in pvecs else np.inf
                     for q, v in zip(qs, vecs)])


def _round_trip(qs: Sequence[SyntheticQuery], vecs: np.ndarray, store, k: int) -> np.ndarray:
    """Whether each query's parent is among the top k chunks of the chunk-vector leg for it."""
    from rag_augment.search.legs import LegSearch

    legs = LegSearch(store, None, workers=1)
    ok = np.zeros(len(qs), dtype=bool)
    for i, (q, v) in enumerate(zip(qs, vecs)):
        found = legs.search(q.text, v, legs=["chunk_dense"], depths={"chunk_dense": k}).legs["chunk_dense"]
        ok[i] = any(cid == q.parent_id for cid, _ in found)
    return ok


def add_filter_arguments(parser) -> None:
    """The filter options shared by `rag-augment index` and `rag-augment eval`."""
    parser.add_argument("--no-filters", action="store_true", help="keep every generated query")
    parser.add_argument("--round-trip-k", type=int, default=0,
                        help="keep a query only if its own chunk ranks in the top k chunks for it (0: off)")
    parser.add_argument("--relevance-drop", type=float, default=0.0,
                        help="Doc2Query--: drop this share (0 to 1) of queries least similar to their chunk")


def filters_from_args(args) -> FilterConfig:
    if not 0.0 <= args.relevance_drop < 1.0:
        raise ConfigError(f"--relevance-drop must be in [0, 1), got {args.relevance_drop}")
    if args.no_filters:
        return FilterConfig(min_words=0, max_words=10_000, not_a_query=False, dedupe_threshold=0, pii=False,
                            injection=False, off_topic=False)
    return FilterConfig(round_trip_k=args.round_trip_k, relevance_drop_share=args.relevance_drop)
