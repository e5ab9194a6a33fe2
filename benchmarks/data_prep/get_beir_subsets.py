"""Lay out the two extra labelled sets (DBpedia-Entity and MS MARCO / TREC DL, 5,000-document BEIR subsets) where
benchmarks/run_benchmarks.py reads them: benchmarks/runs/datasets/<name>/ (gitignored). They are not committed:
they come from a third party's public repository (source and licence in benchmarks/data_prep/README.md and in the
README.txt written beside each), so each clone gets them from a clone of that repository:

    git clone https://github.com/agentset-ai/embedding-leaderboard /tmp/embedding-leaderboard
    python -m benchmarks.data_prep.get_beir_subsets --from /tmp/embedding-leaderboard

The files are copied as they are, except that MS MARCO's qrels get the BEIR header line they lack.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from benchmarks.paths import RUNS, shown

SOURCE = "https://github.com/agentset-ai/embedding-leaderboard (datasets/<name>, commit 7f86b0fd, 2026-03-05)"
SETS = {
    "dbpedia_5k": ("dbpedia", "DBpedia-Entity v2 (BEIR `dbpedia-entity`): entity search over DBpedia abstracts; "
                   "graded qrels (0 judged non-relevant, 1 relevant, 2 highly relevant)",
                   "CC BY-SA 3.0 (DBpedia abstracts; BEIR lists dbpedia-entity under CC BY-SA 3.0)"),
    "msmarco_5k": ("msmarco", "MS MARCO passages with TREC Deep Learning judgments (graded 1-3): web search "
                   "questions; the 5,000 passages are mostly judged ones, so most are relevant to some query",
                   "MS MARCO terms: non-commercial research use only; not redistributed here"),
}
HEADER = "query-id\tcorpus-id\tscore\n"


def lay_out(source_repo: Path, dest: Path = RUNS / "datasets") -> list[Path]:
    out = []
    for name, (folder, what, licence) in SETS.items():
        src, target = source_repo / "datasets" / folder, dest / name
        (target / "qrels").mkdir(parents=True, exist_ok=True)
        for rel in ("corpus.jsonl", "queries.jsonl"):
            shutil.copyfile(src / rel, target / rel)
        qrels = (src / "qrels" / "test.tsv").read_text()
        (target / "qrels" / "test.tsv").write_text(qrels if qrels.startswith("query-id") else HEADER + qrels)
        (target / "README.txt").write_text(
            f"{name}: {what}.\nSource: {SOURCE.replace('<name>', folder)}, a 50-query, 5,000-document subset in "
            f"BEIR layout.\nLicence: {licence}.\nNot committed to rag_augment (third-party data): laid out by "
            "python -m benchmarks.data_prep.get_beir_subsets.\n")
        out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.data_prep.get_beir_subsets",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--from", dest="source", type=Path, required=True,
                    help="a clone of github.com/agentset-ai/embedding-leaderboard")
    ap.add_argument("--dest", type=Path, default=RUNS / "datasets")
    args = ap.parse_args(argv)
    for path in lay_out(args.source, args.dest):
        print(shown(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
