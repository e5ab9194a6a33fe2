"""`rag-augment doctor --json`: the machine, the llama.cpp build, the packaged models and the index home."""
import json

from rag_augment.cli import main


def test_doctor_json_reports_machine_build_models_and_home(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_AUGMENT_MODEL_DIR", str(tmp_path / "models"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff may carry over up to 240 hours of annual leave each year.\n")
    home = tmp_path / "home"
    assert main(["index", str(docs), "--home", str(home), "--generator", "rules"]) == 0
    capsys.readouterr()

    code = main(["doctor", "--json", "--home", str(home)])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["problems"] == []
    assert rep["python"].count(".") == 2 and rep["cpu"]["model"]
    assert rep["llama_cpp"]["installed"] and rep["llama_cpp"]["amx"] is False
    assert {m["name"] for m in rep["models"]} == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"}
    default = next(m for m in rep["models"] if m["name"] == "qwen2.5-coder-0.5b")
    assert default["parts_installed"] == "6/6" and default["sha256"].startswith("not assembled")
    assert rep["packages"]["chromadb"] and rep["packages"]["torch"]
    assert rep["embedder"]["path"]
    h = rep["home"]
    assert h["exists"] and h["chunks"] >= 1 and h["query_vectors"] >= 1 and h["lexical"] == "current", h


def test_doctor_text_says_when_there_is_no_home(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_AUGMENT_MODEL_DIR", str(tmp_path / "models"))
    assert main(["doctor", "--home", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    assert "llama.cpp: llama-cpp-python" in out and "AMX not built" in out
    assert '"exists": false' in out and "no problems found" in out
