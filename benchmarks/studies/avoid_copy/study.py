"""Can decoding stop the 1.5B model copying the abstract? Negative lexical constraints, on SciFact TRAIN claims only.

The prompt study (benchmarks/studies/prompt_style) found the model copies about 88% of its claims' words from the
abstract whatever the prompt asks; real claims share about 52%. Arm C keeps arm B's prompt (users' style, five
train claims as examples) and the same sampling, and adds a logit bias against the first token of every content
word (4+ letters, not a stopword) of the abstract text in the prompt: the negative constraints ParaBank used to
force paraphrases (Hu et al., AAAI 2019). A soft bias, not a ban: at temperature 0.3 a bias of -1 divides such a
token's odds by about 28, so a word with no other name can still come through.

Same dev claims, documents and scoring as the prompt study; arm C differs from arm A only in the 200 study
documents' queries. Generated into benchmarks/cache/scifact_study_avoidcopy_qwen15b.jsonl (resumable).

    python -m benchmarks.studies.avoid_copy.study [--parallel 16] [--bias -1.0] [--generate-only]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.data_prep.generate_scifact_subset import generate_into
from benchmarks.paths import CACHE, shown
from benchmarks.studies.prompt_style import study as ps
from rag_augment.cache import GenerationCache
from rag_augment.chunking import chunk_documents
from rag_augment.eval.datasets import load_dataset
from rag_augment.hashing import stable_json_hash

MODULE = "benchmarks.studies.avoid_copy.study"
CACHE_C = CACHE / "scifact_study_avoidcopy_qwen15b.jsonl"
MIN_LETTERS = 4


def identity_c(examples: list[str], bias: float) -> dict:
    ident = ps.identity_b(examples)
    constraint = {"logit_bias": bias, "on": f"first token of each abstract word of {MIN_LETTERS}+ letters that is "
                  "not an English stopword (bm25s list), with and without a leading space, lower and capitalised"}
    return {**ident, "prompt_version": "scifact-fewshot-claims-avoidcopy-2026-11-28",
            "negative_constraints": constraint,
            "prompt_hash": stable_json_hash({**ident["prompt"], "negative_constraints": constraint}),
            # part of the cache key of CACHE_C's entries: the script's path when they were generated, kept as is
            "source": "eval/study_avoid_copy.py (2026-11-28)"}


def source_tokens(llama, text: str) -> set[int]:
    """Token ids that would start a copy of one of the text's content words."""
    from bm25s.stopwords import STOPWORDS_EN
    stop = set(STOPWORDS_EN)
    words = {w.strip(".,;:()[]%\"'").lower() for w in text.replace("-", " ").replace("/", " ").split()}
    out: set[int] = set()
    for w in words:
        if len(w) < MIN_LETTERS or w in stop or not w.isalpha():
            continue
        for form in (w, " " + w, w.capitalize(), " " + w.capitalize()):
            ids = llama.tokenize(form.encode("utf-8"), add_bos=False, special=False)
            if ids:
                out.add(ids[0])
    return out


def biased_backend(parallel: int):
    """The local backend with one logit-bias map per prompt of a batch (study-only: set `biases` before each
    complete_batch; the bias enters the sampler chain after the repetition penalty, before top-k)."""
    from rag_augment.generators import llama_cpp as lc

    class Biased(lc.LlamaCppBackend):
        biases: list[dict[int, float]] = []

        def sampler_for(self, params, bias: dict[int, float]):
            from llama_cpp import _internals
            s = _internals.LlamaSampler()
            s.add_penalties(n_vocab=self._llama.n_vocab(), penalty_last_n=lc.PENALTY_LAST_N,
                            penalty_repeat=params.repeat_penalty, penalty_freq=0.0, penalty_present=0.0)
            if bias:
                s.add_logit_bias(self._llama.n_vocab(), bias)
            s.add_top_k(lc.TOP_K)
            s.add_typical(1.0, 1)
            s.add_top_p(params.top_p, 1)
            s.add_min_p(lc.MIN_P, 1)
            s.add_temp(params.temperature)
            s.add_dist(params.seed)
            return s

    def admit(self, slot, index, tokens, params):
        self.ctx.kv_cache_seq_rm(slot, -1, -1)
        if self.prefix:
            self.ctx.kv_cache_seq_cp(self.prefix_seq, slot, -1, -1)
        return lc._Seq(index, tokens, len(self.prefix), self.b.sampler_for(params, self.b.biases[index]))

    lc._MultiSeq._admit = admit
    return Biased(n_ctx=1024, parallel=parallel, kv_unified=False)


def generate_c(folded, docs: list[str], examples: list[str], parallel: int, bias: float, scifact: Path,
               cache_c: Path) -> dict:
    ident = identity_c(examples, bias)
    cache = GenerationCache(cache_c)
    raw = {d.doc_id: d for d in load_dataset(scifact, title_in_text=False).documents}
    chunks = chunk_documents([d for d in folded.documents if d.doc_id in set(docs)], ps.CHUNKING)
    todo = [c for c in chunks if cache.get(ident, c) is None]
    print(f"arm C: {len(chunks)} abstracts, {len(todo)} to generate -> {shown(cache_c)}", flush=True)
    if not todo:
        return ident
    backend = biased_backend(parallel)

    def messages(c):
        d = raw[c.doc_id]
        return ps.messages_b(d.title, d.text, examples)

    class Batches:  # sets each batch's bias maps just before generate_into hands it to the backend
        model_hash = backend.model_hash

        def complete_batch(self, convs, params):
            source = [" ".join(conv[-1]["content"].split("\n")[:2]) for conv in convs]  # title + abstract
            backend.biases = [dict.fromkeys(source_tokens(backend._llama, text), bias) for text in source]
            return backend.complete_batch(convs, params)

    generate_into(cache, ident, todo, messages, Batches(), parallel)
    return ident


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--bias", type=float, default=-1.0)
    ap.add_argument("--generate-only", action="store_true")
    ps.add_path_args(ap)
    ap.add_argument("--cache-c", type=Path, default=CACHE_C, help="arm C's generations (generated if missing)")
    args = ap.parse_args(argv)
    folded = load_dataset(args.dataset)
    subset = json.loads(args.subset.read_text())
    dev, examples, docs = ps.study_sets(folded, subset)
    ident = generate_c(folded, docs, examples, args.parallel, args.bias, args.dataset, args.cache_c)
    if args.generate_only:
        return 0
    ds = ps.dev_dataset(folded, dev, subset)
    runs = args.runs_dir
    arms = {"A-experiment-prompt": args.cache_a,
            "B-fewshot-claims": ps.mixed_cache(set(docs), ps.identity_b(examples), args.cache_b, "B-fewshot-claims",
                                               args.cache_a, runs),
            "C-avoid-copy": ps.mixed_cache(set(docs), ident, args.cache_c, "C-avoid-copy", args.cache_a, runs)}
    rows, per_query = ps.score_arms(ds, arms, f"python -m {MODULE}", runs)
    ps.print_arms(rows, per_query, "A-experiment-prompt")
    ps.print_copied(folded, ds, dev, docs, {"A-experiment-prompt": args.cache_a, "B-fewshot-claims": args.cache_b,
                                            "C-avoid-copy": args.cache_c})
    return 0


if __name__ == "__main__":
    sys.exit(main())
