"""The `openai` generator: query generation on any OpenAI-compatible endpoint (transport in openai_compat, the
child process that keeps the key out of the indexing process in openai_worker)."""
from __future__ import annotations

from typing import Any

from rag_augment.generators.base import LLMQueryGenerator, SamplingParams
from rag_augment.generators.openai_compat import OpenAIBackend
from rag_augment.generators.openai_worker import IsolatedOpenAIBackend
from rag_augment.generators.prompts import PromptConfig


def openai_generator(model: str, base_url: str | None = None, prompt: PromptConfig | None = None,
                     params: SamplingParams | None = None, isolate: bool = True, **kw: Any) -> LLMQueryGenerator:
    """A query generator on an OpenAI-compatible endpoint. isolate (the default) makes every request in a child
    process, so the key stays out of the memory Chroma's index files are written from (openai_worker.py)."""
    backend = (IsolatedOpenAIBackend if isolate else OpenAIBackend)(model, base_url=base_url, **kw)
    return LLMQueryGenerator(backend, prompt=prompt, params=params, generator_name="openai")
