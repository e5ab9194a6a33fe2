"""Embedders without a model. HashEmbedder lives in rag_augment.embedding and is re-exported here."""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from rag_augment.embedding import HashEmbedder


class SlowEmbedder(HashEmbedder):
    """A HashEmbedder that blocks for `delay` seconds per call, like a real model (switch it on after indexing
    to test timeouts and concurrency at query time)."""

    def __init__(self, dim: int = 256, delay: float = 0.0):
        super().__init__(dim)
        self.delay = delay

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(self.delay)
        return super().embed(texts)


__all__ = ["HashEmbedder", "SlowEmbedder"]
