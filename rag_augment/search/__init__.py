"""Search: leg retrieval in one place (legs), then fusion, stages and explanation (rag_augment.retriever)."""
from rag_augment.search.legs import ChunkVectors, LegResults, LegSearch

__all__ = ["ChunkVectors", "LegResults", "LegSearch"]
