"""Build a generator from plain settings (what the CLI and config files give)."""
from __future__ import annotations

from rag_augment.errors import ConfigError
from rag_augment.generators.base import QueryGenerator, SamplingParams
from rag_augment.generators.prompts import PromptConfig

GENERATORS = ("local", "openai", "rules", "none")


def make_generator(name: str = "local", model: str | None = None, base_url: str | None = None,
                   api_key_env: str = "OPENAI_API_KEY", concurrency: int = 4, prompt: PromptConfig | None = None,
                   params: SamplingParams | None = None, **transport) -> QueryGenerator:
    """`transport`: options of the OpenAI-compatible back end only (timeout, max_retries)."""
    if name == "rules":
        from rag_augment.generators.rules import RulesGenerator
        n = prompt.n_questions if prompt else 5
        return RulesGenerator(n_questions=n)
    if name == "none":
        from rag_augment.generators.none import NoQueriesGenerator
        return NoQueriesGenerator()
    if name == "local":
        try:
            from rag_augment.generators.llama_cpp import local_generator
        except ImportError as exc:
            raise ConfigError("generator 'local' needs llama-cpp-python: pip install 'rag-augment[local]' "
                              f"({exc})") from exc
        return local_generator(model_path=model, prompt=prompt, params=params)
    if name == "openai":
        if not model:
            raise ConfigError("generator 'openai' needs a model name (--model)")
        from rag_augment.generators.openai import openai_generator
        return openai_generator(model=model, base_url=base_url, api_key_env=api_key_env, concurrency=concurrency,
                                prompt=prompt, params=params, **transport)
    raise ConfigError(f"generator: unknown {name!r}; choose one of {', '.join(GENERATORS)}")
