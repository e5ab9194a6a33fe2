"""Lay out a labelled set with several questions per passage for the lifecycle benchmark: `squad_train_2k`, a
seeded sample of whole SQuAD v1.1 TRAIN articles (about 2,000 paragraphs) with every question written on them, in
BEIR layout under benchmarks/runs/datasets/squad_train_2k/ (gitignored).

SQuAD's train split is disjoint by article from its dev split, which XQuAD (../shared/datasets/xquad_en) was cut
from, and nothing in it tuned the shipped default (SciFact did). The 30 MB train-v1.1.json itself cannot be had
here (stored snapshots lack files of 4 MiB and more), so the set is read from the official SQuAD explorer's pages:
rajpurkar/SQuAD-explorer, branch gh-pages, commit 13f82e35 (2016-08-24), explore/1.1/train/<Article>.html, one
page per train article with every paragraph and its questions and answers (442 pages, 18,896 paragraphs, 87,599
questions: the published train v1.1 counts, which the script checks). The pages were removed from the branch four
days later, so the commit is read from history:

    git clone https://github.com/rajpurkar/SQuAD-explorer /tmp/SQuAD-explorer      # all branches' history
    python -m benchmarks.data_prep.get_lifecycle_sets --from /tmp/SQuAD-explorer

--from takes a clone's folder or a bare git directory (the search tool's snapshot). Deterministic: the article
titles, sorted, are shuffled by random.Random(--seed) and taken in that order until --paragraphs paragraphs are
reached (the last article whole). Licence: SQuAD is CC BY-SA 4.0 (the explorer's code is MIT); not committed here.
"""
from __future__ import annotations

import argparse
import html
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchmarks.paths import RUNS, shown

REPO = "https://github.com/rajpurkar/SQuAD-explorer"
COMMIT = "13f82e35b9a1fb9173f863b35f5675030646571e"   # gh-pages, 2016-08-24: the last with explore/1.1/train
FOLDER = "explore/1.1/train/"
TRAIN_V11 = (442, 18896, 87599)                      # articles, paragraphs, questions of SQuAD v1.1 train
NAME = "squad_train_2k"
HEADER = "query-id\tcorpus-id\tscore\n"


@dataclass
class Article:
    key: str                                     # the title as SQuAD spells it (underscores)
    paragraphs: list[tuple[str, list[str]]]      # (text, questions written on it)


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def parse_page(page: str) -> Article:
    """One explorer page: <h1 id="title">, then per paragraph a <pre> and its <strong class="question">s. Every
    answer (<span class="answer">) must lie in its paragraph: a check that the text was read whole."""
    key = html.unescape(re.search(r'<h1 id="title">(.*?)</h1>', page, re.S).group(1))
    paragraphs = []
    for part in page.split('<div class="para-wrap">')[1:]:
        text = html.unescape(re.search(r"<pre>(.*?)</pre>", part, re.S).group(1))
        questions = []
        for qa in part.split('<div class="qa-wrap">')[1:]:
            questions.append(html.unescape(re.search(r'<strong class="question">(.*?)</strong>', qa, re.S).group(1)))
            answers = [html.unescape(a) for a in re.findall(r'<span class="answer">(.*?)</span>', qa, re.S)]
            if not answers or not any(a in text for a in answers):
                raise SystemExit(f"{key}: an answer is not in its paragraph: the page was not read as expected")
        paragraphs.append((text, questions))
    return Article(key, paragraphs)


def read_articles(repo: Path, commit: str = COMMIT) -> list[Article]:
    names = [n for n in _git(repo, "ls-tree", "-z", "--name-only", commit, FOLDER).decode().split("\0")
             if n.endswith(".html") and n != FOLDER + "index.html"]
    articles = [parse_page(_git(repo, "show", f"{commit}:{n}").decode("utf-8")) for n in names]
    counts = (len(articles), sum(len(a.paragraphs) for a in articles),
              sum(len(q) for a in articles for _, q in a.paragraphs))
    if counts != TRAIN_V11:
        raise SystemExit(f"{repo} @ {commit[:8]}: {counts} articles/paragraphs/questions, not SQuAD v1.1 train's "
                         f"{TRAIN_V11}")
    return articles


def sample(articles: list[Article], paragraphs: int, seed: int) -> list[Article]:
    order = sorted(articles, key=lambda a: a.key)
    random.Random(seed).shuffle(order)
    chosen, n = [], 0
    for a in order:
        if n >= paragraphs:
            break
        chosen.append(a)
        n += len(a.paragraphs)
    return sorted(chosen, key=lambda a: a.key)


def build(articles: list[Article]) -> tuple[list[dict], list[dict], list[tuple[str, str]], dict]:
    """Documents `<Title>__p<i>` (title with spaces, as XQuAD's layout), questions `<Title>__p<i>__q<j>` (the pages
    carry no SQuAD ids). A paragraph text met twice keeps its first id and takes the other's questions; a question
    text written on two different paragraphs is ambiguous and dropped (every copy); one repeated on the same
    paragraph is kept once."""
    corpus, first_id, by_text = [], {}, defaultdict(list)
    merged = 0
    for a in articles:
        for i, (text, questions) in enumerate(a.paragraphs):
            doc = f"{a.key}__p{i}"
            if text in first_id:
                merged += 1
            else:
                first_id[text] = doc
                corpus.append({"_id": doc, "title": a.key.replace("_", " "), "text": text})
            for j, q in enumerate(questions):
                by_text[" ".join(q.split()).lower()].append((f"{doc}__q{j}", q, first_id[text]))
    queries, qrels, ambiguous, repeated = [], [], 0, 0
    for rows in by_text.values():
        if len({d for _, _, d in rows}) > 1:
            ambiguous += len(rows)
            continue
        repeated += len(rows) - 1
        qid, q, doc = rows[0]
        queries.append({"_id": qid, "text": q.strip()})
        qrels.append((qid, doc))
    queries.sort(key=lambda r: r["_id"])
    qrels.sort()
    return corpus, queries, qrels, {"merged_paragraphs": merged, "ambiguous_questions": ambiguous,
                                    "repeated_questions": repeated}


def lay_out(repo: Path, dest: Path, paragraphs: int = 2000, seed: int = 0, commit: str = COMMIT) -> dict:
    articles = read_articles(repo, commit)
    chosen = sample(articles, paragraphs, seed)
    corpus, queries, qrels, dropped = build(chosen)
    (dest / "qrels").mkdir(parents=True, exist_ok=True)
    with open(dest / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus)
    with open(dest / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    (dest / "qrels" / "test.tsv").write_text(HEADER + "".join(f"{q}\t{d}\t1\n" for q, d in qrels), encoding="utf-8")
    counts = {"articles": len(chosen), "paragraphs": len(corpus), "questions": len(queries),
              "paragraphs_with_questions": len({d for _, d in qrels}), **dropped}
    (dest / "README.txt").write_text(
        f"{dest.name}: SQuAD v1.1 TRAIN (Rajpurkar et al. 2016), question -> paragraph retrieval, several "
        f"questions per paragraph.\nSource: {REPO}, commit {commit} (gh-pages, 2016-08-24), {FOLDER}<Article>.html "
        f"(442 pages = 18,896 paragraphs, 87,599 questions, checked).\nSubset: article titles sorted, shuffled with "
        f"random.Random({seed}), taken until {paragraphs} paragraphs (last article whole): {counts['articles']} "
        f"articles, {counts['paragraphs']} paragraphs, {counts['questions']} questions "
        f"({dropped['ambiguous_questions']} dropped: the same text on two paragraphs; "
        f"{dropped['repeated_questions']} repeats on one paragraph kept once; {dropped['merged_paragraphs']} "
        "repeated paragraphs merged).\nIds: documents <Title>__p<i>, questions <Title>__p<i>__q<j> (the pages carry "
        "no SQuAD ids). Disjoint by article from SQuAD dev, hence from XQuAD.\nLicence: CC BY-SA 4.0 (SQuAD). Not "
        "committed to rag_augment: laid out by python -m benchmarks.data_prep.get_lifecycle_sets.\n",
        encoding="utf-8")
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.data_prep.get_lifecycle_sets",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="source", type=Path, required=True,
                    help=f"a clone (or bare git directory) of {REPO} holding commit {COMMIT[:8]}")
    ap.add_argument("--dest", type=Path, default=RUNS / "datasets" / NAME)
    ap.add_argument("--paragraphs", type=int, default=2000, help="paragraphs to reach with whole articles")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    counts = lay_out(args.source, args.dest, args.paragraphs, args.seed)
    print(shown(args.dest), ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
