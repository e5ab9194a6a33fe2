"""Does training the embedder on its users' clicks make the lifecycle curve steep (issue 32, item 3)?

The lifecycle benchmark logs a click as one more query vector of the clicked chunk, and on SQuAD-style sets that
barely helps the next question: two questions about one paragraph ask about different facts (the vote-precision
table below says how rarely a logged question's nearest logged neighbour is about the same document). Training the
embedder instead learns the corpus's question-to-passage mapping, which could carry to new questions. This study
measures that, offline, from the committed lifecycle runs:

- training pairs: the stream's first U queries (the bar's mark: 500, or 80% of a smaller stream, as
  benchmarks/lifecycle/render.py reads it) that the committed run logged as clicks, and the reports whose right
  document a support person named (`fix`), each paired with its document's text. Thumbs-down reports are left out
  (their target is the simulated judge's pick). Nothing from the scored queries or the rival's train split.
- training: all-MiniLM-L6-v2, in-batch negatives (multiple-negatives ranking loss, scale 20, no two pairs of one
  document in a batch), batch 32, 3 epochs, AdamW lr 2e-5, seed 0; a plain torch loop (sentence-transformers'
  trainer needs the `datasets` package, which the project does not install).
- scored: the bar's block (the next 100 queries, the lifecycle table's row) and, for a tighter interval, every
  later stream query up to 1,000 after the mark. Systems: the rival (dense + BM25 with the weights the committed
  run tuned on the train split), the same rival with the trained embedder, and dense alone with each embedder.
  The study's own rival is checked against the committed run's "hybrid tuned" column on the bar's block.

    python -m benchmarks.studies.click_finetune.study run xquad      # ~2-6 min a set on 2 cores
    python -m benchmarks.studies.click_finetune.study table          # RESULT.md from the committed files
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.lifecycle import files
from benchmarks.lifecycle.files import read_json_gz, write_json_gz
from benchmarks.paths import command_line, shown

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LIFECYCLE = files.RESULTS
SETS = ("xquad", "scifact", "squad_train")
LATER = 1000          # stream queries scored after the mark, at most
BATCH, EPOCHS, LR, SCALE = 32, 3, 2e-5, 20.0


def _lifecycle(name: str) -> tuple[dict, list[dict], list[dict]]:
    got = files.read_run(LIFECYCLE / name)
    return got["run"], got["use"], got["scored"]


def training_pairs(ls: Any, use: list[dict], mark: int) -> list[tuple[str, str]]:
    """(query text, document id) for the clicks the run logged and the named reports, among the first `mark`."""
    pairs = []
    for row in use:
        if row["pos"] > mark:
            continue
        if (row["action"] == "click" and row.get("logged")) or row["action"] == "fix":
            for doc in sorted(ls.relevant(row["qid"])):
                pairs.append((ls.text(row["qid"]), doc))
    return pairs


def train(pairs: list[tuple[str, str]], doc_text: dict[str, str], seed: int = 0, log=print):
    """A fresh MiniLM trained on the pairs (see the module's text); returns the model."""
    import torch

    from rag_augment.embedding import DEFAULT_MODEL, load_sentence_transformer

    torch.manual_seed(seed)
    model = load_sentence_transformer(DEFAULT_MODEL)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    rng = random.Random(seed)
    model.train()
    for epoch in range(EPOCHS):
        order = pairs[:]
        rng.shuffle(order)
        batches, current, docs = [], [], set()
        for q, d in order:  # no two pairs of one document in a batch: the other would be a false negative
            if d in docs or len(current) == BATCH:
                batches.append(current)
                current, docs = [], set()
            current.append((q, d))
            docs.add(d)
        batches.append(current)
        total = 0.0
        prepare = getattr(model, "preprocess", None) or model.tokenize
        for batch in (b for b in batches if len(b) > 1):
            qs = prepare([q for q, _ in batch])
            ds = prepare([doc_text[d] for _, d in batch])
            qv = torch.nn.functional.normalize(model(qs)["sentence_embedding"], dim=-1)
            dv = torch.nn.functional.normalize(model(ds)["sentence_embedding"], dim=-1)
            loss = torch.nn.functional.cross_entropy(SCALE * qv @ dv.T, torch.arange(len(batch)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        log(f"  epoch {epoch + 1}: {len(batches)} batches, mean loss {total / max(1, len(batches)):.3f}")
    model.eval()
    return model


def _embed(model, texts: list[str]) -> np.ndarray:
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                                   show_progress_bar=False), dtype=np.float32)


def rankings(qtexts: list[str], chunk_ids: list[str], chunk_vecs: np.ndarray, q_vecs: np.ndarray, bm25: Any,
             tokenize: Any, profile: Any, chunk_doc: dict[str, str], depth: int = 50
             ) -> tuple[list[list[str]], list[list[str]]]:
    """Per query: documents by the rival profile (chunk_dense + chunk_lexical fused as the product fuses them, at
    the lifecycle's depth of 30 chunks, collapsed to documents) and by dense alone."""
    from benchmarks.lifecycle.loop import SCORE_K
    from rag_augment import metrics as M
    from rag_augment.fusion import fuse

    hybrid, dense = [], []
    for text, qv in zip(qtexts, q_vecs):
        cos = chunk_vecs @ qv
        top = np.argsort(-cos, kind="stable")[:depth]
        legs = {"chunk_dense": [(chunk_ids[i], float(cos[i])) for i in top],
                "chunk_lexical": bm25.search(tokenize(text), depth)}
        ranked, _ = fuse(legs, profile, SCORE_K)
        hybrid.append(M.dedupe([chunk_doc[p] for p, _ in ranked])[0])
        dense.append(M.dedupe([chunk_doc[chunk_ids[i]] for i in top[:SCORE_K]])[0])
    return hybrid, dense


def run_set(name: str, log=print) -> dict[str, Any]:
    from benchmarks.lifecycle.render import bar_block
    from benchmarks.lifecycle.sets import load_set
    from rag_augment import metrics as M
    from rag_augment.chunking import chunk_documents
    from rag_augment.embedding import DEFAULT_MODEL, load_sentence_transformer
    from rag_augment.eval.harness import machine_info
    from rag_augment.fusion import FusionProfile
    from rag_augment.lexical import Bm25
    from rag_augment.text import Tokenizer

    t0 = time.perf_counter()
    run, use, scored = _lifecycle(name)
    ls = load_set(name, run["config"]["seed"])
    mark = bar_block(run, sorted({r["used"] for r in scored}))
    block = ls.stream[mark:mark + run["config"]["block"]]
    later = ls.stream[mark:mark + LATER]
    chunks = chunk_documents(ls.dataset.documents, ls.chunking)
    chunk_ids, chunk_doc = [c.chunk_id for c in chunks], {c.chunk_id: c.doc_id for c in chunks}
    chunk_text = [c.text for c in chunks]
    doc_text = {d.doc_id: d.text for d in ls.dataset.documents}
    pairs = training_pairs(ls, use, mark)
    log(f"{name}: {len(pairs)} training pairs from the first {mark} queries; scoring {len(later)} later queries")
    tokenize = Tokenizer()
    bm25 = Bm25.build(chunk_ids, [tokenize(t) for t in chunk_text])
    rival = FusionProfile.from_dict(run["rival"]["profile"])
    texts = [ls.text(q) for q in later]
    per_query: dict[str, dict[str, list[float]]] = {}
    train_seconds = 0.0
    for label, model in (("", load_sentence_transformer(DEFAULT_MODEL)), ("trained", None)):
        if label == "trained":
            t1 = time.perf_counter()
            model = train(pairs, doc_text, log=log)
            train_seconds = time.perf_counter() - t1
        hybrid, dense = rankings(texts, chunk_ids, _embed(model, chunk_text), _embed(model, texts), bm25, tokenize,
                                 rival, chunk_doc)
        for system, ranked in ((f"hybrid tuned{', trained embedder' if label else ''}", hybrid),
                               (f"dense{', trained embedder' if label else ''}", dense)):
            got = [M.score_query(r, ls.qrels[q]) for r, q in zip(ranked, later)]
            per_query[system] = {"nDCG@10": [round(g["nDCG@10"], 6) for g in got],
                                 "R@10": [round(g["R@10"], 6) for g in got]}
    committed = {r["qid"]: r["ndcg"]["hybrid_tuned"] for r in scored if r["used"] == mark}
    same = sum(abs(committed[q] - v) < 1e-6 for q, v in zip(block, per_query["hybrid tuned"]["nDCG@10"]))
    log(f"{name}: rival reproduces the committed run on {same} of {len(block)} block queries; "
        f"{time.perf_counter() - t0:.0f}s")
    m = machine_info()
    return {"set": name, "mark": mark, "block": len(block), "query_ids": later, "pairs": len(pairs),
            "pair_documents": len({d for _, d in pairs}), "scores": per_query, "rival_reproduced": same,
            "train_seconds": round(train_seconds, 1), "seconds": round(time.perf_counter() - t0, 1),
            "machine": f"{m['cpu']} ({m['nproc']} cores)", "command": command_line(
                "benchmarks.studies.click_finetune.study", ["run", name]),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "config": {"batch": BATCH, "epochs": EPOCHS, "lr": LR, "scale": SCALE, "later": LATER}}


def vote_precision(name: str, floors=(0.4, 0.5, 0.6)) -> dict[str, Any]:
    """On the set's TRAIN split (as a query log): for each question, the other questions at or above each floor,
    and the share of those votes (and of the nearest one) that are about one of its documents."""
    from benchmarks.lifecycle.sets import load_set
    from rag_augment.embedding import SentenceTransformerEmbedder

    ls = load_set(name, 0)
    qs = list(ls.train)
    vecs = SentenceTransformerEmbedder().embed([ls.text(q) for q in qs])
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -1.0)
    rel = [ls.relevant(q) for q in qs]
    same = np.array([[bool(a & b) for b in rel] for a in rel])
    np.fill_diagonal(same, False)
    out = {"questions": len(qs), "floors": {}}
    for f in floors:
        votes = sims >= f
        has = votes.any(1)
        nearest = same[np.arange(len(qs)), sims.argmax(1)]
        out["floors"][str(f)] = {"with_a_vote": round(float(has.mean()), 4),
                                 "votes_right": round(float((votes & same).sum() / max(1, votes.sum())), 4),
                                 "nearest_right": round(float(nearest[has].mean()) if has.any() else 0.0, 4)}
    return out


def table() -> str:
    from rag_augment import metrics as M

    def cell(a, b):
        mean, lo, hi = M.paired_bootstrap(np.array(a), np.array(b), n=5000, seed=0)
        w, lo_, _ = M.wins_losses(np.array(a), np.array(b))
        return f"{100 * mean:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] ({w}/{lo_})"

    lines = ["# Training the embedder on users' clicks (issue 32)", "",
             "<!-- generated by python -m benchmarks.studies.click_finetune.study table -->", "",
             "How it was run: study.py's text. nDCG@10 differences in points (x100), paired bootstrap 95% intervals "
             "(5,000 resamples, seed 0), (wins/losses). \"block\": the lifecycle table's next 100 after the mark; "
             "\"later\": every stream query after the mark, up to 1,000.", "",
             "| set | mark | pairs (documents) | rival reproduced | hybrid tuned, block | trained - rival, block | "
             "trained - rival, later | dense: trained - plain, later | training | machine, date |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in SETS:
        path = RESULTS / f"{name}.json.gz"
        if not path.exists():
            lines.append(f"| {name} | not run | | | | | | | | |")
            continue
        r = read_json_gz(path)
        s, b = r["scores"], r["block"]
        nd = {k: v["nDCG@10"] for k, v in s.items()}
        lines.append(f"| {name} | {r['mark']} | {r['pairs']} ({r['pair_documents']}) | {r['rival_reproduced']} of "
                     f"{b} | {np.mean(nd['hybrid tuned'][:b]):.3f} | "
                     f"{cell(nd['hybrid tuned, trained embedder'][:b], nd['hybrid tuned'][:b])} | "
                     f"{cell(nd['hybrid tuned, trained embedder'], nd['hybrid tuned'])}, {len(r['query_ids'])} "
                     f"queries | {cell(nd['dense, trained embedder'], nd['dense'])} | {r['train_seconds']:.0f} s | "
                     f"{r['machine']}, {r['date'][:10]} |")
    vp = RESULTS / "vote_precision.json.gz"
    if vp.exists():
        v = read_json_gz(vp)
        lines += ["", "Why a logged click helps the next question so little: on each set's train split, read as a "
                  "query log, the other questions whose MiniLM cosine reaches the guard's floor (the shipped 0.4, "
                  "and higher), and the share of those votes, and of the nearest one, about the same document "
                  f"(`python -m benchmarks.studies.click_finetune.study votes`, {v['date'][:10]}):", "",
                  "| set | questions | floor | questions with a vote | votes about the same document | "
                  "nearest vote about the same document |", "|---|---:|---:|---:|---:|---:|"]
        for name, rec in v["sets"].items():
            for f, row in rec["floors"].items():
                lines.append(f"| {name} | {rec['questions']} | {f} | {row['with_a_vote']:.0%} | "
                             f"{row['votes_right']:.0%} | {row['nearest_right']:.0%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="python -m benchmarks.studies.click_finetune.study",
                                description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run").add_argument("set", choices=SETS)
    sub.add_parser("votes")
    sub.add_parser("table")
    args = p.parse_args(argv)
    if args.cmd == "run":
        write_json_gz(RESULTS / f"{args.set}.json.gz", run_set(args.set))
    elif args.cmd == "votes":
        write_json_gz(RESULTS / "vote_precision.json.gz",
               {"sets": {n: vote_precision(n) for n in SETS},
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    (HERE / "RESULT.md").write_text(table(), encoding="utf-8")
    print(f"wrote {shown(HERE / 'RESULT.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
