"""The llama.cpp build and its canary: no AMX kernels in the build, and a crashing model becomes one line and exit 2
with the calling process alive (issue 28)."""
import json
import os
import subprocess
import sys

import pytest

from rag_augment.generators import canary

# A stand-in llama_cpp whose model load really segfaults (a NULL read), as ggml's AMX kernels do on some CPUs.
FAKE_LLAMA = """
import ctypes
__version__ = "0.3.36"
def llama_print_system_info():
    return b"CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |"
class Llama:
    def __init__(self, *a, **kw):
        ctypes.string_at(0)
"""


def _fake_llama(root):
    pkg = root / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_LLAMA)
    (pkg / "llama_chat_format.py").write_text("")
    return root


def test_the_installed_build_reports_no_amx():
    info = canary.build_info()
    assert info["installed"], info.get("error")
    assert "CPU" in info["system_info"] and info["features"], info["system_info"]
    assert not info["amx"], f"llama.cpp was built with AMX kernels: {info['system_info']}"


def test_build_info_reads_amx_from_the_system_info(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_fake_llama(tmp_path)))
    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    info = canary.build_info()
    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    assert info["amx"] and "AMX_INT8" in info["features"] and "AVX2" in info["features"]


def test_a_child_killed_by_a_signal_is_reported_as_a_crash(tmp_path):
    ok, what = canary.run_child("m.gguf", argv=[sys.executable, "-c",
                                                "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    assert not ok and what == "crashed llama.cpp (SIGSEGV)"
    ok, what = canary.run_child("m.gguf", timeout=1, argv=[sys.executable, "-c", "import time; time.sleep(30)"])
    assert not ok and "did not finish within 1 s" in what


def test_a_crashing_model_is_one_line_and_exit_2_with_the_parent_alive(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff may carry over up to 240 hours of annual leave each year.\n")
    model = tmp_path / "any.gguf"
    model.write_bytes(b"GGUF" + os.urandom(64))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_fake_llama(tmp_path / "fake")),
                                                        os.environ.get("PYTHONPATH", "")]),
           "RAG_AUGMENT_MODEL_DIR": str(tmp_path / "models"), "PYTHONFAULTHANDLER": ""}
    proc = subprocess.run([sys.executable, "-m", "rag_augment.cli", "index", str(docs), "--home",
                           str(tmp_path / "home"), "--generator", "local", "--model", str(model)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("rag-augment: error: the local model any.gguf crashed llama.cpp (SIGSEGV)")
    for needed in ("AMX_INT8", "--no-cache-dir", "-mno-amx-tile", "--generator openai", "--generator rules"):
        assert needed in line, line
    records = json.loads((tmp_path / "models" / "canary.json").read_text())
    assert [r["ok"] for r in records.values()] == [False]


@pytest.mark.integration
def test_the_canary_passes_a_real_model_once_and_records_it(tmp_path, monkeypatch):
    from rag_augment import models
    path = models.smollm2_path()
    monkeypatch.setenv("RAG_AUGMENT_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(canary, "_checked", set())
    rec = canary.ensure_model_runs(path)
    assert rec["ok"] and rec["result"].startswith("generated in"), rec
    assert not rec["build_amx"]

    def no_child(*a, **kw):
        raise AssertionError("a recorded success must not start the child again")
    monkeypatch.setattr(canary, "run_child", no_child)
    monkeypatch.setattr(canary, "_checked", set())  # a new process: the record on disk answers
    assert canary.ensure_model_runs(path)["ok"]


def test_a_file_llama_cpp_cannot_read_is_a_model_problem_not_a_build_problem(tmp_path, monkeypatch):
    from rag_augment.errors import ConfigError
    monkeypatch.setenv("RAG_AUGMENT_MODEL_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(canary, "_checked", set())
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    with pytest.raises(ConfigError) as err:
        canary.ensure_model_runs(str(bad))
    line = str(err.value)
    assert line.startswith("the local model notes.gguf failed to generate (") and "\n" not in line
    assert "Check the model file" in line and "Rebuild" not in line
