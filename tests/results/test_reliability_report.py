"""benchmarks/reliability.py renders RELIABILITY.md from a junit file: a tiny fake one here (no test is run)."""
from __future__ import annotations

import json

from benchmarks import reliability

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="2" skipped="1" tests="9" time="12.5"
 timestamp="2026-12-01T10:00:00" hostname="h">
<testcase classname="tests.test_faults_openai" name="test_index_recovers_from_every_fault[429-first]" time="1.0"/>
<testcase classname="tests.test_faults_openai" name="test_index_recovers_from_every_fault[429-persistent]" time="1.0"/>
<testcase classname="tests.test_faults_openai" name="test_index_recovers_from_every_fault[garbage-mid]" time="1.0">
 <failure message="AssertionError: assert {'c1'} == set()">trace</failure></testcase>
<testcase classname="tests.test_faults_cache" name="test_a_corrupt_line_is_skipped_counted_and_logged[non_utf8]"
 time="0.1"/>
<testcase classname="tests.test_index_safety" name="test_unreadable_document_keeps_its_indexed_version" time="0">
 <skipped type="pytest.skip" message="root reads files whatever their mode"/></testcase>
<testcase classname="tests.test_cli" name="test_errors_are_one_line_and_nonzero" time="2.0"/>
<testcase classname="tests.test_faults_secrets" name="test_no_fragment_of_the_key_anywhere" time="3.0">
 <failure message="AssertionError: found sk-test-PLANTEDsecret-9f8e7d6c5b4a3210 in home/x">trace</failure>
</testcase>
<testcase classname="tests.test_resume_kill9" name="test_kill9_then_resume_equals_uninterrupted" time="4.0"/>
<testcase classname="tests.test_something_new" name="test_new_thing" time="0.1"/>
</testsuite></testsuites>
"""


def render(tmp_path, load=None):
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    load_path = tmp_path / "bench_load.json"
    if load is not None:
        load_path.write_text(json.dumps(load))
    suite = reliability.read_junit(junit)
    return reliability.render(suite, {"machine": "nproc=2"}, load_path, "`python -m benchmarks.reliability`")


def test_statuses_and_counts_come_from_the_junit_file(tmp_path):
    text, summary = render(tmp_path)
    assert summary["counts"] == {"tests": 9, "passed": 6, "failed": 2, "error": 0, "skipped": 1}
    assert "- Result: 9 tests, 6 passed, 2 failed, 0 errors, 1 skipped, in 12 s" in text
    assert "nproc=2" in text


def test_matrix_cells_say_survived_and_lost_only_when_passed(tmp_path):
    text, summary = render(tmp_path)
    assert summary["matrix"] == {"faults": 2, "cells": 3, "survived": 2, "chunks_lost": None}
    row_429 = next(line for line in text.splitlines() if line.startswith("| `429` |"))
    assert row_429.count("yes / 0") == 2 and "not run" in row_429  # no mid-run case in the fake file
    row_garbage = next(line for line in text.splitlines() if line.startswith("| `garbage` |"))
    assert "**no** / ? (failed)" in row_garbage
    assert "0 in the 2 that passed, not measured in 1" in text


def test_catalogue_counts_handled_classes_only(tmp_path):
    _, summary = render(tmp_path)
    bad = summary["bad_inputs"]
    # cli: 4 classes behind one passing test; cache: 1 passing line; unreadable file: skipped (not handled)
    assert bad["by_kind"] == {"one-line error": 4, "skipped, counted and logged": 1}
    assert bad["handled"] == 5 and bad["classes"] > bad["handled"]


def test_a_failing_secrets_scan_never_prints_the_key(tmp_path):
    text, summary = render(tmp_path)
    assert summary["secrets"]["fragments_found"] is None
    assert "PLANTEDsecret" not in text and "9f8e7d6c" not in text
    assert "see the junit file" in text


def test_unknown_tests_are_listed_and_load_is_read_from_json(tmp_path):
    text, summary = render(tmp_path)
    assert "test_something_new.py::test_new_thing" in text
    assert "Not measured yet" in text and summary["load"] == {"measured": False}
    text, summary = render(tmp_path, {"command": "python -m benchmarks.perf.bench_load", "date": "d", "machine": "m",
                                      "concurrent": {"clients": 8, "query_p99_ms": 41.5, "query_errors": 0,
                                                     "index_errors": 0}})
    assert "| query p99, ms | 41.5 |" in text and summary["load"]["query_errors"] == 0
    assert "The million-vector part was not run" in text


def test_every_test_is_indexed_with_its_section(tmp_path):
    text, _ = render(tmp_path)
    listed = reliability.listed_tests(text)
    assert set(reliability.defined_tests()) <= listed  # read from the files, run or not
    assert ("test_something_new", "test_new_thing") in listed  # and what the run reported
    row = next(line for line in text.splitlines() if line.startswith("| test_cli.py::"))
    assert row == "| test_cli.py::test_errors_are_one_line_and_nonzero | Bad inputs | 1 of 1 passed |"


def test_the_committed_report_is_current():
    """RELIABILITY.md lists exactly the test functions of TESTS, runs them all, and names a commit of this history:
    a test added, renamed or removed since the page was written fails here until it is regenerated
    (`python -m benchmarks.reliability`)."""
    import re
    import shutil
    import subprocess

    text = (reliability.BENCHMARKS / "RELIABILITY.md").read_text()
    listed, defined = reliability.listed_tests(text), set(reliability.defined_tests())
    missing, gone = sorted(defined - listed), sorted(listed - defined)
    assert not missing, f"{len(missing)} tests missing from RELIABILITY.md (regenerate it), e.g. {missing[:5]}"
    assert not gone, f"RELIABILITY.md lists {len(gone)} tests the files no longer define, e.g. {gone[:5]}"
    tests_line = next(line for line in text.splitlines() if line.startswith("- Tests: "))
    assert all(f" {t} " in tests_line for t in reliability.TESTS), tests_line
    commit = re.search(r"^- Commit: ([0-9a-f]{7,40})\b", text, re.M)
    assert commit, "RELIABILITY.md names no commit"
    git = shutil.which("git")
    if git is None or not (reliability.REPO_ROOT / ".git").exists():
        return  # no history here to check the commit against
    known = subprocess.run([git, "merge-base", "--is-ancestor", commit[1], "HEAD"], cwd=reliability.REPO_ROOT,
                           capture_output=True, text=True)
    assert known.returncode == 0, f"commit {commit[1]} is not in this history: {known.stderr.strip()}"
