"""In-process llama.cpp back end (llama-cpp-python) for local GGUF models; the embedded default generator.

Two ways to run a batch:
- parallel=1: one create_chat_completion per conversation (llama-cpp-python reuses the previous prompt's
  matching prefix by itself);
- parallel>1: several sequences decoded together in one llama.cpp context, with the instruction prefix that all
  prompts share evaluated once and shared through the KV cache, and new chunks admitted as others finish.
Both use the GGUF's own chat template and the same sampler chain as create_chat_completion.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from rag_augment import models
from rag_augment.errors import ConfigError
from rag_augment.generators.base import Completion, LLMQueryGenerator, SamplingParams
from rag_augment.generators.canary import ensure_model_runs
from rag_augment.generators.prompts import PromptConfig

# Matches create_chat_completion's defaults so both modes sample alike.
TOP_K, MIN_P, PENALTY_LAST_N = 40, 0.05, 64
MIN_PROMPT_STEP = 32  # prompt tokens per step at least, so prompts never stall behind decoding


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
        from llama_cpp import llama_chat_format
    except ImportError as exc:
        raise ConfigError('the local generator needs llama-cpp-python: pip install "rag-augment[local]"') from exc
    return llama_cpp, llama_chat_format


class LlamaCppBackend:
    def __init__(self, model_path: str | None = None, n_ctx: int = 2048, n_threads: int | None = None,
                 n_batch: int = 512, verbose: bool = False, parallel: int = 16, kv_cells: int | None = None,
                 spread_prefill: bool = False, kv_unified: bool = True):
        llama_cpp, chat_format = _import_llama_cpp()
        path = models.resolve_model(model_path)
        if not os.path.isfile(path):
            raise ConfigError(f"local model file not found: {path}")
        ensure_model_runs(path)  # a build that crashes on this CPU fails here, in a child, as one line
        if not 1 <= parallel < n_batch:
            raise ConfigError(f"local.parallel must be between 1 and n_batch - 1 ({n_batch - 1})")
        self.model_path, self.n_ctx, self.n_batch, self.parallel = path, n_ctx, n_batch, parallel
        self.n_threads = n_threads or os.cpu_count() or 1
        # KV cells shared by all sequences in the parallel mode; each sequence reserves prompt + max_tokens.
        self.kv_cells = max(kv_cells or parallel * 768, n_ctx)
        self.spread_prefill = spread_prefill
        # Unified: one cell pool, and every token's attention spans every sequence's cells (masked). Not unified:
        # one stream of n_ctx cells per sequence, attention over its own stream only.
        self.kv_unified = kv_unified
        self.model_id = os.path.basename(path)
        self.model_hash = models.file_hash(path)
        self._lib = llama_cpp
        self._llama = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=self.n_threads,
                                      n_threads_batch=self.n_threads, n_batch=n_batch, verbose=verbose)
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{self.model_id} has no chat template in its GGUF metadata")
        model = self._llama._model
        self._formatter = chat_format.Jinja2ChatFormatter(
            template=template, eos_token=model.token_get_text(model.token_eos()),
            bos_token=model.token_get_text(model.token_bos()) if model.token_bos() != -1 else "")
        self._multi: _MultiSeq | None = None
        self._lock = threading.Lock()  # a llama.cpp context is not thread-safe

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model={self.model_id!r}, parallel={self.parallel})"

    def complete_batch(self, conversations: list[list[dict[str, str]]], params: SamplingParams) -> list[Completion]:
        with self._lock:
            if self.parallel == 1 or len(conversations) == 1:
                return [self._complete_one(conv, params) for conv in conversations]
            if self._multi is None:
                self._multi = _MultiSeq(self)
            return self._multi.run([self._prompt_tokens(conv) for conv in conversations], params)

    def _complete_one(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        try:
            out = self._llama.create_chat_completion(
                messages=messages, temperature=params.temperature, top_p=params.top_p, top_k=TOP_K,
                min_p=MIN_P, max_tokens=params.max_tokens, repeat_penalty=params.repeat_penalty, seed=params.seed)
        except Exception as exc:  # noqa: BLE001 - e.g. a prompt longer than the context: this request only
            return Completion(text="", seconds=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
        choice, usage = out["choices"][0], out.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "", prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          seconds=time.perf_counter() - start, finish_reason=choice.get("finish_reason") or "")

    def count_prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        return len(self._prompt_tokens(messages))

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        # The same rendering and tokenisation as create_chat_completion's template handler.
        result = self._formatter(messages=messages)
        return self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)

    def new_sampler(self, params: SamplingParams) -> Any:
        from llama_cpp import _internals
        s = _internals.LlamaSampler()
        s.add_penalties(n_vocab=self._llama.n_vocab(), penalty_last_n=PENALTY_LAST_N,
                        penalty_repeat=params.repeat_penalty, penalty_freq=0.0, penalty_present=0.0)
        if params.temperature <= 0:
            s.add_greedy()
            return s
        s.add_top_k(TOP_K)
        s.add_typical(1.0, 1)
        s.add_top_p(params.top_p, 1)
        s.add_min_p(MIN_P, 1)
        s.add_temp(params.temperature)
        s.add_dist(params.seed)
        return s


class _Seq:
    """One conversation in flight in a multi-sequence context."""
    __slots__ = ("index", "tokens", "fed", "sampler", "out", "logit_at", "finish")

    def __init__(self, index: int, tokens: list[int], fed: int, sampler: Any):
        self.index, self.tokens, self.fed, self.sampler = index, tokens, fed, sampler
        self.out: list[int] = []
        self.logit_at = -1  # row of this sequence's logits in the last decoded batch
        self.finish = ""


class _MultiSeq:
    """Continuous batching over one llama.cpp context with a unified KV cache: seq ids 0..parallel-1 are slots,
    seq `parallel` holds the shared prompt prefix, whose cells every new slot shares instead of re-evaluating it.
    A sequence is admitted when a slot is free and the cells it may need (prompt + max_tokens) are free."""

    def __init__(self, backend: LlamaCppBackend):
        lib, llama = backend._lib, backend._llama
        from llama_cpp import _internals
        self.b, self.lib = backend, lib
        self.prefix_seq = backend.parallel
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = backend.kv_cells if backend.kv_unified else backend.n_ctx * (backend.parallel + 1)
        cparams.n_batch = cparams.n_ubatch = backend.n_batch
        cparams.n_seq_max = backend.parallel + 1
        # unified: the prefix cells are shared by tagging; streams: the prefix stream is copied into the slot's
        cparams.kv_unified = backend.kv_unified
        cparams.n_threads = cparams.n_threads_batch = backend.n_threads
        self.ctx = _internals.LlamaContext(model=llama._model, params=cparams, verbose=False)
        self.batch = _internals.LlamaBatch(n_tokens=backend.n_batch, embd=0, n_seq_max=1, verbose=False)
        self.vocab = lib.llama_model_get_vocab(llama._model.model)
        self.prefix: list[int] = []
        self.done_prompt = self.done_out = 0  # tokens of finished sequences: the prompt:output ratio
        self.prior_prompt = 0.0

    def _add(self, token: int, pos: int, seq: int, logits: bool) -> int:
        b, i = self.batch.batch, self.batch.batch.n_tokens
        b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
        b.seq_id[i][0] = seq
        b.n_tokens = i + 1
        return i

    def _decode(self) -> None:
        rc = self.lib.llama_decode(self.ctx.ctx, self.batch.batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def _set_prefix(self, prompts: list[list[int]]) -> None:
        """Evaluate the longest common token prefix once (kept while the next batch shares it)."""
        n = min(len(p) for p in prompts) - 1  # each prompt keeps >= 1 own token, to get its logits
        common = 0
        while common < n and all(p[common] == prompts[0][common] for p in prompts):
            common += 1
        new = prompts[0][:common]
        keep = 0
        while keep < min(len(new), len(self.prefix)) and new[keep] == self.prefix[keep]:
            keep += 1
        self.ctx.kv_cache_clear() if keep == 0 else self.ctx.kv_cache_seq_rm(self.prefix_seq, keep, -1)
        for start in range(keep, common, self.b.n_batch):
            self.batch.reset()
            for pos in range(start, min(common, start + self.b.n_batch)):
                self._add(new[pos], pos, self.prefix_seq, False)
            self._decode()
        self.prefix = new

    def run(self, prompts: list[list[int]], params: SamplingParams) -> list[Completion]:
        start = time.perf_counter()
        results: list[Completion | None] = [None] * len(prompts)
        fits = [i for i, p in enumerate(prompts) if len(p) < self.b.n_ctx]
        for i in set(range(len(prompts))) - set(fits):
            results[i] = Completion(text="", prompt_tokens=len(prompts[i]),
                                    error=f"prompt of {len(prompts[i])} tokens exceeds n_ctx={self.b.n_ctx}")
        for slot in range(self.b.parallel):  # drop the previous batch's sequences
            self.ctx.kv_cache_seq_rm(slot, -1, -1)
        if fits:
            self._set_prefix([prompts[i] for i in fits])
            self.prior_prompt = sum(len(prompts[i]) for i in fits) / len(fits) - len(self.prefix)
            self._generate(prompts, deque(fits), params, results)
        per_chunk = (time.perf_counter() - start) / max(1, len(prompts))
        done: list[Completion] = []
        for r in results:
            if r is None:  # every prompt is refused above, finished, or failed in _generate
                raise RuntimeError("llama.cpp batch ended with a prompt neither finished nor failed")
            r.seconds = r.seconds or per_chunk  # decoded together: each chunk's share of the wall time
            done.append(r)
        return done

    def _need(self, n_prompt: int, params: SamplingParams) -> int:
        """KV cells a sequence may occupy beyond the shared prefix."""
        return min(n_prompt + params.max_tokens, self.b.n_ctx) - len(self.prefix)

    def _admit(self, slot: int, index: int, tokens: list[int], params: SamplingParams) -> _Seq:
        self.ctx.kv_cache_seq_rm(slot, -1, -1)
        if self.prefix:
            self.ctx.kv_cache_seq_cp(self.prefix_seq, slot, -1, -1)
        return _Seq(index, tokens, len(self.prefix), self.b.new_sampler(params))

    def _fill(self, slots: list[_Seq | None], prompts: list[list[int]], queue: deque,
              params: SamplingParams) -> None:
        """Admit queued prompts into free slots while their worst-case cells fit in the pool."""
        budget = self.b.kv_cells - len(self.prefix) - sum(self._need(len(s.tokens), params) for s in slots if s)
        if not self.b.kv_unified:
            budget = self.b.n_ctx * self.b.parallel  # each slot has its own stream of n_ctx cells
        for sid in range(len(slots)):
            if slots[sid] is not None or not queue:
                continue
            need = self._need(len(prompts[queue[0]]), params)
            if need > budget:
                break
            budget -= need
            i = queue.popleft()
            slots[sid] = self._admit(sid, i, prompts[i], params)

    def _generate(self, prompts: list[list[int]], queue: deque, params: SamplingParams,
                  results: list[Completion | None]) -> None:
        slots: list[_Seq | None] = [None] * self.b.parallel
        while queue or any(slots):
            self.batch.reset()
            for sid, s in enumerate(slots):  # one new token for every sequence past its prompt
                if s is not None and s.fed == len(s.tokens):
                    s.logit_at = self._add(s.out[-1], len(s.tokens) + len(s.out) - 1, sid, True)
            self._fill(slots, prompts, queue, params)
            self._feed_prompts(slots, self.batch.n_tokens(), params)
            try:
                self._decode()
            except RuntimeError as exc:
                for sid, s in enumerate(slots):
                    if s is not None:
                        results[s.index] = Completion(text="", prompt_tokens=len(s.tokens), error=str(exc))
                        slots[sid] = None
                continue
            for sid, s in enumerate(slots):
                if s is not None and s.logit_at >= 0 and self._step(s, params):
                    results[s.index] = self._finish(s)
                    self.done_prompt += len(s.tokens) - len(self.prefix)
                    self.done_out += len(s.out) + 1
                    slots[sid] = None

    def _feed_prompts(self, slots: list[_Seq | None], n_decoding: int, params: SamplingParams) -> None:
        """Add prompt tokens, nearest-to-done prompt first. While sequences are decoding, prompt work is spread
        over the decode steps in the ratio prompt:output tokens seen so far, so that every step is a large batch
        (a few decode tokens alone use the CPU a third as well as a large batch does)."""
        budget = self.b.n_batch - n_decoding
        if n_decoding and self.b.spread_prefill:
            # Finished sequences so far, plus a prior of one sequence writing half of max_tokens.
            ratio = (self.done_prompt + self.prior_prompt) / (self.done_out + params.max_tokens / 2)
            budget = min(budget, max(MIN_PROMPT_STEP, int(1.25 * ratio * n_decoding)))
        # sid is unique, so the sort never compares two _Seq objects
        pending = sorted((len(s.tokens) - s.fed, sid, s) for sid, s in enumerate(slots) if s and s.fed < len(s.tokens))
        for _, sid, s in pending:
            while s.fed < len(s.tokens) and budget > 0:
                last = s.fed == len(s.tokens) - 1
                at = self._add(s.tokens[s.fed], s.fed, sid, last)
                s.logit_at = at if last else -1
                s.fed += 1
                budget -= 1

    def _step(self, s: _Seq, params: SamplingParams) -> bool:
        """Sample one token; True when the sequence is done."""
        token = self.lib.llama_sampler_sample(s.sampler.sampler, self.ctx.ctx, s.logit_at)
        s.logit_at = -1
        if self.lib.llama_vocab_is_eog(self.vocab, token):
            s.finish = "stop"
            return True
        s.out.append(token)
        if len(s.out) >= params.max_tokens or len(s.tokens) + len(s.out) >= self.b.n_ctx:
            s.finish = "length"
            return True
        return False

    def _finish(self, s: _Seq) -> Completion:
        text = self.b._llama.detokenize(s.out).decode("utf-8", errors="ignore")
        return Completion(text=text, prompt_tokens=len(s.tokens), completion_tokens=len(s.out),
                          finish_reason=s.finish)


def local_generator(model_path: str | None = None, prompt: PromptConfig | None = None,
                    params: SamplingParams | None = None, **kw: Any) -> LLMQueryGenerator:
    return LLMQueryGenerator(LlamaCppBackend(model_path, **kw), prompt=prompt, params=params,
                             generator_name="local")
