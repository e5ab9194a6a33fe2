"""Chunk text with the words its queries share marked, the way the lexical leg sees them (stemmed, stopwords
out): "renewing" in a query marks "renewal" and "renew" in the chunk. Each mark carries its stem, so the page can
light up the words of the query under the cursor."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

from rag_augment.text import TOKEN, shared_tokenizer, words


@lru_cache(maxsize=50_000)
def stem_of(word: str) -> str:
    """The stem of one lower-case word, or "" for a stopword."""
    toks = shared_tokenizer()(word)
    return toks[0] if toks else ""


def stems(text: str) -> list[str]:
    """Distinct stems of a text, in order of first use."""
    return list(dict.fromkeys(s for w in words(text) if (s := stem_of(w))))


def highlight(text: str, query_texts: Iterable[str]) -> Markup:
    """HTML of `text` with each word whose stem occurs in any of the queries wrapped in <mark data-w=stem>."""
    wanted = {s for q in query_texts for s in stems(q)}
    out, last = [], 0
    for m in TOKEN.finditer(text):
        s = stem_of(m.group().lower())
        if s and s in wanted:
            out.append(escape(text[last:m.start()]))
            out.append(Markup('<mark data-w="{}">{}</mark>').format(s, m.group()))
            last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
