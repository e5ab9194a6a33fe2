"""Fine-tune a cross-encoder reranker on the index's own queries (the data: rag_augment.rerank.training.pairs).

The model is a sentence-transformers CrossEncoder initialised from a local folder: by default the packaged
all-MiniLM-L6-v2 (a bi-encoder, so the one-logit classification head starts fresh), or any sentence-transformers /
transformers folder the caller gives (a ready cross-encoder keeps its head). `layers` keeps only the first N
transformer layers (reranking cost is linear in depth) and `max_length` cuts query + passage: from the packaged
bi-encoder, 2 layers did not learn to rank in a train-only probe, 3 barely, while 4 and 6 did within 80 steps
(benchmarks/studies/reranker/results/probe-*.md). A top 20 over 128 tokens costs 6 layers 137 to 194 ms p50 on three
2-core hosts (results/latency*.md), so by default the depth is the deepest of 6 to 4 that meets `latency_ms` on the
machine that trains (rag_augment.rerank.training.depth).

The loop is plain torch over the CrossEncoder's own preprocess and forward, with a listwise loss (softmax cross-
entropy over the query's positive and its mined negatives, the "localized contrastive estimation" of Gao et al.
2021). sentence-transformers 6's CrossEncoderTrainer and fit() need the `datasets` and `accelerate` packages,
which this package does not depend on; a dozen lines of torch give what the issue asks for instead: a time
estimate before training, a CPU budget (the learning-rate schedule is planned to end inside it), a progress bar,
checkpoints that a second run resumes from, and a seed.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import random
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_augment.errors import ConfigError, InputError
from rag_augment.hashing import sha1_hex
from rag_augment.rerank import model_home
from rag_augment.rerank.stage import load_cross_encoder
from rag_augment.rerank.training.pairs import (
    TrainingGroup,
    TrainingQuery,
    index_queries,
    load_groups,
    mine_groups,
    save_groups,
)
from rag_augment.trust.provenance import now_iso

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

log = logging.getLogger(__name__)
LATENCY_OVER = 2.0     # stop when the shallowest model is this many times over --latency-ms
MIN_EPOCH_SHARE = 0.5  # stop when the budget fits less than this share of one epoch
CALIBRATION_STEPS = 3  # the first step pays one-off warm-up and is left out of the estimate (calibrated_step)
REPLAN_STEPS = 25      # a budgeted plan is revised on the steps timed so far after this many (revised_plan) ...
REPLAN_EVERY = 100     # ... and again every this many, on the latest ones


@dataclass(frozen=True)
class TrainConfig:
    base_model: str | None = None     # a local model folder; None: the packaged MiniLM
    # keep the first N transformer layers; None: the deepest cut that meets latency_ms here (rerank/depth.py)
    layers: int | None = None
    # what reranking one query's top_n may cost on this machine (ms p50, int8), timed before training to choose
    # the depth when `layers` is None; None: keep every layer
    latency_ms: float | None = 150.0
    max_length: int = 128             # tokens of query + passage (the passage is cut)
    negatives: int = 3                # mined negatives per query
    mine_depth: int = 20              # negatives are drawn from this many best chunks of other documents
    round_trip: int = 0               # keep a query only if the chunk legs rank its parent in this top (0: all)
    kinds: tuple[str, ...] = ()       # which stored query kinds train (empty: all)
    epochs: int = 1
    batch_groups: int = 8             # queries per optimiser step (each with 1 + negatives passages)
    lr: float = 5e-5
    # learning rate of a fresh scoring head (pooler + classifier) on a bi-encoder base, the usual faster rate for
    # weights that start from nothing (it did not rescue 2 layers; not ablated on 6); None: the encoder's rate
    head_lr: float | None = 1e-3
    warmup: float = 0.1               # share of the planned steps spent warming up
    seed: int = 0
    max_minutes: float | None = None  # budget for the whole run (mining included); the schedule fits inside it
    checkpoint_minutes: float = 5.0
    top_n: int = 20                   # stored with the model: how many fused hits it reranks by default
    weight: float = 1.0               # stored with the model: its score's weight against the fused score
    # go on when the machine or the budget cannot give what was asked (a model too slow here, or undertrained)
    force: bool = False

    def check(self) -> None:
        for name in ("negatives", "mine_depth", "epochs", "batch_groups", "max_length", "top_n"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train: {name} must be >= 1, not {getattr(self, name)}")
        if self.layers is not None and self.layers < 1:
            raise ConfigError(f"train: layers must be >= 1, not {self.layers}")
        if self.latency_ms is not None and self.latency_ms <= 0:
            raise ConfigError(f"train: latency_ms must be > 0, not {self.latency_ms}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"train: max_minutes must be > 0, not {self.max_minutes}")
        if self.head_lr is not None and self.head_lr <= 0:
            raise ConfigError(f"train: head_lr must be > 0, not {self.head_lr}")
        if self.weight < 0:
            raise ConfigError(f"train: weight must be >= 0, not {self.weight}")

    def resume_key(self) -> str:
        """What a resumed run must share with the interrupted one (the budget and checkpoint period may change)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("max_minutes", "checkpoint_minutes", "force")}
        return sha1_hex(json.dumps(d, sort_keys=True), 16)


@dataclass
class Plan:
    """What the run will do, known after the first steps: handed to `on_plan` before the bulk of the work."""
    groups: int
    pairs_per_step: int
    steps_per_epoch: int
    steps_total: int          # epochs x steps per epoch
    steps_planned: int        # what fits the budget (= steps_total without one)
    step_seconds: float
    estimate_minutes: float   # of the planned steps still to run
    budget_minutes: float | None
    resumed_at: int = 0
    revised: bool = False     # a later, steadier estimate (revised_plan)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _State:
    step: int = 0
    steps_planned: int = 0
    train_seconds: float = 0.0
    mining_seconds: float = 0.0
    losses: list[float] = field(default_factory=list)   # mean loss per 50 steps


def default_base() -> str:
    from rag_augment.embedding import packaged_minilm_path
    return packaged_minilm_path()


def has_fresh_head(folder: str | Path) -> bool:
    """True when the folder is not a sequence classifier (a bi-encoder): its scoring head starts untrained."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return True
    return not any(str(a).endswith("ForSequenceClassification") for a in config.get("architectures") or [])


def identity_pooler(ce) -> None:
    """A bi-encoder's BERT pooler was never trained (weights near 0), so the head would read almost nothing of the
    [CLS] state: start it as tanh(identity) so the encoder's signal reaches the fresh classifier."""
    import torch
    pooler = getattr(ce.model.base_model, "pooler", None)
    dense = getattr(pooler, "dense", None)
    if dense is None or dense.weight.shape[0] != dense.weight.shape[1]:
        return
    with torch.no_grad():
        dense.weight.copy_(torch.eye(dense.weight.shape[0]))
        dense.bias.zero_()


def param_groups(model, lr: float, head_lr: float | None) -> list[dict[str, Any]]:
    """AdamW groups: no decay on biases and norms; the scoring head (pooler, classifier) at `head_lr` if given."""
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups: dict[tuple[bool, bool], list] = {}
    for name, p in model.named_parameters():
        head = head_lr is not None and ("classifier" in name or "pooler" in name)
        groups.setdefault((head, any(x in name for x in no_decay)), []).append(p)
    return [{"params": ps, "weight_decay": 0.0 if nd else 0.01, "lr": head_lr if head else lr}
            for (head, nd), ps in sorted(groups.items())]


def keeps_host_rng(train: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A training run seeds torch's generator (a fresh head's weights, dropout) so that a seed gives one model; the
    host's generator state is put back afterwards, so training never changes what the host's own code draws."""
    @functools.wraps(train)
    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        import torch
        with torch.random.fork_rng(devices=[]):
            return train(*args, **kwargs)
    return run


@keeps_host_rng
def train_reranker(index: AugmentIndex, config: TrainConfig | None = None,
                   queries: Sequence[TrainingQuery] | None = None, progress: Callable | None = None,
                   on_plan: Callable[[Plan], None] | None = None, kind: str = "reranker",
                   clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Mine training groups from the index (or from `queries`), fine-tune, store the model in the index home with
    its provenance. A run interrupted (Ctrl-C, kill, budget) resumes from its last checkpoint when started again
    with the same settings. Returns the stored provenance (reranker.json)."""
    import torch

    cfg = config or TrainConfig()
    cfg.check()
    started = clock()
    work, target = model_home.work_dir(index, kind), model_home.model_dir(index, kind)
    fingerprint = model_home.index_fingerprint(index)
    base = str(cfg.base_model or default_base())
    base_sha = model_home.base_model_sha256(base)
    key = sha1_hex(json.dumps([cfg.resume_key(), fingerprint["sha256"], base_sha,
                               _queries_key(queries)]), 16)
    state, groups, run = _resume(work, key)
    mining, depth = run.get("mining"), run.get("depth")
    earlier = state.mining_seconds + state.train_seconds if groups is not None else 0.0
    if groups is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        qs = list(queries) if queries is not None else index_queries(index, cfg.kinds or None)
        if not qs:
            raise InputError(f"index {index.home} holds no queries to train on: index documents first")
        t0 = clock()
        groups, report = mine_groups(index, qs, cfg.negatives, cfg.mine_depth, cfg.round_trip, cfg.seed,
                                     profile=index.profile, progress=progress)
        if not groups:
            raise InputError("no training pair left after mining (every query was dropped: "
                             f"{json.dumps(report.to_dict())}); lower --round-trip or index more documents")
        save_groups(groups, work / "groups.jsonl")
        mining = report.to_dict()
        state = _State(mining_seconds=clock() - t0)
        depth = _depth(base, cfg, groups)
        _write_json(work / "run.json", {"key": key, "mining": mining, "depth": depth})
    _check_latency(depth, cfg)
    # the budget covers mining and training, across resumed runs
    budget_end = None if cfg.max_minutes is None else started + cfg.max_minutes * 60 - earlier

    ckpt = work / "checkpoint"
    resuming = (ckpt / "config.json").exists()
    fresh = has_fresh_head(base)
    torch.manual_seed(cfg.seed)  # a fresh head's initial weights
    layers = cfg.layers if cfg.layers is not None or depth is None else depth["layers"]
    ce = load_cross_encoder(ckpt if resuming else base, None if resuming else layers, cfg.max_length)
    if fresh and not resuming:
        identity_pooler(ce)
    model = ce
    model.train()
    steps_per_epoch = math.ceil(len(groups) / cfg.batch_groups)
    steps_total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(param_groups(model, cfg.lr, cfg.head_lr if fresh else None), lr=cfg.lr)
    planned = [state.steps_planned or steps_total]

    def lr_at(step: int) -> float:
        warm = max(1, int(cfg.warmup * planned[0]))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (planned[0] - step) / max(1, planned[0] - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    if (ckpt / "optimizer.pt").exists():
        saved = torch.load(ckpt / "optimizer.pt", weights_only=False)
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])

    resumed_at = state.step
    bar = None
    last_ckpt = clock()
    window: list[float] = []
    stopped_by_budget = announced = False
    replan = state.steps_planned == 0 and budget_end is not None
    plan: Plan | None = None
    try:
        step_times: list[float] = []
        while state.step < planned[0]:
            if budget_end is not None and clock() >= budget_end:
                stopped_by_budget = True
                break
            t0 = clock()
            loss = train_step(model, opt, sched, _batch(groups, state.step, steps_per_epoch, cfg), cfg, state.step)
            dt = clock() - t0
            state.train_seconds += dt
            state.step += 1
            window.append(loss)
            if len(window) == 50:
                state.losses.append(round(sum(window) / len(window), 4))
                window = []
            step_times.append(dt)
            if not announced and (len(step_times) == CALIBRATION_STEPS or state.step >= planned[0]):
                announced = True
                per_step = calibrated_step(step_times)
                if state.steps_planned == 0:
                    planned[0] = _fit_budget(steps_total, state.step, per_step, budget_end, clock())
                    state.steps_planned = planned[0]
                    if not cfg.force and planned[0] < MIN_EPOCH_SHARE * steps_per_epoch:
                        _stop_undertrained(model, opt, sched, state, ckpt, cfg, planned[0], steps_per_epoch,
                                           per_step)
                plan = Plan(len(groups), cfg.batch_groups * (1 + cfg.negatives), steps_per_epoch, steps_total,
                            planned[0], round(per_step, 3),
                            round(per_step * (planned[0] - state.step) / 60, 1), cfg.max_minutes, resumed_at)
                if on_plan:
                    on_plan(plan)
                if progress:
                    bar = progress(planned[0], "training reranker")
                    bar.update(state.step)
            else:
                if replan and plan is not None and replan_due(len(step_times)) and state.step < planned[0]:
                    plan = revise(plan, state.step, step_times, budget_end, clock(), on_plan, bar)
                    planned[0] = state.steps_planned = plan.steps_planned
                if bar is not None:
                    bar.update(1)
            # the first checkpoint comes after a minute, so a kill early in a run loses little
            period = cfg.checkpoint_minutes if (ckpt / "config.json").exists() else min(1.0, cfg.checkpoint_minutes)
            if clock() - last_ckpt >= period * 60:
                _checkpoint(model, opt, sched, state, ckpt)
                last_ckpt = clock()
    except KeyboardInterrupt:
        _checkpoint(model, opt, sched, state, ckpt)
        raise
    finally:
        if bar is not None:
            bar.close()
    if not cfg.force and stopped_by_budget and state.step < MIN_EPOCH_SHARE * steps_per_epoch:
        per_step = calibrated_step(step_times) if step_times else 0.0
        _stop_undertrained(model, opt, sched, state, ckpt, cfg, state.step, steps_per_epoch, per_step)
    if window:
        state.losses.append(round(sum(window) / len(window), 4))
    return _finish(index, model, cfg, state, groups, mining or {}, depth, fingerprint, base, base_sha, work,
                   target, stopped_by_budget, steps_total, clock() - started)


def _depth(base: str, cfg: TrainConfig, groups: Sequence[TrainingGroup]) -> dict[str, Any] | None:
    """The depth fitted to cfg.latency_ms on this machine (rerank/depth.py), timed on the first mined queries'
    own passages; None when the depth is set, no budget is given or the base has a ready head."""
    if cfg.layers is not None or cfg.latency_ms is None or not has_fresh_head(base):
        return None
    from rag_augment.rerank.training.depth import fit_to_budget
    texts = [g.positive for g in groups[:cfg.top_n]]
    choice = fit_to_budget(base, cfg.max_length, cfg.latency_ms, groups[0].query, texts)
    return None if choice is None else choice.to_dict()


def _check_latency(depth: dict | None, cfg: TrainConfig) -> None:
    """A model this machine cannot run within what was asked is not trained (unless cfg.force)."""
    if cfg.force or not depth or depth.get("fits", True):
        return
    ms = float(depth["measured_ms"][str(depth["layers"])])
    if ms <= LATENCY_OVER * depth["budget_ms"]:
        return
    raise ConfigError(f"train: even {depth['layers']} layers take {ms:,.0f} ms to rerank a top {cfg.top_n} here, "
                      f"{ms / depth['budget_ms']:.1f}x the --latency-ms {depth['budget_ms']:g} asked: the "
                      f"reranker would slow every query that much. Give --latency-ms {math.ceil(ms)} (or train on "
                      "a quieter or faster machine), or --force to train it anyway")


def _stop_undertrained(model, opt, sched, state: _State, ckpt: Path, cfg: TrainConfig, fits: int, per_epoch: int,
                       per_step: float) -> None:
    """Keep what was trained (a longer budget resumes from it and plans again), then stop with what it needs."""
    state.steps_planned = 0
    _checkpoint(model, opt, sched, state, ckpt)
    need = math.ceil((per_step * per_epoch + state.mining_seconds) / 60 * 1.1)
    raise ConfigError(f"train: --max-minutes {cfg.max_minutes:g} fits {fits} of the {per_epoch} steps of one epoch "
                      f"here ({fits / per_epoch:.2f} epoch at {per_step:.2f} s per step): a model that undertrained "
                      f"is not installed. Give --max-minutes {need} (one epoch, mining included; the run resumes "
                      "from its checkpoint), or --force to train what fits")


def calibrated_step(step_times: Sequence[float]) -> float:
    """Seconds per step for the plan: the first step (allocations, lazy kernel set-up) took about three times a
    steady step on 2 cores and would halve what a budget is planned to fit, so it is left out when others exist."""
    steady = list(step_times[1:]) or list(step_times)
    return sum(steady) / max(1, len(steady))


def replan_due(timed: int) -> bool:
    return timed == REPLAN_STEPS or (timed > REPLAN_STEPS and timed % REPLAN_EVERY == 0)


def revised_plan(step_times: Sequence[float]) -> float:
    """Seconds per step for a revised plan: the median of the latest REPLAN_EVERY steps after the first. On 2 cores
    steps kept getting faster for the first hundred or so (3.0 s at steps 2-3, 2.6 s over 25, 2.1 s on average over
    555), so a plan fixed early left a fifth to a third of a budget unused."""
    return statistics.median(step_times[1:][-REPLAN_EVERY:] or step_times)


def revise(plan: Plan, done: int, step_times: Sequence[float], budget_end: float | None, now: float,
           on_plan: Callable[[Plan], None] | None, bar: Any) -> Plan:
    """`plan` revised on the latest steps (revised_plan): announced the first time, later only when it moves the
    planned steps by 5% or more; the progress bar's total follows it."""
    per_step = revised_plan(step_times)
    steps = _fit_budget(plan.steps_total, done, per_step, budget_end, now)
    new = replace(plan, steps_planned=steps, step_seconds=round(per_step, 3),
                  estimate_minutes=round(per_step * (steps - done) / 60, 1), revised=True)
    if on_plan and (not plan.revised or abs(steps - plan.steps_planned) >= 0.05 * max(1, plan.steps_planned)):
        on_plan(new)
    if bar is not None and hasattr(bar, "total"):
        bar.total = steps
    return new


def _queries_key(queries: Sequence[TrainingQuery] | None) -> str:
    if queries is None:
        return "index"
    return sha1_hex("\n".join(f"{q.parent_id}\x00{q.text}" for q in queries), 16)


def _fit_budget(steps_total: int, done: int, per_step: float, budget_end: float | None, now: float) -> int:
    if budget_end is None:
        return steps_total
    fits = done + int(max(0.0, budget_end - now) / max(per_step, 1e-6))
    return max(done, min(steps_total, fits))


def _batch(groups: Sequence[TrainingGroup], step: int, steps_per_epoch: int, cfg: TrainConfig
           ) -> list[TrainingGroup]:
    """The groups of a step: each epoch is its own seeded shuffle, so a resumed run continues the same order."""
    epoch, within = divmod(step, steps_per_epoch)
    order = list(range(len(groups)))
    random.Random(cfg.seed * 1_000_003 + epoch).shuffle(order)
    return [groups[i] for i in order[within * cfg.batch_groups:(within + 1) * cfg.batch_groups]]


def train_step(model, opt, sched, batch: Sequence[TrainingGroup], cfg: TrainConfig, step: int) -> float:
    import torch
    torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout: the same on a resumed run
    size = 1 + cfg.negatives
    pairs = []
    for g in batch:
        negs = list(g.negatives) or [""]
        pairs += [(g.query, g.positive)] + [(g.query, negs[i % len(negs)]) for i in range(cfg.negatives)]
    features = model.preprocess(pairs)
    logits = model(features)["scores"].view(len(batch), size)
    loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return float(loss.detach())


def _checkpoint(model, opt, sched, state: _State, ckpt: Path) -> None:
    """Model, optimiser and schedule, written beside the old checkpoint and swapped in (a kill mid-write leaves
    the previous one)."""
    import torch
    tmp = ckpt.with_name("checkpoint.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    _save(model, tmp)
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp / "optimizer.pt")
    _write_json(tmp / "state.json", asdict(state))
    model_home.install(tmp, ckpt)
    log.info("reranker checkpoint at step %d in %s", state.step, ckpt)


def _save(model, folder: Path) -> None:
    from rag_augment.embedding import quiet_weight_loading
    with quiet_weight_loading():  # no "Writing model shards" bar on every checkpoint
        model.save_pretrained(str(folder))


def _resume(work: Path, key: str) -> tuple[_State, list[TrainingGroup] | None, dict[str, Any]]:
    """The interrupted run's state, groups and run record (mining report, depth) when its settings match; else
    nothing."""
    try:
        run = json.loads((work / "run.json").read_text())
        if run.get("key") != key:
            log.warning("reranker: an interrupted training run with other settings is discarded (%s)", work)
            return _State(), None, {}
        groups = load_groups(work / "groups.jsonl")
        state_file = work / "checkpoint" / "state.json"
        state = _State(**json.loads(state_file.read_text())) if state_file.exists() else _State()
        if state.step:
            log.info("reranker: resuming at step %d from %s", state.step, work)
        return state, groups, run
    except (OSError, ValueError, TypeError, KeyError):
        return _State(), None, {}


def _finish(index: AugmentIndex, model, cfg: TrainConfig, state: _State, groups: Sequence[TrainingGroup],
            mining: dict, depth: dict | None, fingerprint: dict, base: str, base_sha: str, work: Path,
            target: Path, stopped_by_budget: bool, steps_total: int, seconds: float) -> dict[str, Any]:
    import sentence_transformers
    import torch

    built = work / "final"
    shutil.rmtree(built, ignore_errors=True)
    _save(model, built)
    layers = int(model.model.config.num_hidden_layers)
    sources: dict[str, int] = {}
    for g in groups:
        sources[g.source] = sources.get(g.source, 0) + 1
    human = [g.query for g in groups if g.source.split(":")[0] in model_home.HUMAN_SOURCES]
    human_distinct = model_home.write_human_queries(built, human)
    meta = {
        "kind": "cross-encoder", "created_at": now_iso(),
        "base_model": _shown_base(base), "base_model_sha256": base_sha, "layers": layers,
        "max_length": cfg.max_length, "seed": cfg.seed, "depth_fitted": depth,
        "config": {**asdict(cfg), "base_model": _shown_base(base), "kinds": list(cfg.kinds)},
        "training_queries": {"groups": len(groups), "by_source": sources, "human_distinct": human_distinct,
                             "mining": mining},
        "steps": state.step, "steps_total": steps_total, "steps_planned": state.steps_planned,
        "epochs_done": round(state.step * cfg.batch_groups / max(1, len(groups)), 3),
        "stopped_by_budget": stopped_by_budget, "loss_every_50_steps": state.losses,
        "seconds": {"mining": round(state.mining_seconds, 1), "training": round(state.train_seconds, 1),
                    "this_run": round(seconds, 1)},
        "rerank": {"top_n": cfg.top_n, "weight": cfg.weight, "tuned_on": None},
        "index_fingerprint": fingerprint, "collection": index.store.name,
        "versions": {"torch": torch.__version__, "sentence_transformers": sentence_transformers.__version__},
        "cpu_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
    }
    model_home.write_meta(built, meta)
    model_home.install(built, target)
    shutil.rmtree(work, ignore_errors=True)
    return meta


def _shown_base(base: str) -> str:
    """The packaged model by name; another folder by its name only (no machine paths in provenance)."""
    return "packaged:all-MiniLM-L6-v2" if base == default_base() else Path(base).name


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
