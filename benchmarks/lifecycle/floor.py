"""How the shipped default's real_floor (the guard on users' queries, rag_augment.search.legs) was chosen: on the
TRAIN split of each lifecycle set (never its stream), every pair of train questions, by whether the two share a
relevant document; the share of each kind of pair whose MiniLM cosine reaches each candidate floor.

    python -m benchmarks.lifecycle.floor      # about a minute on 2 cores (embeds 334 questions)

0.4 is the lowest candidate that lets under 1% of pairs about different documents through on both sets.
"""
from __future__ import annotations

import numpy as np

from benchmarks.lifecycle.sets import load_set
from rag_augment.embedding import SentenceTransformerEmbedder

FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7)


def main() -> None:
    emb = SentenceTransformerEmbedder()
    for name in ("xquad", "scifact"):
        ls = load_set(name, 0)
        qs = list(ls.train)
        vecs = emb.embed([ls.text(q) for q in qs])
        sims, rel = vecs @ vecs.T, [ls.relevant(q) for q in qs]
        same, other = [], []
        for i in range(len(qs)):
            for j in range(i + 1, len(qs)):
                (same if rel[i] & rel[j] else other).append(sims[i, j])
        s, o = np.array(same), np.array(other)
        print(f"{name}: {len(qs)} train questions, {len(s)} pairs about the same document, {len(o)} about others")
        for f in FLOORS:
            print(f"  floor {f}: same document {np.mean(s >= f):.2f} pass, other documents {np.mean(o >= f):.4f} "
                  f"({int(np.sum(o >= f))} pairs)")


if __name__ == "__main__":
    main()
