"""A simulated LLM judge for thumbs-down reports, so the benchmark never runs a model.

rag_augment.trust.feedback only judges through an LLM back end (the rules rewriter has no judge: a thumbs-down without a
named document would wait forever). This back end speaks the product's prompts (feedback.judge_messages and
prompts.paraphrase_messages) through the public `complete_batch` interface:

- a judge prompt is answered from the labels, with a seeded error rate: with probability `accuracy` it names the
  relevant passage when one is among the candidates (else it answers 0, "none"); otherwise it names a wrong
  candidate. The accuracy is an assumption of the benchmark, not a measured property of any model.
- a paraphrase prompt is answered with the rules generator's templated rewordings of the failed query (what the
  `rules` feedback generator writes), so the paraphrases match a `rules` round.
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

from rag_augment.generators.base import Completion, SamplingParams
from rag_augment.generators.prompts import JUDGE_SYSTEM
from rag_augment.generators.rules import generate_queries
from rag_augment.hashing import norm_text, sha1_hex
from rag_augment.types import Chunk

Conversation = list[dict[str, str]]
_QUERY = re.compile(r"A user searched for: (.*?)\n\nWhich passage", re.S)
_PASSAGE = re.compile(r"Passage (\d+):\n(.*?)(?=\n\nPassage \d+:\n|\n\nAnswer:)", re.S)
_PARA_N = re.compile(r"Write (\d+) different ways")
_QUESTION_START = re.compile(r"^(?:what|how|when|where|who|why|which|can|could|may|do|does|is|are|should)\b", re.I)
JUDGE_WORDS = 80  # judge_messages shows each passage's first 80 words


def passage_key(text: str, words: int = JUDGE_WORDS) -> str:
    return " ".join(text.split()[:words])


class SimulatedJudge:
    model_id = "simulated-judge"
    model_hash = ""

    def __init__(self, passage_doc: Mapping[str, str], relevant: Mapping[str, set[str]], accuracy: float = 0.8,
                 seed: int = 0):
        """passage_doc: passage_key(chunk text) -> doc id; relevant: norm_text(query) -> relevant doc ids."""
        self.passage_doc, self.relevant = dict(passage_doc), dict(relevant)
        self.accuracy, self.seed = accuracy, seed
        self.picks: dict[str, dict] = {}  # norm_text(query) -> what the judge answered, for the use log

    def complete_batch(self, conversations: Sequence[Conversation], params: SamplingParams) -> list[Completion]:
        return [Completion(text=self._answer(conv)) for conv in conversations]

    def _answer(self, conv: Conversation) -> str:
        if conv[0]["content"] == JUDGE_SYSTEM:
            return str(self._judge(conv[-1]["content"]))
        return self._paraphrase(conv[-1]["content"])

    def _judge(self, prompt: str) -> int:
        m = _QUERY.search(prompt)
        query = m.group(1) if m else ""
        docs = [self.passage_doc.get(text.strip(), "") for _, text in _PASSAGE.findall(prompt)]
        wanted = self.relevant.get(norm_text(query), set())
        right = [i for i, d in enumerate(docs, 1) if d in wanted]
        wrong = [i for i, d in enumerate(docs, 1) if d not in wanted]
        # seeded per query, so a rerun (or the same complaint in a later round) gets the same verdict
        rng = random.Random(int(sha1_hex(f"{self.seed}:{norm_text(query)}", 12), 16))
        honest = rng.random() < self.accuracy
        if honest:
            choice = right[0] if right else 0
        else:
            choice = rng.choice(wrong) if wrong else 0
        self.picks[norm_text(query)] = {"choice": choice, "correct": bool(choice) and choice in right,
                                        "target_listed": bool(right)}
        return choice

    def _paraphrase(self, prompt: str) -> str:
        """Rules rewordings of the query (the last line of a paraphrase prompt), one per 'P:' line."""
        query = prompt.rsplit("Query:", 1)[-1].strip()
        m = _PARA_N.search(prompt)
        n = int(m.group(1)) if m else 3
        seed = query if query.endswith("?") or not _QUESTION_START.match(query) else query + "?"
        chunk = Chunk(chunk_id="feedback", doc_id="", text="", content_hash="", seeds=(seed,))
        lines = [t for t, _ in generate_queries(chunk, n_questions=0, n_paraphrases=n, n_keywords=0)]
        return "\n".join(f"P: {t}" for t in lines)
