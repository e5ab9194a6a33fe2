"""README.md and benchmarks/RESULTS.md type no figure by hand: every measured number sits in a block rendered from
committed result files (tests/results/test_results_tables.py renders each again and compares), and what is left,
once those blocks, code and link targets are taken out, holds no figure. Every relative link of those pages and of
the detail pages under benchmarks/results/ resolves, every `python -m` module they name exists, and every page of typed
figures under benchmarks/results/historical/ says plainly that it is historical."""
import importlib.util
import re
from pathlib import Path

import pytest
from support import REPO

from benchmarks import run_benchmarks as rb

PAGES = (REPO / "README.md", rb.RESULTS_MD)
HISTORICAL = rb.RESULTS / "historical"

_RENDERED = re.compile(r"<!-- rendered:([a-z0-9_-]+):start -->.*?<!-- rendered:\1:end -->", re.S)

# What a figure looks like: a signed number (+2.0, -0.7), a decimal (0.835), a percentage, a number with a unit of
# time, size or ratio (27 ms, 49 min, 1.9 GB, 2.3x), a number with thousands separators (2,359), or any other
# integer of two digits or more (79 queries, 150 chunks). Single digits stay allowed in prose ("2 cores",
# "4 layers", "top 3"): they name settings, not measurements.
FIGURE = re.compile(r"[+\-−±]\d|\d[\d,]*\.\d+|\d\s?%|\b\d[\d,.]*\s?(?:ms|s|sec|seconds?|min|minutes?|h|hours?|"
                    r"[KMG]i?B|x)\b|\b\d{1,3}(?:,\d{3})+\b|\b\d{2,}\b")
# Numbers that are names, not figures (each removed before FIGURE looks): version numbers (torch 2.13.0, 2.x),
# model sizes (0.5B), dates, metric names (nDCG@10), issue numbers, the architecture name x86-64.
NAMES = (r"\b\d+\.\d+(?:\.\d+)+\b", r"\b\d+\.x\b", r"\b\d+(?:\.\d+)?B\b", r"\b\d{4}-\d{2}-\d{2}\b", r"@\d+",
         r"\b[Ii]ssues? \d+(?:(?:,| and) (?:issue )?\d+)*", r"#\d+", r"\bx86[-_]64\b")


def prose(text: str) -> str:
    """`text` without what may hold figures: rendered blocks, the README's results block, RESULTS.md's generated
    Retrieval quality section, fenced and inline code, HTML comments, link targets and URLs."""
    text = _RENDERED.sub(" ", text)
    text = re.sub(re.escape(rb.README_START) + ".*?" + re.escape(rb.README_END), " ", text, flags=re.S)
    text = re.sub(rf"^{re.escape(rb.SECTION)}\n.*?(?=^## |\Z)", " ", text, flags=re.S | re.M)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)\s]*\)", "]", text)
    return re.sub(r"https?://\S+", " ", text)


def typed_figures(text: str) -> list[str]:
    """Each figure left in `text`'s prose, with its line."""
    out = []
    for line in prose(text).splitlines():
        named = line
        for pattern in NAMES:
            named = re.sub(pattern, " ", named)
        out += [f"{m.group(0)!r} in: {line.strip()}" for m in FIGURE.finditer(named)]
    return out


def test_the_checker_finds_typed_figures_and_passes_names():
    for typed in ("the blend adds +10.1 points", "nDCG@10 0.835", "embedding adds 27 ms", "2.3x the chunks",
                  "about 45% of them", "2,359 chunks", "79 test queries", "about 6 minutes", "-0.7 against it"):
        assert typed_figures(typed), typed
    for named in ("issue 30", "issues 2 and 8", "the 0.5B and 1.5B models", "torch 2.13.0, any torch 2.x",
                  "nDCG@10 and R@100", "on 2026-11-30", "on x86-64", "2 cores, 4 layers", "`--latency-ms 150`",
                  "[a page](results/runs/x-2.md)", "```\nrun 100 queries\n```",
                  "<!-- rendered:a:start -->\n+2.0\n<!-- rendered:a:end -->"):
        assert not typed_figures(named), named


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_figure_is_typed_by_hand(page):
    found = typed_figures(page.read_text())
    assert not found, (f"{page.name} types figures outside a rendered block (render them from a committed file, "
                       "see benchmarks/results/notes.md, or move them to benchmarks/results/historical/):\n"
                       + "\n".join(found))


def test_results_md_is_a_page_one_reads_to_the_end():
    assert len(rb.RESULTS_MD.read_text().splitlines()) <= 300
    assert "## Do the self-checks agree with labelled test splits?" in rb.RESULTS_MD.read_text()


def _linked_pages() -> list[Path]:
    """The pages a reader follows; notes.md is left out: its links are relative to the pages it is rendered into."""
    return [*PAGES, *sorted(p for p in rb.RESULTS.glob("*.md") if p != rb.NOTES_MD),
            *sorted((rb.RESULTS / "runs").glob("*.md")), *sorted(HISTORICAL.glob("*.md"))]


@pytest.mark.parametrize("page", _linked_pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", " ", page.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        if not (page.parent / target.split("#", 1)[0]).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)} links to what is not there: {broken}"


def test_every_page_of_typed_figures_says_it_is_historical():
    pages = sorted(HISTORICAL.glob("*.md"))
    assert pages
    for page in pages:
        head = page.read_text()[:600]
        assert "> **Historical.**" in head and "Not regenerated" in head, page.name
        assert re.search(r"commit [0-9a-f]{7}", head), f"{page.name} does not name the commit it was typed at"
    results = rb.RESULTS_MD.read_text()
    for page in pages:
        assert f"results/historical/{page.name}" in results, f"RESULTS.md does not say where {page.name} is"


def test_every_module_a_command_names_exists():
    """`python -m X` in README.md, RESULTS.md and the detail pages: X can be imported from this checkout, and the
    runs `python -m benchmarks.run_benchmarks` is given are runs it knows."""
    for page in _linked_pages():
        text = page.read_text()
        for module in set(re.findall(r"python -m ([a-zA-Z_][\w.]*)", text)):
            if module in ("pip", "venv", "pytest"):
                continue
            assert importlib.util.find_spec(module) is not None, f"{page.name}: no module {module}"
        for args in re.findall(r"python -m benchmarks\.run_benchmarks ([^`\n#]*)", text):
            for word in args.split():
                if word.startswith("-") or word in ("<name>", "\\"):
                    continue
                known = ("pool", "pool-qwen15b", *rb.RUN_NAMES)
                assert word in known, f"{page.name}: run_benchmarks has no run {word!r}"
        for script in set(re.findall(r"\b(scripts/[\w.-]+\.sh)\b", text)):
            assert (REPO / script).exists(), f"{page.name}: {script} is not there"
