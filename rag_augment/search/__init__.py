"""Search: leg retrieval in one place (legs), then fusion, stages and explanation (pipeline)."""
from rag_augment.search.legs import ChunkVectors, LegResults, LegSearch

__all__ = ["ChunkVectors", "LegResults", "LegSearch"]
