"""The cheaper sibling of the reranker: the bi-encoder itself (the packaged MiniLM) fine-tuned on the same mined
groups, used as one more dense leg ("adapted_dense") beside the index's legs.

Loss: MultipleNegativesRankingLoss over each batch (every query against every positive and every mined negative of
the batch, cosine x 20), as sentence-transformers defines it; the loop is plain torch like the reranker's (no
`datasets`/`accelerate`). After training, every chunk is embedded with the adapted model and the vectors are kept
beside it (exact search: one matrix product; a 1,000-chunk index is 1.5 MB). Query time costs one more query
embedding, not a pass per hit as the cross-encoder does.

    <home>/adapted-<collection>/   model, chunk_vectors.npy, chunk_ids.json, reranker.json (provenance)
"""
from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag_augment.errors import ConfigError, InputError
from rag_augment.fusion import FusionProfile, Ranked, combine, fuse
from rag_augment.rerank import model_home
from rag_augment.rerank.training.pairs import TrainingGroup, TrainingQuery, index_queries, mine_groups
from rag_augment.rerank.training.train import (
    CALIBRATION_STEPS,
    Plan,
    TrainConfig,
    _batch,
    _fit_budget,
    _shown_base,
    calibrated_step,
    keeps_host_rng,
    replan_due,
    revise,
)
from rag_augment.trust.provenance import now_iso

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

KIND = "adapted"
LEG = "adapted_dense"
SCALE = 20.0


@keeps_host_rng
def train_adapted_embedder(index: AugmentIndex, config: TrainConfig | None = None,
                           queries: Sequence[TrainingQuery] | None = None, progress: Callable | None = None,
                           on_plan: Callable[[Plan], None] | None = None, kind: str = KIND,
                           clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Fine-tune the bi-encoder on mined groups within the budget, embed every chunk, store both. `config.layers`
    is ignored (the whole model is tuned). Not resumable: a run is minutes where the reranker's is an hour."""
    import torch
    from sentence_transformers import SentenceTransformer

    from rag_augment.embedding import packaged_minilm_path, quiet_weight_loading

    cfg = replace(config or TrainConfig(), layers=None)
    cfg.check()
    started = clock()
    base = str(cfg.base_model or packaged_minilm_path())
    base_sha = model_home.base_model_sha256(base)
    fingerprint = model_home.index_fingerprint(index)
    qs = list(queries) if queries is not None else index_queries(index, cfg.kinds or None)
    if not qs:
        raise InputError(f"index {index.home} holds no queries to train on: index documents first")
    t0 = clock()
    groups, report = mine_groups(index, qs, cfg.negatives, cfg.mine_depth, cfg.round_trip, cfg.seed,
                                 profile=index.profile, progress=progress)
    if not groups:
        raise InputError("no training pair left after mining; lower --round-trip or index more documents")
    mining_seconds = clock() - t0
    torch.manual_seed(cfg.seed)
    with quiet_weight_loading():
        model = SentenceTransformer(base, device="cpu", local_files_only=True)
    window = model.max_seq_length or cfg.max_length  # chunks are embedded with the model's own window
    model.max_seq_length = min(cfg.max_length, window)  # training may cut shorter (cheaper steps)
    model.train()
    steps_per_epoch = math.ceil(len(groups) / cfg.batch_groups)
    steps_total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    planned = [steps_total]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / max(1, int(cfg.warmup * planned[0])),
                                                                 max(0.0, (planned[0] - s) / max(1, planned[0]))))
    budget_end = None if cfg.max_minutes is None else started + cfg.max_minutes * 60
    step, times, losses, bar, stopped, announced = 0, [], [], None, False, False
    plan: Plan | None = None
    try:
        while step < planned[0]:
            if budget_end is not None and clock() >= budget_end:
                stopped = True
                break
            t1 = clock()
            losses.append(_mnrl_step(model, opt, sched, _batch(groups, step, steps_per_epoch, cfg), cfg, step))
            times.append(clock() - t1)
            step += 1
            if not announced and (len(times) == CALIBRATION_STEPS or step >= planned[0]):
                announced = True
                per_step = calibrated_step(times)
                planned[0] = _fit_budget(steps_total, step, per_step, budget_end, clock())
                plan = Plan(len(groups), cfg.batch_groups * (2 + cfg.negatives), steps_per_epoch, steps_total,
                            planned[0], round(per_step, 3), round(per_step * (planned[0] - step) / 60, 1),
                            cfg.max_minutes)
                if on_plan:
                    on_plan(plan)
                if progress:
                    bar = progress(planned[0], "training embedder")
                    bar.update(step)
            else:
                if budget_end is not None and plan is not None and replan_due(len(times)) and step < planned[0]:
                    plan = revise(plan, step, times, budget_end, clock(), on_plan, bar)
                    planned[0] = plan.steps_planned
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    model.max_seq_length = window
    work, target = model_home.work_dir(index, kind), model_home.model_dir(index, kind)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with quiet_weight_loading():
        model.save(str(work))
    t2 = clock()
    ids, vectors = _embed_chunks(index, model)
    np.save(work / "chunk_vectors.npy", vectors)
    (work / "chunk_ids.json").write_text(json.dumps(ids))
    meta = {
        "kind": "bi-encoder", "created_at": now_iso(), "base_model": _shown_base(base), "base_model_sha256": base_sha,
        "max_length": window, "train_max_length": cfg.max_length, "seed": cfg.seed,
        "config": {**asdict(cfg), "base_model": _shown_base(base), "kinds": list(cfg.kinds)},
        "training_queries": {"groups": len(groups), "by_source": report.sources, "mining": report.to_dict()},
        "steps": step, "steps_total": steps_total, "steps_planned": planned[0],
        "epochs_done": round(step * cfg.batch_groups / len(groups), 3), "stopped_by_budget": stopped,
        "loss_every_50_steps": [round(float(np.mean(losses[i:i + 50])), 4) for i in range(0, len(losses), 50)],
        "seconds": {"mining": round(mining_seconds, 1), "training": round(sum(times), 1),
                    "embedding_chunks": round(clock() - t2, 1)},
        "leg": {"name": LEG, "weight": cfg.weight, "depth": 50},
        "index_fingerprint": fingerprint, "collection": index.store.name,
    }
    model_home.write_meta(work, meta)
    model_home.install(work, target)
    return meta


def _mnrl_step(model, opt, sched, batch: Sequence[TrainingGroup], cfg: TrainConfig, step: int) -> float:
    import torch
    torch.manual_seed(cfg.seed * 1_000_003 + step)
    passages = []
    for g in batch:
        negs = list(g.negatives) or [g.positive]
        passages += [g.positive] + [negs[i % len(negs)] for i in range(cfg.negatives)]
    q = model(model.preprocess([g.query for g in batch]))["sentence_embedding"]
    p = model(model.preprocess(passages))["sentence_embedding"]
    sims = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(p, dim=1).T * SCALE
    target = torch.arange(len(batch)) * (1 + cfg.negatives)
    loss = torch.nn.functional.cross_entropy(sims, target)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return float(loss.detach())


def _embed_chunks(index: AugmentIndex, model) -> tuple[list[str], np.ndarray]:
    ids, texts = [], []
    for page_ids, docs, _ in index.store.iter_all("chunks", include=("documents",)):
        ids += page_ids
        texts += [d or "" for d in docs]
    vecs = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)
    return ids, np.asarray(vecs, dtype=np.float32)


class AdaptedLeg:
    """The adapted embedder and its chunk vectors: `search` ranks chunks for a query (exact cosine)."""

    def __init__(self, folder: str | Path, weight: float | None = None, depth: int | None = None):
        from sentence_transformers import SentenceTransformer

        from rag_augment.embedding import quiet_weight_loading
        self.folder = Path(folder)
        meta = model_home.read_meta(self.folder)
        if meta is None:
            raise ConfigError(f"no adapted embedder in {self.folder}: run `rag-augment train --adapt` first")
        leg = meta.get("leg", {})
        self.weight = float(leg.get("weight", 1.0) if weight is None else weight)
        self.depth = int(leg.get("depth", 50) if depth is None else depth)
        with quiet_weight_loading():
            self._model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
        self.ids = json.loads((self.folder / "chunk_ids.json").read_text())
        self.vectors = np.load(self.folder / "chunk_vectors.npy")
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                                                 show_progress_bar=False), dtype=np.float32)

    def search(self, query: str, n: int | None = None, embedding: np.ndarray | None = None) -> Ranked:
        q = self.embed([query])[0] if embedding is None else embedding
        sims = self.vectors @ q
        top = np.argsort(-sims, kind="stable")[:n or self.depth]
        return [(self.ids[i], float(sims[i])) for i in top]


def fuse_with(legs: dict[str, Ranked], extra: Ranked, weight: float, profile: FusionProfile, k: int) -> Ranked:
    """The profile's fusion with one more leg (the adapted dense leg) at `weight`; 0 gives the profile's order."""
    _, fused_legs = fuse(legs, profile, 0)
    fused_legs[LEG] = extra
    scores = combine(fused_legs, {**profile.weights, LEG: weight}, profile)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:max(k, 0)]


def load_adapted(index: AugmentIndex, weight: float | None = None, kind: str = KIND) -> AdaptedLeg:
    """The index's adapted embedder as a leg; a stale one (the index changed since training) with a warning:
    chunks added since have no adapted vector, so it can only find the chunks it has."""
    import logging
    info = model_home.status(index, kind)
    if not info["trained"]:
        raise ConfigError(f"no adapted embedder in {index.home} (collection {index.store.name!r}): run "
                          "`rag-augment train --adapt` first")
    if info.get("stale"):
        logging.getLogger(__name__).warning("adapted embedder: %s", info["stale_reason"])
    return AdaptedLeg(model_home.model_dir(index, kind), weight=weight)


def cached_adapted(index: AugmentIndex, kind: str = KIND) -> AdaptedLeg:
    """load_adapted once per index object and index version (see rerank.stage.cached)."""
    from rag_augment.rerank.stage import cached
    return cached(index, kind, lambda: load_adapted(index, kind=kind))
