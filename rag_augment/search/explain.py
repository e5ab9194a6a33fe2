"""Why a hit was found: its rank and score in each leg, and the synthetic (or real) queries that matched it.
Shared by the product's hits and the LlamaIndex adapter's nodes, so both explain a hit alike."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rag_augment.fusion import Ranked
from rag_augment.search.legs import LegResults
from rag_augment.store.chroma import ChromaStore

Positions = dict[str, dict[str, tuple[int, float]]]  # leg -> parent -> (rank from 1, score)


def leg_positions(legs: Mapping[str, Ranked], wanted: Iterable[str]) -> Positions:
    keep = set(wanted)
    return {leg: {p: (i + 1, s) for i, (p, s) in enumerate(r) if p in keep} for leg, r in legs.items()}


def fetch_matched_texts(store: ChromaStore, res: LegResults, parents: Iterable[str]) -> None:
    """Read the texts of the matched queries the legs did not bring back (a query can match in two legs, its
    vector and its words: each is read once)."""
    missing = list(dict.fromkeys(q for p in parents for q, _, _ in res.matched.get(p, [])
                                 if q not in res.query_text))
    for q in store.get_queries(missing) if missing else []:
        res.query_text[q.query_id] = (q.text, q.kind)


def matched_queries(res: LegResults, parent: str) -> list[dict[str, Any]]:
    return [{"query_id": q, "text": res.query_text.get(q, ("", ""))[0], "kind": res.query_text.get(q, ("", ""))[1],
             "leg": leg, "score": round(s, 6)} for q, s, leg in res.matched.get(parent, [])]
