"""The trained reranker's self-check: does reranking help on queries it never saw? Probes are cut from a seeded
sample of the index's chunks (never indexed, never trained on); each is searched with the index's current ranking
and again with the reranker, and the reranker keeps its weight only when it wins beyond the interval. Otherwise its
weight is set to 0 (queries rank as before, and `query --rerank` says why)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag_augment.rerank import model_home
from rag_augment.rerank.stage import load_reranker
from rag_augment.tuning.self_check import Verdict, document_ndcg, verdict

if TYPE_CHECKING:
    from rag_augment.augment_index import AugmentIndex

PROBE_CHUNKS = 100
EVIDENCE = "held-out probes (cut from chunks; never indexed or trained on)"


def check_reranker(index: AugmentIndex, kind: str = "reranker", n_chunks: int = PROBE_CHUNKS,
                   seed: int = 0) -> Verdict:
    from rag_augment.tuning.label_free import chunk_docs, sample_probes

    probes, _ = sample_probes(index, None, n_chunks, seed)
    stage = load_reranker(index, kind=kind)
    chunk_doc, retriever = chunk_docs(index), index.retriever

    now: list[list[str]] = []
    new: list[list[str]] = []
    for p in probes:  # the legs once per probe; fused and explained with and without the reranker
        legs = retriever.legs_for(p.text)
        for out, reranker in ((now, None), (new, stage)):
            hits = retriever.hits_from(legs, retriever.profile, 10, with_text=False, reranker=reranker, query=p.text)
            out.append([chunk_doc.get(h.chunk_id, h.chunk_id) for h in hits])
    targets = [p.doc_id for p in probes]
    return verdict(document_ndcg(new, targets), document_ndcg(now, targets), EVIDENCE, seed)


def gate_reranker(index: AugmentIndex, force: bool = False, kind: str = "reranker",
                  n_chunks: int = PROBE_CHUNKS, seed: int = 0) -> dict[str, Any]:
    """Run the self-check and record it with the model; switch the reranker off (weight 0) unless it passed or
    `force`. Returns the stored provenance."""
    folder = model_home.model_dir(index, kind)
    meta = model_home.read_meta(folder) or {}
    rerank = dict(meta.get("rerank") or {})
    if "trained_weight" in rerank:  # switched off by an earlier check: judged at the weight it was trained for
        rerank["weight"] = rerank.pop("trained_weight")
        rerank.pop("off_reason", None)
        model_home.write_meta(folder, {**meta, "rerank": rerank})
    v = check_reranker(index, kind, n_chunks, seed)
    installed = force or v.passed
    if not installed:
        rerank["trained_weight"], rerank["weight"] = rerank.get("weight", 1.0), 0.0
        rerank["off_reason"] = "the reranker is off: " + v.line(
            "its self-check", False, "queries rank as before", "`rag-augment train --force` installs it anyway")
    meta["rerank"] = rerank
    meta["self_check"] = {**v.to_dict(), "installed": installed, "forced": bool(force and not v.passed)}
    model_home.write_meta(folder, meta)
    return meta
