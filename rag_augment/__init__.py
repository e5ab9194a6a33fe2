"""rag_augment: synthetic-query augmentation for retrieval-augmented generation.

For every chunk of a knowledge base an LLM writes the questions people would ask (hypothetical queries) and
rewordings of known questions (paraphrases). Each becomes an extra vector (and an extra lexical document) that
points at its parent chunk, so a query meets the chunk under many phrasings.
"""
from rag_augment.errors import ConfigError, GenerationError, InputError, RagAugmentError, StoreError
from rag_augment.types import Chunk, Document, Hit, IndexReport, SyntheticQuery

__version__ = "0.1.0"
__all__ = [
    "Chunk", "Document", "Hit", "IndexReport", "SyntheticQuery",
    "RagAugmentError", "ConfigError", "GenerationError", "InputError", "StoreError",
]
