"""RELIABILITY.md from the reliability tests (issue 15): the fault matrix, kill -9 resumes, the bad-input catalogue,
the planted-key scan, concurrency, issue 29's second round (and issue 28's llama.cpp build), the load figures of
`benchmarks.perf.bench_load`, and an index of every test in the run.

Runs the tests with pytest's `--junitxml` (or reads a junit file given with `--junit`) and writes every figure from
that file or from the load JSON; nothing is typed in. A test that fails shows as such, with its one-line reason.

    python -m benchmarks.reliability                        # runs the tests (minutes), writes RELIABILITY.md
    python -m benchmarks.reliability --junit run/junit.xml  # renders an existing junit file

What each test asserts is described below (CATALOGUE, MATRIX_MEANS ...): keep those descriptions in step with the
tests. A test the descriptions do not know is listed under "Other tests", so none disappears from the report.
tests/results/test_reliability_report.py fails when the committed RELIABILITY.md does not list exactly the test
functions of TESTS (or names a commit git does not know): regenerate it when a test is added, renamed or removed.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.paths import BENCHMARKS, REPO_ROOT, RESULTS, RUNS, command_line, shown

TESTS = [f"tests/reliability/{name}.py" for name in (
    "test_faults_openai", "test_faults_cache", "test_faults_secrets", "test_bad_inputs_chunking",
    "test_bad_inputs_generation", "test_index_safety", "test_resume_kill9", "test_faults_round2_generation",
    "test_bad_inputs_round2", "test_store_round2", "test_llama_build")] + [
    "tests/integration/test_cli.py::test_errors_are_one_line_and_nonzero"]
LOAD_COMMAND = "python -m benchmarks.perf.bench_load --out benchmarks/results/bench_load.json"
PLANTED_KEY_FILES = ["tests/reliability/test_faults_openai.py", "tests/reliability/test_faults_secrets.py"]


# ---- junit ---------------------------------------------------------------------------------------------------

@dataclass
class Case:
    module: str      # test_faults_openai
    name: str        # test_index_recovers_from_every_fault[429-first]
    status: str      # passed | failed | error | skipped
    seconds: float
    message: str = ""

    @property
    def function(self) -> str:
        return self.name.split("[", 1)[0]

    @property
    def param(self) -> str:
        return self.name[len(self.function) + 1:-1] if "[" in self.name else ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Suite:
    cases: list[Case]
    timestamp: str
    seconds: float

    def counts(self) -> dict[str, int]:
        out = {"tests": len(self.cases), "passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for c in self.cases:
            out[c.status] += 1
        return out

    def of(self, module: str, function: str) -> list[Case]:
        return [c for c in self.cases if c.module == module and c.function == function]

    def one(self, module: str, function: str) -> Case | None:
        found = self.of(module, function)
        return found[0] if found else None


def read_junit(path: Path) -> Suite:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases, seconds = [], 0.0
    for suite in suites:
        seconds += float(suite.get("time") or 0)
        for tc in suite.iter("testcase"):
            status, message = "passed", ""
            for tag in ("skipped", "failure", "error"):  # the worst outcome wins (a teardown error after a pass)
                el = tc.find(tag)
                if el is not None:
                    status = {"failure": "failed"}.get(tag, tag)
                    message = el.get("message") or (el.text or "")
            cases.append(Case(module=(tc.get("classname") or "").split(".")[-1], name=tc.get("name") or "",
                              status=status, seconds=float(tc.get("time") or 0), message=message))
    return Suite(cases, suites[0].get("timestamp", "") if suites else "", seconds)


# ---- masking: a failing secrets test's message may quote what it found ------------------------------------------

def planted_keys(root: Path = REPO_ROOT) -> list[str]:
    """The KEY constants the secrets tests plant (read from their source, not imported)."""
    keys = []
    for rel in PLANTED_KEY_FILES:
        path = root / rel
        if not path.exists():
            continue
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "KEY" for t in node.targets)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                keys.append(node.value.value)
    return keys


def masked(text: str, keys: Iterable[str], n: int = 8) -> str:
    for key in keys:
        for i in range(len(key) - n + 1):
            text = text.replace(key[i:i + n], "***")
    return re.sub(r"sk-[A-Za-z0-9_-]{4,}", "sk-***", text)


def reason(case: Case, keys: Iterable[str] = ()) -> str:
    first = next((line.strip() for line in case.message.splitlines() if line.strip()), "")
    first = masked(first, keys)
    return (first[:160] + "...") if len(first) > 160 else first


# ---- rendering helpers -----------------------------------------------------------------------------------------

def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    text = cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def mark(case: Case | None, yes: str = "yes", keys: Iterable[str] = ()) -> str:
    if case is None:
        return "not run"
    if case.passed:
        return yes
    if case.status == "skipped":
        return f"skipped ({cell(reason(case, keys))})"
    return f"**NO** ({case.status}: {cell(reason(case, keys))})"


def table(head: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    align = align or "l" * len(head)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |",
            *("| " + " | ".join(r) + " |" for r in rows), ""]


# ---- the fault matrix ----------------------------------------------------------------------------------------

FAULTS_MODULE = "test_faults_openai"
MATRIX = "test_index_recovers_from_every_fault"
WHEN = {"first": "first request", "mid": "mid-run", "persistent": "persistent"}
MATRIX_MEANS = (
    "Each cell is one run of `tests/reliability/test_faults_openai.py::test_index_recovers_from_every_fault`: three "
    "documents are indexed through the real index (real Chroma) with the OpenAI back end against a fault-injecting "
    "OpenAI-compatible server on 127.0.0.1 that injects the fault on the first request, on one request mid-run, or "
    "on every request. **survived = the test passed**, which asserts: during the faulty run no query outside a "
    "clean run's set is stored (garbage stored 0), no failed chunk is cached or marked done, a transient fault "
    "fails no chunk (retried within the run), a soft or leaking answer fails exactly its chunk, a persistent fault "
    "reports every chunk as failed; and after **one** healthy re-run the chunk states, every stored query and the "
    "generation cache equal a clean run's. So **chunks lost = 0** in every cell that passed; a failed cell's loss "
    "is not measured (shown as `?`).")
BACKEND_CHECKS = {  # test function -> what passing it shows, for the fault in its first parameter
    "test_a_transient_fault_is_retried": "one fault: retried, then answered",
    "test_a_persistent_fault_costs_the_retry_budget_then_errors": "persistent: 3 tries within the timeout, an error",
    "test_a_soft_failure_is_an_error_not_a_result": "an error, not a result (nothing cached)",
}


def fault_kinds(root: Path = REPO_ROOT) -> dict[str, str]:
    """fault -> transient / soft / leak, from the tuples of tests/faults_openai_server.py (read, not imported)."""
    path = root / "tests" / "faults_openai_server.py"
    kinds: dict[str, str] = {}
    if not path.exists():
        return kinds
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
            name = getattr(node.targets[0], "id", "")
            if name in ("TRANSIENT", "SOFT", "LEAKS"):
                for el in node.value.elts:
                    if isinstance(el, ast.Constant) and isinstance(el.value, str):
                        kinds[el.value] = {"LEAKS": "leak"}.get(name, name.lower())
    return kinds


def fault_matrix(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    cases = suite.of(FAULTS_MODULE, MATRIX)
    lines = ["## Fault matrix", "", MATRIX_MEANS, ""]
    if not cases:
        return lines + ["No matrix test in the junit file.", ""], {"cells": 0}
    grid: dict[str, dict[str, Case]] = {}
    for c in cases:
        fault, when = c.param.rsplit("-", 1)
        grid.setdefault(fault, {})[when] = c
    kinds = fault_kinds()
    whens = [w for w in WHEN if any(w in row for row in grid.values())]
    whens += sorted({w for row in grid.values() for w in row} - set(whens))
    rows = []
    for fault, row in grid.items():
        cells = []
        for w in whens:
            got = row.get(w)
            cells.append("not run" if got is None else ("yes / 0" if got.passed else f"**no** / ? ({got.status})"))
        checks = []
        for func, means in BACKEND_CHECKS.items():
            for bc in suite.of(FAULTS_MODULE, func):
                if bc.param.split("-", 1)[0] == fault:
                    checks.append(means if bc.passed else f"**FAILED**: {means}")
        rows.append([code(fault), kinds.get(fault, "?"), *cells, "; ".join(checks) or "-"])
    head = ["fault", "kind", *(f"{WHEN.get(w, w)}: survived / chunks lost" for w in whens), "back end alone"]
    passed = sum(c.passed for c in cases)
    lost_known = [c for c in cases if c.passed]
    summary = {"faults": len(grid), "cells": len(cases), "survived": passed,
               "chunks_lost": 0 if len(lost_known) == len(cases) else None}
    lines += [f"**{len(grid)} fault types x {len(whens)} schedules = {len(cases)} cells: {passed} survived; chunks "
              f"lost after one healthy re-run: "
              + (f"0 in all {len(cases)}" if summary["chunks_lost"] == 0 else
                 f"0 in the {passed} that passed, not measured in {len(cases) - passed}") + ".**", ""]
    lines += table(head, rows, "ll" + "l" * len(whens) + "l")
    lines += ["The last column: the back end on its own against the same server "
              "(tests/reliability/test_faults_openai.py), where a test exists for that fault.", ""]
    extra = [(suite.one("test_index_safety", "test_a_chunk_the_model_keeps_refusing_is_given_up_after_three_tries"),
              "a chunk the model keeps refusing (a fake chat back end) fails runs 1 and 2 and is given up on run 3 "
              "(reported apart from the errors; the cache records the give-up with no query); it is asked again on "
              "run 4, waits out run 5 (still reported), and a new home sharing the cache asks for it too"),
             (suite.one("test_faults_secrets", "test_no_fragment_of_the_key_in_the_cli_output_or_home"),
              "`rag-augment index` exits non-zero when a run leaves chunks without queries (every fault in turn), "
              "and 0 on the healthy re-run"),
             (suite.one(FAULTS_MODULE, "test_defaults_bound_a_hung_server"),
              "a hung server is bounded by default: the defaults are a 60 s timeout and 2 retries (3 tries); "
              "measured with those tries and the default backoff, the timeout cut to 0.5 s, against a server that "
              "hangs 30 s a request: 3 requests, then an error, in under 7.5 s")]
    lines += table(["also checked", "holds"], [[means, mark(c, keys=keys)] for c, means in extra])
    return lines, summary


# ---- kill -9 -------------------------------------------------------------------------------------------------

KILL9 = {
    "test_kill9_then_resume_equals_uninterrupted": (
        "SIGKILL mid-generation, after at least 8 chunks were sent to the generator (batches of 2, 0.4 s each)",
        "the resumed index has exactly the chunk ids, query ids and texts, Chroma counts and lexical index sizes "
        "of an uninterrupted run; nothing cached before the kill is generated again; at most the in-flight batch "
        "is redone"),
}


def kill9(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    cases = [c for c in suite.cases if c.module == "test_resume_kill9"]
    rows = []
    for c in cases:
        where, asserts = KILL9.get(c.function, (c.name, "(see the test)"))
        rows.append([where, asserts, mark(c, "identical", keys), f"{c.seconds:.0f} s"])
    lines = ["## kill -9 and resume", "", f"Kill points in the suite: {len(cases)} "
             f"(tests/reliability/test_resume_kill9.py), identical after resume: {sum(c.passed for c in cases)}.", ""]
    lines += table(["kill point", "the resume must give", "result", "test time"], rows) if rows else ["None run.", ""]
    return lines, {"points": len(cases), "identical": sum(c.passed for c in cases)}


# ---- the bad-input catalogue ---------------------------------------------------------------------------------

ONE_LINE, SKIP, COUNTED, KEPT, REPAIRED, LINEAR, ESCAPED = (
    "one-line error", "reported skip", "skipped, counted and logged", "nothing indexed lost", "repaired",
    "cleaned in linear time", "escaped")


@dataclass
class Entry:
    area: str
    module: str
    function: str
    classes: list[tuple[str, str, str]] | Callable[[Case], tuple[str, str, str]]  # (class, kind, outcome)


CACHE_LINES = {"non_utf8": "a non-UTF-8 byte", "json_list": "`[1,2]`", "json_null": "`null`",
               "json_number": "`42`", "not_json": "prose, not JSON", "missing_keys": "a record without its keys",
               "queries_not_list": "`queries` not a list", "query_not_pair": "a query that is not a [text, kind] pair",
               "torn": "a torn line in the middle"}
OPENAI_OPTIONS = {"kw0": "`timeout` 0", "kw1": "`timeout` a string", "kw2": "`max_retries` -1",
                  "kw3": "`max_retries` 1.5", "kw4": "`concurrency` 0"}


def _markup(c: Case) -> tuple[str, str, str]:
    fmt, expr = c.param.split("-", 1)
    return f"markup {code(expr)}", LINEAR, "cleaned in linear time as markdown and as HTML"


def _cache_line(c: Case) -> tuple[str, str, str]:
    return (f"generation cache line: {CACHE_LINES.get(c.param, code(c.param))}", COUNTED,
            "skipped, counted (skipped_lines) and logged; the records around it are read")


def _option(c: Case) -> tuple[str, str, str]:
    kw, field = c.param.split("-", 1)
    return f"OpenAI option {OPENAI_OPTIONS.get(kw, kw)}", ONE_LINE, f"ConfigError naming `{field}`"


CATALOGUE = [
    Entry("documents", "test_bad_inputs_chunking", "test_hostile_markup_cleans_in_well_under_a_second", _markup),
    Entry("documents", "test_bad_inputs_chunking", "test_a_20_mb_hostile_page_cleans_in_seconds",
          [("a 20 MB hostile page", LINEAR, "cleaned in seconds")]),
    Entry("documents", "test_bad_inputs_chunking", "test_a_2_mb_hostile_page_loads_and_chunks_in_reasonable_time",
          [("a 2 MB hostile page, loaded and chunked", LINEAR, "loaded and chunked, nothing skipped")]),
    Entry("documents", "test_bad_inputs_chunking", "test_a_page_over_the_size_limit_is_a_reported_skip",
          [("a page over `max_file_bytes`", SKIP, "skipped with the limit named")]),
    Entry("documents", "test_bad_inputs_chunking", "test_a_fifo_named_md_is_skipped_not_read",
          [("a FIFO named `x.md` in the folder", SKIP, "skipped: not a regular file (a FIFO), never opened")]),
    Entry("documents", "test_bad_inputs_chunking", "test_a_fifo_named_jsonl_is_skipped_not_read",
          [("a FIFO given as the `.jsonl` corpus", SKIP, "skipped: not a regular file (a FIFO)")]),
    Entry("documents", "test_bad_inputs_chunking", "test_dangling_symlink_and_device_are_reported_skips",
          [("a dangling symlink", SKIP, "skipped: its target is missing"),
           ("a symlink to `/dev/zero`", SKIP, "skipped: a character device")]),
    Entry("folders", "test_index_safety", "test_empty_folder_prunes_nothing_without_force",
          [("an emptied source folder", KEPT, "prunes nothing; `--force` prunes")]),
    Entry("folders", "test_index_safety", "test_a_lone_unsupported_file_prunes_nothing",
          [("a folder holding only a `.pdf`", KEPT, "prunes nothing")]),
    Entry("folders", "test_index_safety", "test_unreadable_document_keeps_its_indexed_version",
          [("an indexed file made unreadable (mode 0)", KEPT, "keeps its indexed version")]),
    Entry("folders", "test_index_safety", "test_document_skipped_this_run_keeps_its_indexed_version",
          [("an indexed file emptied", SKIP, "reported skip; keeps its indexed version")]),
    Entry("folders", "test_index_safety", "test_dangling_symlink_keeps_the_document",
          [("an indexed file replaced by a dangling symlink", KEPT, "keeps its indexed version")]),
    Entry("folders", "test_index_safety", "test_indexing_folder_b_keeps_folder_a",
          [("indexing a second folder into the same home", KEPT, "the first folder's documents stay")]),
    Entry("folders", "test_index_safety", "test_pruned_real_queries_are_counted",
          [("a deleted document that had real queries", KEPT, "pruned with its real queries counted in the "
                                                                "report, never silently")]),
    Entry("generation cache", "test_faults_cache", "test_a_corrupt_line_is_skipped_counted_and_logged", _cache_line),
    Entry("generation cache", "test_faults_cache", "test_a_torn_tail_does_not_swallow_the_next_record",
          [("a torn last line (killed mid-write)", REPAIRED, "skipped; the next record starts on a fresh line")]),
    Entry("generation cache", "test_faults_cache", "test_wrongly_typed_optional_fields_fall_back_to_defaults",
          [("wrongly typed optional fields", REPAIRED, "read with defaults")]),
    Entry("generation cache", "test_faults_cache", "test_an_unreadable_cache_is_a_one_line_error",
          [("a folder where `generations.jsonl` should be", ONE_LINE, "InputError naming the file")]),
    Entry("home and settings", "test_index_safety", "test_corrupt_settings_is_one_line_error",
          [("corrupt `settings.json`", ONE_LINE, "ConfigError: fix or delete it")]),
    Entry("home and settings", "test_index_safety", "test_corrupt_state_file_is_repaired",
          [("corrupt state file", REPAIRED, "rebuilt; queries answer")]),
    Entry("home and settings", "test_index_safety", "test_home_that_is_a_file_or_missing",
          [("`--home` pointing at a file", ONE_LINE, "ConfigError: is a file"),
           ("a home that does not exist (read-only command)", ONE_LINE, "InputError: no index at ...; not created")]),
    Entry("arguments and records", "test_index_safety", "test_k_must_be_positive",
          [("`k` 0 or negative", ONE_LINE, "ConfigError: k must be ...")]),
    Entry("arguments and records", "test_index_safety", "test_real_query_text_must_be_a_string",
          [("a real query whose text is not a string", ONE_LINE, "InputError naming the record and field")]),
    Entry("arguments and records", "test_index_safety", "test_csv_export_escapes_formulas_and_round_trips",
          [("spreadsheet formulas in query text (`=HYPERLINK`, `@SUM`)", ESCAPED,
            "quoted in the review CSV; the round trip restores the text")]),
    Entry("arguments and records", FAULTS_MODULE, "test_bad_options_are_one_line_config_errors", _option),
    Entry("command line", "test_cli", "test_errors_are_one_line_and_nonzero",
          [("`index` of a missing folder", ONE_LINE, "one line on stderr naming it, exit 2"),
           ("`show` of an unknown chunk", ONE_LINE, "one line on stderr: the chunk is not in the index, exit 2"),
           ("`delete` of an unknown document", ONE_LINE, "one line on stderr: the document is not in the index, "
                                                         "exit 2"),
           ("`--generator openai` without its options", ONE_LINE, "one line on stderr asking for `--model`, "
                                                                  "exit 2")]),
]


def catalogue_rows(suite: Suite) -> list[tuple[str, str, str, str, list[Case]]]:
    """(area, class, kind, outcome, cases) with the cases that decide it (a class passes when all of them pass)."""
    rows: dict[tuple[str, str], tuple[str, str, str, str, list[Case]]] = {}
    for e in CATALOGUE:
        cases = suite.of(e.module, e.function)
        if callable(e.classes):
            for c in cases:
                label, kind, outcome = e.classes(c)
                rows.setdefault((e.area, label), (e.area, label, kind, outcome, []))[4].append(c)
        else:
            for label, kind, outcome in e.classes:
                rows[(e.area, label)] = (e.area, label, kind, outcome, cases)
    return list(rows.values())


def class_status(cases: list[Case]) -> str:
    if not cases:
        return "not run"
    for status in ("failed", "error", "skipped"):
        if any(c.status == status for c in cases):
            return status
    return "passed"


def bad_inputs(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    rows = catalogue_rows(suite)
    out_rows = []
    for area, label, kind, outcome, cases in rows:
        status = class_status(cases)
        if status == "passed":
            result = kind
        else:
            bad = next((c for c in cases if c.status == status), None)
            result = f"**{status}**" + (f" ({cell(reason(bad, keys))})" if bad else "")
        secs = f"{max(c.seconds for c in cases):.1f}" if cases else "-"
        out_rows.append([area, label, outcome, result, secs])
    handled = [r for r in rows if class_status(r[4]) == "passed"]
    by_kind: dict[str, int] = {}
    for r in handled:
        by_kind[r[2]] = by_kind.get(r[2], 0) + 1
    summary = {"classes": len(rows), "handled": len(handled), "by_kind": by_kind,
               "not_handled": len(rows) - len(handled)}
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1]))
    lines = ["## Bad inputs", "",
             f"**{len(rows)} classes tried, {len(handled)} handled** ({kinds})"
             + (f"; {summary['not_handled']} not handled or not run (below)" if summary["not_handled"] else "")
             + ". Each class is handled when every test case behind it passed; a handled class never costs "
               "indexed work (the tests compare the index before and after where documents were indexed).", ""]
    lines += table(["area", "input", "what happens", "result", "test s"], out_rows, "llllr")
    lines += gate_section(suite, keys)
    return lines, summary


def gate_section(suite: Suite, keys: list[str]) -> list[str]:
    """Generated lines the quality gate refuses before anything is cached or stored (model output, not user input)."""
    dropped = suite.of("test_bad_inputs_generation", "test_lines_that_are_not_queries")
    kept = suite.of("test_bad_inputs_generation", "test_plausible_queries_pass")
    soft = suite.of("test_bad_inputs_generation", "test_nothing_usable_is_a_soft_failure")
    if not (dropped or kept or soft):
        return []
    by_reason: dict[str, list[Case]] = {}
    for c in dropped:
        by_reason.setdefault(c.param.rsplit("-", 1)[-1], []).append(c)
    rows = []
    for why, cases in by_reason.items():
        examples = [c.param.rsplit("-", 1)[0] for c in cases]
        shown_ex = ", ".join(code(x[:48]) for x in examples if not re.fullmatch(r"line\d+", x)) or "(a long line)"
        rows.append([code(why), shown_ex, f"{sum(c.passed for c in cases)} of {len(cases)}"])
    lines = ["### Generated lines the quality gate drops", "",
             f"Model output, not user input: every LLM answer passes the gate before it is cached. "
             f"{sum(c.passed for c in dropped)} of {len(dropped)} hostile lines dropped for the expected reason "
             f"({len(by_reason)} reasons); {sum(c.passed for c in kept)} of {len(kept)} plausible queries kept "
             f"(URLs and hashes the passage holds, other scripts); {sum(c.passed for c in soft)} of {len(soft)} "
             "answers with nothing usable made a soft failure (an error: not cached, the chunk retried next run).",
             ""]
    return lines + table(["reason", "lines tried", "dropped"], rows, "llr")


# ---- secrets ---------------------------------------------------------------------------------------------------

SECRETS = [
    ("test_faults_secrets", "test_no_fragment_of_the_key_anywhere",
     "library: two runs with every fault in turn (key echoed in error bodies and written into answers), then a "
     "healthy run", "every file under the test's folder (home, cache, docs), stdout, stderr, every log record "
     "at DEBUG"),
    ("test_faults_secrets", "test_no_fragment_of_the_key_in_the_cli_output_or_home",
     "`rag-augment index` as a subprocess, DEBUG logging, every fault in turn then healthy",
     "stdout, stderr and every file it wrote"),
    (FAULTS_MODULE, "test_the_key_echoed_in_an_error_body_is_masked_before_the_cut",
     "50 HTTP 500 bodies echoing the key, shifted one character each past the 300-character cut",
     "each error text"),
    (FAULTS_MODULE, "test_the_key_written_into_answers_is_dropped_and_scrubbed",
     "an endpoint writing the key into every answer", "the raw answer, error and notes the generator keeps"),
    ("test_bad_inputs_generation", "test_generations_jsonl_never_holds_what_the_filters_keep_out",
     "an endpoint copying e-mail, phone, card and IBAN from the passage into answers",
     "`generations.jsonl` (raw answer included)"),
    ("test_bad_inputs_generation", "test_the_rules_generator_keeps_personal_data_out_of_queries",
     "a chunk full of personal data through the rules generator", "every query and the raw text"),
]


def fragment_length(root: Path = REPO_ROOT) -> int | None:
    """key_fragments' default n in tests/faults_openai_server.py: the fragment length the scans look for."""
    path = root / "tests" / "faults_openai_server.py"
    if not path.exists():
        return None
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == "key_fragments":
            names = [a.arg for a in node.args.args][-len(node.args.defaults):] if node.args.defaults else []
            for name, default in zip(names, node.args.defaults):
                if name == "n" and isinstance(default, ast.Constant) and isinstance(default.value, int):
                    return int(default.value)
    return None


def secrets(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    n = fragment_length()
    rows, found_known, scans = [], [], 0
    for module, func, what, where in SECRETS:
        c = suite.one(module, func)
        pii = "personal" in what or "e-mail" in what
        if c is None:
            result = "not run"
        elif c.passed:
            result = "0 personal data found" if pii else "0 fragments found"
        elif c.status == "skipped":
            result = f"skipped ({cell(reason(c, keys))})"
        else:
            result = f"**{c.status}: found** (see the junit file)"
        if c is not None and not pii:
            scans += 1
            found_known.append(c.passed)
        rows.append([what, where, result])
    total = "0" if found_known and all(found_known) else "not 0 (a scan failed)" if found_known else "not run"
    lines = ["## Secrets", "",
             f"An API key is planted in the environment variable the OpenAI back end reads; the scans look for it "
             f"and every {n}-character fragment of it. **Fragments found: {total}** ({scans} scans; a scan "
             "passes only when it finds none).", ""]
    lines += table(["hostile setting", "scanned", "result"], rows)
    return lines, {"scans": scans, "fragments_found": 0 if total == "0" else None}


# ---- concurrency and load -----------------------------------------------------------------------------------------

CONCURRENCY = [
    ("test_index_safety", "test_second_writer_is_refused_clearly", "index lock",
     "while another process holds the home's write lock, a writer here waits its lock timeout (0.5 s), then is "
     "refused with a one-line StoreError"),
    ("test_index_safety", "test_reader_searches_while_another_process_writes", "reader during a write",
     "a search answers while another process is inside a write (the lock held, the lexical index marked stale)"),
    ("test_index_safety", "test_long_lived_index_sees_documents_another_process_indexed", "long-lived reader, lexical",
     "an open index finds, in its lexical leg, a document another process indexed after it was opened"),
    ("test_store_round2", "test_long_lived_index_finds_another_process_documents_in_its_dense_legs",
     "long-lived reader, dense",
     "an open index finds, in chunk_dense and query_dense, a document another process indexed after it was "
     "opened, and a retriever it handed out before finds it in chunk_dense"),
    ("test_index_safety", "test_unique_temp_names", "unique temp names",
     "40 threads here (each writing one file, then exporting the review) while 4 other processes write the same "
     "file: no error, the file and the export complete, no temp file left"),
    ("test_store_round2", "test_concurrent_lexical_rebuilds_are_serialised", "lexical rebuilds",
     "16 threads of one process call `rebuild_lexical()` at once (a slowed save): no error, no temp or `.old` "
     "folder left, a fresh index's lexical leg answers and holds as many queries as Chroma"),
]

LOAD_LABELS = {
    "documents": "documents indexed", "chunks": "chunks", "first_build_s": "first build, s",
    "clients": "query clients", "seconds": "bounded run, s", "queries": "queries answered",
    "query_p50_ms": "query p50, ms", "query_p95_ms": "query p95, ms", "query_p99_ms": "query p99, ms",
    "query_errors": "query errors", "query_first_error": "first query error", "index_rounds": "indexer rounds",
    "index_errors": "indexer errors", "index_first_error": "first indexer error",
    "index_round_p50_s": "indexer round p50, s", "vectors": "vectors", "dim": "dimension",
    "insert_s": "insert time, s", "insert_per_s": "inserts per s", "server_rss_mb_before": "server RSS before, MB",
    "server_rss_mb_after": "server RSS after, MB", "query_top200_p50_ms": "query (top 200) p50, ms",
    "query_top200_p95_ms": "query (top 200) p95, ms",
}


def defined(module: str, function: str, root: Path = REPO_ROOT) -> bool:
    """Whether tests/<lane>/<module>.py defines the test (not run is not the same as not written)."""
    path = next((root / "tests").rglob(f"{module}.py"), root / "tests" / f"{module}.py")
    return path.exists() and any(isinstance(n, ast.FunctionDef) and n.name == function
                                 for n in ast.parse(path.read_text()).body)


def concurrency(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    rows, holds, untested = [], 0, []
    for module, func, what, asserts in CONCURRENCY:
        c = suite.one(module, func)
        holds += bool(c and c.passed)
        written = c is not None or defined(module, func)
        if not written:
            untested.append(what)
        rows.append([what, asserts, mark(c, "holds", keys) if written else "no test in the suite",
                     f"{module}.py::{func}" if written else "-"])
    lines = ["## Concurrency", ""] + table(["property", "asserted", "result", "test"], rows)
    return lines, {"properties": len(CONCURRENCY), "hold": holds, "untested": untested}


# ---- issue 29's second round (and issue 28's llama.cpp build) -----------------------------------------------------

GEN2, BAD2, STORE2, LLAMA = ("test_faults_round2_generation", "test_bad_inputs_round2", "test_store_round2",
                             "test_llama_build")
ROUND_TWO = [  # (issue item, module, test, what it asserts); the round's two concurrency tests are in CONCURRENCY
    ("29.1 give-ups", GEN2, "test_three_empty_runs_then_a_healthy_one_completes_every_chunk",
     "an endpoint answering empty: runs 1 and 2 fail all 5 chunks, run 3 gives all 5 up with one warning counting "
     "5; a healthy run 4 asks for all 5 and completes them (no error, no give-up, every chunk done); a new home "
     "sharing the cache asks for all 5 too (a cached give-up is not a generation)"),
    ("29.1 give-ups", GEN2, "test_a_chunk_that_keeps_failing_is_asked_again_after_a_growing_wait",
     "given up after 3 empty runs, the chunks are asked again on run 4; failing again, they wait out run 5 (not "
     "asked, still reported as given up) and are asked on run 6, which heals them and resets their count and wait"),
    ("29.1 give-ups", GEN2, "test_the_command_exits_incomplete_while_chunks_are_given_up",
     "`rag-augment index` exits 3 on each of 3 empty runs (the give-up run included) and 0 on the healthy one; "
     "stderr counts the chunks without queries"),
    ("29.1 give-ups", GEN2, "test_a_replay_keeps_a_recorded_give_up_without_asking",
     "the eval's replay generator reports a give-up recorded in the cache as a give-up and generates nothing"),
    ("29.2 off-topic", GEN2, "test_prose_garbage_is_not_stored_or_cached",
     "an endpoint answering prose that shares no word with the passages: nothing stored, nothing cached, no chunk "
     "done; every chunk an error naming `off_topic x2`"),
    ("29.2 off-topic", GEN2, "test_an_off_topic_query_beside_good_ones_is_filtered_and_counted",
     "an off-topic line beside a good query: the good one stored, the other dropped and counted, no error"),
    ("29.2 off-topic", GEN2, "test_garbage_an_older_version_stored_and_cached_is_not_kept",
     "prose stored and cached with the filter off (as an older version did): the next run drops the 10 stored "
     "lines (counted), asks for every chunk again, keeps no garbage and completes every chunk; the run after asks "
     "nothing; a new home sharing that cache asks again and stores none of it"),
    ("29.2 off-topic", GEN2, "test_real_paraphrases_sharing_a_stem_pass_and_prose_does_not",
     "the off-topic filter (MiniLM) keeps 3 queries sharing a stem with the passage and one of function words "
     "only, and drops a prose line and a keyboard mash"),
    ("29.2 off-topic", GEN2, "test_a_query_that_bridges_the_vocabulary_gap_stays",
     "2 queries that share no word with their passage but are close to it in meaning are kept"),
    ("29.2 off-topic", GEN2, "test_no_filters_turns_the_off_topic_filter_off",
     "the off-topic filter is on by default and `--no-filters` turns it off"),
    ("29.3 linked folders", BAD2, "test_a_linked_subfolder_is_read_and_a_link_loop_ends",
     "a symlinked subfolder (with its own subfolder) is read; a link back to the folder and a loop inside the "
     "linked folder end as 2 reported skips"),
    ("29.3 linked folders", BAD2, "test_swapping_a_folder_for_a_link_to_the_same_files_deletes_nothing",
     "index, replace `pages/` by a symlink to the same files, index again: exit 0, 0 documents deleted, 0 chunks "
     "deleted, 0 added; the same 3 document ids"),
    ("29.3 linked folders", BAD2, "test_a_document_whose_file_is_still_readable_is_never_pruned",
     "`pages/` becomes a link to a folder the walk reads first: 0 documents deleted (`pages/x.md` kept, "
     "`real/x.md` added), the link reported as a skip"),
    ("29.4 same file name", BAD2, "test_two_folders_with_the_same_file_name_keep_both_and_their_real_queries",
     "`fa/policy.md` then `fb/policy.md` into one home: both kept under distinct ids (1 added, 0 changed, 0 "
     "deleted, 0 real queries moved); fa's real question still ranks fa's document first; indexing either folder "
     "again adds, deletes and embeds nothing"),
    ("29.4 same file name", BAD2, "test_a_clashing_id_from_the_library_is_refused_in_one_line",
     "through the library, the same document id from a second source is refused with a one-line InputError"),
    ("29.5 bad documents", BAD2, "test_bad_names_records_links_and_loops_are_skips_and_the_rest_is_indexed",
     "one folder with a non-UTF-8 file name, a corpus.jsonl record holding a lone surrogate, a symlinked "
     "subfolder and a link loop: exit 0; the good file, the non-UTF-8 one (id escaped), the good record and the "
     "linked file indexed; the surrogate record and the loop are the 2 reported skips; the text report says 2 "
     "skipped and names the surrogate record"),
    ("29.5 bad documents", BAD2, "test_a_page_the_sentence_splitter_gives_up_on_is_skipped",
     "a page on which nltk's regular expressions pass their time limit (the limit cut to 0.01 s, a 1 MB page): "
     "exit 0, a reported skip naming the time limit, the other page indexed"),
    ("29.5 bad documents", BAD2, "test_a_page_that_cannot_be_split_keeps_its_indexed_version",
     "an indexed page edited so that it can no longer be split (the time limit cut): skipped, its indexed version "
     "kept, 0 deleted"),
    ("29.6 dense legs", STORE2, "test_a_reloaded_reader_writes_on_top_of_the_other_process_writes",
     "after another process indexed a document, the long-lived index adds a real query: both dense legs rank the "
     "other process's document first and the real query finds it"),
    ("29.6 dense legs", STORE2, "test_llamaindex_retriever_sees_another_process_documents",
     "LlamaIndex retrievers made before another process indexed a document find it in chunk_dense, query_dense "
     "and chunk_lexical"),
    ("29.7 review serve", STORE2, "test_review_serve_on_a_busy_port_is_one_line_and_shows_no_token",
     "`review serve` on a port another program holds: exit 2, one line on stderr naming the port and `--port`, "
     "neither \"Review page\" nor \"token\" on stdout"),
    ("29.7 review serve", STORE2, "test_review_serve_stops_on_ctrl_c_with_its_own_message",
     "SIGINT to a listening `review serve`: exit 0, \"review page stopped\" on stderr, not the indexing message"),
    ("29.7 temp folders", STORE2, "test_a_lexical_save_killed_before_its_swap_leaves_no_temp_folder",
     "a process killed as it swaps in a new lexical folder leaves `lexical-*.new-*`: the next open removes it; "
     "an open while a writer holds the lock leaves it; the next save removes it"),
    ("29.7 damaged HNSW", STORE2, "test_a_garbled_hnsw_file_is_a_one_line_error_naming_its_folder",
     "a garbled HNSW header: a query in a new process raises a StoreError naming the folder; `rag-augment stats` "
     "exits 2 with one line on stderr naming the folder, no traceback"),
    ("29.7 cache warning", GEN2, "test_a_torn_cache_line_is_reported_once_not_on_every_command",
     "a torn cache line is warned about on the first of 3 opens, not the next 2, and skipped and counted on each; "
     "a new bad line is warned about once, with its line number"),
    ("29.7 names", BAD2, "test_a_newline_in_a_file_name_reaches_neither_the_id_nor_the_terminal",
     "a newline in a file name: the document id holds `\\x0a`; `query --explain` prints no raw newline"),
    ("29.7 names", BAD2, "test_query_output_escapes_line_breaks_in_stored_ids",
     "`query` prints line breaks in a stored id and title as `?`: the hit takes exactly two lines"),
    ("29.7 zero-width", BAD2, "test_zero_width_characters_do_not_split_words",
     "5 zero-width characters in Markdown and JSONL are removed from chunk text and titles, joining the words "
     "around them; the tokenizer gives `pass<ZWSP>word` the tokens of `password`"),
    ("28 llama.cpp", LLAMA, "test_the_installed_build_reports_no_amx",
     "the installed llama-cpp-python reports its CPU features, AMX not among them"),
    ("28 llama.cpp", LLAMA, "test_build_info_reads_amx_from_the_system_info",
     "the build check reads AMX from a stand-in llama_cpp's system info"),
    ("28 llama.cpp", LLAMA, "test_a_child_killed_by_a_signal_is_reported_as_a_crash",
     "the canary's child killed by SIGSEGV is reported as \"crashed llama.cpp (SIGSEGV)\"; one running past its "
     "1 s limit as \"did not finish within 1 s\""),
    ("28 llama.cpp", LLAMA, "test_a_crashing_model_is_one_line_and_exit_2_with_the_parent_alive",
     "`rag-augment index --generator local` with a model whose load segfaults (a stand-in llama_cpp): exit 2, "
     "exactly one line on stderr naming the crash, AMX and the ways out; the failure recorded in canary.json"),
    ("28 llama.cpp", LLAMA, "test_the_canary_passes_a_real_model_once_and_records_it",
     "the canary runs the packaged SmolLM2 once and records a success (no AMX in the build); a later check "
     "answers from the record without starting the child"),
]


def round_two(suite: Suite, keys: list[str]) -> tuple[list[str], dict]:
    rows, passed = [], 0
    for item, module, func, asserts in ROUND_TWO:
        cases = suite.of(module, func)
        status = class_status(cases)
        passed += status == "passed"
        bad = next((c for c in cases if c.status == status), None)
        result = "holds" if status == "passed" else "not run" if not cases else \
            f"**{status}**" + (f" ({cell(reason(bad, keys))})" if bad else "")
        rows.append([item, asserts, result, f"{module}.py::{func}"])
    lines = ["## Round two (issue 29; issue 28's llama.cpp build)", "",
             f"**{passed} of {len(ROUND_TWO)} hold.** Each row is one test of issue 29's second round (its "
             "numbered items) or of issue 28's llama.cpp build, with what that test asserts; it holds when the test "
             "passed. The round's two concurrency tests are under Concurrency.", ""]
    lines += table(["item", "asserted", "result", "test"], rows)
    return lines, {"tests": len(ROUND_TWO), "hold": passed}


def load_section(path: Path) -> tuple[list[str], dict]:
    lines = ["## Load", ""]
    if not path.exists():
        return lines + [f"Not measured yet: `{LOAD_COMMAND}` writes `{shown(path)}`; then re-run "
                        "`python -m benchmarks.reliability`.", ""], {"measured": False}
    rec = json.loads(path.read_text())
    lines += [f"From `{shown(path)}`, written by `{rec.get('command', '?')}` on {rec.get('date', '?')} "
              f"({rec.get('machine', '?')}); documents: `{rec.get('docs', '?')}`.", ""]
    conc, million = rec.get("concurrent") or {}, rec.get("million") or {}
    if conc:
        lines += ["One indexer re-indexing the folder (a document added and removed each round) while "
                  f"{conc.get('clients', '?')} query clients search, each in its own process and home, against one "
                  f"`chroma run` server on 127.0.0.1, for {conc.get('seconds', '?')} s (the indexer finishes the "
                  "round it is in). Latencies are wall-clock per query on the machine named, the clients, the "
                  "indexer and the server sharing its cores:", ""]
        lines += table(["figure", "value"], [[LOAD_LABELS.get(k, k), cell(v if v != "" else "-")]
                                             for k, v in conc.items()], "lr")
    if million:
        lines += ["Synthetic unit vectors (Chroma's cost does not depend on what they mean) upserted into one "
                  "collection of the same server:", ""]
        lines += table(["figure", "value"], [[LOAD_LABELS.get(k, k), cell(v)] for k, v in million.items()], "lr")
    else:
        lines += ["The million-vector part was not run (`--vectors 0`).", ""]
    return lines, {"measured": True, "query_errors": conc.get("query_errors"),
                   "index_errors": conc.get("index_errors")}


# ---- everything else, and failures ---------------------------------------------------------------------------

def described(suite: Suite) -> set[tuple[str, str]]:
    known = {(FAULTS_MODULE, MATRIX), (FAULTS_MODULE, "test_defaults_bound_a_hung_server"),
             ("test_index_safety", "test_a_chunk_the_model_keeps_refusing_is_given_up_after_three_tries"),
             ("test_bad_inputs_generation", "test_lines_that_are_not_queries"),
             ("test_bad_inputs_generation", "test_plausible_queries_pass"),
             ("test_bad_inputs_generation", "test_nothing_usable_is_a_soft_failure")}
    known |= {(FAULTS_MODULE, f) for f in BACKEND_CHECKS}
    known |= {(e.module, e.function) for e in CATALOGUE}
    known |= {(m, f) for m, f, *_ in SECRETS} | {(m, f) for m, f, *_ in CONCURRENCY}
    known |= {(m, f) for _, m, f, _ in ROUND_TWO}
    known |= {("test_resume_kill9", c.function) for c in suite.cases if c.module == "test_resume_kill9"}
    return known


def sections(suite: Suite) -> dict[tuple[str, str], list[str]]:
    """(module, test) -> the sections of the page that describe it."""
    out: dict[tuple[str, str], list[str]] = {}

    def add(where: str, pairs: Iterable[tuple[str, str]]) -> None:
        for pair in pairs:
            if where not in out.setdefault(pair, []):
                out[pair].append(where)
    add("Fault matrix", [(FAULTS_MODULE, MATRIX), *((FAULTS_MODULE, f) for f in BACKEND_CHECKS),
                         (FAULTS_MODULE, "test_defaults_bound_a_hung_server"),
                         ("test_index_safety", "test_a_chunk_the_model_keeps_refusing_is_given_up_after_three_tries"),
                         ("test_faults_secrets", "test_no_fragment_of_the_key_in_the_cli_output_or_home")])
    add("kill -9", [("test_resume_kill9", c.function) for c in suite.cases if c.module == "test_resume_kill9"])
    add("kill -9", [(m, f) for m, f in defined_tests() if m == "test_resume_kill9"])
    add("Bad inputs", [(e.module, e.function) for e in CATALOGUE])
    add("Bad inputs (quality gate)", [("test_bad_inputs_generation", f) for f in (
        "test_lines_that_are_not_queries", "test_plausible_queries_pass", "test_nothing_usable_is_a_soft_failure")])
    add("Secrets", [(m, f) for m, f, *_ in SECRETS])
    add("Concurrency", [(m, f) for m, f, *_ in CONCURRENCY])
    add("Round two", [(m, f) for _, m, f, _ in ROUND_TWO])
    return out


def defined_tests(root: Path = REPO_ROOT) -> list[tuple[str, str]]:
    """(module, test function) for every test TESTS runs, read from the files (AST, in file order; a
    `file::function` entry keeps that function only)."""
    found: list[tuple[str, str]] = []
    for entry in TESTS:
        rel, _, only = entry.partition("::")
        path = root / rel
        if not path.exists():
            continue
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
                    and (not only or node.name == only.split("[", 1)[0])):
                found.append((path.stem, node.name))
    return found


EVERY_TEST = "## Every test in the run"


def every_test(suite: Suite) -> list[str]:
    """One row per test function: the files' (read, so a test that was not run still shows) and the run's."""
    where = sections(suite)
    pairs = list(dict.fromkeys([*defined_tests(), *((c.module, c.function) for c in suite.cases)]))
    rows = []
    for m, f in pairs:
        cases = suite.of(m, f)
        result = f"{sum(c.passed for c in cases)} of {len(cases)} passed" if cases else "not run"
        rows.append([f"{m}.py::{f}", ", ".join(where.get((m, f), ["Other tests" if cases else "-"])), result])
    return [EVERY_TEST, "", f"{len(pairs)} test functions: those the files in `Tests` define and those the run "
            "reported, with the section that describes each and its cases passed.", ""] + \
        table(["test", "described in", "result"], rows)


def listed_tests(text: str) -> set[tuple[str, str]]:
    """The (module, test) pairs a rendered page lists under "Every test in the run"."""
    part = text.split(EVERY_TEST, 1)[1].split("\n## ", 1)[0] if EVERY_TEST in text else ""
    return {(m, f) for m, f in re.findall(r"^\| (\w+)\.py::(\w+) \|", part, re.M)}


def others(suite: Suite, keys: list[str]) -> list[str]:
    known = described(suite)
    rest: dict[tuple[str, str], list[Case]] = {}
    for c in suite.cases:
        if (c.module, c.function) not in known:
            rest.setdefault((c.module, c.function), []).append(c)
    if not rest:
        return []
    rows = [[f"{m}.py::{f}", f"{sum(c.passed for c in cs)} of {len(cs)} passed"] for (m, f), cs in rest.items()]
    return ["## Other tests in the run", "", "Run with the rest but not described above (the same files):", ""] + \
        table(["test", "result"], rows)


def failures(suite: Suite, keys: list[str]) -> list[str]:
    bad = [c for c in suite.cases if c.status in ("failed", "error")]
    skipped = [c for c in suite.cases if c.status == "skipped"]
    lines = ["## Failures and skips", ""]
    if not bad and not skipped:
        return lines + ["None: every test passed.", ""]
    secret_funcs = {f for _, f, *_ in SECRETS}
    rows = [[f"{c.module}.py::{cell(c.name)}", c.status,
             "see the junit file" if c.function in secret_funcs else cell(reason(c, keys))] for c in bad + skipped]
    return lines + table(["test", "status", "reason"], rows)


# ---- the page ------------------------------------------------------------------------------------------------

def render(suite: Suite, meta: dict, load_path: Path, command: str) -> tuple[str, dict]:
    keys = planted_keys()
    counts = suite.counts()
    matrix_lines, matrix = fault_matrix(suite, keys)
    kill_lines, kills = kill9(suite, keys)
    bad_lines, bad = bad_inputs(suite, keys)
    secret_lines, secret = secrets(suite, keys)
    load_lines, load = load_section(load_path)
    conc_lines, conc = concurrency(suite, keys)
    round_lines, round2 = round_two(suite, keys)
    header = [
        "# Reliability", "",
        f"<!-- generated by benchmarks/reliability.py from the junit file and {shown(load_path)}: do not edit -->",
        "",
        "What issues 15 and 29 ask to hold: nothing lost, nothing leaked. Every figure below is read from the "
        "tests' junit file or the load benchmark's JSON.", "",
        f"- Command: {command}",
        f"- Tests: `{meta.get('pytest', 'pytest ' + ' '.join(TESTS))}`",
        f"- Date: tests run {meta.get('date') or suite.timestamp or '?'}; page written "
        f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        f"- Machine: {meta.get('machine', 'not recorded (junit file given with --junit)')}",
        f"- Commit: {meta.get('commit', '?')}",
        f"- Result: {counts['tests']} tests, {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped, in {suite.seconds:.0f} s", "",
        "## Summary", "",
    ]
    load_cell = ("not measured yet" if not load["measured"] else
                 f"{load['query_errors']} query errors, {load['index_errors']} indexer errors")
    summary = table(["area", "result"], [
        ["fault matrix", f"{matrix.get('survived', 0)} of {matrix.get('cells', 0)} fault x schedule cells survived; "
                         "chunks lost after one healthy re-run: "
                         + ("0" if matrix.get("chunks_lost") == 0 else "not 0 or not measured")],
        ["kill -9", f"{kills['identical']} of {kills['points']} resumes identical to an uninterrupted run"],
        ["bad inputs", f"{bad['handled']} of {bad['classes']} classes handled "
                       f"({bad['by_kind'].get(ONE_LINE, 0)} one-line errors, "
                       f"{bad['by_kind'].get(SKIP, 0) + bad['by_kind'].get(COUNTED, 0)} reported skips)"],
        ["secrets", f"fragments of the planted key found: "
                    f"{secret['fragments_found'] if secret['fragments_found'] is not None else 'not 0 or not run'}"
                    f" ({secret['scans']} scans)"],
        ["concurrency", f"{conc['hold']} of {conc['properties']} properties hold"
                        + (f" (no test: {', '.join(conc['untested'])})" if conc["untested"] else "")],
        ["round two", f"{round2['hold']} of {round2['tests']} tests of issue 29's second round and issue 28's "
                      "llama.cpp build hold"],
        ["load", load_cell],
    ])
    body = [*header, *summary, *matrix_lines, *kill_lines, *bad_lines, *secret_lines, *conc_lines,
            *round_lines, *load_lines, *others(suite, keys), *failures(suite, keys), *every_test(suite)]
    text = "\n".join(body).rstrip() + "\n"
    return text, {"counts": counts, "matrix": matrix, "kill9": kills, "bad_inputs": bad,
                  "secrets": secret, "concurrency": conc, "round_two": round2, "load": load}


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "rag_augment", "tests"], cwd=REPO_ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + (" (with uncommitted changes in rag_augment/ or tests/)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine() -> str:
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    return f"nproc={ncpu}, load average (1/5/15 min) {load}"


def run_tests(junit: Path) -> tuple[int, dict]:
    junit.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit2",
           f"--junitxml={junit}", *TESTS]
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "ANONYMIZED_TELEMETRY": "False"}
    meta: dict[str, object] = {"pytest": f"python -m pytest -q {' '.join(TESTS)} --junitxml={shown(junit)}",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine_start": machine(),
            "commit": git_commit()}
    start = time.perf_counter()
    rc = subprocess.run(cmd, cwd=REPO_ROOT, env=env).returncode
    meta.update(seconds=round(time.perf_counter() - start, 1), returncode=rc,
                machine=f"{meta['machine_start']} at start; {machine().split(', ', 1)[1]} at the end")
    junit.with_name(junit.name + ".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return rc, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reliability", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(BENCHMARKS / "RELIABILITY.md"))
    ap.add_argument("--junit", help="render this junit file instead of running the tests")
    ap.add_argument("--junit-out", default=str(RUNS / "reliability" / "junit.xml"),
                    help="where the run writes its junit file (default: %(default)s)")
    ap.add_argument("--load", default=str(RESULTS / "bench_load.json"), help="the load benchmark's JSON")
    args = ap.parse_args(argv)
    rc = 0
    if args.junit:
        junit = Path(args.junit)
        sidecar = junit.with_name(junit.name + ".meta.json")
        meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        meta.setdefault("pytest", f"read from {shown(junit)}")
    else:
        junit = Path(args.junit_out)
        rc, meta = run_tests(junit)
    suite = read_junit(junit)
    argv = sys.argv[1:] if argv is None else argv
    rerun = [*(["--out", shown(args.out)] if Path(args.out) != BENCHMARKS / "RELIABILITY.md" else []),
             *(["--load", shown(args.load)] if Path(args.load) != RESULTS / "bench_load.json" else [])]
    command = f"`{command_line('benchmarks.reliability', rerun)}`"
    if args.junit:  # the page says how its tests are run, and how this copy was rendered
        command += f" (this page rendered from a run's junit file: `{command_line('benchmarks.reliability', argv)}`)"
    text, summary = render(suite, meta, Path(args.load), command)
    Path(args.out).write_text(text)
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")
    return 1 if rc not in (0,) or summary["counts"]["failed"] or summary["counts"]["error"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
