"""AugmentedRetriever: embed the query once, search every enabled leg, collapse children to parents, fuse.

No LLM call at query time. `k` counts distinct parent chunks. Every hit says which legs found it (rank, score)
and which synthetic queries matched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag_augment.embedding import Embedder
from rag_augment.fusion import FusionProfile, Ranked, collapse_to_parents, fuse
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.store.chroma import ChromaStore
from rag_augment.types import Hit, LegHit


@dataclass
class LegResults:
    """Every raw leg for one query, before fusion: lets the eval harness try many profiles on one retrieval."""
    legs: dict[str, Ranked] = field(default_factory=dict)
    matched: dict[str, list[tuple[str, float, str]]] = field(default_factory=dict)  # parent -> (qid, score, leg)
    query_text: dict[str, tuple[str, str]] = field(default_factory=dict)           # qid -> (text, kind)


class AugmentedRetriever:
    def __init__(self, store: ChromaStore, embedder: Embedder, lexical: LexicalIndex | None = None,
                 profile: FusionProfile | None = None):
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.profile = profile or load_profile(None)  # the shipped default, as everywhere else

    def legs_for(self, query: str, embedding: np.ndarray | None = None, profile: FusionProfile | None = None,
                 all_legs: bool = False) -> LegResults:
        prof = profile or self.profile
        want = (lambda leg: True) if all_legs else prof.leg_enabled
        out = LegResults()
        need_dense = want("chunk_dense") or want("query_dense")
        if need_dense and embedding is None:
            embedding = self.embedder.embed([query])[0]
        if want("chunk_dense"):
            out.legs["chunk_dense"] = [(cid, s) for cid, s, _, _ in
                                       self.store.search("chunks", embedding, prof.depth.get("chunk_dense", 50))]
        if want("query_dense"):
            children = self._query_dense(embedding, prof, out)
            out.legs["query_dense"], matched = collapse_to_parents(children)
            self._note_matches(out, matched, dict((c[0], c[2]) for c in children), "query_dense")
        if self.lexical is not None:
            for leg, lex in (("chunk_lexical", "chunks"), ("doc2query_lexical", "doc2query")):
                if want(leg):
                    out.legs[leg] = self.lexical.search(lex, query, prof.depth.get(leg, 50))
            if want("query_lexical"):
                hits = self.lexical.search("queries", query, prof.depth.get("query_lexical", 200))
                parent = self.lexical.query_parent
                children = [(qid, parent[qid], s) for qid, s in hits if qid in parent]
                out.legs["query_lexical"], matched = collapse_to_parents(children)
                self._note_matches(out, matched, dict((c[0], c[2]) for c in children), "query_lexical")
        return out

    def _query_dense(self, embedding: np.ndarray, prof: FusionProfile, out: LegResults) -> list:
        """Child hits as (query id, parent id, score). The lexical index already maps every query id to its
        parent, so when no kind weight is set only ids and distances are read from Chroma (the hot path)."""
        depth = prof.depth.get("query_dense", 200)
        parent = self.lexical.query_parent if self.lexical is not None else {}
        if parent and all(w == 1.0 for w in prof.kind_weights.values()):
            hits = self.store.search("queries", embedding, depth, include_meta=False)
            if all(qid in parent for qid, _, _, _ in hits):
                return [(qid, parent[qid], score) for qid, score, _, _ in hits]
        children = []
        for qid, score, meta, text in self.store.search("queries", embedding, depth, include_docs=True):
            kind = meta.get("kind", "")
            children.append((qid, meta["parent_id"], score * prof.kind_weights.get(kind, 1.0)))
            out.query_text[qid] = (text, kind)
        return children

    @staticmethod
    def _note_matches(out: LegResults, matched: dict[str, list[str]], scores: dict[str, float], leg: str) -> None:
        for parent, qids in matched.items():
            out.matched.setdefault(parent, []).extend((q, scores[q], leg) for q in qids[:3])

    def search(self, query: str, k: int = 10, profile: FusionProfile | None = None,
               with_text: bool = True) -> list[Hit]:
        prof = profile or self.profile
        if not query.strip():
            return []
        res = self.legs_for(query, profile=prof)
        return self.hits_from(res, prof, k, with_text=with_text)

    def hits_from(self, res: LegResults, profile: FusionProfile, k: int, with_text: bool = True) -> list[Hit]:
        """The top-k fused hits with each leg's rank and score. Without text: no chunk text and no text of the
        matched queries (their ids only), i.e. no read from Chroma after the search itself."""
        ranked, fused_legs = fuse(res.legs, profile, k)
        wanted = {p for p, _ in ranked}

        def places(legs: dict) -> dict:
            return {leg: {p: (i + 1, s) for i, (p, s) in enumerate(r) if p in wanted} for leg, r in legs.items()}

        positions, raw_positions = places(fused_legs), places(res.legs)
        stored = self.store.get_chunks([p for p, _ in ranked]) if with_text else {}
        # a query can match in two legs (its vector and its words): fetch each once
        missing_text = [] if not with_text else list(dict.fromkeys(
            q for p, _ in ranked for q, _, _ in res.matched.get(p, []) if q not in res.query_text))
        if missing_text:
            for q in self.store.get_queries(missing_text):
                res.query_text[q.query_id] = (q.text, q.kind)
        hits = []
        for parent, score in ranked:
            legs: dict[str, LegHit] = {}
            for table in (raw_positions, positions):
                for leg, pos in table.items():
                    if parent in pos:
                        legs[leg] = LegHit(leg, pos[parent][0], pos[parent][1])
            info = stored.get(parent, {})
            meta: dict[str, Any] = info.get("metadata") or {}
            matched = [{"query_id": q, "text": res.query_text.get(q, ("", ""))[0],
                        "kind": res.query_text.get(q, ("", ""))[1], "leg": leg, "score": round(s, 6)}
                       for q, s, leg in res.matched.get(parent, [])]
            hits.append(Hit(chunk_id=parent, doc_id=meta.get("doc_id", ""), score=score,
                            text=info.get("text") or "", metadata=meta, legs=legs, matched_queries=matched))
        return hits
