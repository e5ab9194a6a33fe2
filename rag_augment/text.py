"""Words as the project reads them: the lexical leg's tokenizer (lower-case words of 2+ characters, English
stopwords out, Snowball stems), shared by BM25, the review page's highlighting and the off-topic filter, so all
three agree on what "the same word" is. Zero-width characters are removed first: \\w stops at them, so a pasted
"pass\\u200bword" would otherwise be two words.

Kept apart on purpose, with their own patterns: the rules generator (it also keeps numbers such as "4.5%" and
hyphenated terms whole, as it quotes them), the quality gate (letters only: it judges how much of an answer is
prose) and the diversity report (English contractions, for its query-type heuristics). Changing those would change
their output, and the committed runs behind the benchmark figures.
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, ZERO_WIDTH))
TOKEN = re.compile(r"(?u)\b\w\w+\b")


def strip_zero_width(text: str) -> str:
    """Zero-width spaces and joiners removed, so "pass\\u200bword" is one word to the splitter and to BM25."""
    return text.translate(_ZERO_WIDTH_TABLE)


def words(text: str) -> list[str]:
    """The lower-case words the lexical leg indexes, before stopwords and stemming."""
    return TOKEN.findall(strip_zero_width(text).lower())


class Tokenizer:
    """Lower-case words of 2+ characters, English stopwords out, Snowball-stemmed. Safe to share between threads:
    PyStemmer's stemmers are not (they cache), so each thread gets its own."""

    def __init__(self, language: str = "english"):
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._new_stemmer = lambda: Stemmer.Stemmer(language).stemWords
        self._local = threading.local()
        self._stop = set(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        kept = [w for w in words(text) if w not in self._stop]
        stem = getattr(self._local, "stem", None)
        if stem is None:
            stem = self._local.stem = self._new_stemmer()
        return stem(kept)


@lru_cache(maxsize=1)
def shared_tokenizer() -> Tokenizer:
    return Tokenizer()


@lru_cache(maxsize=1)
def function_stems() -> frozenset[str]:
    """Question and function words ("what", "does", "how", "my"): the lexical leg indexes them, but sharing one
    says nothing about the topic. bm25s's longer English list, stemmed as the query words are."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS
    return frozenset(shared_tokenizer()(" ".join(STOPWORDS_EN_PLUS)))


@lru_cache(maxsize=4096)
def content_stems(text: str) -> frozenset[str]:
    """The stems of a text's topic words: the lexical leg's stems without question and function words."""
    return frozenset(shared_tokenizer()(text)) - function_stems()
