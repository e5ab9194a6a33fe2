"""Fusion tuned for one index without labels: held-out synthetic probes first, real and feedback queries later.

A user's knowledge base has no train split, and one fixed set of leg weights does not carry across corpora (dense
is the strong leg on one handbook, BM25 on long biomedical abstracts). `tune_index` adapts the index's profile by
itself:

1. Synthetic evidence. A seeded sample of chunks (200 by default) gets probe queries written for tuning only and
   never indexed. Without an LLM generator they are cut from random sentences of the chunk (a run of words, or
   some of its content words; no template, so they share no wording pattern with any generator's queries); with
   one, the index's own model writes them in other personas and with another seed. Each probe is labelled with
   its chunk's document and every leg is retrieved once. Probes find their chunk too easily through its exact
   words and through the queries generated from the same sentence. So by default they are "masked" (the inverse
   cloze task of Lee et al. 2019): the probe's sentence is cut from its chunk (text and vector) and so is every
   query of the chunk made mostly of its words, and the chunk must be found by what else it says, as a user's
   question in other words must find it ("plain" probes leave only near-duplicate queries out, and favour BM25
   heavily). The existing coordinate ascent (rag_augment.eval.tune) then tunes the profile on them, and the
   synthetic legs' weights are halved ("shrink"), since probes and indexed queries still come from the same
   chunk. Chosen among the CORRECTIONS and probe modes on the train splits of five labelled sets, then checked on
   eight test splits: benchmarks/studies/label_free_tuning/RESULT.md.
2. Real evidence. Real and feedback queries stored in the index (with their chunk) decide once there are
   `min_real` of them: k-fold by query group (a complaint and its paraphrases leave together), each fold's legs
   retrieved with the fold's own query vectors and their words left out of every leg, so each query is searched
   as if it were new. The profile tuned on the other folds is scored on each fold (cross-validation) beside the
   synthetic choice and the start profile; the synthetic choice is replaced only by one that beats it beyond
   the bootstrap interval.

No label is read. rag_augment.home.save_index_profile writes the chosen profile with its evidence into the index
home (profile-<collection>.json); load_index_profile reads it back.
"""
from __future__ import annotations

import functools
import logging
import random
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from rag_augment import metrics as M
from rag_augment.errors import ConfigError
from rag_augment.eval.systems import EVAL_DEPTH, QueryLegs, hybrid_profile, single_leg, truncate
from rag_augment.eval.tune import TuneSet, tune_profile
from rag_augment.fusion import LEG_NAMES, FusionProfile, fuse
from rag_augment.hashing import norm_text
from rag_augment.lexical import LexicalIndex
from rag_augment.profiles import load_profile
from rag_augment.search.legs import ChunkVectors, LegSearch
from rag_augment.tuning.ascent import SYNTHETIC_LEGS
from rag_augment.tuning.self_check import Verdict, split_by_chunk, verdict
from rag_augment.types import FEEDBACK, REAL

log = logging.getLogger(__name__)

PROBE_VERSION = "probe-v1"
DEFAULT_CHUNKS = 200
DEFAULT_MIN_REAL = 50
DEFAULT_FOLDS = 5
METRIC = "nDCG@10"
TUNE_PERSONAS = ("someone who has never read this document and uses their own words",
                 "a newcomer asking in a few words")
Progress = Callable[[int, str], Any]


# ---------------------------------------------------------------- the report

@dataclass
class TuneReport:
    """The chosen profile and why: held-out query counts, per-leg scores, and the start profile's and the plain
    hybrid's scores on the same held-out queries, for the synthetic and (when there are any) the real evidence."""
    profile: FusionProfile
    source: str                              # "synthetic" | "real": which evidence decided
    correction: str                          # how the synthetic choice was corrected (see CORRECTIONS)
    synthetic: dict[str, Any] = field(default_factory=dict)
    real: dict[str, Any] | None = None
    min_real: int = DEFAULT_MIN_REAL
    seed: int = 0
    index: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    check: Verdict | None = None             # the chosen profile against the current one, held out
    installed: bool = False                  # set by whoever saves it (AugmentIndex.tune)

    def to_dict(self) -> dict[str, Any]:
        return {"profile": asdict(self.profile), "source": self.source, "correction": self.correction,
                "synthetic": self.synthetic, "real": self.real, "min_real": self.min_real, "seed": self.seed,
                "index": self.index, "created_at": self.created_at,
                "check": self.check.to_dict() if self.check else None, "installed": self.installed}

    def lines(self) -> list[str]:
        """A short human-readable summary (what `rag-augment tune` prints)."""
        p = self.profile
        weights = ", ".join(f"{k} {v:g}" for k, v in sorted(p.weights.items()) if v > 0 and
                            (k != "dense" or p.dense_pair != "separate"))
        out = [f"chosen profile (decided by {self.source} queries): method {p.method}"
               + (f" k={p.rrf_k}" if p.method == "rrf" else f" ({p.normalize})")
               + f", dense pair {p.dense_pair}; weights: {weights}"]
        for name, ev in (("synthetic", self.synthetic), ("real", self.real)):
            if not ev:
                continue
            if ev.get("skipped"):
                out.append(f"{name}: {ev['skipped']}")
                continue
            s = ev["scores"]
            sets = f" x {len(ev['probe_sets'])} ({', '.join(ev['probe_sets'])})" if ev.get("probe_sets") else ""
            out.append(f"{name} held-out evidence: {ev['queries']} queries{sets}; {METRIC} chosen {s['chosen']:.3f}, "
                       f"start {s['start']:.3f}, plain hybrid {s['hybrid']:.3f}, tuned before correction "
                       f"{s['tuned']:.3f}" + (f", cross-validated tuned {s['cv_tuned']:.3f}" if "cv_tuned" in s
                                              else ""))
            out.append("  single legs: " + ", ".join(f"{leg} {v:.3f}" for leg, v in ev["legs"].items()))
            detail = ev.get("correction") or {}
            if "passed" in detail:
                gains = detail.get("vs_start") or {"probes": detail.get("tuned_vs_start", {})}
                shown = "; ".join(f"{k} {100 * iv['delta']:+.1f} [{100 * iv['lo']:+.1f}, {100 * iv['hi']:+.1f}]"
                                  for k, iv in gains.items())
                out.append(f"  correction {self.correction}: tuned vs start {shown} (points x100) -> "
                           + ("tuned profile adopted" if detail["passed"] else "start profile kept"))
            if "factor" in detail:
                out.append(f"  correction {self.correction}: the tuned profile's synthetic legs weigh "
                           f"x{detail['factor']:g}")
            if ev.get("picked"):
                out.append(f"  picked by cross-validation: {ev['picked']}")
        if self.check is not None:
            out.append(self.check.line("self-check of the chosen profile", self.installed,
                                       "the current profile stays"))
        return out


# ---------------------------------------------------------------- probes: held-out synthetic queries

@dataclass(frozen=True)
class Probe:
    probe_id: str
    text: str
    chunk_id: str
    doc_id: str
    span: tuple[int, int] | None = None   # the sentence it was cut from, in the stored chunk text


_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|https?://\S+|[*_`#>|]+")
_SEGMENT = re.compile(r"[^\n]+?(?:[.!?](?=\s)|$)", re.M)
_WORD = re.compile(r"[^\W_][\w'’-]*")
_MORE_STOP = frozenset({
    "i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself", "we", "our", "ours", "us", "he", "him",
    "his", "she", "her", "it", "its", "they", "them", "their", "what", "which", "who", "whom", "whose", "when",
    "where", "why", "how", "can", "could", "would", "should", "may", "might", "must", "shall", "will", "do", "does",
    "did", "done", "also", "just", "get", "got", "one"})


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN
    return frozenset(STOPWORDS_EN) | _MORE_STOP


def _words(text: str) -> list[str]:
    return _WORD.findall(_MARKUP.sub(lambda m: m.group(1) or " ", text))


def _content(text: str, stop: frozenset[str]) -> set[str]:
    return {w.lower() for w in _words(text) if w.lower() not in stop}


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and list items, headings, table rows) of a chunk's text."""
    return [(m.start(), m.end()) for m in _SEGMENT.finditer(text) if m.group().strip()]


def write_probes(text: str, rng: random.Random, per_chunk: int = 2, stop: frozenset[str] | None = None
                 ) -> list[tuple[str, tuple[int, int]]]:
    """Probes cut from a chunk without a model, with the span of the sentence each came from: alternately a run
    of 3-7 words of one sentence (edges trimmed of stop words) and 3-5 content words of another, in their order.
    Random sentences, not the chunk's salient ones (which generators favour), and no template words. At least
    one sentence with 3 content words is left unused, so that the chunk minus the probes' sentences (see
    probe_tune_set) still says something."""
    stop = stop if stop is not None else _stopwords()
    usable = [(a, b) for a, b in sentences(text) if len(_content(text[a:b], stop)) >= 3]
    rng.shuffle(usable)
    out: list[tuple[str, tuple[int, int]]] = []
    for i, (a, b) in enumerate(usable[:max(0, len(usable) - 1)]):
        if len(out) >= per_chunk:
            break
        words = _words(text[a:b])
        if i % 2 == 0:  # a run of words
            n = rng.randint(3, 7)
            first = rng.randrange(max(1, len(words) - n + 1))
            run = words[first:first + n]
            while run and run[0].lower() in stop:
                run = run[1:]
            while run and run[-1].lower() in stop:
                run = run[:-1]
            probe = " ".join(run)
        else:  # content words only
            content = [w for w in words if w.lower() not in stop]
            keep = sorted(rng.sample(range(len(content)), min(len(content), rng.randint(3, 5))))
            probe = " ".join(content[j] for j in keep)
        probe = probe.lower()
        if len(set(_WORD.findall(probe))) >= 2 and probe not in {o for o, _ in out}:
            out.append((probe, (a, b)))
    return out


def probe_generator(generator: Any, seed: int) -> Any | None:
    """The index's own LLM generator in other personas with another sampling seed (its queries for tuning must
    not share wording with the indexed ones), or None when the generator has no model to ask (rules, none,
    replay: then the probes are cut from the chunks)."""
    from rag_augment.generators.base import LLMQueryGenerator

    if not isinstance(generator, LLMQueryGenerator):
        return None
    prompt = replace(generator.prompt, personas=TUNE_PERSONAS, n_paraphrases=0, n_claims=0, n_keywords=0,
                     n_questions=max(2, generator.prompt.n_questions))
    params = replace(generator.params, seed=generator.params.seed + 7919 * (seed + 1))
    return LLMQueryGenerator(generator.backend, prompt, params, generator_name=f"{generator.generator_name}-tune")


def sample_probes(index, generator: Any = None, n_chunks: int = DEFAULT_CHUNKS, seed: int = 0,
                  per_chunk: int = 2) -> tuple[list[Probe], dict[str, Any]]:
    """Probes for a seeded sample of the index's chunks, and how they were written. Never indexed."""
    from rag_augment.trust.real_queries import stored_chunk

    states = index.store.chunk_states()
    picked = sorted(random.Random(seed).sample(sorted(states), min(n_chunks, len(states))))
    writer = probe_generator(generator, seed)
    written: dict[str, list[tuple[str, tuple[int, int] | None]]] = {}
    if writer is not None:
        chunks = [c for c in (stored_chunk(index, cid) for cid in picked) if c is not None]
        for res in writer.generate_batch(chunks):
            if res.error:
                log.warning("tuning probes: chunk %s: generation failed (%s); skipped", res.chunk_id, res.error)
                continue
            qs = list(dict.fromkeys(t for t, _ in res.queries))
            random.Random(f"{seed}:{res.chunk_id}").shuffle(qs)
            written[res.chunk_id] = [(q, None) for q in qs[:per_chunk]]
        how = {"writer": "llm", "identity": writer.identity()}
    else:
        stop = _stopwords()
        texts = index.store.get_chunks(picked)
        for cid in picked:
            written[cid] = list(write_probes(texts.get(cid, {}).get("text") or "",
                                             random.Random(f"{seed}:{cid}"), per_chunk, stop))
        how = {"writer": PROBE_VERSION}
    probes = [Probe(f"probe-{i}", text, cid, states[cid].get("doc_id", cid), span)
              for i, (cid, text, span) in enumerate((c, t, s) for c in picked for t, s in written.get(c, []))]
    return probes, {**how, "chunks_sampled": len(picked), "probes": len(probes), "seed": seed}


# ---------------------------------------------------------------- retrieval of every leg, once

def _corpus(index) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
    """Chunk ids and texts, and (query id, text, parent) of every stored query."""
    cids, ctexts, queries = [], [], []
    for ids, docs, _ in index.store.iter_all("chunks", include=("documents",)):
        cids += ids
        ctexts += [d or "" for d in docs]
    for ids, docs, metas in index.store.iter_all("queries"):
        queries += [(i, d or "", m.get("parent_id", "")) for i, d, m in zip(ids, docs, metas)]
    return cids, ctexts, queries


def lexical_without(corpus, exclude: set[str], chunk_texts: Mapping[str, str] | None = None) -> LexicalIndex:
    """An in-memory lexical index of the corpus without some query vectors' texts, and with some chunks' texts
    replaced (never saved)."""
    cids, ctexts, queries = corpus
    if chunk_texts:
        ctexts = [chunk_texts.get(c, t) for c, t in zip(cids, ctexts)]
    kept = [q for q in queries if q[0] not in exclude]
    with tempfile.TemporaryDirectory() as tmp:  # named, never written: build() stays in memory
        lex = LexicalIndex(Path(tmp) / "lexical")
        lex.build(cids, ctexts, [q[0] for q in kept], [q[1] for q in kept], [q[2] for q in kept])
    return lex


def retrieve_legs(index, texts: Mapping[str, str], depths: Mapping[str, int] = EVAL_DEPTH,
                  exclude: set[str] = frozenset(), lexical: LexicalIndex | None = None,  # type: ignore[assignment]
                  chunk_vectors: Mapping[str, np.ndarray] | None = None, progress: Progress | None = None,
                  batch: int = 64) -> dict[str, QueryLegs]:
    """Every raw leg for each query (LegSearch), with the query vectors in `exclude` left out (`lexical` is then
    an index built without them) and the chunks in `chunk_vectors` scored by those vectors instead of their
    stored ones."""
    if lexical is None:
        index.retriever  # noqa: B018  (loads, or repairs, the live lexical index)
        lexical = index.lexical
    search = LegSearch(index.store, index.embedder, lexical, workers=1)
    override = ChunkVectors.of(chunk_vectors)
    qids = list(texts)
    bar = progress(len(qids), "retrieving legs") if progress else None
    out: dict[str, QueryLegs] = {}
    for start in range(0, len(qids), batch):
        part = qids[start:start + batch]
        for qid, emb in zip(part, index.embedder.embed([texts[q] for q in part])):
            res = search.search(texts[qid], emb, legs=LEG_NAMES, depths=depths, exclude=exclude,
                                chunk_vectors=override)
            out[qid] = QueryLegs(legs=res.legs, child_rank=res.child_rank)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    return out


# ---------------------------------------------------------------- scoring and corrections

def per_query(profile: FusionProfile, ts: TuneSet | Sequence[TuneSet], metric: str = METRIC) -> np.ndarray:
    """The metric of each query of a tune set (sorted query ids; several sets one after the other), as
    rag_augment.eval.tune.evaluate scores it."""
    if not isinstance(ts, TuneSet):
        return np.concatenate([per_query(profile, one, metric) for one in ts])
    rankings = {}
    for qid in ts.qrels:
        ranked, _ = fuse(truncate(ts.legs[qid], profile), profile, 10)
        rankings[qid] = M.to_documents([p for p, _ in ranked], ts.chunk_doc)[0]
    return M.score_run(rankings, ts.qrels, curve_ks=())[metric]


def scale_synthetic(profile: FusionProfile, factor: float) -> FusionProfile:
    """The synthetic legs' weights (and the child weight of a merged dense pair) times `factor`."""
    weights = {k: (v * factor if k in SYNTHETIC_LEGS else v) for k, v in profile.weights.items()}
    child = profile.child_weight * factor if profile.dense_pair != "separate" else profile.child_weight
    return replace(profile, weights=weights, child_weight=child)


def _interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    d, lo, hi = M.paired_bootstrap(a, b, n=2000, seed=seed)
    return {"delta": round(d, 4), "lo": round(lo, 4), "hi": round(hi, 4)}


@dataclass
class Choice:
    profile: FusionProfile
    tuned: FusionProfile          # before correction
    detail: dict[str, Any] = field(default_factory=dict)


def ascend(ts: TuneSet | Sequence[TuneSet], start: FusionProfile, depths: Mapping[str, int],
           name: str) -> FusionProfile:
    """Coordinate ascent on the probes, as `eval --tune` does on a train split: from the start profile and from
    the hybrid without synthetic queries tuned first (so synthetic legs enter only where they gain)."""
    rival = tune_profile(ts, hybrid_profile(), "hybrid-tuned", depths, synthetic=False)
    return tune_profile(ts, start, name, depths, also_from=[rival.profile]).profile


def correct_shrink(ts, start, tuned, depths, seed, factor: float = 0.5) -> Choice:
    """The synthetic legs count half: probes and indexed queries were written from the same chunk."""
    return Choice(scale_synthetic(tuned(), factor), tuned(), {"factor": factor})


TUNE_START = "tune-start"  # the shipped default before the robust one: the variant chosen starts here


def _evidence(ts: TuneSet | Sequence[TuneSet], choice: Choice, start: FusionProfile, seed: int) -> dict[str, Any]:
    chosen, start_q = per_query(choice.profile, ts), per_query(start, ts)
    hybrid_q = per_query(hybrid_profile(), ts)
    legs = {leg: float(per_query(single_leg(leg), ts).mean()) for leg in LEG_NAMES}
    sets = [ts] if isinstance(ts, TuneSet) else list(ts)
    return {"queries": len(sets[0].qrels), "probe_sets": [s.name for s in sets], "metric": METRIC,
            "scores": {"chosen": float(chosen.mean()), "start": float(start_q.mean()),
                       "hybrid": float(hybrid_q.mean()), "tuned": float(per_query(choice.tuned, ts).mean())},
            "legs": {k: round(v, 4) for k, v in legs.items()},
            "chosen_vs_start": _interval(chosen, start_q, seed), "chosen_vs_hybrid": _interval(chosen, hybrid_q, seed),
            "tuned_profile": asdict(choice.tuned), **({"correction": choice.detail} if choice.detail else {})}


def chunk_docs(index) -> dict[str, str]:
    return {cid: meta.get("doc_id", cid) for cid, meta in index.store.chunk_states().items()}


PROBE_MODES = ("plain", "masked")  # "plain" for the study that chose "masked"
DEFAULT_PROBE_MODE = "masked"


def probe_tune_set(index, probes: Sequence[Probe], mode: str = "masked", depths: Mapping[str, int] = EVAL_DEPTH,
                   progress: Progress | None = None, chunk_doc: Mapping[str, str] | None = None,
                   corpus=None) -> TuneSet:
    """The probes' legs, labelled with their chunk's document. Written from the chunk's own words, a probe
    finds its chunk too easily, above all by exact words and through the queries generated from the same
    sentence; so a query vector of its chunk that shares most of its words is left out of every leg in both
    modes, and in "masked" mode (the inverse cloze task of Lee et al. 2019) the probe's sentence is also cut from
    its chunk (text and vector) and so is every query of the chunk made mostly of that sentence's words: the
    chunk must then be found by what else it says, as a user's question in other words must find it."""
    if mode not in PROBE_MODES:
        raise ConfigError(f"tune: probe mode {mode!r} is not one of {PROBE_MODES}")
    stop = _stopwords()
    chunk_ids = sorted({p.chunk_id for p in probes})
    stored = index.store.get_chunks(chunk_ids)
    siblings: dict[str, list] = {}
    for q in index.store.queries_of(chunk_ids):
        siblings.setdefault(q.parent_id, []).append((q.query_id, _content(q.text, stop)))
    exclude: set[str] = set()
    cut: dict[str, list[tuple[int, int]]] = {}
    for p in probes:
        words = _content(p.text, stop)
        sentence = set()
        if mode == "masked" and p.span is not None:
            cut.setdefault(p.chunk_id, []).append(p.span)
            text = stored.get(p.chunk_id, {}).get("text") or ""
            sentence = _content(text[p.span[0]:p.span[1]], stop)
        for qid, qwords in siblings.get(p.chunk_id, ()):
            if not qwords:
                continue
            if len(words & qwords) / len(words | qwords) >= 0.5 or len(sentence & qwords) / len(qwords) >= 0.5:
                exclude.add(qid)
    masked = {}
    for cid, spans in cut.items():
        text = stored.get(cid, {}).get("text") or ""
        for a, b in sorted(spans, reverse=True):
            text = text[:a] + " " + text[b:]
        masked[cid] = text
    vectors = dict(zip(masked, index.embedder.embed(list(masked.values())))) if masked else None
    lexical = lexical_without(corpus or _corpus(index), exclude, masked) if exclude or masked else None
    legs = retrieve_legs(index, {p.probe_id: p.text for p in probes}, depths, exclude, lexical, vectors, progress)
    return TuneSet(f"probes-{mode}", legs, {p.probe_id: {p.doc_id: 1} for p in probes},
                   chunk_doc if chunk_doc is not None else chunk_docs(index))


# ---------------------------------------------------------------- real and feedback queries

@dataclass(frozen=True)
class HumanQuery:
    query_id: str
    text: str
    parent_id: str
    group: str           # queries of one group leave the index together (one complaint and its paraphrases)
    judged: bool         # scored: a user's own wording (a feedback paraphrase is excluded but never scored)


def human_queries(index) -> list[HumanQuery]:
    """Real and feedback query vectors stored in the index. A failed query and the paraphrases written for it
    share its feedback id; only the user's own wording is scored (read from the feedback store when it is
    there; otherwise every member of the group is)."""
    stored = [(qid, text or "", meta) for ids, docs, metas in index.store.iter_all("queries")
              for qid, text, meta in zip(ids, docs, metas) if meta.get("kind") in (REAL, FEEDBACK)]
    originals = _feedback_originals(index) if any(m.get("kind") == FEEDBACK for _, _, m in stored) else {}
    out = []
    for qid, text, meta in stored:
        key = norm_text(text)
        if meta.get("kind") == FEEDBACK and meta.get("feedback_id") is not None:
            fid = int(meta["feedback_id"])
            judged = fid not in originals or originals[fid] == key
            out.append(HumanQuery(qid, text, meta.get("parent_id", ""), f"feedback:{fid}", judged))
        else:
            out.append(HumanQuery(qid, text, meta.get("parent_id", ""), f"text:{key}", True))
    return sorted(out, key=lambda h: h.query_id)


def _feedback_originals(index) -> dict[int, str]:
    from rag_augment.trust.feedback import FeedbackStore

    path = index.files.feedback
    if not path.exists():
        return {}
    try:
        with FeedbackStore(path) as fb:
            return {r.id: " ".join(r.query.lower().split()) for r in fb.list(index.store.name)}
    except Exception as exc:  # an unreadable store: score every member of each group instead
        log.warning("feedback store %s unreadable (%s); every feedback query is scored", path, type(exc).__name__)
        return {}


def fold_tune_sets(index, humans: Sequence[HumanQuery], folds: int, seed: int,
                   depths: Mapping[str, int] = EVAL_DEPTH, chunk_doc: Mapping[str, str] | None = None,
                   progress: Progress | None = None) -> list[TuneSet]:
    """One tune set per fold: the fold's judged queries searched with every query vector of the fold's groups
    left out (dense and lexical), labelled with their chunk's document."""
    chunk_doc = chunk_doc if chunk_doc is not None else chunk_docs(index)
    groups = sorted({h.group for h in humans})
    random.Random(seed).shuffle(groups)
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    corpus = _corpus(index)
    out = []
    for f in range(folds):
        members = [h for h in humans if fold_of[h.group] == f]
        judged = [h for h in members if h.judged and h.parent_id in chunk_doc]
        if not judged:
            continue
        exclude = {h.query_id for h in members}
        lex = lexical_without(corpus, exclude)
        legs = retrieve_legs(index, {h.query_id: h.text for h in judged}, depths, exclude, lex, progress=progress)
        out.append(TuneSet(f"fold-{f}", legs, {h.query_id: {chunk_doc[h.parent_id]: 1} for h in judged}, chunk_doc))
    return out


def _merge(sets: Sequence[TuneSet], name: str) -> TuneSet:
    legs: dict[str, QueryLegs] = {}
    qrels: dict[str, Mapping[str, int]] = {}
    for ts in sets:
        legs.update(ts.legs)
        qrels.update(ts.qrels)
    return TuneSet(name, legs, qrels, sets[0].chunk_doc)


def real_choice(sets: Sequence[TuneSet], start: FusionProfile, synthetic: FusionProfile, depths: Mapping[str, int],
                name: str, seed: int) -> tuple[FusionProfile, dict[str, Any], np.ndarray]:
    """Cross-validated choice on the real queries, its evidence and its out-of-fold per-query scores. The
    synthetic choice stays unless the profile tuned on real queries (scored on each fold by the profile tuned on
    the other folds) or the start profile beats it beyond the bootstrap interval (lower end above 0); of those
    that do, the larger gain wins. The most-best-mean rule ("best_mean" in the evidence) is recorded beside it."""
    everything = _merge(sets, "real")
    cv = []
    for i, held in enumerate(sets):
        train = _merge([s for j, s in enumerate(sets) if j != i], "train")
        prof = tune_profile(train, start, name, depths, also_from=[synthetic, hybrid_profile()]).profile
        cv.append(per_query(prof, held))
    # per_query follows each set's sorted ids: the fixed profiles are lined up the same way
    scored = {"tuned": np.concatenate(cv)}
    scored.update({k: np.concatenate([per_query(p, s) for s in sets])
                   for k, p in (("synthetic", synthetic), ("start", start), ("hybrid", hybrid_profile()))})
    tuned = tune_profile(everything, start, name, depths, also_from=[synthetic, hybrid_profile()]).profile
    profiles = {"tuned": tuned, "synthetic": synthetic, "start": start}
    versus = {k: _interval(scored[k], scored["synthetic"], seed) for k in ("tuned", "start")}
    beyond = [k for k, iv in versus.items() if iv["lo"] > 0]
    pick = max(beyond, key=lambda k: versus[k]["delta"]) if beyond else "synthetic"
    legs = {leg: float(np.concatenate([per_query(single_leg(leg), s) for s in sets]).mean()) for leg in LEG_NAMES}
    ev = {"queries": len(everything.qrels), "folds": len(sets), "metric": METRIC, "picked": pick,
          "best_mean": max(profiles, key=lambda k: (float(scored[k].mean()), k == "synthetic")),
          "scores": {"chosen": float(scored[pick].mean()), "start": float(scored["start"].mean()),
                     "hybrid": float(scored["hybrid"].mean()), "synthetic_choice": float(scored["synthetic"].mean()),
                     "cv_tuned": float(scored["tuned"].mean()), "tuned": float(per_query(tuned, everything).mean())},
          "legs": {k: round(v, 4) for k, v in legs.items()},
          "cv_tuned_vs_synthetic": versus["tuned"], "start_vs_synthetic": versus["start"],
          "chosen_vs_hybrid": _interval(scored[pick], scored["hybrid"], seed), "tuned_profile": asdict(tuned)}
    return replace(profiles[pick], name=name), ev, scored[pick]


# ---------------------------------------------------------------- the entry point

def tune_index(index, generator: Any = None, *, min_real: int = DEFAULT_MIN_REAL, seed: int = 0,
               n_chunks: int = DEFAULT_CHUNKS, per_chunk: int = 2, folds: int = DEFAULT_FOLDS,
               probe_mode: str = DEFAULT_PROBE_MODE,
               start: FusionProfile | None = None, current: FusionProfile | None = None,
               depths: Mapping[str, int] = EVAL_DEPTH, progress: Progress | None = None) -> TuneReport:
    """Choose this index's fusion profile without labels (see the module docstring). `generator`: the index's
    own generator; an LLM one writes the probes in other personas, otherwise they are cut from the chunks.
    `min_real`: judged real/feedback queries needed before they decide. `start`: the profile tuning starts from
    (default: the shipped `tune-start`, the start the study chose on train splits). With no probe to tune on, the
    shipped default (robust across corpora) stays. The choice is then checked against `current` (default: the
    profile the index's queries use now) on evidence it was not chosen on: probes from the other half of the
    sampled chunks, or the real queries out of fold (report.check). Nothing is written; see AugmentIndex.tune."""
    if probe_mode not in (*PROBE_MODES, "both"):
        raise ConfigError(f"tune: probe mode {probe_mode!r} is not one of {(*PROBE_MODES, 'both')}")
    if min_real < 1 or folds < 2:
        raise ConfigError("tune: min_real must be >= 1 and folds >= 2")
    start = start or load_profile(TUNE_START)
    name = f"index-{index.store.name}"
    counts = index.store.counts()
    if counts["chunks"] == 0:
        raise ConfigError(f"tune: index {index.home} (collection {index.store.name!r}) holds no chunk; index first")
    chunk_doc = chunk_docs(index)
    current = current or index.profile
    probes, how = sample_probes(index, generator, n_chunks, seed, per_chunk)
    probes, held_out = split_by_chunk(probes, lambda p: p.chunk_id, seed)  # chosen on one half, checked on the other
    how = {**how, "probes": len(probes), "held_out_probes": len(held_out)}
    corpus = _corpus(index) if probes or held_out else None
    if probes:
        modes = PROBE_MODES if probe_mode == "both" else (probe_mode,)
        ts = [probe_tune_set(index, probes, m, depths, progress, chunk_doc, corpus) for m in modes]
        tuned = functools.cache(lambda: ascend(ts, start, depths, name))
        choice = correct_shrink(ts, start, tuned, depths, seed)
        synthetic = {**how, "mode": probe_mode, **_evidence(ts, choice, start, seed)}
        chosen, source = replace(choice.profile, name=name), "synthetic"
    else:
        synthetic = {**how, "skipped": "no chunk gave a probe query; the shipped default stays"}
        chosen, source = replace(load_profile(None), name=name), "synthetic"
    humans = human_queries(index)
    judged = sum(h.judged for h in humans)
    real: dict[str, Any] | None = None
    check = None
    if judged >= min_real:
        sets = fold_tune_sets(index, humans, min(folds, judged), seed, depths, chunk_doc, progress)
        chosen, real, out_of_fold = real_choice(sets, start, chosen, depths, name, seed)
        source = "real"
        now = np.concatenate([per_query(current, s) for s in sets])
        check = verdict(out_of_fold, now, "real/feedback queries (out of fold)", seed)
    elif humans:
        real = {"queries": judged, "skipped": f"{judged} real/feedback queries, fewer than min_real={min_real}: "
                                              "the synthetic evidence decides"}
    ev = synthetic if source == "synthetic" else real
    notes = (f"tuned for this index without labels ({source} evidence: {ev.get('queries', 0)} held-out queries, "
             f"{METRIC} {ev['scores']['chosen']:.3f} vs start {ev['scores']['start']:.3f}, plain hybrid "
             f"{ev['scores']['hybrid']:.3f})" if ev and "scores" in ev else "the start profile (no evidence)")
    # the guard on users' queries is a query-time setting tuning does not search: the current one stays
    chosen = replace(chosen, name=name, notes=notes, real_floor=current.real_floor, step_aside=current.step_aside,
                     floor_from_log=current.floor_from_log)
    if check is None and held_out:
        held = probe_tune_set(index, held_out, DEFAULT_PROBE_MODE, depths, progress, chunk_doc, corpus)
        check = verdict(per_query(chosen, held), per_query(current, held),
                        "held-out probes (chunks the choice was not made on)", seed)
    return TuneReport(chosen, source, "shrink", synthetic, real, min_real, seed,
                      {"home": str(index.home), "collection": index.store.name, **counts},
                      datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      check or verdict(np.zeros(0), np.zeros(0), "no held-out query"))
