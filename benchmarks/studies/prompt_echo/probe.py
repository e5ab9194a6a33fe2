"""Does the indexing prompt's own example leak into the queries? qgen-v1 carried a worked paraphrase example
("'How do I request leave?' becomes 'P: what is the process for asking for time off'"); qgen-v2 dropped it.

    python -m benchmarks.studies.prompt_echo.probe qwen2.5-coder-0.5b 32
    python -m benchmarks.studies.prompt_echo.probe qwen2.5-coder-1.5b 32

Generates queries for N handbook chunks (seeded draw, cut as `rag-augment index` cuts them, hr_policy profile) with
the current prompt and with the v1 example put back, and counts lines about leave or time off: the handbook has
leave pages, so a few are expected; many more with the example than without is the leak.
"""
from __future__ import annotations

import json
import sys
import time

import rag_augment.generators.prompts as prompts
from benchmarks.paths import SHARED
from benchmarks.perf.bench_generation import load_folder_chunks
from rag_augment import models
from rag_augment.generators.llama_cpp import local_generator
from rag_augment.generators.prompts import PromptConfig

V1_EXAMPLE = " For example, 'How do I request leave?' becomes 'P: what is the process for asking for time off'."
V2_SENTENCE = "each on a line starting with 'P:'."


def with_v1_example(cfg, seeds=(), persona=""):
    text = CURRENT(cfg, seeds, persona)
    return text.replace(V2_SENTENCE, V2_SENTENCE + V1_EXAMPLE, 1) if seeds and cfg.n_paraphrases else text


CURRENT = prompts.instruction


def probe(gen, chunks) -> dict:
    start = time.perf_counter()
    results = gen.generate_batch(chunks)
    lines = [q for r in results for q, _ in r.queries]
    return {"s_per_chunk": round((time.perf_counter() - start) / len(chunks), 2),
            "queries_per_chunk": round(len(lines) / len(chunks), 2),
            "about_leave": sum(("leave" in q.lower() or "time off" in q.lower()) for q in lines)}


def main() -> None:
    model, n = sys.argv[1], int(sys.argv[2])
    chunks = load_folder_chunks(SHARED / "kb" / "handbook_18f" / "pages", n)
    gen = local_generator(models.resolve_model(model), prompt=PromptConfig(profile="hr_policy"), n_ctx=2048)
    for name, instruction in (("with the v1 example", with_v1_example), ("without (qgen-v2)", CURRENT)):
        prompts.instruction = instruction
        print(json.dumps({"model": model, "chunks": n, "prompt": name, **probe(gen, chunks)}), flush=True)
    prompts.instruction = CURRENT


if __name__ == "__main__":
    main()
