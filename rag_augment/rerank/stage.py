"""The rerank stage: score the fused top-N with a reranker and fuse its score with the legs' fused score.

    final = minmax(fused score) + weight x minmax(reranker score)      over the top-N, per query

A weight of 0 keeps the fused order exactly (the reranker's score is still shown); a large weight is the reranker's
order with the fused score breaking ties. The weight is tuned on labelled train queries like the legs' weights
(rag_augment.rerank.training.tune) and stored with the model.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

import numpy as np

from rag_augment.errors import ConfigError

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

log = logging.getLogger(__name__)
Ranked = list[tuple[str, float]]
RERANK_LEG = "rerank"
T = TypeVar("T")


class Scorer(Protocol):
    name: str

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One relevance score per text, higher is better (any scale)."""
        ...


class CrossEncoderScorer:
    """A trained reranker folder (sentence-transformers CrossEncoder); loaded once, thread-safe scoring.

    `quantize`: int8 weights for the linear layers (torch dynamic quantization), about twice as fast on a CPU
    for a small change in the scores; the study in benchmarks/studies/reranker measures with it on. `layers` and
    `max_length` cut the model as training would (rerank/depth.py times such cuts of a base model)."""

    def __init__(self, folder: str | Path, batch_size: int = 32, quantize: bool = True, layers: int | None = None,
                 max_length: int | None = None):
        self.folder = Path(folder)
        self.name = self.folder.name
        self._model = load_cross_encoder(self.folder, layers, max_length)
        self._model.eval()
        if quantize:
            _quantize(self._model.model)
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one forward at a time: two would only fight for the same cores

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            out = self._model.predict([(query, t) for t in texts], batch_size=self.batch_size,
                                      show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32).reshape(-1)


def _quantize(model) -> None:
    import warnings

    import torch
    with warnings.catch_warnings():  # torch announces the API's move to torchao; it works as documented here
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


@dataclass(frozen=True)
class RerankStage:
    scorer: Scorer
    weight: float = 1.0
    top_n: int = 20
    stale: bool = False
    off_reason: str = ""  # why a trained reranker is switched off (its self-check), shown by `query --rerank`
    leg: ClassVar[str] = RERANK_LEG  # its own ranking, as the explanation shows it

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ConfigError(f"rerank weight must be >= 0, not {self.weight}")
        if self.top_n < 1:
            raise ConfigError(f"rerank top_n must be >= 1, not {self.top_n}")

    def apply(self, query: str, ranked: Ranked, texts: Mapping[str, str]) -> tuple[Ranked, Ranked]:
        return rerank(query, ranked, texts, self)


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return np.ones_like(values) if hi <= lo else (values - lo) / (hi - lo)


def combine_scores(ranked: Ranked, rerank_scores: Sequence[float] | np.ndarray, weight: float) -> tuple[Ranked, Ranked]:
    """(the new ranking with its combined scores, the reranker's own ranking with its raw scores). Ties keep the
    fused order."""
    if not ranked:
        return [], []
    fused = np.array([s for _, s in ranked], dtype=np.float64)
    raw = np.asarray(rerank_scores, dtype=np.float64)
    if len(raw) != len(ranked):
        raise ValueError(f"reranker gave {len(raw)} scores for {len(ranked)} hits")
    combined = _minmax(fused) + weight * _minmax(raw)
    order = sorted(range(len(ranked)), key=lambda i: (-combined[i], i))
    new = [(ranked[i][0], float(combined[i])) for i in order]
    own = [(ranked[i][0], float(raw[i])) for i in sorted(range(len(ranked)), key=lambda i: (-raw[i], i))]
    return new, own


def rerank(query: str, ranked: Ranked, texts: Mapping[str, str], stage: RerankStage) -> tuple[Ranked, Ranked]:
    """Rerank the first stage.top_n of `ranked` (the rest keep their place after them): returns the new ranking
    and the reranker's own ranking of the scored hits (its raw scores, for explanations)."""
    head, tail = ranked[:stage.top_n], ranked[stage.top_n:]
    scores = stage.scorer.score(query, [texts.get(p, "") for p, _ in head])
    new, own = combine_scores(head, scores, stage.weight)
    if tail:  # below every reranked hit, in their fused order
        floor = min((s for _, s in new), default=0.0)
        new += [(p, floor - 1.0 - i) for i, (p, _) in enumerate(tail)]
    return new, own


_LOADED: dict[tuple[str, float], CrossEncoderScorer] = {}
_LOAD_LOCK = threading.Lock()


def load_reranker(index: AugmentIndex, weight: float | None = None, top_n: int | None = None,
                  kind: str = "reranker") -> RerankStage:
    """The index's trained reranker as a stage (the weight and top-N stored with it unless given). A stale model
    (the index changed since training) is used with a warning."""
    from rag_augment.rerank import model_home
    folder = model_home.model_dir(index, kind)
    meta = model_home.read_meta(folder)
    if meta is None:
        raise ConfigError(f"no trained reranker in {index.home} (collection {index.store.name!r}): run "
                          "`rag-augment train` first")
    info = model_home.status(index, kind)
    if info.get("stale"):
        log.warning("reranker %s: %s", folder.name, info["stale_reason"])
    stored = meta.get("rerank", {})
    weights = next((folder / n for n in model_home.WEIGHT_FILES if (folder / n).exists()), folder / "config.json")
    key = (str(folder.resolve()), weights.stat().st_mtime)  # a retrained model is a new file

    def model() -> CrossEncoderScorer:
        with _LOAD_LOCK:  # one model in memory per folder version, shared by every index object and thread
            scorer = _LOADED.get(key)
            if scorer is None:
                scorer = _LOADED[key] = CrossEncoderScorer(folder)
            return scorer
    off = stored.get("off_reason", "") if weight is None else ""
    # switched off by its self-check: the model is read only if someone scores with it anyway
    scorer: Scorer = _Deferred(model) if off else model()
    return RerankStage(scorer, stored.get("weight", 1.0) if weight is None else weight,
                       stored.get("top_n", 20) if top_n is None else top_n, bool(info.get("stale")), off)


class _Deferred:
    def __init__(self, load: Callable[[], Scorer]):
        self._load = load
        self.name = "deferred"

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        return self._load().score(query, texts)


def cached_reranker(index: AugmentIndex, kind: str = "reranker") -> RerankStage:
    """load_reranker once per index object and index version: the staleness check reads every chunk and query id,
    so it runs again only after a write to the index (its state file's version changes) or a retrain."""
    return cached(index, kind, lambda: load_reranker(index, kind=kind))


def cached(index: AugmentIndex, kind: str, load: Callable[[], T]) -> T:
    """What `load` returns for this index and model folder, kept on the index object until either changes."""
    from rag_augment.rerank import model_home
    meta = model_home.model_dir(index, kind) / model_home.META_FILE
    key = (index.version, meta.stat().st_mtime if meta.exists() else None)
    store = index.__dict__.setdefault("_rerank_models", {})
    hit = store.get(kind)
    if hit is None or hit[0] != key:
        hit = store[kind] = (key, load())
    return hit[1]


def load_cross_encoder(folder: str | Path, layers: int | None = None, max_length: int | None = None):
    """A CrossEncoder from a local folder (never the network), optionally cut to its first `layers` layers."""
    import torch
    from sentence_transformers import CrossEncoder

    from rag_augment.embedding import quiet_weight_loading
    if not Path(folder).is_dir():
        raise ConfigError(f"reranker base model {folder}: not a folder")
    st_log = logging.getLogger("sentence_transformers.base.model")
    level = st_log.level
    st_log.setLevel(logging.ERROR)  # "Converting SentenceTransformer model ... to CrossEncoder": expected here
    try:
        with quiet_weight_loading():
            _quiet_transformers()
            ce = CrossEncoder(str(folder), num_labels=1, local_files_only=True, device="cpu",
                              activation_fn=torch.nn.Identity())
    except Exception as exc:  # transformers raises OSError, ValueError ...
        raise ConfigError(f"reranker base model {folder}: cannot load it as a cross-encoder: "
                          f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__}"
                          ) from exc
    finally:
        st_log.setLevel(level)
    if layers is not None:
        _keep_layers(ce, layers)
    if max_length is not None:
        ce.max_seq_length = max_length
    return ce


def _quiet_transformers() -> None:
    """The base model's fresh head makes transformers print a load report; the caller is told in the plan."""
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


def _keep_layers(ce, layers: int) -> None:
    base = ce.model.base_model
    encoder = getattr(base, "encoder", None)
    stack = getattr(encoder, "layer", None)
    if encoder is None or stack is None:
        raise ConfigError("layers: this model's layers cannot be cut (no encoder.layer); leave --layers out")
    if layers < len(stack):
        import torch
        encoder.layer = torch.nn.ModuleList(list(stack)[:layers])
        ce.model.config.num_hidden_layers = layers
