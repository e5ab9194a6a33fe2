"""Options shared by several commands, each defined once, and the one place a generator is built from them.

Every accepted flag is honoured or refused: a flag that only an LLM generator understands (a persona, an example
query, a model name ...) is refused with one line when the chosen generator would ignore it.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from rag_augment.errors import ConfigError


def add_index_options(p: argparse.ArgumentParser) -> None:
    """Which index a command works on (every command but eval, which builds its own in its run folder)."""
    p.add_argument("--home", default=os.environ.get("RAG_AUGMENT_HOME", ".rag_augment"),
                   help="folder for settings, cache, lexical index and the embedded Chroma (env RAG_AUGMENT_HOME)")
    p.add_argument("--chroma-url", default=os.environ.get("RAG_AUGMENT_CHROMA_URL"),
                   help="use a Chroma server (e.g. http://127.0.0.1:8000) instead of the embedded database")
    p.add_argument("--collection", default="rag_augment")
    add_embedding_option(p)
    p.add_argument("--profile", default=None, help="fusion profile: a shipped name or a JSON file")
    p.add_argument("--json", action="store_true", help="print JSON")


def add_embedding_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding-model", default=None,
                   help="sentence-transformers model: a local folder or a hub name (default: the packaged MiniLM)")


def add_backend_options(p: argparse.ArgumentParser, choices: Sequence[str], default: str,
                        seed_alias: bool = True) -> None:
    """Who writes the text: the generator and how to reach it. `--seed` is an old name of `--gen-seed`."""
    g = p.add_argument_group("generator")
    g.add_argument("--generator", choices=tuple(choices), default=default,
                   help="local: the packaged model; openai: any OpenAI-compatible endpoint; rules: templates, "
                        "no model; none: no synthetic queries")
    g.add_argument("--model", default=None, help="local: a GGUF path or a packaged model, qwen2.5-coder-0.5b (the "
                                                 "default) or qwen2.5-coder-1.5b (better-worded queries at about "
                                                 "half the speed; pip install \"rag-augment[local-large]\"); "
                                                 "openai: the model name")
    g.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"),
                   help="OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, Azure ...)")
    g.add_argument("--api-key-env", default="OPENAI_API_KEY", help="name of the env variable holding the key")
    g.add_argument("--concurrency", type=int, default=4, help="openai: requests in flight")
    g.add_argument("--timeout", type=float, default=None, help="openai: seconds per request (default 60)")
    g.add_argument("--max-retries", type=int, default=None,
                   help="openai: retries after the first try of a request (default 2)")
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature (default 0.7)")
    g.add_argument("--gen-seed", *(["--seed"] if seed_alias else []), dest="gen_seed", type=int, default=None,
                   help="sampling seed (default 1)")
    g.add_argument("--batch-size", type=int, default=8, help="chunks per generation batch")


def add_style_options(p: argparse.ArgumentParser) -> None:
    """Whose voice the text is written in."""
    g = p.add_argument_group("style")
    g.add_argument("--example", action="append", default=[], help="a real user query to match in style")
    g.add_argument("--persona", action="append", default=[], help="who asks, e.g. 'new employee' (repeatable)")


def add_prompt_options(p: argparse.ArgumentParser, paraphrases: int = 2) -> None:
    """What to write for each chunk."""
    g = p.add_argument_group("prompt")
    g.add_argument("--prompt-profile", "--profile-prompt", dest="prompt_profile", default="general",
                   help="prompt domain profile: general, hr_policy, legal_contract, clinical, scientific")
    g.add_argument("--questions", type=int, default=5, help="hypothetical questions per chunk")
    g.add_argument("--claims", type=int, default=None, help="claims per chunk (LLM generators; default 0)")
    g.add_argument("--keywords", type=int, default=None,
                   help="keyword queries per chunk (default 0 for LLM generators; rules: its own)")
    g.add_argument("--paraphrases", type=int, default=paraphrases, help="rewordings per seed query (headings, FAQ)")


_LLM_ONLY = (("model", "--model"), ("claims", "--claims"), ("example", "--example"), ("persona", "--persona"),
             ("temperature", "--temperature"), ("gen_seed", "--gen-seed"), ("timeout", "--timeout"),
             ("max_retries", "--max-retries"))


def refuse_unused(args, names: Sequence[tuple[str, str]]) -> None:
    for attr, flag in names:
        value = getattr(args, attr, None)
        if value not in (None, [], ()):
            raise ConfigError(f"{flag} has no effect with --generator {args.generator}; leave it out")


def sampling_params(args):
    from rag_augment.generators.base import SamplingParams
    defaults = SamplingParams()
    return SamplingParams(temperature=defaults.temperature if args.temperature is None else args.temperature,
                          seed=defaults.seed if args.gen_seed is None else args.gen_seed)


def generator_from_args(args, examples: Sequence[str] = ()):
    """The generator the flags describe. `examples`: extra style examples (eval draws them from train)."""
    from rag_augment.generators.factory import make_generator
    from rag_augment.generators.prompts import PromptConfig

    if args.generator in ("rules", "none"):
        refuse_unused(args, _LLM_ONLY)
        if args.generator == "none":
            refuse_unused(args, (("keywords", "--keywords"),))
            return make_generator("none")
        from rag_augment.generators.rules import RulesGenerator
        counts = {"n_keywords": args.keywords} if args.keywords is not None else {}
        return RulesGenerator(n_questions=args.questions, n_paraphrases=args.paraphrases, **counts)
    if args.generator == "local":
        refuse_unused(args, (("timeout", "--timeout"), ("max_retries", "--max-retries")))
    prompt = PromptConfig(profile=args.prompt_profile, n_questions=args.questions, n_claims=args.claims or 0,
                          n_keywords=args.keywords or 0, n_paraphrases=args.paraphrases,
                          examples=tuple(args.example) + tuple(examples), personas=tuple(args.persona))
    return make_generator(args.generator, model=args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                          concurrency=args.concurrency, prompt=prompt, params=sampling_params(args),
                          **_transport(args))


def _transport(args) -> dict:
    return {k: v for k, v in (("timeout", args.timeout), ("max_retries", args.max_retries)) if v is not None}
