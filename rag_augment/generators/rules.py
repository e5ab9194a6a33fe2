"""A deterministic generator with no model: questions from headings and key sentences, keyword queries from
salient terms, paraphrases of headings by templates. A baseline, a fallback, and fast enough for whole corpora.

Scores use only the chunk itself (term counts within the chunk, not corpus IDF), so a chunk's queries never
depend on which other chunks share its batch: the cache stays valid.
"""
from __future__ import annotations

import re
import time
import zlib
from collections import Counter
from dataclasses import replace
from typing import Any

from rag_augment.errors import ConfigError
from rag_augment.filters import redact_pii
from rag_augment.generators.base import GenerationResult
from rag_augment.generators.prompts import TAGS
from rag_augment.types import KEYWORD, PARAPHRASE, QUESTION, Chunk

VERSION = "rules-v2"  # v2: PII is cut out of the chunk before templating (v1 could strip an e-mail's "@")

_STOP_WORDS = """a about above across after again against all also am an and any are aren't as at be because
been before being below between both but by can cannot could did do does doing done down during each either etc
even every few for from further get gets getting got had has have having he her here hers him his how however i
if in into is isn't it it's its itself just least less like made make makes many may me might more most much
must my need needs no nor not now of off often on once one only or other others ought our ours out over own per
please rather really same see shall she should since so some such than that that's the their theirs them then
there these they this those though through thus to too under until up upon us use used uses using very via was
we well were what when where whether which while who whom whose why will with within without would yet you
you'll you're your yours"""
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"\d*[A-Za-z][A-Za-z0-9]*(?:['’.-][A-Za-z0-9]+)*|\d+(?:\.\d+)?%?")
_URL = re.compile(r"https?://\S+|www\.\S+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
_PREPOSITIONS = ("for ", "in ", "on ", "at ", "by ", "with ", "about ", "after ", "before ", "during ", "from ")

_TOPIC_QUESTIONS = ("What is the policy on {t}?", "How does {t} work?", "What should I know about {t}?")
_LONG_TOPIC_QUESTIONS = ("What is known about {t}?", "What does the evidence say about {t}?")
_PHRASE_QUESTIONS = ("What about {p}?", "What should I know about {p}?", "What is known about {p}?")
_TOPIC_PARAPHRASES = ("{t} guidelines", "information about {t}", "rules for {t}", "{t} explained",
                      "help with {t}", "where to find {t} details")
# (pattern on a question seed, rewordings using its groups)
_QUESTION_PARAPHRASES = (
    (re.compile(r"^how (?:do|can|should) (?:i|we|you) (.+)$", re.I),
     ("What is the process to {0}?", "steps to {0}", "Where can I find out how to {0}?")),
    (re.compile(r"^(?:what|who) (?:is|are) (.+)$", re.I), ("Explain {0}", "Tell me about {0}", "{0} meaning")),
    (re.compile(r"^(?:can|may) (?:i|we) (.+)$", re.I), ("Am I allowed to {0}?", "Is it OK to {0}?")),
    (re.compile(r"^(?:do|does) (?:i|we) (?:need|have) to (.+)$", re.I),
     ("Is it required to {0}?", "Must I {0}?")),
    (re.compile(r"^when (?:do|should|can|must) (?:i|we) (.+)$", re.I),
     ("What is the deadline to {0}?", "timing for when to {0}")),
)
_OBJECT_YOU = re.compile(r"\b(to|for|with|at|by|from|help|give|tell|send|let|ask|contact|remind|email)\s+you\b", re.I)
# Sentences addressed to the reader, turned into the question they answer.
_SENTENCE_RULES = (
    (re.compile(r"^you (?:must|should|need to|have to|are required to) (.+)$", re.I), "Do I need to {0}?"),
    (re.compile(r"^you (?:can|may) (.+)$", re.I), "Can I {0}?"),
    (re.compile(r"^to (.+?), (?:you (?:should|must|can|need to) )?(.+)$", re.I), "How do I {0}?"),
    (re.compile(r"^if you (.+?), (.+)$", re.I), "What if I {0}?"),
)


class RulesGenerator:
    """Deterministic query writer: same chunk in, same queries out, thousands of chunks per second."""

    def __init__(self, n_questions: int = 5, n_paraphrases: int = 2, n_keywords: int = 1):
        for name, value in (("n_questions", n_questions), ("n_paraphrases", n_paraphrases),
                            ("n_keywords", n_keywords)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"rules.{name} must be an integer >= 0, got {value!r}")
        if n_questions + n_keywords + n_paraphrases == 0:
            raise ConfigError("rules: ask for at least one question, keyword query or paraphrase")
        self.n_questions = n_questions
        self.n_paraphrases = n_paraphrases
        self.n_keywords = n_keywords

    def identity(self) -> dict[str, Any]:
        return {"generator": "rules", "model": "rules", "model_hash": "", "prompt_version": VERSION,
                "params": {"n_questions": self.n_questions, "n_paraphrases": self.n_paraphrases,
                           "n_keywords": self.n_keywords}}

    def generate_batch(self, chunks: list[Chunk]) -> list[GenerationResult]:
        return [self._one(c) for c in chunks]

    def _one(self, chunk: Chunk) -> GenerationResult:
        start = time.perf_counter()
        queries = generate_queries(chunk, self.n_questions, self.n_paraphrases, self.n_keywords)
        raw = "\n".join(f"{TAGS[kind]}: {text}" for text, kind in queries)
        return GenerationResult(chunk_id=chunk.chunk_id, queries=queries, raw=raw,
                                seconds=time.perf_counter() - start, notes=[] if queries else ["empty"])


def generate_queries(chunk: Chunk, n_questions: int = 5, n_paraphrases: int = 2,
                     n_keywords: int = 1) -> list[tuple[str, str]]:
    chunk = _without_pii(chunk)
    sentences = [(s, _content_words(s)) for s in _sentences(chunk.text)]
    tf = Counter(w for _, words in sentences for w in words)
    topics = _topics(chunk)
    out = _Collector({_key(s) for s in chunk.seeds})
    n_topic = min(len(topics) * 2, n_questions // 2 or n_questions)
    _add_all(out, QUESTION, _topic_questions(topics), n_topic)
    _add_all(out, QUESTION, _sentence_questions(sentences, tf), n_questions - out.count(QUESTION))
    _add_all(out, QUESTION, _topic_questions(topics, offset=1), n_questions - out.count(QUESTION))
    _add_all(out, KEYWORD, _keyword_queries(tf, chunk), n_keywords)
    for seed in reversed(chunk.seeds):  # the most specific heading first
        _add_all(out, PARAPHRASE, _paraphrases(seed), n_paraphrases)
    return out.items


def _without_pii(chunk: Chunk) -> Chunk:
    """The chunk with e-mail addresses, phone, card and account numbers cut out. Tokenising would otherwise
    strip an e-mail's '@' ("jane.doe agency.gov") and hide it from the PII filter; no search needs them."""
    return replace(chunk, text=redact_pii(chunk.text), title=redact_pii(chunk.title),
                   seeds=tuple(redact_pii(s) for s in chunk.seeds))


class _Collector:
    """Keeps queries in order, without near-duplicates (case, punctuation) or copies of the seeds."""

    def __init__(self, banned: set[str]):
        self.items: list[tuple[str, str]] = []
        self.seen = set(banned)

    def add(self, text: str, kind: str) -> bool:
        text = re.sub(r"\s+", " ", text).strip()
        key = _key(text)
        if len(key) < 3 or key in self.seen:
            return False
        self.seen.add(key)
        self.items.append((text, kind))
        return True

    def count(self, kind: str) -> int:
        return sum(1 for _, k in self.items if k == kind)


def _add_all(out: _Collector, kind: str, candidates, limit: int) -> None:
    added = 0
    for text in candidates:
        if added >= limit:
            return
        added += out.add(text, kind)


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP
            and (w[0].isalpha() or not w.replace(".", "").rstrip("%").isdigit())]


def _sentences(text: str) -> list[str]:
    """Plain sentences: no headings, list marks, tables, links, URLs or emphasis."""
    units: list[str] = []
    para: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        is_item = bool(_LIST_MARK.match(line))
        if not stripped or stripped.startswith(("#", "|")) or is_item:
            units.append(" ".join(para))
            para = []
        if stripped and not stripped.startswith(("#", "|")):  # table rows make word salad, not sentences
            para.append(_LIST_MARK.sub("", stripped))
    units.append(" ".join(para))
    out = []
    for unit in units:
        unit = re.sub(r"[*_`]+", "", _URL.sub("", _LINK.sub(r"\1", unit)))
        out += [s.strip() for s in _SENT_END.split(re.sub(r"\s+", " ", unit)) if _WORD.search(s)]
    return out


def _topic(text: str) -> str:
    t = re.sub(r"\s+", " ", text).strip().rstrip(".:;,")
    words = t.split(" ")
    # Sentence-case headings ("Sick leave") read naturally lower-cased; keep names ("Docker Hub", "GSA").
    if words and words[0][:1].isupper() and words[0][1:].islower() and not any(w[:1].isupper() for w in words[1:]):
        t = t[0].lower() + t[1:]
    return t


def _topics(chunk: Chunk) -> list[str]:
    topics = [_topic(s) for s in reversed(chunk.seeds)]
    if chunk.title and _key(chunk.title) not in {_key(t) for t in topics}:
        topics.append(_topic(chunk.title))
    return [t for t in topics if _WORD.search(t)]


def _topic_questions(topics: list[str], offset: int = 0):
    for t in topics:
        if t.endswith("?"):
            yield t[0].upper() + t[1:]
            continue
        lower = t.lower()
        if lower.startswith("how to "):
            yield f"How do I {t[7:]}?"
        elif lower.startswith(_PREPOSITIONS):
            yield f"What should I know {t[0].lower() + t[1:]}?"
        elif len(t.split()) > 8:  # paper titles and long headings
            yield _LONG_TOPIC_QUESTIONS[offset % 2].format(t=t)
        else:
            yield _TOPIC_QUESTIONS[offset % 3].format(t=t)
            yield _TOPIC_QUESTIONS[(offset + 1) % 3].format(t=t)


def _ranked_sentences(sentences: list[tuple[str, list[str]]], tf: Counter) -> list[tuple[int, str]]:
    scored = []
    for i, (s, word_list) in enumerate(sentences):
        words = set(word_list)
        if len(words) < 3 or len(s.split()) > 60:
            continue
        score = sum(tf[w] for w in words) / len(words) ** 0.5 + (0.5 if i == 0 else 0.0)
        scored.append((-score, i, s))
    return [(i, s) for _, i, s in sorted(scored)]


def _sentence_questions(sentences: list[tuple[str, list[str]]], tf: Counter):
    ranked = _ranked_sentences(sentences, tf)
    for _, s in ranked:  # sentences addressed to the reader make the most natural questions
        direct = _reader_question(s)
        if direct:
            yield direct
    used: set[str] = set()
    for n, (_, s) in enumerate(ranked):
        phrase = _key_phrase(s, tf)
        if phrase and phrase.lower() not in used:
            used.add(phrase.lower())
            yield _PHRASE_QUESTIONS[n % len(_PHRASE_QUESTIONS)].format(p=_topic(phrase))


def _reader_question(sentence: str) -> str:
    s = sentence.rstrip(".!?").strip()
    for pattern, template in _SENTENCE_RULES:
        m = pattern.match(s)
        if m and len(m.group(1).split()) <= 14:
            return template.format(_first_person(m.group(1)))
    return ""


def _first_person(text: str) -> str:
    """'you are on your way' -> 'am on my way' (the reader asks about themself)."""
    text = re.sub(r"^are\b", "am", text)
    text = re.sub(r"\byou(?:'|’)re\b", "I'm", text, flags=re.I)
    text = re.sub(r"\byou are\b", "I am", text, flags=re.I)
    text = re.sub(r"\byour(self)?\b", lambda m: "myself" if m.group(1) else "my", text, flags=re.I)
    return _OBJECT_YOU.sub(r"\1 me", text).replace(" you ", " I ").replace(" you,", " I,")


def _key_phrase(sentence: str, tf: Counter, max_words: int = 4) -> str:
    """The best run of adjacent content words (a cheap noun phrase), at most max_words long."""
    best, best_score, run = "", 0.0, []
    for token in _WORD.findall(sentence) + [""]:
        low = token.lower()
        if len(low) > 1 and low not in _STOP:
            run.append((token, tf.get(low, 0) + 0.1))
            continue
        # Scores are positive, so only full-length windows (or the whole run) can win.
        for i in range(max(1, len(run) - max_words + 1)):
            window = run[i:i + max_words]
            score = sum(sc for _, sc in window)
            if score > best_score:
                best, best_score = " ".join(w for w, _ in window), score
        run = []
    return best


def _keyword_queries(tf: Counter, chunk: Chunk, per_query: int = 4):
    boost = Counter(_content_words(" ".join(chunk.seeds) + " " + chunk.title))
    ranked = sorted(set(tf) | set(boost), key=lambda w: (-(tf[w] + 1.5 * bool(boost[w])), w))
    for i in range(0, len(ranked), per_query):
        group = ranked[i:i + per_query]
        if len(group) >= 2:
            yield " ".join(group)


def _paraphrases(seed: str):
    text = re.sub(r"\s+", " ", seed).strip()
    if text.endswith("?"):
        body = text.rstrip("?").strip()
        for pattern, templates in _QUESTION_PARAPHRASES:
            m = pattern.match(body)
            if m:
                yield from (t.format(*m.groups()) for t in templates)
                break
        words = _content_words(body)
        if words:
            yield " ".join(words)
            yield "information on " + " ".join(words)
        return
    t = _topic(text)
    rotation = zlib.crc32(t.encode("utf-8")) % len(_TOPIC_PARAPHRASES)  # stable variety across seeds
    for i in range(len(_TOPIC_PARAPHRASES)):
        yield _TOPIC_PARAPHRASES[(rotation + i) % len(_TOPIC_PARAPHRASES)].format(t=t)
