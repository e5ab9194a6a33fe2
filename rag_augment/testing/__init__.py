"""Fakes for testing rag_augment and the apps built on it: no model, no network beyond 127.0.0.1.

    from rag_augment.testing import FakeChatBackend, FakeGenerator, HashEmbedder

- FakeGenerator: canned text per chunk through the real parser, simulated failures and crashes, call records.
- RecordingGenerator: wraps a real generator, records calls, optionally changes its identity.
- FakeChatBackend: a ChatBackend for LLMQueryGenerator (and the feedback judge) with scripted replies.
- HashEmbedder, SlowEmbedder: deterministic bag-of-words vectors, optionally slow like a real model.
- FakeOpenAIServer: a scripted OpenAI-compatible HTTP server on 127.0.0.1 for OpenAIBackend.
"""
from rag_augment.testing.backends import FakeChatBackend
from rag_augment.testing.embedders import HashEmbedder, SlowEmbedder
from rag_augment.testing.generators import FakeGenerator, RecordingGenerator, default_response
from rag_augment.testing.servers import FakeOpenAIServer, chat_reply, free_port

__all__ = ["FakeChatBackend", "FakeGenerator", "FakeOpenAIServer", "HashEmbedder", "RecordingGenerator",
           "SlowEmbedder", "chat_reply", "default_response", "free_port"]
