"""Do the synthetic queries teach the embedder the corpus? Domain adaptation on (query, parent chunk) pairs, scored
on SciFact-subset TRAIN claims only (328 claims; the run's index from `python -m benchmarks.run_benchmarks
scifact1k-qwen15b`).

The other classic use of synthetic queries (GPL, Wang et al. 2022; LlamaIndex's embedding-adapter recipe): train
the query side of the embedder so that each synthetic query lands on its own chunk, with every other chunk of the
corpus as a negative (softmax over all 1,000 chunk vectors, temperature 0.05). Chunk and synthetic-query vectors
stay as stored, so nothing is re-embedded; only the user's query goes through the adapted side. Two variants:

- a linear map W (384 x 384, from the identity) on the query vector, optionally pulled toward the identity;
- the whole MiniLM query tower fine-tuned (AdamW, batch 64), the chunk side frozen.

No label is used in training (only the model's queries); the train claims only score the result. Prints train
nDCG@10 of the chunk-vector leg, the query-vector leg, and the fusion tuned over all legs (from every shipped
profile and the tuned hybrid), against the hybrid without synthetic queries tuned on the same claims.

    python -m benchmarks.studies.query_adapter.study [--tower-epochs 1] [--run benchmarks/runs/scifact1k-qwen15b]

Closed: see RESULT.md beside this file (output.md is what it printed).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.paths import RUNS, SCIFACT, load_named_profile, profile_names
from rag_augment.augment_index import AugmentIndex
from rag_augment.eval.datasets import load_dataset
from rag_augment.eval.harness import TRAIN_LEGS_FILE
from rag_augment.eval.systems import EVAL_DEPTH, QueryLegs, hybrid_profile, single_leg
from rag_augment.eval.tune import TuneSet, evaluate, load_tune_set, tune_profile
from rag_augment.profiles import load_profile

TAU, SEED = 0.05, 0


class Corpus:
    """The run's stored chunk and synthetic-query vectors, and the train claims' saved legs."""

    def __init__(self, run: Path, dataset: Path) -> None:
        self.ts = load_tune_set(run / TRAIN_LEGS_FILE)
        ds = load_dataset(dataset)
        index = AugmentIndex(run / "index", collection="eval", cache_path=run / "study-unused-cache.jsonl")
        store = index.store
        self.chunk_ids = [i for ids, _, _ in store.iter_all("chunks", include=()) for i in ids]
        self.query_ids, self.query_texts, self.parents = [], [], []
        for ids, docs, metas in store.iter_all("queries", include=("documents", "metadatas")):
            self.query_ids += ids
            self.query_texts += docs
            self.parents += [m["parent_id"] for m in metas]
        vec = store.embeddings("chunks", self.chunk_ids)
        self.C = np.stack([vec[i] for i in self.chunk_ids])
        vec = store.embeddings("queries", self.query_ids)
        self.S = np.stack([vec[i] for i in self.query_ids])
        pos = {c: i for i, c in enumerate(self.chunk_ids)}
        self.target = np.array([pos[p] for p in self.parents])
        self.qids = sorted(self.ts.qrels)
        self.claims = [ds.queries[q] for q in self.qids]
        self.embedder = index.embedder

    def legs(self, Q: np.ndarray) -> TuneSet:
        """The saved legs with both dense legs recomputed from query vectors Q (exact search, cosine)."""
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        chunk_sim, query_sim = Q @ self.C.T, Q @ self.S.T
        out = {}
        for i, q in enumerate(self.qids):
            top = np.argsort(-chunk_sim[i], kind="stable")[:EVAL_DEPTH["chunk_dense"]]
            chunk_leg = [(self.chunk_ids[j], float(chunk_sim[i, j])) for j in top]
            best: dict[str, float] = {}
            for j in np.argsort(-query_sim[i], kind="stable")[:EVAL_DEPTH["query_dense"]]:
                best.setdefault(self.parents[j], float(query_sim[i, j]))
            saved = self.ts.legs[q]
            out[q] = QueryLegs(legs={**saved.legs, "chunk_dense": chunk_leg, "query_dense": list(best.items())},
                               child_rank=saved.child_rank)
        return TuneSet(self.ts.name, out, self.ts.qrels, self.ts.chunk_doc)


def train_linear(c: Corpus, epochs: int, pull: float, lr: float = 1e-3, batch: int = 256) -> np.ndarray:
    import torch
    torch.manual_seed(SEED)
    eye = torch.eye(c.C.shape[1])
    W = torch.nn.Parameter(eye.clone())
    C, S, y = torch.tensor(c.C), torch.tensor(c.S), torch.tensor(c.target)
    opt = torch.optim.Adam([W], lr=lr)
    for _ in range(epochs):
        for idx in torch.randperm(len(S)).split(batch):
            q = torch.nn.functional.normalize(S[idx] @ W.T, dim=1)
            loss = torch.nn.functional.cross_entropy(q @ C.T / TAU, y[idx]) + pull * ((W - eye) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return W.detach().numpy()


def train_tower(c: Corpus, epochs: int, lr: float = 3e-5, batch: int = 64):
    """Yields the claims' vectors from the fine-tuned query tower after each epoch."""
    import torch
    from sentence_transformers import SentenceTransformer

    from rag_augment.embedding import packaged_minilm_path
    torch.manual_seed(SEED)
    model = SentenceTransformer(packaged_minilm_path(), device="cpu")
    C, y = torch.tensor(c.C), torch.tensor(c.target)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for idx in torch.randperm(len(c.query_texts)).split(batch):
            out = model(model.preprocess([c.query_texts[i] for i in idx]))["sentence_embedding"]
            q = torch.nn.functional.normalize(out, dim=1)
            loss = torch.nn.functional.cross_entropy(q @ C.T / TAU, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"  (one epoch over {len(c.query_texts)} synthetic queries: {time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
        model.eval()
        yield model.encode(c.claims, batch_size=64, convert_to_numpy=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.studies.query_adapter.study",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--tower-epochs", type=int, default=1)
    ap.add_argument("--run", type=Path, default=RUNS / "scifact1k-qwen15b",
                    help="the scifact1k-qwen15b run folder (default: benchmarks/runs/scifact1k-qwen15b)")
    ap.add_argument("--dataset", type=Path, default=SCIFACT,
                    help="the SciFact BEIR folder (default: ../shared/datasets/scifact beside the repository)")
    args = ap.parse_args(argv)
    if not (args.run / TRAIN_LEGS_FILE).exists():
        raise SystemExit(f"{args.run}: no saved train legs; run `python -m benchmarks.run_benchmarks "
                         "scifact1k-qwen15b` first")
    c = Corpus(args.run, args.dataset)
    base = c.embedder.embed(c.claims)
    hybrid = tune_profile([c.ts], hybrid_profile(), "hybrid", EVAL_DEPTH, synthetic=False)
    starts = [load_profile("default"), *(load_named_profile(n) for n in profile_names() if n != "default"),
              hybrid.profile]
    print(f"{len(c.qids)} SciFact train claims; {len(c.chunk_ids)} chunks, {len(c.query_ids)} synthetic queries; "
          f"hybrid without synthetic queries tuned on these claims: train nDCG@10 {hybrid.score:.4f}\n")
    print("| query side | chunk vectors alone | query vectors alone | tuned fusion, all legs |\n|---|---:|---:|---:|")

    def row(name: str, Q: np.ndarray) -> None:
        ts = c.legs(Q)
        alone = [evaluate(single_leg(leg, EVAL_DEPTH[leg]), ts.legs, ts.qrels, ts.chunk_doc)["nDCG@10"]
                 for leg in ("chunk_dense", "query_dense")]
        tuned = tune_profile([ts], starts[0], "x", EVAL_DEPTH, also_from=starts[1:])
        print(f"| {name} | {alone[0]:.4f} | {alone[1]:.4f} | {tuned.score:.4f} |", flush=True)

    row("MiniLM as shipped", base)
    for epochs, pull in ((3, 0.0), (3, 0.1), (10, 0.0)):
        W = train_linear(c, epochs, pull)
        row(f"linear map, {epochs} epochs, pull to identity {pull}", base @ W.T)
    for epoch, Q in enumerate(train_tower(c, args.tower_epochs), start=1):
        row(f"query tower fine-tuned, epoch {epoch}", Q)
    return 0


if __name__ == "__main__":
    sys.exit(main())
