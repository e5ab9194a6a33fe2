"""benchmarks/RESULTS.md's "Retrieval quality" section (and the README's results block) is computed from the
committed per-query files alone: rendered again here and compared, so no figure there is typed by hand."""
import json
import re

import numpy as np
import pytest
from support import REPO

from benchmarks import run_benchmarks as rb
from rag_augment.eval.report import read_per_query, result_from_per_query, write_per_query

# ---------------------------------------------------------------- the committed files


@pytest.fixture(scope="module")
def committed():
    return rb.load_results(rb.PER_QUERY_DIR)


def test_every_committed_run_has_its_per_query_file_and_it_is_small(committed):
    files = sorted(rb.PER_QUERY_DIR.glob("*.json.gz"))
    assert files, "benchmarks/results/per_query/ holds no run: RESULTS.md's figures could not be re-derived"
    for f in files:
        assert f.stat().st_size < 1_500_000, f"{f.name}: per-query files are meant to stay small"
    assert [r["run"]["name"] for r in committed] == [
        n for n in rb.ORDER if (rb.PER_QUERY_DIR / f"{n}.json.gz").exists()] + sorted(
        {f.name[:-8] for f in files} - set(rb.ORDER))


def test_results_md_section_is_what_the_per_query_files_give(committed):
    """The section (summary tables, every run's table and lifts, the readings with their figures filled in) as
    RESULTS.md holds it, rendered again from the per-query files: any hand edit or stale figure fails here."""
    assert rb.committed_section() == rb.render_section(committed), (
        "benchmarks/RESULTS.md differs from what benchmarks/results/per_query/ gives: run "
        "`python -m benchmarks.run_benchmarks --results-only` and commit")


def test_every_run_page_is_what_its_per_query_file_gives(committed):
    """benchmarks/results/runs/: each run's page (settings, every system's metrics and latency, the lifts, the
    reading) rendered again from its per-query file; the section links each page, and no page is left over."""
    pages = rb.render_run_pages(committed)
    folder = rb.RESULTS / rb.RUNS_PAGES
    assert sorted(p.name for p in folder.glob("*.md")) == sorted(pages), (
        "benchmarks/results/runs/ holds other pages than the committed runs give")
    for name, text in pages.items():
        assert (folder / name).read_text() == text, (
            f"benchmarks/results/runs/{name} differs from what its per-query file gives: run "
            "`python -m benchmarks.run_benchmarks --results-only` and commit")
    section = rb.committed_section()
    for r in committed:
        assert f"](results/runs/{r['run']['name']}.md)" in section, r["run"]["name"]


def test_every_plot_a_run_page_shows_is_committed(committed):
    folder = rb.RESULTS / rb.RUNS_PAGES
    shown_pngs = [(page, png) for page in folder.glob("*.md") for png in re.findall(r"\]\(([^)]+\.png)\)",
                                                                                    page.read_text())]
    assert len(shown_pngs) == 2 * len(committed)
    for page, png in shown_pngs:
        assert (page.parent / png).exists(), png


def test_readme_block_is_what_the_per_query_files_give(committed):
    readme = (REPO / "README.md").read_text()
    if rb.README_START not in readme:
        pytest.skip("README.md has no results markers yet")
    block = readme[readme.index(rb.README_START):readme.index(rb.README_END) + len(rb.README_END)]
    assert block == rb.render_readme_block(committed)


def test_summary_means_are_the_means_of_the_stored_queries(committed):
    """Independently of the renderer: each summary cell is the mean of that system's stored per-query scores."""
    table = rb.goal_table(committed)
    for r in committed:
        row = next(line for line in table.splitlines() if line.startswith(f"| {r['run']['name']} |"))
        per_query = r["per_query"]["rag_augment"]
        cell = f"{np.mean(per_query['nDCG@10']):.3f} / {np.mean(per_query['R@10']):.3f}"
        assert cell in row, (r["run"]["name"], cell, row)


# ---------------------------------------------------------------- the machinery, on a made-up run


def fake_result(name="fake", scores=None):
    qids = ["q1", "q2", "q3", "q4"]
    scores = scores or {"dense": [1.0, 0.5, 0.0, 0.25], "rag_augment": [1.0, 1.0, 0.5, 0.25]}
    per_query = {k: {"nDCG@10": v, "R@10": [1.0 if x else 0.0 for x in v], "R@1": v, "R@5": v, "R@100": v,
                     "MRR@10": v, "Hit@10": v, **{f"R@{k}": v for k in (2, 3, 20, 30, 50)}}
                 for k, v in scores.items()}
    return {
        "run": {"name": name, "command": "x", "dataset": "d", "split": "test", "queries": 4, "documents": 9,
                "dataset_notes": {}, "date": "2026-01-01", "embedding_model": "hash",
                "machine": {"nproc": 2, "cpu": "c", "platform": "p", "python": "3", "load_avg_1_5_15": [1, 1, 1]},
                "generator": {"generator": "rules", "model": "rules", "prompt_version": "v"},
                "chunking": {"chunk_size": 256}, "bootstrap": {"resamples": 200, "seed": 0}},
        "index": {"chunks": 9, "query_vectors": 20, "mean_queries_per_chunk": 2.2, "queries_by_kind": {},
                  "queries_dropped": {}, "generation_seconds_recorded": 0.0, "chunks_generated_this_run": 0,
                  "generation_seconds_this_run": 0.0, "cache_hits": 9, "index_seconds_this_run": 0.1},
        "tuning": None,
        "systems": [{"key": k, "label": k, "kind": "fuse", "profile": None, "latency_source": "end to end",
                     "metrics": {}, "latency_ms": {}} for k in scores],
        "lifts": [], "pairs": [["rag_augment", "dense"]],
        "latency": {"queries": 4, "k": 10, "warmup_queries": 3, "not_timed": []},
        "per_query": per_query,
        "latency_per_query_ms": {k: {q: 10.0 + i for i, q in enumerate(qids)} for k in scores},
        "query_ids": qids, "curve_ks": [1, 2, 3, 5, 10, 20, 30, 50, 100],
    }


def test_a_run_renders_from_its_file_and_a_changed_score_changes_the_section(tmp_path):
    write_per_query(fake_result(), tmp_path / "fake.json.gz")
    results = rb.load_results(tmp_path)
    notes = {"fake": "Default [[m fake rag_augment nDCG@10]], lift [[d fake rag_augment dense nDCG@10]], "
                     "[[wl fake rag_augment dense]], [[x fake index.chunks]] chunks."}
    page = rb.render_run_pages(results, notes=notes)["fake.md"]
    assert "| rag_augment | 0.688 |" in page and "| dense | 0.438 |" in page  # means of the stored scores
    assert "Default 0.688, lift +25.0 [" in page and ", 2/0, 9 chunks." in page
    assert "| 11.5 | 12.8 |" in page  # p50 / p95 of the stored per-query milliseconds (10, 11, 12, 13)
    section = rb.render_section(results, notes=notes)
    assert "| fake | rules | 0.438 / " in section and "[fake](results/runs/fake.md)" in section
    changed = fake_result(scores={"dense": [1.0, 0.5, 0.0, 0.25], "rag_augment": [1.0, 1.0, 0.5, 0.0]})
    write_per_query(changed, tmp_path / "fake.json.gz")
    assert rb.render_section(rb.load_results(tmp_path)) != rb.render_section(results)
    assert rb.render_run_pages(rb.load_results(tmp_path), notes=notes) != rb.render_run_pages(results, notes=notes)


def test_notes_placeholders(tmp_path):
    results = [result_from_per_query(json.loads(json.dumps(rec))) for rec in [
        read_per_query(write_per_query(fake_result("a"), tmp_path / "a.json.gz")),
        read_per_query(write_per_query(fake_result("b", {"dense": [0, 0, 0, 0], "rag_augment": [1, 1, 1, 1]}),
                                       tmp_path / "b.json.gz"))]]
    by_name = {r["run"]["name"]: r for r in results}
    assert rb.render_note("[[dv a rag_augment dense nDCG@10]] [[p50 a dense]] [[n a]]", by_name) == "+25.0 11.5 4"
    assert rb.render_note("[[dx b rag_augment a rag_augment nDCG@10]]", by_name).startswith("+31.2 [")
    assert rb.render_note("[[m zzz dense nDCG@10]]", by_name) == "(run zzz not made)"
    with pytest.raises(ValueError, match="unknown placeholder"):
        rb.render_note("[[q a]]", by_name)


def test_notes_file_sections(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# title\n\nignored\n\n## intro\nHello.\n\n## run-a\nLine one\nline two\n")
    assert rb.read_notes(path) == {"intro": "Hello.\n", "run-a": "Line one\nline two\n"}


def test_readme_block_is_written_between_the_markers_only(tmp_path):
    write_per_query(fake_result(), tmp_path / "pq" / "fake.json.gz")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{rb.README_START}\nold figures\n{rb.README_END}\nafter\n")
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Results\n\n## Retrieval quality\n\nold\n\n## Other\n\nkept\n")
    names = rb.write_results("../shared", "benchmarks/runs", results_md, tmp_path / "pq", readme)
    assert names == ["fake"]
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n" + rb.README_START) and text.endswith(rb.README_END + "\nafter\n")
    assert "old figures" not in text
    out = results_md.read_text()
    assert "## Other\n\nkept\n" in out and "[fake](results/runs/fake.md)" in out and "\nold\n" not in out
    assert (tmp_path / "results" / "fake-recall.png").exists()
    assert "| rag_augment | 0.688 |" in (tmp_path / "results" / "runs" / "fake.md").read_text()


def test_headline_table_names_the_best_rival_and_its_interval(tmp_path):
    rec = fake_result("h", {"dense": [1.0, 0.5, 0.0, 0.25], "bm25": [0.5, 0.5, 0.5, 0.5],
                            "hybrid": [1.0, 0.5, 0.5, 0.25], "rag_augment": [1.0, 1.0, 0.5, 0.25]})
    result = result_from_per_query(read_per_query(write_per_query(rec, tmp_path / "h.json.gz")))
    table = rb.render_note("[[table h missing]]", {"h": result})
    row = table.splitlines()[2]
    # a run without a train split says so in the tuned hybrid's cells; one made without the label-free profile
    # shows "-" in its columns; a rules run has no model-minus-rules cell
    assert row.startswith("| h | 9 / 4 | 0.438 | 0.500 | 0.562 | no train split | 0.688 | - | +12.5 [")
    assert row.endswith("vs hybrid | - | no train split | no train split | - | 11.5 / 11.5 |")
    rec = fake_result("g", {"dense": [1.0, 0.5, 0.0, 0.25], "bm25": [0.5, 0.5, 0.5, 0.5],
                            "hybrid": [1.0, 0.5, 0.5, 0.25], "hybrid_tuned": [1.0, 0.75, 0.5, 0.25],
                            "rag_augment": [1.0, 1.0, 0.5, 0.25], "rag_augment_label_free": [1.0, 0.5, 0.5, 0.25]})
    rec["tuning"] = {"split": "train", "queries": 4}
    other = result_from_per_query(read_per_query(write_per_query(rec, tmp_path / "g.json.gz")))
    rows = rb.render_note("[[table h g]]", {"h": result, "g": other}).splitlines()
    assert rows[3] == ("| g | 9 / 4 | 0.438 | 0.500 | 0.562 | 0.625 | 0.688 | 0.562 | +12.5 [+0.0, +37.5] vs hybrid | "
                       "+0.0 [+0.0, +0.0] vs hybrid | +6.2 [+0.0, +18.8] | -6.2 [-18.8, +0.0] | - | 11.5 / 11.5 |")
    # the mean row averages the rows; a column some run lacks is not averaged
    assert rows[4] == ("| mean of the rows above | | 0.438 | 0.500 | 0.562 | - | 0.688 | - | best of the three, "
                       "per row: 0.562 | | | | | |")
    assert len(rows) == 5  # one row with a train split: no mean of those rows


def test_headline_tuned_hybrid_no_train_split_and_the_rules_partner(tmp_path):
    def made(name, scores, tuning=None):
        rec = fake_result(name, scores)
        rec["tuning"] = tuning
        return result_from_per_query(read_per_query(write_per_query(rec, tmp_path / f"{name}.json.gz")))
    base = {"dense": [1.0, 0.5, 0.0, 0.25], "bm25": [0.5, 0.5, 0.5, 0.5], "hybrid": [1.0, 0.5, 0.5, 0.25],
            "synthetic": [0.5, 0.5, 0.0, 0.0]}
    rules = made("kb-rules", {**base, "hybrid_tuned": [1.0, 0.5, 0.5, 0.5], "rag_augment": [1.0, 1.0, 0.5, 0.25]},
                 {"split": "train"})
    model = made("kb-qwen05b", {**base, "hybrid_tuned": [1.0, 0.5, 0.5, 0.5], "rag_augment": [1.0, 0.5, 0.5, 0.25]},
                 {"split": "train"})
    lonely = made("web-qwen15b", {**base, "rag_augment": [1.0, 0.5, 0.5, 0.25]})
    by_name = {r["run"]["name"]: r for r in (rules, model, lonely)}
    assert rb.rules_partner("kb-qwen05b") == "kb-rules" and rb.rules_partner("kb-rules") is None
    rows = rb.render_note("[[table kb-rules kb-qwen05b web-qwen15b]]", by_name).splitlines()
    assert rows[2].endswith("| +6.2 [-12.7, +37.5] | - | - | 11.5 / 11.5 |")  # a rules row has no partner
    assert rows[3].endswith("| -6.2 [-18.8, +0.0] | - | -12.5 [-37.5, +0.0] vs kb-rules | 11.5 / 11.5 |")
    assert rows[4].endswith("| no train split | no train split | no rules run on this set (web-rules not made) | "
                            "11.5 / 11.5 |")
    assert "| 0.562 | no train split | 0.562 |" in rows[4]
    assert rows[6] == ("| mean of the 2 rows with a train split | | 0.438 | 0.500 | 0.562 | 0.625 | 0.625 | - | best "
                       "of the three, per row: 0.562 | | | | | |")
    table = rb.render_note("[[rules kb-qwen05b web-qwen15b]]", by_name).splitlines()
    assert table[2:] == ["| kb-qwen05b / kb-rules (rules, 9 chunks) | 0.562 / 0.688 | -12.5 [-37.5, +0.0] | 0 / 1 | "
                         "0.250 / 0.250 | +0.0 [+0.0, +0.0] | 2.20 / 2.20 | 0.00 s / 0.00 s |"]
    assert rb.render_note("[[rulessum rag_augment kb-qwen05b web-qwen15b]]", by_name) == (
        "from -12.5 to -12.5 points over 1 model runs, 0 with the interval above zero and 0 below it")
    assert rb.render_note("[[cmp rag_augment hybrid_tuned kb-rules kb-qwen05b web-qwen15b]]", by_name) == (
        "0.625 against 0.625 (+0.0 points) averaged over 2 runs; lower on 1 (0 with the interval below zero), "
        "higher on 1 (0 with the interval above zero)")
    assert [rb.duration(s) for s in (0.02, 4.94, 2963.76, 8606.54)] == ["0.02 s", "4.9 s", "49 min", "2.4 h"]


def test_readme_headline_keeps_the_tuned_hybrid_column():
    """README's headline sets the default beside the hybrid tuned on the same train split, and gives the default's
    and the label-free profile's gap to it: a README without that column fails here, whatever the notes say."""
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index(rb.README_START):readme.index(rb.README_END)]
    header = next(line for line in block.splitlines() if line.startswith("| run |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    for column in ("hybrid", "hybrid tuned on the train split", "rag_augment default", "tuned without labels",
                   "default - hybrid tuned [95% CI]", "tuned without labels - hybrid tuned [95% CI]"):
        assert column in columns, f"README's headline lost its column {column!r}"
    tuned, gap = columns.index("hybrid tuned on the train split"), columns.index("default - hybrid tuned [95% CI]")
    lines = block.splitlines()
    start = lines.index(header) + 2
    table = lines[start:lines.index("", start)]
    rows = [line for line in table if not line.startswith("| mean")]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert re.fullmatch(r"0\.\d{3}|no train split", cells[tuned]), row
        assert re.fullmatch(r"[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]|no train split", cells[gap]), row
    assert any(re.fullmatch(r"0\.\d{3}", [c.strip() for c in r.strip("|").split("|")][tuned]) for r in rows)


def test_every_rendered_block_is_what_the_committed_files_give(committed):
    """README.md's, RESULTS.md's and the detail pages' `<!-- rendered:NAME -->` blocks (throughput, search latency,
    the reranker study, the lifecycle bar, the advice on tune and train, the shipped-default findings) rendered
    again from the committed files: a hand-typed figure there fails here."""
    details = rb.detail_pages()
    assert {p.name for p in details} >= {"generation.md", "reranker.md", "search-latency.md"}
    for path in (REPO / "README.md", rb.RESULTS_MD, *details):
        text = path.read_text()
        names = re.findall(r"<!-- rendered:([a-z0-9_-]+):start -->", text)
        assert names, f"{path.name} has no rendered block"
        assert rb.render_blocks(text, committed) == text, (
            f"{path.name}'s rendered blocks differ from the committed files: run "
            "`python -m benchmarks.run_benchmarks --results-only` and commit")
    readme, results = (REPO / "README.md").read_text(), rb.RESULTS_MD.read_text()
    for name in ("readme-throughput", "readme-switches", "readme-demo", "readme-lifecycle"):
        assert f"<!-- rendered:{name}:start -->" in readme, name
    for name in ("shipped-default", "reranker-verdict", "generation-summary", "search-summary", "lifecycle-bar"):
        assert f"<!-- rendered:{name}:start -->" in results, name


def test_generation_table_gives_queries_per_minute_beside_chunks_per_minute(tmp_path):
    (tmp_path / "g.md").write_text(
        "Machine: x86_64; model qwen2.5-coder-1.5b-instruct-q4_k_m.gguf; 16 chunks\n\n"
        "| mode | seconds | chunks/min | speed-up | chunks/CPU-min | queries/chunk | gen tok | errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        "| naive (1 chunk per call) | 80.0 | 12.00 | 1.00x | 6.00 | 6.0 | 1000 | 0 |\n"
        "| 0.5B, parallel=16 | 20.0 | 48.00 | 4.00x | 24.00 | 2.0 | 800 | 0 |\n")
    preamble, rows = rb.read_generation("g.md", tmp_path)
    assert preamble == ["Machine: x86_64; model qwen2.5-coder-1.5b-instruct-q4_k_m.gguf; 16 chunks"]
    assert [r["mode"] for r in rows] == ["1.5B: naive (1 chunk per call)", "0.5B, parallel=16"]
    table = rb.generation_table("g.md", [0], tmp_path).splitlines()
    assert table[2] == "| 1.5B: naive (1 chunk per call) | 80.0 | 12.00 | 6.00 | 6.0 | 72.0 | 1.00x, 1.00x |"
    assert table[3] == "| 0.5B, parallel=16 | 20.0 | 48.00 | 24.00 | 2.0 | 96.0 | 4.00x, 1.33x |"


def test_readme_throughput_gives_queries_per_minute():
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("<!-- rendered:readme-throughput:start -->"):
                   readme.index("<!-- rendered:readme-throughput:end -->")]
    header = next(line for line in block.splitlines() if line.startswith("| mode |"))
    assert "chunks/min" in header and "queries/min" in header


def test_conditional_text_only_when_its_runs_were_made(tmp_path):
    result = result_from_per_query(read_per_query(write_per_query(fake_result("a"), tmp_path / "a.json.gz")))
    note = "x [[if a]]A [[m a dense nDCG@10]] [[endif]][[if a zzz]]Z [[m zzz dense nDCG@10]][[endif]]y"
    assert rb.render_note(note, {"a": result}) == "x A 0.438 y"


def test_reranker_study_table_is_what_its_per_query_files_give():
    """The issue-19 table (benchmarks/results/reranker.md) and its verdict (there and in RESULTS.md) are rendered
    from the reranker study's committed per-query files alone."""
    from benchmarks.studies.reranker import report
    results = report.load_results()
    assert results, "benchmarks/studies/reranker/results/ holds no study result"
    assert report.committed_block(report.TABLE_BLOCK).strip() == report.render(results).strip(), (
        "benchmarks/results/reranker.md's table differs from the study's per-query files: run "
        "`python -m benchmarks.run_benchmarks --results-only` and commit")
    verdict = report.render_verdict(results, report.load_latencies()).strip()
    for path in (report.DETAIL_MD, report.RESULTS_MD):
        assert report.committed_block(report.VERDICT_BLOCK, path).strip() == verdict, (
            f"{path.name}'s reranker verdict differs from the study's files: run "
            "`python -m benchmarks.run_benchmarks --results-only` and commit")
