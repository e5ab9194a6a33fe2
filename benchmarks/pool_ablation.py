"""The pool run's ablations (benchmarks/run_benchmarks.py, run `pool`): the rows of the shared experiment
shared/experiments/scifact_pool_qwen15b, scored by the eval harness on its pool, with the experiment's own BM25
re-implemented for the cross-check. Study code, not part of the package."""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from rag_augment.eval.memory import Builder, Searcher, chunks_and_queries, qa_extractor, top_ids
from rag_augment.eval.systems import AS_RETRIEVED, System, legs_used, single_leg
from rag_augment.fusion import LEG_NAMES, FusionProfile
from rag_augment.profiles import load_profile

_ALNUM = re.compile(r"[a-z0-9]+")


def okapi_reference(with_queries: bool = False, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25) -> Builder:
    """rank_bm25's BM25Okapi (defaults k1 1.5, b 0.75, negative idf floored at epsilon x mean idf) on lower-cased
    alphanumeric tokens, no stemming, no stop words: the shared experiment's BM25, re-implemented for the
    cross-check only. The product's lexical leg is bm25s with stemming (rag_augment.lexical)."""
    def build(index, work: Path) -> Searcher:
        ids, texts, queries = chunks_and_queries(index)
        if with_queries:
            texts = [" ".join([t, *(q for _, q in queries.get(c, []))]) for c, t in zip(ids, texts)]
        docs = [Counter(_ALNUM.findall(t.lower())) for t in texts]
        lengths = np.array([sum(d.values()) for d in docs], dtype=float)
        df = Counter(w for d in docs for w in d)
        idf = {w: math.log(len(docs) - n + 0.5) - math.log(n + 0.5) for w, n in df.items()}
        floor = epsilon * (sum(idf.values()) / len(idf)) if idf else 0.0
        idf = {w: (v if v >= 0 else floor) for w, v in idf.items()}
        norm = k1 * (1 - b + b * lengths / (lengths.mean() if len(lengths) else 1.0))

        def search(text: str, emb: np.ndarray | None) -> list[str]:
            scores = np.zeros(len(docs))
            for w in _ALNUM.findall(text.lower()):
                if w in idf:
                    tf = np.array([d.get(w, 0) for d in docs], dtype=float)
                    scores += idf[w] * tf * (k1 + 1) / (tf + norm)
            return top_ids(ids, scores)
        return search
    return build


def ablation_systems() -> list[System]:
    """The ablations of shared/experiments/scifact_pool_qwen15b (its README's rows, in order), every leg used as
    far as it was retrieved, plus (b) the shipped profile and (e). Q = questions, C = claims."""
    full = dict.fromkeys(LEG_NAMES, AS_RETRIEVED)

    def prof(name: str, **kw) -> FusionProfile:
        return FusionProfile(name=name, depth=full, **kw)

    pc = ("chunk_dense", "query_dense")
    rrf_dense_bm25 = prof("rrf-dense-bm25", dense_pair="separate", weights={"chunk_dense": 1.0, "chunk_lexical": 1.0})
    rrf_3 = prof("rrf-3", dense_pair="separate", weights={"chunk_dense": 1.0, "query_dense": 1.0, "chunk_lexical": 1.0})
    return [
        System("dense", "dense baseline (chunk vectors only)", "fuse", ("chunk_dense",), single_leg("chunk_dense")),
        System("synthetic", "children only, max score (MultiVector style, k counts parents)", "fuse",
               ("query_dense",), single_leg("query_dense")),
        System("max_pc", "max(parent, best child)", "fuse", pc, prof("max", weights={"dense": 1.0})),
        System("rrf_pc", "RRF(parent, children) k=60", "fuse", pc,
               prof("rrf-pc", dense_pair="separate", weights={"chunk_dense": 1.0, "query_dense": 1.0})),
        System("sum_pc", "parent + 0.5 x best child", "fuse", pc,
               prof("sum", dense_pair="sum", child_weight=0.5, weights={"dense": 1.0})),
        System("qa_prepend_q", "questions prepended to the text (QA-extractor)", "memory",
               build=qa_extractor("prepend", ("question",))),
        System("qa_prepend", "Q + C prepended to the text (QA-extractor, all items)", "memory",
               build=qa_extractor("prepend")),
        System("qa_append_q", "questions appended to the text", "memory",
               build=qa_extractor("append", ("question",))),
        System("max_pc_q", "max(parent, child), questions only (Q)", "product", pc,
               prof("max-q", weights={"dense": 1.0}, kind_weights={"claim": 0.0})),
        System("max_pc_c", "max(parent, child), claims only (C)", "product", pc,
               prof("max-c", weights={"dense": 1.0}, kind_weights={"question": 0.0})),
        System("bm25_okapi", "BM25 on the text, as the experiment (rank_bm25 formula, no stemming)", "memory",
               dense=False, build=okapi_reference()),
        System("bm25_okapi_d2q", "BM25 on text + Q + C, as the experiment (no stemming)", "memory", dense=False,
               build=okapi_reference(with_queries=True)),
        System("bm25", "BM25 on the text (ours: bm25s, stemmed)", "fuse", ("chunk_lexical",),
               single_leg("chunk_lexical"), dense=False),
        System("bm25_doc2query", "BM25 on text + Q + C (ours, doc2query leg)", "fuse", ("doc2query_lexical",),
               single_leg("doc2query_lexical"), dense=False),
        System("rrf_dense_bm25", "RRF(dense, BM25), no synthetic", "fuse", ("chunk_dense", "chunk_lexical"),
               rrf_dense_bm25),
        System("rrf_3", "RRF(dense, children, BM25)", "fuse", pc + ("chunk_lexical",), rrf_3),
        System("rrf_dense_okapi", "RRF(dense, BM25 as the experiment), no synthetic", "fuse",
               ("chunk_dense", "chunk_lexical"), rrf_dense_bm25, substitute=(("chunk_lexical", "bm25_okapi"),)),
        System("rrf_3_okapi", "RRF(dense, children, BM25 as the experiment)", "fuse", pc + ("chunk_lexical",),
               rrf_3, substitute=(("chunk_lexical", "bm25_okapi"),)),
        System("rag_augment", "(b) rag_augment, shipped default profile", "product",
               legs_used(load_profile(None)), load_profile(None)),
        System("multivector", "(e) LangChain MultiVectorRetriever (k counts child vectors)", "multivector",
               ("children",)),
    ]
