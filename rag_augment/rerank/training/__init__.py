"""Training the reranker on the index's own queries: synthetic, real and feedback queries with their parent chunks
as positives and hard negatives mined by the index's legs (pairs), the depth fitted to a latency budget (depth),
the loop with its budget and checkpoints (train), and the weight tuned on held-out labelled queries (tune).

    from rag_augment.rerank.training import TrainConfig, train_reranker
    train_reranker(index, TrainConfig(max_minutes=30))
"""
from rag_augment.rerank.training.check import check_reranker, gate_reranker
from rag_augment.rerank.training.pairs import (
    MiningReport,
    TrainingGroup,
    TrainingQuery,
    index_queries,
    mine_groups,
    pseudo_queries,
)
from rag_augment.rerank.training.train import Plan, TrainConfig, train_reranker
from rag_augment.rerank.training.tune import WEIGHT_GRID, best_weight, tune_rerank_weight

__all__ = [
    "WEIGHT_GRID", "MiningReport", "Plan", "TrainConfig", "TrainingGroup", "TrainingQuery", "best_weight",
    "check_reranker", "gate_reranker", "index_queries", "mine_groups", "pseudo_queries", "train_reranker",
    "tune_rerank_weight",
]
