"""The rerank stage at query time: a cross-encoder trained on this index's own queries rescoring the fused top-N
(stage), and where its files live in the index home (model_home). Training is rag_augment.rerank.training; nothing
here imports it, so a query never loads training code.

    from rag_augment.rerank import cached_reranker
    hits = index.retriever.search("how do I claim travel?", k=5, reranker=cached_reranker(index))
"""
from rag_augment.rerank.model_home import index_fingerprint, model_dir, status
from rag_augment.rerank.stage import (
    RERANK_LEG,
    CrossEncoderScorer,
    RerankStage,
    Scorer,
    cached_reranker,
    combine_scores,
    load_cross_encoder,
    load_reranker,
    rerank,
)

__all__ = [
    "RERANK_LEG", "CrossEncoderScorer", "RerankStage", "Scorer", "cached_reranker", "combine_scores",
    "index_fingerprint", "load_cross_encoder", "load_reranker", "model_dir", "rerank", "status",
]
