"""A reranker trained on the index's own queries (issue 19): synthetic, real and feedback queries with their
parent chunks as positives and hard negatives mined by the index's legs fine-tune a cross-encoder, stored in the
index home with its provenance; the retriever then reranks the fused top-N with it. The cheaper sibling,
rag_augment.rerank.adapted, fine-tunes the bi-encoder on the same data as one more dense leg.

    from rag_augment.rerank import TrainConfig, cached_reranker, train_reranker
    train_reranker(index, TrainConfig(max_minutes=30))
    hits = index.retriever.search("how do I claim travel?", k=5, reranker=cached_reranker(index))
"""
from rag_augment.rerank.model_home import index_fingerprint, model_dir, status
from rag_augment.rerank.pairs import (
    MiningReport,
    TrainingGroup,
    TrainingQuery,
    index_queries,
    mine_groups,
    pseudo_queries,
)
from rag_augment.rerank.stage import (
    RERANK_LEG,
    CrossEncoderScorer,
    RerankStage,
    Scorer,
    cached_reranker,
    combine_scores,
    load_reranker,
    rerank,
)
from rag_augment.rerank.train import Plan, TrainConfig, load_cross_encoder, train_reranker
from rag_augment.rerank.tune import WEIGHT_GRID, best_weight, tune_rerank_weight

__all__ = [
    "RERANK_LEG", "WEIGHT_GRID", "CrossEncoderScorer", "MiningReport", "Plan", "RerankStage", "Scorer", "TrainConfig",
    "TrainingGroup", "TrainingQuery", "best_weight", "cached_reranker", "combine_scores", "index_fingerprint",
    "index_queries", "load_cross_encoder", "load_reranker", "mine_groups", "model_dir", "pseudo_queries", "rerank",
    "status", "train_reranker", "tune_rerank_weight",
]
