"""Diversity and bias report over an index's queries: are they varied, do they cover every chunk, do they ask
the way users ask, and does every configured persona get its share?

Pure functions over SyntheticQuery lists (and their vectors), plus `index_diversity` that reads an AugmentIndex.
- distinct-n (Li et al. 2016): distinct n-grams / all n-grams over all queries; low means templated repetition.
- dispersion: mean pairwise cosine distance (1 - cosine) of query vectors, globally and within each chunk.
- coverage: share of chunks with at least m kept queries (a chunk without queries gains nothing from them).
- query types: by the opening words (what / how / can_i / when / where / who / why / yes_no ...), or keyword
  (short, no question word) and claim (a statement); kind claim and keyword count as such.
- personas: queries and chunk coverage per persona, when provenance carries one.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from rag_augment.types import CLAIM, GENERATED_KINDS, KEYWORD, REAL, SyntheticQuery

QUERY_TYPES = ("what", "how", "can_i", "when", "where", "who", "why", "yes_no", "request", "keyword", "claim",
               "other")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# The opening word(s) that decide a question's type; checked in order.
_OPENINGS = (
    ("can_i", re.compile(r"^(?:can|could|may|might) (?:i|we|you|my|our|employees?|staff|someone)\b|^am i allowed\b"
                         r"|^is it (?:ok|okay|allowed|possible|permitted)\b")),
    ("what", re.compile(r"^(?:what|what's|whats|which)\b")),
    ("how", re.compile(r"^(?:how|how's)\b")),
    ("when", re.compile(r"^when\b")),
    ("where", re.compile(r"^where\b")),
    ("who", re.compile(r"^(?:who|whom|whose)\b")),
    ("why", re.compile(r"^why\b")),
    ("yes_no", re.compile(r"^(?:is|are|am|was|were|do|does|did|should|must|will|would|can|could|has|have|had|"
                          r"shall|may)\b")),
    ("request", re.compile(r"^(?:explain|describe|tell me|list|show|give|define|find|summari[sz]e)\b")),
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams over all n-grams, pooled over all texts (0.0 when there are none)."""
    grams: Counter = Counter()
    for t in texts:
        w = words(t)
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return round(len(grams) / total, 4) if total else 0.0


def mean_cosine_distance(vecs: np.ndarray) -> float | None:
    """Mean of 1 - cosine over all distinct pairs of L2-normalised rows, in O(n d): the sum of all pairwise
    cosines is |sum of rows|^2 minus the n self-pairs. None for fewer than two rows."""
    n = len(vecs)
    if n < 2:
        return None
    s = np.asarray(vecs, dtype=np.float64).sum(axis=0)
    mean_cos = (float(s @ s) - float(np.einsum("ij,ij->", vecs, vecs))) / (n * (n - 1))
    return round(1.0 - mean_cos, 4)


def dispersion(queries: Sequence[SyntheticQuery], vecs: np.ndarray) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(queries):
        groups.setdefault(q.parent_id, []).append(i)
    per_chunk = [d for idx in groups.values() if (d := mean_cosine_distance(vecs[idx])) is not None]
    return {"global": mean_cosine_distance(vecs) if len(queries) else None,
            "per_chunk_mean": round(float(np.mean(per_chunk)), 4) if per_chunk else None,
            "per_chunk_min": round(float(np.min(per_chunk)), 4) if per_chunk else None,
            "chunks_measured": len(per_chunk)}


def coverage(queries: Sequence[SyntheticQuery], chunk_ids: Iterable[str], m: int = 1) -> dict[str, Any]:
    """Share of chunks with at least m queries; queries of chunks not in chunk_ids are ignored."""
    ids = set(chunk_ids)
    per = Counter(q.parent_id for q in queries if q.parent_id in ids)
    covered = sum(1 for c in ids if per[c] >= m)
    return {"m": m, "chunks": len(ids), "covered": covered,
            "share": round(covered / len(ids), 4) if ids else 0.0,
            "without_queries": len(ids) - len(per)}


def topic_coverage(chunk_ids: Sequence[str], chunk_vecs: np.ndarray, titles: Sequence[str],
                   queries: Sequence[SyntheticQuery], m: int = 1, n_topics: int | None = None,
                   seed: int = 0) -> list[dict[str, Any]]:
    """Which parts of the knowledge base the queries cover: the chunks are clustered by their vectors (k-means,
    about sqrt(chunks / 2) topics, at most 30), and each topic reports its chunks, its queries and the share of
    its chunks with at least m queries, least covered first. A topic is named by the title of its most central
    chunk. A whole-corpus share can hide a topic with no queries at all; this cannot."""
    n = len(chunk_ids)
    if n < 2:
        return []
    from sklearn.cluster import KMeans

    k = n_topics or int(min(30, max(2, round((n / 2) ** 0.5))))
    k = min(k, n)
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(np.asarray(chunk_vecs, dtype=np.float64))
    per = Counter(q.parent_id for q in queries)
    dist = km.transform(np.asarray(chunk_vecs, dtype=np.float64))
    out = []
    for t in range(k):
        members = np.flatnonzero(km.labels_ == t).tolist()
        if not members:
            continue
        central = min(members, key=lambda i: dist[i, t])
        counts = [per[chunk_ids[i]] for i in members]
        covered = sum(c >= m for c in counts)
        out.append({"topic": titles[central] or chunk_ids[central], "chunks": len(members),
                    "queries": sum(counts), "covered_share": round(covered / len(members), 4)})
    return sorted(out, key=lambda r: (r["covered_share"], r["queries"], r["topic"]))


def query_type(text: str, kind: str = "") -> str:
    if kind == CLAIM:
        return "claim"
    if kind == KEYWORD:
        return "keyword"
    low = " ".join(words(text))
    for name, pattern in _OPENINGS:
        if pattern.search(low):
            return name
    if text.strip().endswith("?"):
        return "other"
    return "keyword" if len(low.split()) <= 5 else "claim"


def type_mix(queries: Sequence[SyntheticQuery]) -> dict[str, Any]:
    counts = Counter(query_type(q.text, q.kind) for q in queries)
    n = sum(counts.values())
    return {"counts": {t: counts[t] for t in QUERY_TYPES if counts[t]},
            "shares": {t: round(counts[t] / n, 4) for t in QUERY_TYPES if counts[t]}}


def persona_coverage(queries: Sequence[SyntheticQuery], chunk_ids: Iterable[str]) -> dict[str, Any]:
    """Per persona: its queries, the chunks it covers and their share. Empty when no query has a persona."""
    ids = set(chunk_ids)
    by: dict[str, list[SyntheticQuery]] = {}
    for q in queries:
        persona = str(q.provenance.get("persona") or "").strip()
        if persona:
            by.setdefault(persona, []).append(q)
    out = {}
    for persona, qs in sorted(by.items()):
        chunks = {q.parent_id for q in qs if q.parent_id in ids}
        out[persona] = {"queries": len(qs), "chunks": len(chunks),
                        "chunk_share": round(len(chunks) / len(ids), 4) if ids else 0.0,
                        "types": type_mix(qs)["shares"]}
    return out


def real_vs_synthetic(queries: Sequence[SyntheticQuery]) -> dict[str, Any]:
    """Per chunk with real queries: real / generated; generated kinds only in the denominator."""
    real: Counter[str] = Counter()
    synth: Counter[str] = Counter()
    for q in queries:
        if q.kind == REAL:
            real[q.parent_id] += 1
        elif q.kind in GENERATED_KINDS:
            synth[q.parent_id] += 1
    ratios = [real[c] / synth[c] for c in real if synth[c]]
    return {"chunks_with_real": len(real), "real": sum(real.values()), "generated": sum(synth.values()),
            "mean_ratio_per_chunk": round(float(np.mean(ratios)), 4) if ratios else None}


def diversity_report(queries: Sequence[SyntheticQuery], vecs: np.ndarray, chunk_ids: Iterable[str],
                     m: int = 1, all_queries: Sequence[SyntheticQuery] | None = None) -> dict[str, Any]:
    """Everything above for one set of queries (vecs: their L2-normalised vectors, row for row)."""
    ids = list(chunk_ids)
    texts = [q.text for q in queries]
    return {"queries": len(queries), "by_kind": dict(Counter(q.kind for q in queries)),
            "mean_words": round(float(np.mean([len(words(t)) for t in texts])), 2) if texts else 0.0,
            "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
            "dispersion": dispersion(queries, vecs),
            "coverage": [coverage(queries, ids, k) for k in sorted({1, m})],
            "query_types": type_mix(queries), "personas": persona_coverage(queries, ids),
            "real_vs_synthetic": real_vs_synthetic(all_queries if all_queries is not None else queries)}


# ---- over a live index -------------------------------------------------------------------------------------
def load_queries(store, with_vectors: bool = True) -> tuple[list[SyntheticQuery], np.ndarray]:
    """Every stored query vector and its row."""
    queries, vecs = [], []
    for q, vec in store.iter_queries(with_vectors=with_vectors):
        queries.append(q)
        if vec is not None:
            vecs.append(vec)
    return queries, np.stack(vecs) if vecs else np.zeros((0, 1), dtype=np.float32)


def index_diversity(index, m: int = 3, kinds: Sequence[str] | None = GENERATED_KINDS) -> dict[str, Any]:
    """The report for an index's generated queries (kinds=None: every kind, real and feedback included)."""
    queries, vecs = load_queries(index.store)
    keep = [i for i, q in enumerate(queries) if kinds is None or q.kind in kinds]
    states = index.store.chunk_states()
    chunk_ids = sorted(states)
    report = diversity_report([queries[i] for i in keep], vecs[keep] if keep else vecs[:0], chunk_ids, m,
                              all_queries=queries)
    cvecs = index.store.embeddings("chunks", chunk_ids)
    report["topics"] = topic_coverage(chunk_ids, np.stack([cvecs[c] for c in chunk_ids]) if chunk_ids else
                                      np.zeros((0, 1)), [states[c].get("title", "") for c in chunk_ids],
                                      [queries[i] for i in keep], m)
    return {"collection": index.store.name, "chunks": len(chunk_ids),
            "kinds": list(kinds) if kinds is not None else "all", **report}
