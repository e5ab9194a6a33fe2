"""rag_augment: synthetic-query augmentation for retrieval-augmented generation.

For every chunk of a knowledge base an LLM writes the questions people would ask (hypothetical queries) and
rewordings of known questions (paraphrases). Each becomes an extra vector (and an extra lexical document) that
points at its parent chunk, so a query meets the chunk under many phrasings.

    from rag_augment import AugmentIndex, PromptConfig, make_generator
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rag_augment.errors import ConfigError, GenerationError, InputError, RagAugmentError, StoreError
from rag_augment.trust.provenance import Provenance
from rag_augment.types import Chunk, Document, Hit, IndexReport, SyntheticQuery

logging.getLogger(__name__).addHandler(logging.NullHandler())  # the host app decides where logs go

__version__ = "0.1.0"
__all__ = [
    "AugmentIndex", "make_generator", "PromptConfig", "SamplingParams", "FusionProfile", "load_profile",
    "ChunkingConfig", "FilterConfig",
    "Hit", "IndexReport", "Chunk", "Document", "SyntheticQuery", "Provenance",
    "RagAugmentError", "ConfigError", "GenerationError", "InputError", "StoreError",
]

# The heavy parts (torch, Chroma, llama.cpp) load on first use, so `import rag_augment` stays cheap for a host app.
_LAZY = {
    "AugmentIndex": "rag_augment.augment_index",
    "make_generator": "rag_augment.generators.factory",
    "PromptConfig": "rag_augment.generators.prompts",
    "SamplingParams": "rag_augment.generators.base",
    "FusionProfile": "rag_augment.fusion",
    "load_profile": "rag_augment.profiles",
    "ChunkingConfig": "rag_augment.chunking",
    "FilterConfig": "rag_augment.filters",
}

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.filters import FilterConfig
    from rag_augment.fusion import FusionProfile
    from rag_augment.generators.base import SamplingParams
    from rag_augment.generators.factory import make_generator
    from rag_augment.generators.prompts import PromptConfig
    from rag_augment.profiles import load_profile


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rag_augment' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
