"""The benchmark runs behind benchmarks/RESULTS.md, and the regeneration of its "## Retrieval quality" section.

    python -m benchmarks.run_benchmarks sample_kb-rules scifact1k-random-rules   # run them one by one, then
                                                                                 # rewrite RESULTS.md
    python -m benchmarks.run_benchmarks --results-only                           # rewrite it from the committed
                                                                                 # per-query files alone

Each run writes benchmarks/results/per_query/<run>.json.gz: every query's score under every system, its latency,
and the run's settings, nothing derived. Every table, figure and plot of the section (and the README's block
between `<!-- results:start -->` and `<!-- results:end -->`) is computed from those files; the prose comes from
benchmarks/results/notes.md, whose figures are placeholders filled from the same files.
tests/results/test_results_tables.py renders the section again from the committed files and compares.

Data sets are read from --shared (default: ../shared beside the repository; see its README); run folders go to
benchmarks/runs/ (gitignored). Paths are resolved from the repository root, whatever the working folder, and
recorded relative to it. Each run needs only its cache file: the rules generator is deterministic and fast, the
model runs replay committed caches (--generator replay).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks.paths import CACHE, REPO_ROOT, RESULTS, RUNS, SHARED, SUBSETS, shown
from benchmarks.paths import PROFILES as PROFILE_DIR
from rag_augment.eval import command
from rag_augment.eval.report import (
    plot,
    read_per_query,
    result_from_per_query,
    run_page,
    write_per_query,
    write_run,
)

RESULTS_MD = REPO_ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Retrieval quality"


def run_table(shared: str, runs: str) -> dict[str, list[str]]:
    """name -> `rag-augment eval` arguments, with paths relative to the repository root (the working folder while
    the runs are made). Model runs replay a committed cache; see benchmarks/cache/PROVENANCE.md."""
    scifact, xquad = f"{shared}/datasets/scifact", f"{shared}/datasets/xquad_en"
    subset = shown(SUBSETS / "scifact_test_1000.json")
    random_subset = shown(SUBSETS / "scifact_test_random_1000.json")  # data_prep/build_random_subset.py
    random_cache = shown(CACHE / "scifact_random1000_qwen15b.jsonl")  # made by build_random_subset.py --generate
    tuned_sf, tuned_kb = shown(PROFILE_DIR / "scifact.json"), shown(PROFILE_DIR / "sample_kb.json")
    kb_cache, scifact_cache = shown(CACHE / "sample_kb_qwen15b_hr_policy.jsonl"), shown(
        CACHE / "scifact_test1000_qwen15b.jsonl")
    return {
        "sample_kb-rules": ["--dataset", "sample_kb", "--split", "test", "--generator", "rules", "--tune",
                            "--train-split", "train", "--profile-name", "sample_kb"],
        "xquad-rules": ["--dataset", xquad, "--split", "test", "--generator", "rules", "--chunk-size", "2048",
                        "--profile", tuned_sf, "--profile", tuned_kb],  # no train split: the tuned profiles, moved
        "scifact-rules": ["--dataset", scifact, "--split", "test", "--generator", "rules", "--chunk-size", "2048",
                          "--tune", "--train-split", "train", "--profile-name", "scifact"],
        # Local-model runs replay committed caches (benchmarks/cache/PROVENANCE.md). Their tuned profiles stay in
        # the run folder: the shipped default is tuned on both train sets jointly by benchmarks/tune_default.py.
        "sample_kb-qwen05b": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                              "--cache", shown(CACHE / "sample_kb_qwen05b_hr_policy.jsonl"), "--tune",
                              "--train-split", "train", "--profile-name", "sample_kb-qwen05b",
                              "--profile-dir", f"{runs}/sample_kb-qwen05b", "--profile", tuned_kb],
        "sample_kb-qwen15b": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                              "--cache", kb_cache, "--tune", "--train-split", "train",
                              "--profile-name", "sample_kb-qwen15b", "--profile-dir", f"{runs}/sample_kb-qwen15b",
                              "--profile", tuned_kb],
        "scifact1k-qwen15b": ["--dataset", scifact, "--split", "test", "--pool", subset,
                              "--generator", "replay", "--cache", scifact_cache,
                              "--chunk-size", "2048", "--tune", "--train-split", "train",
                              "--profile-name", "scifact1k-qwen15b", "--profile-dir", f"{runs}/scifact1k-qwen15b",
                              "--profile", tuned_sf],
        # The same subset and prompt with the packaged 0.5B model (the default generator since 2026-11-30, about
        # 2.3x the 1.5B's throughput): what the faster generator costs in retrieval.
        "scifact1k-qwen05b": ["--dataset", scifact, "--split", "test", "--pool", subset,
                              "--generator", "replay", "--cache", shown(CACHE / "scifact_test1000_qwen05b.jsonl"),
                              "--chunk-size", "2048", "--tune", "--train-split", "train",
                              "--profile-name", "scifact1k-qwen05b", "--profile-dir", f"{runs}/scifact1k-qwen05b"],
        # The same subset and queries with Doc2Query-- filtering: the 30% of each batch's queries least similar to
        # their own chunk are dropped before indexing.
        "scifact1k-qwen15b-d2qminus": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                       "--generator", "replay", "--cache", scifact_cache, "--chunk-size", "2048",
                                       "--relevance-drop", "0.3", "--tune", "--train-split", "train",
                                       "--profile-name", "scifact1k-qwen15b-d2qminus",
                                       "--profile-dir", f"{runs}/scifact1k-qwen15b-d2qminus"],
        # Real data blended in: after tuning, the train queries become real queries of their relevant documents
        # (what a team with a query log would add). Separate folders: the human kinds must not reach the runs above.
        "scifact1k-qwen15b-real": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                   "--generator", "replay", "--cache", scifact_cache,
                                   "--chunk-size", "2048", "--tune", "--train-split", "train", "--real-from-train",
                                   "--profile-name", "scifact1k-qwen15b-real",
                                   "--profile-dir", f"{runs}/scifact1k-qwen15b-real"],
        "sample_kb-qwen15b-real": ["--dataset", "sample_kb", "--split", "test", "--generator", "replay",
                                   "--cache", kb_cache, "--tune", "--train-split", "train", "--real-from-train",
                                   "--profile-name", "sample_kb-qwen15b-real",
                                   "--profile-dir", f"{runs}/sample_kb-qwen15b-real"],
        # The same with no synthetic query at all: what the synthetic queries add on top of the real ones.
        "scifact1k-none-real": ["--dataset", scifact, "--split", "test", "--pool", subset,
                                "--generator", "none", "--chunk-size", "2048", "--tune", "--train-split", "train",
                                "--real-from-train", "--profile-name", "scifact1k-none-real",
                                "--profile-dir", f"{runs}/scifact1k-none-real"],
        "sample_kb-none-real": ["--dataset", "sample_kb", "--split", "test", "--generator", "none", "--tune",
                                "--train-split", "train", "--real-from-train", "--profile-name", "sample_kb-none-real",
                                "--profile-dir", f"{runs}/sample_kb-none-real"],
        # The 1,000-document subsets with the rules generator: the pooled one (the shared experiment's pool, hard
        # distractors chosen by the dense and BM25 baselines) and one with random distractors only.
        "scifact1k-rules": ["--dataset", scifact, "--split", "test", "--pool", subset, "--generator", "rules",
                            "--chunk-size", "2048", "--tune", "--train-split", "train",
                            "--profile-name", "scifact1k-rules", "--profile-dir", f"{runs}/scifact1k-rules"],
        "scifact1k-random-rules": ["--dataset", scifact, "--split", "test", "--pool", random_subset,
                                   "--generator", "rules", "--chunk-size", "2048", "--tune", "--train-split", "train",
                                   "--profile-name", "scifact1k-random-rules",
                                   "--profile-dir", f"{runs}/scifact1k-random-rules"],
        "scifact1k-random-qwen05b": ["--dataset", scifact, "--split", "test", "--pool", random_subset,
                                     "--generator", "replay",
                                     "--cache", shown(CACHE / "scifact_random1000_qwen05b.jsonl"),
                                     "--chunk-size", "2048", "--tune", "--train-split", "train",
                                     "--profile-name", "scifact1k-random-qwen05b",
                                     "--profile-dir", f"{runs}/scifact1k-random-qwen05b"],
        "scifact1k-random-qwen15b": ["--dataset", scifact, "--split", "test", "--pool", random_subset,
                                     "--generator", "replay", "--cache", random_cache, "--chunk-size", "2048",
                                     "--tune", "--train-split", "train", "--profile-name", "scifact1k-random-qwen15b",
                                     "--profile-dir", f"{runs}/scifact1k-random-qwen15b"],
        # Two more domains, with no train split (benchmarks/data_prep/README.md: source, licence, how to get them):
        # entity search over DBpedia abstracts, and web questions over MS MARCO passages (TREC DL judgments).
        "dbpedia5k-rules": ["--dataset", f"{runs}/datasets/dbpedia_5k", "--split", "test", "--generator", "rules",
                            "--profile", tuned_sf, "--profile", tuned_kb],
        "msmarco5k-rules": ["--dataset", f"{runs}/datasets/msmarco_5k", "--split", "test", "--generator", "rules",
                            "--profile", tuned_sf, "--profile", tuned_kb],
        # sample_kb's labelled queries over the whole handbook it was cut from: 246 pages, 226 of them unlabelled
        # distractors (some may answer a query too: that can only lower every system's score).
        # The same with the default generator's queries for every page (`rag-augment index` on the whole handbook
        # with the hr_policy prompt profile; benchmarks/cache/PROVENANCE.md).
        "handbook-qwen05b": ["--dataset", "sample_kb", "--docs", f"{shared}/kb/handbook_18f/pages",
                             "--split", "test", "--generator", "replay", "--cache",
                             shown(CACHE / "handbook_qwen05b_hr_policy.jsonl"), "--tune", "--train-split", "train",
                             "--profile-name", "handbook-qwen05b", "--profile-dir", f"{runs}/handbook-qwen05b",
                             "--profile", tuned_kb],
        "handbook-rules": ["--dataset", "sample_kb", "--docs", f"{shared}/kb/handbook_18f/pages",
                           "--split", "test", "--generator", "rules", "--tune", "--train-split", "train",
                           "--profile-name", "handbook", "--profile", tuned_kb],
    }


RUN_NAMES = list(run_table("", ""))
ORDER = ["pool-qwen15b", "scifact-rules", "scifact1k-random-rules", "scifact1k-rules", "scifact1k-random-qwen05b",
         "scifact1k-random-qwen15b", "scifact1k-qwen05b", "scifact1k-qwen15b", "scifact1k-qwen15b-d2qminus",
         "scifact1k-qwen15b-real", "scifact1k-none-real", "sample_kb-rules", "sample_kb-qwen05b", "sample_kb-qwen15b",
         "sample_kb-qwen15b-real", "sample_kb-none-real", "handbook-qwen05b", "handbook-rules", "xquad-rules",
         "dbpedia5k-rules", "msmarco5k-rules"]
LEGACY_RESULTS = "5d90dc7"  # the last commit whose RESULTS.md figures were typed from run folders
PER_QUERY_DIR = RESULTS / "per_query"  # one <run>.json.gz per run: every figure of the section comes from these


def log_progress(total: int, desc: str):
    """Progress that also shows in a log file (the CLI's bars hide when stderr is not a terminal)."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=20, ascii=True)


def _parse(name: str, shared: str, runs: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rag-augment")
    command.add_parser(parser.add_subparsers(dest="command"))
    argv = ["eval", *run_table(shared, runs)[name], "--name", name, "--out", f"{runs}/{name}"]
    args = parser.parse_args(argv)
    args.argv = argv[1:]
    return args


def run_pool(shared: str, runs: str) -> None:
    """Cross-check against shared/experiments/scifact_pool_qwen15b: its 100 test queries and 663 documents, its
    generations (imported into benchmarks/cache/scifact_pool_qwen15b.jsonl), no filters, every leg retrieved in
    full, the README's systems."""
    from benchmarks.pool_ablation import ablation_systems
    from rag_augment.chunking import ChunkingConfig
    from rag_augment.eval.datasets import load_dataset, restrict
    from rag_augment.eval.harness import EvalSpec, run_eval
    from rag_augment.eval.replay import ReplayGenerator
    from rag_augment.filters import FilterConfig

    pool_json = f"{shared}/experiments/scifact_pool_qwen15b/pool.json"
    pool_cache = shown(CACHE / "scifact_pool_qwen15b.jsonl")
    pool = json.loads(Path(pool_json).read_text())
    ds = restrict(load_dataset(f"{shared}/datasets/scifact"), pool["docs"], pool["queries"], {"pool": pool_json})
    no_filters = FilterConfig(min_words=0, max_words=10_000, not_a_query=False, dedupe_threshold=0, pii=False,
                              injection=False, off_topic=False)
    # every leg in full (663 documents, 4,328 query vectors), as the experiment scored them in numpy
    depths = {"chunk_dense": 1000, "chunk_lexical": 1000, "doc2query_lexical": 1000, "query_dense": 5000,
              "query_lexical": 5000}
    spec = EvalSpec(name="pool-qwen15b", split="test", chunking=ChunkingConfig(2048, 32), filters=no_filters,
                    depths=depths, command="python -m benchmarks.run_benchmarks pool")
    out = Path(runs) / "pool-qwen15b"
    systems = ablation_systems()
    pairs = [(s.key, "dense") for s in systems if s.key != "dense"]
    pairs += [("rag_augment", "rrf_dense_bm25"), ("rag_augment", "rrf_3"), ("max_pc", "qa_prepend"),
              ("max_pc", "synthetic")]
    result = run_eval(ds, ReplayGenerator(pool_cache), out, spec, cache_path=pool_cache, systems=systems,
                      pairs=pairs, progress=log_progress)
    write_run(result, out)
    return result


def load_results(per_query_dir: Path = PER_QUERY_DIR) -> list[dict]:
    """Every committed run, recomputed from its per-query file alone (means, percentiles, bootstrap lifts), in
    ORDER and then any other file by name."""
    files = {p.name[:-len(".json.gz")]: p for p in Path(per_query_dir).glob("*.json.gz")}
    names = [n for n in ORDER if n in files] + sorted(set(files) - set(ORDER))
    return [result_from_per_query(read_per_query(files[n])) for n in names]


RUNS_PAGES = "runs"  # benchmarks/results/runs/<run>.md: each run's detail page, beside runs/README.md


def render_section(results: list[dict], shared: str = "", runs: str = "", png_dir: str = "results",
                   notes: dict[str, str] | None = None) -> str:
    """The whole "## Retrieval quality" section, from the runs' records alone (a pure function of them: the test
    in tests/results/test_results_tables.py renders it again from the committed files and compares): the headline tables
    and one line per run linking its detail page (render_run_pages)."""
    notes = read_notes() if notes is None else notes
    table = run_table(shared or shown(SHARED), runs or shown(RUNS))
    by_name = {r["run"]["name"]: r for r in results}
    names = list(by_name)
    body = (goal_table(results) + "\n" + cross_run_table(results) + "\n" + rules_section(results)
            + runs_index(results, f"{png_dir}/{RUNS_PAGES}"))
    missing = [n for n in ORDER if n not in names]
    if missing:
        body += ("\n### TODO: runs not yet made\n\n"
                 f"Their figures from before the per-query files (hand-copied, not re-derivable; the blend runs' still "
                 f"counted near-duplicate train queries) are in git: `git show {LEGACY_RESULTS}:benchmarks/RESULTS.md`."
                 " Each run below is one command (`python -m benchmarks.run_benchmarks <name>` runs it the same way):"
                 "\n\n") + "\n".join(
            f"- `{n}`: `{_command_of(n, table, runs or shown(RUNS))}` (needs {_needs(n, table)})"
            for n in missing) + "\n"
    intro = render_note(notes.get("intro", ""), by_name).strip()
    return (f"{SECTION}\n\n<!-- generated by benchmarks/run_benchmarks.py from benchmarks/results/per_query/ and "
            f"benchmarks/results/notes.md: edit those -->\n\n{intro}\n\n{body}").rstrip("\n") + "\n\n"


def runs_index(results: list[dict], pages: str) -> str:
    """"### Every run": one line per run, linking its detail page: the data, the generator, the size."""
    lines = ["### Every run", "",
             f"Each run's page holds its command, date, machine and load, every system's metrics and latency, the "
             f"lifts with their intervals, its plots and the reading written after looking at its figures; "
             f"[{pages}/README.md]({pages}/README.md) says how latency was timed.", ""]
    for r in results:
        run, gen = r["run"], r["run"]["generator"]
        label = _generator_label(gen) + (" + train queries as real" if r["index"].get("real_from_train") else "")
        lines.append(f"- [{run['name']}]({pages}/{run['name']}.md): {run['dataset'].rsplit('/', 1)[-1]} "
                     f"`{run['split']}`, {run['documents']:,} documents, {run['queries']:,} queries; {label}")
    return "\n".join(lines) + "\n"


def render_run_pages(results: list[dict], notes: dict[str, str] | None = None) -> dict[str, str]:
    """benchmarks/results/runs/: file name -> text of each run's detail page (its tables, plots and reading, all
    from its per-query file) and of the folder's README.md (how the runs were made and timed, notes `runs-readme`)."""
    notes = read_notes() if notes is None else notes
    by_name = {r["run"]["name"]: r for r in results}
    head = ("<!-- generated by benchmarks/run_benchmarks.py from benchmarks/results/per_query/{} and "
            "benchmarks/results/notes.md: edit those, then `python -m benchmarks.run_benchmarks --results-only` "
            "-->\n\n")
    again = ("To make this run again: `python -m benchmarks.run_benchmarks {}` (the `command` below is the one "
             "recorded when it was made; paths it names may have moved since).\n\n")
    pages = {}
    for name, r in by_name.items():
        title, body = run_page(r, "..", render_note(notes.get(name, ""), by_name)).split("\n\n", 1)
        pages[f"{name}.md"] = head.format(f"{name}.json.gz") + title + "\n\n" + again.format(name) + body
    readme = render_note(notes.get("runs-readme", ""), by_name).strip()
    pages["README.md"] = (head.format("") + "# The retrieval-quality runs\n\n" + readme + "\n\n"
                          + "\n".join(f"- [{n}]({n}.md)" for n in by_name) + "\n")
    return pages


def render_readme_block(results: list[dict], notes: dict[str, str] | None = None) -> str:
    """The README's results block (between README_START and README_END), from the same records."""
    notes = read_notes() if notes is None else notes
    by_name = {r["run"]["name"]: r for r in results}
    text = render_note(notes.get("readme", ""), by_name).strip()
    return f"{README_START}\n<!-- generated by benchmarks/run_benchmarks.py: edit benchmarks/results/notes.md -->\n" \
           f"{text}\n{README_END}"


def write_results(shared: str, runs: str, results_md: Path, per_query_dir: Path = PER_QUERY_DIR,
                  readme: Path | None = None) -> list[str]:
    """Rewrite the Retrieval quality section of `results_md`, its plots and run pages in results/ beside it, the
    rendered blocks of RESULTS.md, README.md and the detail pages in results/, and the README's results block, from
    the committed files; returns the run names written. No per-query file: everything is left as it is."""
    results = load_results(per_query_dir)
    if not results:
        print(f"no per-query file under {shown(per_query_dir)}: {shown(results_md)} left as it is", file=sys.stderr)
        return []
    png_dir = results_md.parent / "results"
    png_dir.mkdir(parents=True, exist_ok=True)
    for r in results:
        plot(r, png_dir)
    pages = png_dir / RUNS_PAGES
    pages.mkdir(exist_ok=True)
    for name, text in render_run_pages(results).items():
        (pages / name).write_text(text)
    _replace_section(render_section(results, shared, runs, png_dir=png_dir.name), results_md)
    results_md.write_text(render_blocks(results_md.read_text(), results))
    for detail in detail_pages(png_dir):
        detail.write_text(render_blocks(detail.read_text(), results))
    readme = README_MD if readme is None else readme
    if readme.exists():
        text = render_blocks(readme.read_text(), results)
        readme.write_text(text)
        if README_START in text and README_END in text:
            readme.write_text(_replace_block(text, render_readme_block(results)))
        else:
            print(f"{shown(readme)} has no {README_START} ... {README_END} markers: its results block is not "
                  "written", file=sys.stderr)
    return [r["run"]["name"] for r in results]


def detail_pages(folder: Path = RESULTS) -> list[Path]:
    """The detail pages in benchmarks/results/ that hold rendered blocks (RESULTS.md links each)."""
    return sorted(p for p in folder.glob("*.md") if p.name != NOTES_MD.name and "<!-- rendered:" in p.read_text())


def _replace_block(text: str, block: str) -> str:
    i, j = text.index(README_START), text.index(README_END) + len(README_END)
    return text[:i] + block + text[j:]


_RENDERED = re.compile(r"<!-- rendered:([a-z0-9_-]+):start -->\n.*?<!-- rendered:\1:end -->", re.S)


def rendered_block(name: str, results: list[dict], notes: dict[str, str] | None = None) -> str:
    """One `<!-- rendered:NAME:start -->` ... `<!-- rendered:NAME:end -->` block of README.md or RESULTS.md: the
    section `## NAME` of benchmarks/results/notes.md with its placeholders filled from the committed files."""
    notes = read_notes() if notes is None else notes
    if name not in notes:
        raise KeyError(f"a rendered:{name} block has no `## {name}` section in {shown(NOTES_MD)}")
    text = render_note(notes[name], {r["run"]["name"]: r for r in results}).strip()
    return (f"<!-- rendered:{name}:start -->\n<!-- generated by benchmarks/run_benchmarks.py from the committed "
            f"result files: edit benchmarks/results/notes.md, section {name} -->\n{text}\n<!-- rendered:{name}:end -->")


def render_blocks(text: str, results: list[dict], notes: dict[str, str] | None = None) -> str:
    """`text` with every rendered block in it written again from the committed files."""
    notes = read_notes() if notes is None else notes
    return _RENDERED.sub(lambda m: rendered_block(m.group(1), results, notes), text)


# ---------------------------------------------------------------- notes: prose with figures filled in

NOTES_MD = RESULTS / "notes.md"
README_MD = REPO_ROOT / "README.md"
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
_IF_MADE = re.compile(r"\[\[if ([^\[\]]+)\]\](.*?)\[\[endif\]\]", re.S)  # kept only when those runs exist
_PLACEHOLDER = re.compile(r"\[\[([a-z0-9]+) ([^\[\]]+)\]\]")


def read_notes(path: Path = NOTES_MD) -> dict[str, str]:
    """benchmarks/results/notes.md: "## <run name>" (or "## intro", "## readme") headings, each followed by the
    prose written after reading that run's figures. Figures are never typed there: placeholders fill them in."""
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    key = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            key = line[3:].strip()
            out[key] = ""
        elif key is not None:
            out[key] += line + "\n"
    return {k: v.strip("\n") + "\n" for k, v in out.items()}


def render_note(text: str, by_name: dict[str, dict]) -> str:
    """Fill the placeholders of a note from the runs' records:
    [[m RUN SYSTEM METRIC]] mean (0.788); [[d RUN SYSTEM REF METRIC]] lift in points with its paired-bootstrap 95%
    interval (+5.6 [+2.8, +8.4]); [[dv ...]] the lift alone (+5.6); [[wl RUN SYSTEM REF]] nDCG@10 wins/losses;
    [[p50 RUN SYSTEM]] latency ms; [[x RUN dotted.path [DECIMALS]]] a recorded value (index.chunks; a float to 3
    decimals unless told);
    [[dx RUN_A SYS_A RUN_B
    SYS_B METRIC]] the lift across two runs over the same queries; [[n RUN]] the run's eval queries;
    [[t RUN dotted.path]] a recorded number of seconds as a duration (49 min); [[cover RUN_A RUN_B]] the default's
    lift split by whether a test query's document holds a real query;
    [[if RUN ...]]text[[endif]] keeps the text only when every run named was made.
    Tables and figures over several runs or other committed files: [[table RUN ...]] the headline;
    [[rules RUN ...]] each model run against the rules run of its set; [[rulessum SYSTEM RUN ...]] the range of
    those differences for one system; [[cmp SYSTEM REF RUN ...]] SYSTEM against
    REF averaged over runs, with how many it loses and wins; [[gentable FILE REF,...]] a bench_generation table with
    queries per minute; [[genhead FILE]] the lines above that table; [[gv FILE ROW COLUMN]] one cell (ROW from 0;
    COLUMN may be queries/min); [[gr FILE ROW_A ROW_B COLUMN]] the ratio of two rows' cells (1.08x);
    [[rr WHAT]] a figure of the reranker study (see reranker_summary; `table` and `verdict` its two blocks);
    [[searchtable FILE]] a bench_search output (results/bench_search/FILE.json) as a table,
    [[searchbars FILE dense|lexical]] that run against issue 2's and issue 8's bars,
    [[sv FILE dotted.path [DECIMALS]]] one of its values;
    [[lc SET dotted.path]] / [[lcpct SET dotted.path]] a lifecycle run's recorded setting (as a percentage),
    [[lcbar SET]] the lines of its table.md under "The issue's bar"; [[lcvs VARIANT BASE]] a variant run's
    learning index against a base run's (benchmarks.lifecycle.render.compare_line); [[check WHAT ...]] the
    self-checks of tune and train against labelled test splits (see _fill_check)."""
    text = _IF_MADE.sub(lambda m: m.group(2) if all(n in by_name for n in m.group(1).split()) else "", text)
    return _PLACEHOLDER.sub(lambda m: _fill(m.group(1), m.group(2).split(), by_name), text)


def _fill(kind: str, args: list[str], by_name: dict[str, dict]) -> str:
    import numpy as np

    from rag_augment import metrics as M

    if kind == "table":
        return headline_table([by_name[n] for n in args if n in by_name], by_name)
    if kind == "rules":
        return rules_table([by_name[n] for n in args if n in by_name], by_name)
    if kind == "rulessum":
        return rules_summary(args[0], [by_name[n] for n in args[1:] if n in by_name], by_name)
    if kind == "cmp":
        return compare_runs(args[0], args[1], [by_name[n] for n in args[2:] if n in by_name])
    if kind in ("gentable", "genhead", "gv", "gr"):
        return _fill_generation(kind, args)
    if kind == "rr":
        return reranker_summary(args[0])
    if kind in ("searchtable", "searchbars", "sv"):
        return _fill_search(kind, args)
    if kind in ("lc", "lcpct", "lcbar", "lcvs"):
        return _fill_lifecycle(kind, args)
    if kind == "check":
        return _fill_check(args)
    if kind == "cover":
        a, b = by_name.get(args[0]), by_name.get(args[1])
        return _split_by_cover(a, b) if a and b else f"(run {args[0] if a is None else args[1]} not made)"
    run = by_name.get(args[0])
    if run is None:
        return f"(run {args[0]} not made)"
    boot = run["run"]["bootstrap"]

    def arr(r: dict, system: str, metric: str):
        return np.asarray(r["per_query"][system][metric], dtype=float)

    def lift(a, b) -> tuple[float, float, float]:
        return M.paired_bootstrap(a, b, n=boot["resamples"], seed=boot["seed"])

    if kind == "m":
        return f"{arr(run, args[1], args[2]).mean():.3f}"
    if kind in ("d", "dv"):
        d, lo, hi = lift(arr(run, args[1], args[3]), arr(run, args[2], args[3]))
        return f"{100 * d:+.1f}" + ("" if kind == "dv" else f" [{100 * lo:+.1f}, {100 * hi:+.1f}]")
    if kind == "dx":
        other = by_name.get(args[2])
        if other is None:
            return f"(run {args[2]} not made)"
        d, lo, hi = lift(arr(run, args[1], args[4]), arr(other, args[3], args[4]))
        return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    if kind == "wl":
        wins, losses, _ = M.wins_losses(arr(run, args[1], "nDCG@10"), arr(run, args[2], "nDCG@10"))
        return f"{wins}/{losses}"
    if kind == "p50":
        return f"{next(s for s in run['systems'] if s['key'] == args[1])['latency_ms']['p50']:.1f}"
    if kind == "n":
        return f"{run['run']['queries']:,}"
    if kind == "t":
        return duration(float(_recorded(run, args[1])))
    if kind == "x":
        value = _recorded(run, args[1])
        if isinstance(value, float):
            return f"{value:.{int(args[2]) if len(args) > 2 else 3}f}"
        return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    raise ValueError(f"notes: unknown placeholder [[{kind} {' '.join(args)}]]")


def _recorded(run: dict, path: str) -> Any:
    """A value a run's record holds, by dotted path (index.chunks, tuning.queries, a list index as a number)."""
    value: Any = run
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def compare_runs(system: str, reference: str, results: list[dict], metric: str = "nDCG@10") -> str:
    """[[cmp SYSTEM REF RUN ...]]: SYSTEM against REF over several runs: both means averaged over the runs, and on
    how many runs SYSTEM is lower or higher (and with its paired-bootstrap interval wholly below or above zero)."""
    import numpy as np

    results = [r for r in results if system in r["per_query"] and reference in r["per_query"]]
    if not results:
        return f"(no run has both {system} and {reference})"
    means, lifts = [], []
    for r in results:
        x, y = (np.asarray(r["per_query"][s][metric], dtype=float) for s in (system, reference))
        means.append((x.mean(), y.mean()))
        lifts.append(_lift(x, y, r))
    lower = [lift for lift in lifts if lift[0] < 0]
    higher = [lift for lift in lifts if lift[0] > 0]
    a, b = np.mean([m[0] for m in means]), np.mean([m[1] for m in means])
    return (f"{a:.3f} against {b:.3f} ({100 * (a - b):+.1f} points) averaged over {len(results)} runs; lower on "
            f"{len(lower)} ({sum(1 for d in lower if d[2] < 0)} with the interval below zero), higher on "
            f"{len(higher)} ({sum(1 for d in higher if d[1] > 0)} with the interval above zero)")


# ---------------------------------------------------------------- generation throughput, from the raw tables

def read_generation(name: str, folder: Path = RESULTS) -> tuple[list[str], list[dict[str, str]]]:
    """A committed benchmarks/perf/bench_generation output (results/bench_generation*.md): the lines above its
    table, and the table's rows as {column: cell}. A mode that names no model is the run's own model (the
    "Machine:" line's), named in front: "1.5B: naive (1 chunk per call)"."""
    lines = (folder / name).read_text().splitlines()
    table = [i for i, line in enumerate(lines) if line.startswith("|")]
    if not table:
        raise ValueError(f"{name}: no table")
    preamble = [line for line in lines[:table[0]] if line.strip()]
    size = re.search(r"\bmodel \S*?-(\d+(?:\.\d+)?b)-", " ".join(preamble), re.I)
    head = [c.strip() for c in lines[table[0]].strip("|").split("|")]
    rows = [dict(zip(head, (c.strip() for c in lines[i].strip("|").split("|")))) for i in table[2:]]
    for row in rows:
        if size and not re.search(r"\d(?:\.\d)?B\b", row["mode"]):
            row["mode"] = f"{size.group(1).upper()}: {row['mode']}"
    return preamble, rows


def _queries_per_minute(row: dict[str, str]) -> float:
    """Queries the generator wrote per minute: its chunks per minute times the queries it wrote per chunk."""
    return float(row["chunks/min"]) * float(row["queries/chunk"])


def generation_table(name: str, refs: list[int], folder: Path = RESULTS) -> str:
    """[[gentable FILE REF[,REF...]]]: the raw table's modes with queries per minute beside chunks per minute
    (chunks/min x queries/chunk, both as the file records them), each against the reference rows."""
    _, rows = read_generation(name, folder)
    head = ("| mode | seconds | chunks/min | chunks/CPU-min | queries/chunk¹ | queries/min | "
            + " | ".join(f"vs {rows[i]['mode']}: chunks/min, queries/min" for i in refs) + " |")
    out = [head, "|---|---:|---:|---:|---:|---:|" + "---:|" * len(refs)]
    for row in rows:
        ratios = [f"{float(row['chunks/min']) / float(rows[i]['chunks/min']):.2f}x, "
                  f"{_queries_per_minute(row) / _queries_per_minute(rows[i]):.2f}x" for i in refs]
        out.append(f"| {row['mode']} | {row['seconds']} | {row['chunks/min']} | {row.get('chunks/CPU-min', '-')} | "
                   f"{row['queries/chunk']} | {_queries_per_minute(row):.1f} | " + " | ".join(ratios) + " |")
    out += ["", f"¹ Queries the generator returned per chunk, before the index's filters; raw table: "
            f"benchmarks/results/{name}."]
    return "\n".join(out)


def _fill_generation(kind: str, args: list[str]) -> str:
    if kind == "gentable":
        return generation_table(args[0], [int(i) for i in args[1].split(",")])
    preamble, rows = read_generation(args[0])
    if kind == "genhead":
        return "\n\n".join(preamble)

    def value(i: str, column: str) -> float:
        column = column.replace("_", " ")  # "gen_tok": the raw table's "gen tok"
        return _queries_per_minute(rows[int(i)]) if column == "queries/min" else float(rows[int(i)][column])
    if kind == "gv":
        column = args[2].replace("_", " ")
        return rows[int(args[1])][column] if column != "queries/min" else f"{value(args[1], column):.1f}"
    return f"{value(args[1], args[3]) / value(args[2], args[3]):.2f}x"  # gr FILE ROW_A ROW_B COLUMN


# ---------------------------------------------------------------- search latency, from bench_search's JSON

SEARCH_DIR = RESULTS / "bench_search"
SEARCH_BAR_MS, SEARCH_BAR_RATIO = 30.0, 1.5        # issue 2: augmented p50 at 100k synthetic vectors, and vs chunks
LEXICAL_BAR_MS, LEXICAL_BUILD_SHARE = 10.0, 0.2    # issue 8: a lexical leg's p50 at scale; its build vs indexing
_SEARCH_LABELS = {"chunks-only": "chunks only", "dense-augmented": "dense augmented (chunk + synthetic vectors)",
                  "hybrid-augmented": "hybrid augmented (dense pair + chunk BM25)",
                  "dense-augmented-depth50": "dense augmented, 50 synthetic neighbours",
                  "shipped-default": "the shipped default of that day"}


def read_search(name: str, folder: Path = SEARCH_DIR) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def search_table(name: str, folder: Path = SEARCH_DIR) -> str:
    """[[searchtable FILE]]: every system timed at every size of a bench_search run (p50 / p95 ms of search alone,
    the query pre-embedded), its p50 against chunks only, the lexical build against Chroma's writes where
    recorded, then the run's embedding, lexical-scale and memory figures, all as the JSON records them."""
    d = read_search(name, folder)
    rows = ["| synthetic vectors | system | p50 ms | p95 ms | p50 / chunks only |", "|---:|---|---:|---:|---:|"]
    builds = []
    for size, by in d["dense"]["sizes"].items():
        base = by["chunks-only"]["p50_ms"]
        for key, v in by.items():
            if isinstance(v, dict) and "p50_ms" in v:
                label = key.replace(key.split(" (")[0], _SEARCH_LABELS.get(key.split(" (")[0], key.split(" (")[0]))
                rows.append(f"| {int(size):,} | {label} | {v['p50_ms']:.2f} | {v['p95_ms']:.2f} | "
                            f"{v['p50_ms'] / base:.1f}x |")
        if "lexical_build_s" in by:
            builds.append(f"{int(size):,}: {by['lexical_build_s']:.2f} s against "
                          f"{by['chroma_upsert_synthetic_s']:.2f} s "
                          f"({100 * by['lexical_build_s'] / by['chroma_upsert_synthetic_s']:.0f}%)")
    emb, lex = d["dense"]["embedding"], d["lexical_scale"]
    out = [f"Run {d['date']} ({name}.json), {d['machine']}, {d['corpus']}; load average "
           f"{', '.join(f'{x:.1f}' for x in d['load_average_start'])} at the start, "
           f"{', '.join(f'{x:.1f}' for x in d['load_average_end'])} at the end.", "", *rows, ""]
    if builds:
        out += ["Building the whole lexical index against Chroma writing the synthetic vectors (embedding not "
                "counted), by synthetic vectors: " + "; ".join(builds) + ".", ""]
    out += [f"Embedding: {emb['texts_per_s']:.1f} abstracts/s, one query {emb['query_embed_ms']:.1f} ms. Lexical "
            f"legs at {lex.get('n_chunks', 100_000):,} chunks and {lex['synthetic_queries']:,} synthetic queries: "
            f"build "
            f"{lex['build_s']:.1f} s; p50 / p95 ms chunks {lex['chunks']['p50_ms']:.2f} / "
            f"{lex['chunks']['p95_ms']:.2f}, "
            f"synthetic queries {lex['queries']['p50_ms']:.2f} / {lex['queries']['p95_ms']:.2f}, doc2query "
            f"{lex['doc2query']['p50_ms']:.2f} / {lex['doc2query']['p95_ms']:.2f}. Peak RSS "
            f"{d['peak_rss_mb'] / 1024:.2f} GB."]
    return "\n".join(out)


def search_bars(name: str, part: str, folder: Path = SEARCH_DIR) -> str:
    """[[searchbars FILE dense|lexical]]: a bench_search run against the bars. dense: the augmented systems' p50 at
    100k synthetic vectors under SEARCH_BAR_MS and within SEARCH_BAR_RATIO of chunks only (legs searched at once);
    lexical: each lexical leg's p50 at the run's lexical scale under LEXICAL_BAR_MS, and building the lexical index
    within LEXICAL_BUILD_SHARE of Chroma's writes at each size that records both."""
    d = read_search(name, folder)

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"
    if part == "lexical":
        lex = d["lexical_scale"]
        worst = max(lex[leg]["p50_ms"] for leg in ("chunks", "queries", "doc2query"))
        shares = {int(size): by["lexical_build_s"] / by["chroma_upsert_synthetic_s"]
                  for size, by in d["dense"]["sizes"].items() if "lexical_build_s" in by}
        line = (f"- Each lexical leg's p50 under {LEXICAL_BAR_MS:g} ms at {lex.get('n_chunks', 100_000):,} chunks and "
                f"{lex['synthetic_queries']:,} synthetic queries: {met(worst < LEXICAL_BAR_MS)} (slowest "
                f"{worst:.2f} ms).")
        if shares:
            line += (f"\n- Building the lexical index within {100 * LEXICAL_BUILD_SHARE:.0f}% of Chroma's writes of "
                     f"the synthetic vectors: " + "; ".join(
                         f"{size:,} vectors {met(share <= LEXICAL_BUILD_SHARE)} ({100 * share:.0f}%)"
                         for size, share in shares.items()) + ".")
        return line
    by = d["dense"]["sizes"]["100000"]
    base = by["chunks-only"]["p50_ms"]
    timed = {k: v["p50_ms"] for k, v in by.items() if isinstance(v, dict) and "p50_ms" in v and k != "chunks-only"
             and "(" not in k}
    under = [k for k, v in timed.items() if v < SEARCH_BAR_MS]
    within = [k for k, v in timed.items() if v / base <= SEARCH_BAR_RATIO]
    closest = min(timed, key=timed.get)
    default = f"; the shipped default {timed['shipped-default']:.2f} ms" if "shipped-default" in timed else ""
    return (f"- p50 under {SEARCH_BAR_MS:g} ms at 100,000 synthetic vectors: {met(len(under) == len(timed))} "
            f"({len(under)} of {len(timed)} augmented systems{default}).\n"
            f"- p50 within {SEARCH_BAR_RATIO:g}x chunks only: {met(len(within) == len(timed))} ({len(within)} of "
            f"{len(timed)}; the closest, {_SEARCH_LABELS.get(closest, closest)}, {timed[closest] / base:.1f}x of "
            f"{base:.2f} ms).")


def _fill_search(kind: str, args: list[str]) -> str:
    if kind == "searchtable":
        return search_table(args[0])
    if kind == "searchbars":
        return search_bars(args[0], args[1])
    value = _recorded(read_search(args[0]), args[1])
    if isinstance(value, float):
        return f"{value:.{int(args[2]) if len(args) > 2 else 2}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


# ---------------------------------------------------------------- the lifecycle runs' committed tables

LIFECYCLE = REPO_ROOT / "benchmarks" / "lifecycle" / "results"


def _fill_check(args: list[str]) -> str:
    """[[check WHAT [MODE]]]: how the self-checks of `tune` and `train` fared against labelled test splits.
    tune-sets / tune-installed: sets the shipped tune ran on end to end (probe_agreement's selfcheck files) and on
    how many its held-out check installed the choice; decisions MODE / lost MODE: the label-free study's gate-style
    decisions on MODE probes that installed a change, and those whose test interval lies wholly below 0;
    gate-sets / gate-installed / gate-agree: rerankers trained by `train` and checked (reranker gate_check files),
    installed by the check, decisions that agree with the test split; gate-tests: each set's test gain."""
    from benchmarks.studies.probe_agreement import study as probes
    from benchmarks.studies.reranker import gate_check as gate

    what = args[0]
    if what in ("tune-sets", "tune-installed"):
        runs = [probes.read(p) for p in sorted((probes.HERE / "results").glob("selfcheck-*.json.gz"))]
        if what == "tune-sets":
            return str(len(runs))
        return str(sum(bool((r["modes"]["masked"]["shipped_check"] or {}).get("passed")) for r in runs))
    if what in ("decisions", "lost"):
        rows = [r for r in probes.gate_rows() if r["mode"] == args[1] and r["installed"]]
        return str(len(rows) if what == "decisions" else sum(r["test"][2] < 0 for r in rows))
    trained = [(name, rec) for name, rec in gate.load_records() if not rec.get("refused")]
    if what == "gate-sets":
        return str(len(trained))
    if what == "gate-installed":
        return str(sum(bool(rec["gate"]["installed"]) for _, rec in trained))
    if what == "gate-agree":
        return str(sum(gate.agreement(rec["gate"]["installed"], *gate.test_gain(rec))[0] for _, rec in trained))
    if what == "gate-tests":
        return ", ".join(f"{name} {gate.points(*gate.test_gain(rec))}" for name, rec in trained)
    raise ValueError(f"[[check {' '.join(args)}]]: unknown")


def _fill_lifecycle(kind: str, args: list[str]) -> str:
    """[[lc SET path]], [[lcpct SET path]]: a setting run.json records; [[lcbar SET]]: the bullets table.md gives
    under "The issue's bar" (tests/results/test_lifecycle.py renders table.md again from the run's files and
    compares)."""
    folder = LIFECYCLE / args[0]
    if kind == "lcvs":
        from benchmarks.lifecycle.render import compare_line
        return compare_line(LIFECYCLE / args[1], folder)
    if kind == "lcbar":
        text = (folder / "table.md").read_text()
        tail = text[text.index("The issue's bar:"):].split("\n\n")[1]
        return "\n".join(line for line in tail.splitlines() if line.startswith("- "))
    value = _recorded(json.loads((folder / "run.json").read_text()), args[1])
    return f"{100 * value:.0f}%" if kind == "lcpct" else f"{value:,}" if isinstance(value, int) else str(value)


# ---------------------------------------------------------------- the reranker study, for the README's advice

def reranker_summary(what: str) -> str:
    """[[rr WHAT]]: figures of the reranker study (benchmarks/studies/reranker/results/), over its cross-encoders
    trained on the generator's queries (the recipe `rag-augment train` ships): `n` configurations, `sets` data sets,
    `off` how many chose weight 0 on train, `w1` how many the weight `train` installs without --tune-on (1) lowered
    on the train split's labelled queries (which no reranker trained on), `w1range` by how much, `test` the lift
    over the tuned hybrid on test of the configuration chosen on train."""
    import numpy as np

    from benchmarks.studies.reranker import report

    if what == "table":
        return report.render(report.load_results()).strip()
    if what == "verdict":
        return report.render_verdict(report.load_results(), report.load_latencies()).strip()
    rows = [(name, rec, choice) for name, rec in report.load_results() for variant, choice in rec["choices"].items()
            if variant == "llm"]
    if what == "n":
        return str(len(rows))
    if what == "sets":
        return str(len({rec["run"] for _, rec, _ in rows}))
    if what == "off":
        return str(sum(1 for _, _, c in rows if c[c["first_stage"]]["weight"] == 0))
    w1 = [100 * (c["default"]["train_nDCG@10_by_weight"]["1.0"] - c["default"]["train_nDCG@10_by_weight"]["0.0"])
          for _, _, c in rows]
    if what == "w1":
        return str(sum(1 for d in w1 if d < 0))
    if what == "w1range":
        return f"{min(w1):+.1f} to {max(w1):+.1f}"
    if what == "test":
        lifts = [_study_lift(rec, "llm:chosen-on-train", "hybrid_tuned") for _, rec, _ in rows]
        return (f"{min(d for d, _, _ in lifts):+.1f} to {max(d for d, _, _ in lifts):+.1f} (median "
                f"{float(np.median([d for d, _, _ in lifts])):+.1f}; {sum(1 for _, lo, _ in lifts if lo > 0)} with "
                f"the interval above zero, {sum(1 for _, _, hi in lifts if hi < 0)} below it)")
    raise ValueError(f"notes: unknown reranker figure [[rr {what}]]")


def _study_lift(rec: dict, system: str, reference: str) -> tuple[float, float, float]:
    """A reranker study system's test lift over a reference, in points, as the study's own table computes it."""
    import numpy as np

    from rag_augment import metrics as M

    pq, test = rec["per_query_nDCG@10"], rec["splits"]["test"]
    d, lo, hi = M.paired_bootstrap(np.array([pq[system][q] for q in test]), np.array([pq[reference][q] for q in test]))
    return 100 * d, 100 * lo, 100 * hi


HEADLINE_RIVALS = (("dense", "dense"), ("bm25", "BM25"), ("hybrid", "hybrid"))
PROFILES = (("rag_augment", "default"), ("rag_augment_label_free", "tuned without labels"))
NO_TRAIN_SPLIT = "no train split"
MODEL_SUFFIXES = ("-qwen05b", "-qwen15b")  # model runs; the same name ending in -rules is their rules partner


def _ci(d: float, lo: float, hi: float) -> str:
    return f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def _lift(x, ref, run: dict) -> tuple[float, float, float]:
    from rag_augment import metrics as M

    boot = run["run"]["bootstrap"]
    return M.paired_bootstrap(x, ref, n=boot["resamples"], seed=boot["seed"])


def _tuned_hybrid_missing(run: dict) -> str:
    """Why a run has no hybrid tuned on its train split (the cell's text), or "" when it has one."""
    if "hybrid_tuned" in run["per_query"]:
        return ""
    return NO_TRAIN_SPLIT if not run.get("tuning") else "not run"


def rules_partner(name: str) -> str | None:
    """The rules-generator run over the same set as a model run (scifact1k-qwen05b -> scifact1k-rules), or None for
    a run that is not a model run."""
    for suffix in MODEL_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)] + "-rules"
    return None


def model_minus_rules(run: dict, by_name: dict[str, dict], system: str = "rag_augment",
                      metric: str = "nDCG@10") -> str:
    """A model run's `system` minus the rules run's on the same set and queries, with its paired-bootstrap
    interval; why not, where there is no such pair."""
    import numpy as np

    partner = rules_partner(run["run"]["name"])
    if partner is None:
        return "-"
    other = by_name.get(partner)
    if other is None:
        return f"no rules run on this set ({partner} not made)"
    if other["query_ids"] != run["query_ids"]:
        return f"{partner}: other queries"
    x, y = (np.asarray(r["per_query"][system][metric], dtype=float) for r in (run, other))
    return f"{_ci(*_lift(x, y, run))} vs {partner}"


def headline_table(results: list[dict], by_name: dict[str, dict] | None = None) -> str:
    """[[table RUN ...]]: per run, the shipped default and the profile `rag-augment tune` chose for the index
    without labels, against chunk vectors, BM25, the hybrid without synthetic queries and that hybrid tuned on the
    run's own train split (nDCG@10); each profile's lift over the best of the three untuned rivals and over the
    tuned hybrid with the paired-bootstrap interval; a model run's default against the rules generator's run on
    the same set (`by_name`: every run, to find it); p50 latency."""
    import numpy as np

    by_name = {r["run"]["name"]: r for r in results} if by_name is None else by_name
    rows = ["| run | documents / queries | dense | BM25 | hybrid | hybrid tuned on the train split | "
            "rag_augment default | tuned without labels | default - best of the three [95% CI] | "
            "tuned without labels - best of the three [95% CI] | default - hybrid tuned [95% CI] | "
            "tuned without labels - hybrid tuned [95% CI] | this model's queries - the rules generator's, "
            "default [95% CI] | p50 ms: default / hybrid |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = ("dense", "bm25", "hybrid", "hybrid_tuned", "best", "rag_augment", "rag_augment_label_free")
    columns: dict[str, list[float]] = {k: [] for k in keys}
    tuned_rows: dict[str, list[float]] = {k: [] for k in keys}
    for r in results:
        pq = r["per_query"]
        hybrid = "hybrid" if "hybrid" in pq else "rrf_dense_bm25"
        rivals = {"dense": "dense", "bm25": "bm25", "hybrid": hybrid}
        means = {k: float(np.mean(pq[v]["nDCG@10"])) for k, v in rivals.items()}
        best = max(means, key=means.get)
        means["best"] = means[best]
        ref = np.asarray(pq[rivals[best]]["nDCG@10"])
        missing = _tuned_hybrid_missing(r)
        tuned = None if missing else np.asarray(pq["hybrid_tuned"]["nDCG@10"])
        if tuned is not None:
            means["hybrid_tuned"] = float(tuned.mean())
        score, over_best, over_tuned = [], [], []
        for system, _ in PROFILES:
            if system not in pq:
                score.append("-")
                over_best.append("-")
                over_tuned.append("-" if tuned is not None else missing)
                continue
            x = np.asarray(pq[system]["nDCG@10"])
            means[system] = float(x.mean())
            score.append(f"{x.mean():.3f}")
            over_best.append(f"{_ci(*_lift(x, ref, r))} vs {dict(HEADLINE_RIVALS)[best]}")
            over_tuned.append(missing or _ci(*_lift(x, tuned, r)))
        for k, v in means.items():
            columns[k].append(v)
            if tuned is not None:
                tuned_rows[k].append(v)
        lat = {s["key"]: s["latency_ms"]["p50"] for s in r["systems"]}
        cells = [f"{means[k]:.3f}" for k, _ in HEADLINE_RIVALS] + [missing or f"{means['hybrid_tuned']:.3f}"]
        rows.append(f"| {r['run']['name']} | {r['run']['documents']:,} / {r['run']['queries']:,} | "
                    + " | ".join(cells + score + over_best + over_tuned)
                    + f" | {model_minus_rules(r, by_name)} | {lat['rag_augment']:.1f} / {lat[rivals['hybrid']]:.1f} |")

    def mean_row(label: str, cols: dict[str, list[float]], n: int) -> str:
        mean = {k: f"{np.mean(v):.3f}" if len(v) == n else "-" for k, v in cols.items()}
        return (f"| {label} | | {mean['dense']} | {mean['bm25']} | {mean['hybrid']} | {mean['hybrid_tuned']} | "
                f"{mean['rag_augment']} | {mean['rag_augment_label_free']} | best of the three, per row: "
                f"{mean['best']} | | | | | |")

    n_tuned = len(tuned_rows["best"])
    if len(results) > 1:
        rows.append(mean_row("mean of the rows above", columns, len(results)))
    if 1 < n_tuned < len(results):
        rows.append(mean_row(f"mean of the {n_tuned} rows with a train split", tuned_rows, n_tuned))
    return "\n".join(rows)


def rules_table(results: list[dict], by_name: dict[str, dict]) -> str:
    """[[rules RUN ...]]: each model run against the rules generator's run on the same set and queries: the
    shipped default and the synthetic-query vectors alone (nDCG@10, paired bootstrap), the queries each index
    holds per chunk, and the generation time each run's cache records."""
    import numpy as np

    rows = ["| set: model run / rules run | default, nDCG@10: model / rules | model - rules [95% CI] | "
            "wins / losses | synthetic-query vectors alone: model / rules | model - rules [95% CI] | "
            "queries kept per chunk: model / rules | generation time recorded: model / rules |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        partner = rules_partner(r["run"]["name"])
        other = by_name.get(partner) if partner else None
        if other is None or other["query_ids"] != r["query_ids"]:
            continue
        cells = []
        for system in ("rag_augment", "synthetic"):
            x, y = (np.asarray(q["per_query"][system]["nDCG@10"], dtype=float) for q in (r, other))
            cells += [f"{x.mean():.3f} / {y.mean():.3f}", _ci(*_lift(x, y, r))]
            if system == "rag_augment":
                from rag_augment import metrics as M
                wins, losses, _ = M.wins_losses(x, y)
                cells.append(f"{wins} / {losses}")
        idx = (r["index"], other["index"])
        cells.append(" / ".join(f"{i['mean_queries_per_chunk']:.2f}" for i in idx))
        cells.append(" / ".join(duration(i["generation_seconds_recorded"]) for i in idx))
        rows.append(f"| {r['run']['name']} / {partner} ({_generator_label(r['run']['generator'])}, "
                    f"{r['index']['chunks']:,} chunks) | " + " | ".join(cells) + " |")
    return "\n".join(rows) if len(rows) > 2 else "(no model run has its rules run)"


def rules_summary(system: str, results: list[dict], by_name: dict[str, dict]) -> str:
    """[[rulessum SYSTEM RUN ...]]: the model runs' SYSTEM minus their rules runs' over the sets where both were
    made: the range of the differences, and how many have the interval above or below zero."""
    import numpy as np

    lifts = []
    for r in results:
        other = by_name.get(rules_partner(r["run"]["name"]) or "")
        if other is not None and other["query_ids"] == r["query_ids"]:
            x, y = (np.asarray(q["per_query"][system]["nDCG@10"], dtype=float) for q in (r, other))
            lifts.append(_lift(x, y, r))
    if not lifts:
        return "(no model run has its rules run)"
    return (f"from {100 * min(d for d, _, _ in lifts):+.1f} to {100 * max(d for d, _, _ in lifts):+.1f} points over "
            f"{len(lifts)} model runs, {sum(1 for _, lo, _ in lifts if lo > 0)} with the interval above zero and "
            f"{sum(1 for _, _, hi in lifts if hi < 0)} below it")


def rules_section(results: list[dict]) -> str:
    """"Retrieval quality": every model run beside the rules generator's run on the same set and queries."""
    by_name = {r["run"]["name"]: r for r in results}
    models = [r for r in results if rules_partner(r["run"]["name"]) in by_name]
    if not models:
        return ""
    return ("### The model's queries against the rules generator's templates\n\n"
            "Each model run beside the rules generator's run on the same set and test queries (paired bootstrap 95% "
            "intervals, nDCG@10, points x100); the generation time is what each run's cache records "
            "(benchmarks/cache/PROVENANCE.md). Under the shipped default the model's queries minus the templates' "
            f"range {rules_summary('rag_augment', models, by_name)}; their vectors alone range "
            f"{rules_summary('synthetic', models, by_name)}.\n\n{rules_table(models, by_name)}\n\n")


def duration(seconds: float) -> str:
    """A recorded time as a reader takes it in: 0.02 s, 4.9 s, 49 min, 2.4 h."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _generator_label(gen: dict) -> str:
    """rules, none, or the packaged local model a run's queries came from, named by its file hash."""
    if gen.get("generator") in ("rules", "none"):
        return str(gen["generator"])
    from rag_augment.models import PACKAGED
    name = next((m.name for m in PACKAGED.values() if m.sha256 == gen.get("model_hash")), "")
    return f"local {name.rsplit('-', 1)[-1].upper()}" if name else f"local {gen.get('model', 'model')}"


GOAL_RIVALS = (("dense", "dense"), ("bm25", "BM25"), ("hybrid", "hybrid"), ("hybrid_tuned", "hybrid tuned"))


def goal_table(results: list[dict]) -> str:
    """Issue 8's goal at a glance: the shipped default against the best of dense, BM25 and the hybrid without
    synthetic queries, on nDCG@10 and Recall@10, with the lift over dense and its 95% interval."""
    def metric(r, key, m):
        sys_ = next((s for s in r["systems"] if s["key"] == key), None)
        return sys_["metrics"][m] if sys_ else None

    rows = ["### Summary: the default profile against the best single leg and the hybrid without synthetic queries",
            "", "nDCG@10 / Recall@10 on each run's test split (the pool run names its hybrid `rrf_dense_bm25`). "
            "`default` is the profile the run used as the shipped default (recorded in its per-query file). Rows whose "
            "generator says \"train queries as real\" also hold the train split's queries as real queries (next "
            "table); their rivals read no query at all, so those rows measure the blend, not issue 8's goal.", "",
            "| run | generator | " + " | ".join(label for _, label in GOAL_RIVALS) + " | rag_augment default | "
            "default - dense, nDCG@10 [95% CI] | default - best rival, nDCG@10 / R@10 | tuned without labels | "
            "tuned without labels - best rival, nDCG@10 / R@10 |",
            "|---|---|" + "---:|" * (len(GOAL_RIVALS) + 5)]
    for r in results:
        keys = {k: ("rrf_dense_bm25" if k == "hybrid" and r["run"]["name"] == "pool-qwen15b" else k)
                for k, _ in GOAL_RIVALS}
        cells, best = [], {"nDCG@10": 0.0, "R@10": 0.0}
        for k, _ in GOAL_RIVALS:
            n, rc = metric(r, keys[k], "nDCG@10"), metric(r, keys[k], "R@10")
            cells.append("-" if n is None else f"{n:.3f} / {rc:.3f}")
            if n is not None:
                best = {"nDCG@10": max(best["nDCG@10"], n), "R@10": max(best["R@10"], rc)}
        n, rc = metric(r, "rag_augment", "nDCG@10"), metric(r, "rag_augment", "R@10")
        lift = next((x for x in r["lifts"] if x["system"] == "rag_augment" and x["reference"] == "dense"
                     and x["metric"] == "nDCG@10"), None)
        lift_s = f"{100 * lift['delta']:+.1f} [{100 * lift['lo']:+.1f}, {100 * lift['hi']:+.1f}]" if lift else "-"
        gen = r["run"]["generator"]
        gen_s = _generator_label(gen)
        if r["index"].get("real_from_train"):
            gen_s += " + train queries as real"
        ln, lr = metric(r, "rag_augment_label_free", "nDCG@10"), metric(r, "rag_augment_label_free", "R@10")
        free = (f"{ln:.3f} / {lr:.3f} | {100 * (ln - best['nDCG@10']):+.1f} / {100 * (lr - best['R@10']):+.1f}"
                if ln is not None else "- | -")
        rows.append(f"| {r['run']['name']} | {gen_s} | " + " | ".join(cells) + f" | {n:.3f} / {rc:.3f} | {lift_s} | "
                    f"{100 * (n - best['nDCG@10']):+.1f} / {100 * (rc - best['R@10']):+.1f} | {free} |")
    return "\n".join(rows) + "\n"


# Runs over the same test queries that differ in one thing: (A, B, what A adds to B).
CROSS_RUNS = (
    ("scifact1k-qwen15b-real", "scifact1k-qwen15b", "train claims as real queries, on top of the model's queries"),
    ("scifact1k-qwen15b-real", "scifact1k-none-real", "the model's queries, on top of the train claims as real"),
    ("sample_kb-qwen15b-real", "sample_kb-qwen15b", "train questions as real queries, on top of the model's"),
    ("sample_kb-qwen15b-real", "sample_kb-none-real", "the model's queries, on top of the train questions as real"),
)


def cross_run_table(results: list[dict]) -> str:
    """The shipped default's lift from one run to another on the same queries (paired bootstrap, as in a run)."""
    import numpy as np

    from rag_augment import metrics as M

    by_name = {r["run"]["name"]: r for r in results}
    rows = ["### Real queries and synthetic queries, blended", "",
            "The shipped default in two runs over the same test queries that differ in one thing (paired bootstrap "
            "95% intervals, 5,000 resamples, seed 0; points x100).", "",
            "The last column splits the nDCG@10 lift by whether a test query's relevant document holds a real query "
            "(the blend's train queries): where it does, and where it does not.", "",
            "| A | B | what A adds to B | nDCG@10 A / B | dnDCG@10 [95% CI] | dR@10 [95% CI] | nDCG@10 wins/losses "
            "| dnDCG@10 with a real query / without |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    for a, b, what in CROSS_RUNS:
        ra, rb = by_name.get(a), by_name.get(b)
        if ra is None or rb is None or ra["query_ids"] != rb["query_ids"]:
            continue
        cells = []
        for m in ("nDCG@10", "R@10"):
            x, y = (np.asarray(r["per_query"]["rag_augment"][m]) for r in (ra, rb))
            d, lo, hi = M.paired_bootstrap(x, y, n=5000, seed=0)
            cells.append(f"{100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")
            if m == "nDCG@10":
                wins, losses, _ = M.wins_losses(x, y)
                means = f"{x.mean():.3f} / {y.mean():.3f}"
        rows.append(f"| {a} | {b} | {what} | {means} | {cells[0]} | {cells[1]} | {wins}/{losses} | "
                    f"{_split_by_cover(ra, rb)} |")
    return "\n".join(rows) + "\n" if len(rows) > 8 else ""


def _split_by_cover(ra: dict, rb: dict) -> str:
    import numpy as np

    covered = set((ra["index"].get("real_from_train") or {}).get("covered_queries", ()))
    if not covered:
        return "-"
    x, y = (np.asarray(r["per_query"]["rag_augment"]["nDCG@10"]) for r in (ra, rb))
    mask = np.array([q in covered for q in ra["query_ids"]])
    parts = [f"{100 * (x[m] - y[m]).mean():+.1f} ({int(m.sum())} queries)" if m.any() else "-" for m in (mask, ~mask)]
    return " / ".join(parts)


def _command_of(name: str, table: dict[str, list[str]], runs: str) -> str:
    if name == "pool-qwen15b":
        return "python -m benchmarks.run_benchmarks pool"
    return f"rag-augment eval {' '.join(table[name])} --name {name} --out {runs}/{name}"


def _needs(name: str, table: dict[str, list[str]]) -> str:
    if name == "pool-qwen15b":
        return f"{shown(CACHE / 'scifact_pool_qwen15b.jsonl')} and the pool experiment in the shared folder"
    args = table[name]
    if "--cache" in args:
        return args[args.index("--cache") + 1]
    data = args[args.index("--dataset") + 1]
    return f"{data}, laid out by `python -m benchmarks.data_prep.get_beir_subsets`" if "/datasets/" in data and \
        "shared" not in data else "nothing but the data set"


def _replace_section(block: str, results_md: Path) -> None:
    """Replace only this file's Retrieval quality section; other sections stay as others wrote them."""
    text = results_md.read_text() if results_md.exists() else "# Results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block
    results_md.write_text(text)


def committed_section(results_md: Path = RESULTS_MD) -> str:
    """The Retrieval quality section as RESULTS.md holds it now."""
    m = re.search(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", results_md.read_text(), re.S | re.M)
    return m.group(0) if m else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run_benchmarks",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="*", help=f"pool and/or {', '.join(RUN_NAMES)}")
    ap.add_argument("--results-only", action="store_true",
                    help="only rewrite RESULTS.md (and the README block) from the committed per-query files")
    ap.add_argument("--runs-only", action="store_true",
                    help="make the runs and their per-query files, leave RESULTS.md and README.md alone")
    ap.add_argument("--per-query-dir", type=Path, default=PER_QUERY_DIR,
                    help="where each run's per-query file goes and the tables are read from "
                         "(default: benchmarks/results/per_query)")
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with datasets/, experiments/ and kb/ (default: ../shared beside the repository)")
    ap.add_argument("--runs-dir", type=Path, default=RUNS, help="run folders (default: benchmarks/runs)")
    ap.add_argument("--results", type=Path, default=RESULTS_MD,
                    help="the RESULTS.md whose Retrieval quality section is rewritten (default: benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.runs if n not in ("pool", "pool-qwen15b", *RUN_NAMES)]
    if unknown:
        ap.error(f"unknown run {unknown[0]!r}")
    # Paths given here are read from the caller's folder; the runs then work from the repository root, so that
    # each run records its command with repository-relative paths that reproduce it in any clone.
    shared, runs, results_md = shown(args.shared), shown(args.runs_dir), args.results.resolve()
    os.chdir(REPO_ROOT)
    per_query_dir = args.per_query_dir.resolve()
    for name in [] if args.results_only else args.runs:
        if name in ("pool", "pool-qwen15b"):
            result = run_pool(shared, runs)
        else:
            result, _ = command.execute(_parse(name, shared, runs), progress=log_progress)
        path = write_per_query(result, per_query_dir / f"{result['run']['name']}.json.gz")
        print(f"{shown(path)}: {path.stat().st_size // 1024} KiB", file=sys.stderr)
    if args.runs_only:
        return 0
    print("RESULTS.md: " + ", ".join(write_results(shared, runs, results_md, per_query_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
