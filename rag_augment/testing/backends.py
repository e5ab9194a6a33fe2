"""A chat back end without a model, for LLMQueryGenerator, the feedback judge and the LlamaIndex adapter."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from rag_augment.generators.base import Completion, SamplingParams

Conversation = list[dict[str, str]]
Reply = str | Sequence[str] | Callable[[Conversation], "str | Completion"]


class FakeChatBackend:
    """reply: one text for every conversation; a list of texts handed out in order, one per conversation; or a
    function of the conversation that returns its text or a whole Completion (to simulate a failed or truncated
    request). Records every call with its sampling parameters."""

    def __init__(self, reply: Reply = "Q: a question?", model_id: str = "fake-chat", model_hash: str = ""):
        self.model_id, self.model_hash = model_id, model_hash
        self._text: str | None = reply if isinstance(reply, str) else None
        self._function = reply if callable(reply) else None
        self._queue: list[str] | None = None if isinstance(reply, str) or callable(reply) else list(reply)
        self.calls: list[tuple[list[Conversation], SamplingParams]] = []

    @property
    def prompts(self) -> list[str]:
        """The last message of every conversation asked, in order: what a test usually checks."""
        return [conv[-1]["content"] for convs, _ in self.calls for conv in convs]

    def _answer(self, conv: Conversation) -> Completion:
        if self._function is not None:
            out = self._function(conv)
            return out if isinstance(out, Completion) else Completion(text=out)
        if self._queue is not None:
            if not self._queue:
                raise RuntimeError(f"FakeChatBackend: no scripted reply left for request {len(self.prompts)}")
            return Completion(text=self._queue.pop(0))
        return Completion(text=self._text or "")

    def complete_batch(self, conversations: list[Conversation], params: SamplingParams) -> list[Completion]:
        self.calls.append((conversations, params))
        return [self._answer(conv) for conv in conversations]
