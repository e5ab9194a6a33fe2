"""What an indexing run will cost before it starts: chunks to generate, tokens in and out, time or money.

No query is generated and nothing is written. Token counts use the generator's own tokenizer when it has one (the
local model), else about four characters a token. Expected output and time come, in order of preference, from
this generator's own earlier runs recorded in the generation cache (same model, prompt and parameters, so the
same machine's speed), from a calibration of the local model on two chunks (calibrate_backend), or from the
number of queries asked for.
Money is prices per million tokens, given by the user or from the small dated table below.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rag_augment.cache import GenerationCache
from rag_augment.errors import ConfigError
from rag_augment.generators.base import identity_key
from rag_augment.generators.prompts import build_messages
from rag_augment.indexer import plan
from rag_augment.types import Chunk

# USD per million tokens (input, output), as the providers published them; PRICES_AS_OF says when. Override with
# --price-in / --price-out: prices change and every deployment negotiates its own.
PRICES_AS_OF = "2025-06"
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}
TOKENS_PER_QUERY = 16      # a generated line ("Q: ..." and its newline) when no earlier run says better
CALIBRATION_TOKENS = 16
MIN_HISTORY = 3            # earlier generations needed before their averages are trusted


@dataclass
class Estimate:
    chunks_total: int = 0
    chunks_unchanged: int = 0
    chunks_to_embed: int = 0
    chunks_to_delete: int = 0
    chunks_to_generate: int = 0
    chunks_cached: int = 0          # to generate, but the cache already holds their queries
    prompt_tokens: int = 0
    output_tokens: int = 0
    seconds: float | None = None
    cost_usd: float | None = None
    basis: list[str] = field(default_factory=list)  # how each figure was arrived at

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"chunks: {self.chunks_total} in the source, {self.chunks_unchanged} already indexed, "
               f"{self.chunks_to_embed} to embed, {self.chunks_to_delete} to delete",
               f"generation: {self.chunks_to_generate} chunks, {self.chunks_cached} of them from the cache, "
               f"{self.chunks_to_generate - self.chunks_cached} for the model",
               f"tokens: about {self.prompt_tokens:,} in, {self.output_tokens:,} out"]
        if self.seconds is not None:
            out.append(f"time: about {_duration(self.seconds)} of generation")
        if self.cost_usd is not None:
            out.append(f"cost: about ${self.cost_usd:,.4f}")
        out += [f"  ({b})" for b in self.basis]
        return out


def estimate_run(chunks: Sequence[Chunk], states: Mapping[str, dict], doc_ids: set[str], generator,
                 cache: GenerationCache, prune: bool = True, source: str | None = None,
                 keep_docs: set[str] = frozenset(),  # type: ignore[assignment]
                 prices: tuple[float, float] | None = None, calibrate: bool = True) -> Estimate:
    identity = generator.identity()
    p = plan(chunks, dict(states), doc_ids, prune, identity_key(identity), source, keep_docs)
    missing = [c for c in p.to_generate if cache.get(identity, c) is None]
    est = Estimate(chunks_total=len(chunks), chunks_unchanged=p.unchanged, chunks_to_embed=len(p.to_embed),
                   chunks_to_delete=len(p.to_delete), chunks_to_generate=len(p.to_generate),
                   chunks_cached=len(p.to_generate) - len(missing))
    if not _uses_model(identity):
        est.seconds = 0.0
        est.basis.append(f"the {identity.get('generator')} generator calls no model")
        return est
    if not (hasattr(generator, "prompt") and hasattr(generator, "params")):
        est.basis.append(f"the {identity.get('generator')} generator does not say what it sends to a model")
        return est
    count = _token_counter(generator, est)
    prompts = [count(build_messages(c, generator.prompt)) for c in missing]
    est.prompt_tokens = sum(prompts)
    history = _history(cache, identity)
    if len(history) >= MIN_HISTORY:
        out_per_chunk = sum(h["completion_tokens"] for h in history) / len(history)
        est.basis.append(f"output and time per chunk: mean of {len(history)} earlier generations with this "
                         "model, prompt and parameters")
    else:
        out_per_chunk = min(_queries_asked(generator.prompt) * TOKENS_PER_QUERY, generator.params.max_tokens)
        est.basis.append(f"output: {TOKENS_PER_QUERY} tokens per query asked for, capped at max_tokens")
    est.output_tokens = round(out_per_chunk * len(missing))
    if len(history) >= MIN_HISTORY and all(h.get("seconds") for h in history):
        est.seconds = len(missing) * sum(h["seconds"] for h in history) / len(history)
    elif identity.get("generator") == "local" and calibrate and missing:
        prefill, decode = calibrate_backend(generator, missing[:2])
        est.seconds = est.prompt_tokens / prefill + est.output_tokens / decode
        est.basis.append(f"time: calibrated on this machine ({prefill:.0f} prompt tokens/s, "
                         f"{decode:.1f} output tokens/s, one sequence at a time; batched decoding is faster)")
    est.cost_usd = _cost(identity, est, prices)
    return est


def _uses_model(identity: dict) -> bool:
    return identity.get("generator") not in ("rules", "none", "replay")


def _token_counter(generator, est: Estimate) -> Callable[[list[dict[str, str]]], int]:
    counter = getattr(getattr(generator, "backend", None), "count_prompt_tokens", None)
    if counter is not None:
        est.basis.append("prompt tokens: the model's own tokenizer and chat template")
        return counter
    est.basis.append("prompt tokens: about 4 characters a token (the endpoint's tokenizer is not known here)")
    return lambda messages: sum(len(m["content"]) for m in messages) // 4 + 8 * len(messages)


def _history(cache: GenerationCache, identity: dict) -> list[dict[str, Any]]:
    return [rec for rec in cache.records(identity) if rec.get("completion_tokens")]


def _queries_asked(prompt) -> int:
    return prompt.n_questions + prompt.n_claims + prompt.n_keywords + prompt.n_paraphrases


def _cost(identity: dict, est: Estimate, prices: tuple[float, float] | None) -> float | None:
    if identity.get("generator") == "local":
        return None
    if prices is None:
        model = str(identity.get("model") or "")
        prices = KNOWN_PRICES.get(model)
        if prices is None:
            est.basis.append(f"cost: no price known for {model!r}; give --price-in and --price-out (USD per "
                             "million tokens)")
            return None
        est.basis.append(f"cost: {model} list prices as of {PRICES_AS_OF} (${prices[0]}/M in, ${prices[1]}/M out)")
    if min(prices) < 0:
        raise ConfigError("prices must be >= 0 (USD per million tokens)")
    return (est.prompt_tokens * prices[0] + est.output_tokens * prices[1]) / 1e6


def calibrate_backend(generator, chunks: Sequence[Chunk]) -> tuple[float, float]:
    """(prompt tokens per second, output tokens per second) of the generator's back end on this machine. A
    warm-up call on one chunk pages the model in; one token on another chunk times its prompt (llama.cpp reuses
    the shared instruction prefix, as it does while indexing); the same prompt again, now cached, with
    CALIBRATION_TOKENS more tokens times the decoding."""
    backend = generator.backend
    warm, probe = build_messages(chunks[0], generator.prompt), build_messages(chunks[-1], generator.prompt)
    params = replace(generator.params, temperature=0.0)
    backend.complete_batch([warm], replace(params, max_tokens=1))

    def timed(max_tokens: int):
        t = time.perf_counter()
        comp = backend.complete_batch([probe], replace(params, max_tokens=max_tokens))[0]
        return time.perf_counter() - t, comp

    t_prompt, first = timed(1)
    t_decode, more = timed(CALIBRATION_TOKENS)
    prompt_tokens = first.prompt_tokens or backend.count_prompt_tokens(probe)
    return prompt_tokens / max(t_prompt, 1e-3), (more.completion_tokens or CALIBRATION_TOKENS) / max(t_decode, 1e-3)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
