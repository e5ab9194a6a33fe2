"""Query generators: one batch-first protocol, several back ends (rules, local llama.cpp, OpenAI-compatible)."""
from rag_augment.generators.base import (
    ChatBackend,
    Completion,
    GenerationResult,
    LLMQueryGenerator,
    QueryGenerator,
    SamplingParams,
)

__all__ = ["ChatBackend", "Completion", "GenerationResult", "LLMQueryGenerator", "QueryGenerator", "SamplingParams"]
