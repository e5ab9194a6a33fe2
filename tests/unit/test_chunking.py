"""Loading (real 18F pages, HTML, BEIR .jsonl, bad files) and chunking (stable ids, heading paths, merging)."""
import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from support import TEST_DATA

from rag_augment.chunking import ChunkingConfig, chunk_document, chunk_documents, load_documents
from rag_augment.errors import ConfigError, InputError
from rag_augment.hashing import sha1_hex
from rag_augment.types import Document

HANDBOOK = TEST_DATA / "handbook_18f"
DOCKER = "tools/docker-hub.md"
CARD = "travel/first-time-travel-travel-card.md"


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def reasons(skipped):
    return {Path(s["source"]).name: s["reason"] for s in skipped}


# ---------------------------------------------------------------- config

@pytest.mark.parametrize("kwargs, field", [
    ({"chunk_size": 0}, "chunk_size"), ({"chunk_size": "256"}, "chunk_size"), ({"chunk_size": True}, "chunk_size"),
    ({"chunk_overlap": -1}, "chunk_overlap"), ({"chunk_size": 64, "chunk_overlap": 64}, "chunk_overlap"),
    ({"max_file_bytes": 0}, "max_file_bytes"),
])
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        ChunkingConfig(**kwargs)


# ---------------------------------------------------------------- real pages

def test_real_pages_lose_front_matter_templates_and_comments():
    docs, skipped = load_documents(HANDBOOK)
    assert skipped == []
    by_id = {d.doc_id: d for d in docs}
    assert list(by_id) == [DOCKER, CARD]  # relative posix paths, sorted
    for d in docs:
        for leftover in ("{%", "%}", "{{", "<!--", "redirect_from", "questions:", "](", "https://"):
            assert leftover not in d.text, (d.doc_id, leftover)
        assert d.metadata["format"] == "markdown"
    docker, card = by_id[DOCKER], by_id[CARD]
    assert docker.title == "Docker Hub" and card.title == "Get a travel card"  # from front matter
    assert docker.text.startswith("Docker Hub is a cloud-based container registry")
    assert "## How do I get access to Docker Hub?" in docker.text
    assert "Ask\n#admins-docker for access" in docker.text  # the channel tag keeps its name
    assert "step-indicator" not in card.text and "current_step" not in card.text  # multi-line tag gone
    assert "Complete Your Concur\nProfile" in card.text  # link text kept, target (a template tag) dropped


def test_txt_files_load_as_plain_text(tmp_path):
    shutil.copytree(HANDBOOK, tmp_path / "kb")
    write(tmp_path / "kb" / "README.txt", "Plain <b>text</b> {% kept %}\n\n\n\nas is.")
    docs, _ = load_documents(tmp_path / "kb")
    assert [d.doc_id for d in docs] == ["README.txt", DOCKER, CARD]
    assert docs[0].title == "README" and docs[0].metadata["format"] == "text"
    assert docs[0].text == "Plain <b>text</b> {% kept %}\n\nas is."


def test_single_file_doc_id_is_its_name():
    docs, skipped = load_documents(HANDBOOK / DOCKER)
    assert [d.doc_id for d in docs] == ["docker-hub.md"] and skipped == []
    assert docs[0].source == str(HANDBOOK / DOCKER)


def test_real_page_chunks_have_heading_seeds_and_sections():
    docs, _ = load_documents(HANDBOOK / DOCKER)
    chunks = chunk_document(docs[0], ChunkingConfig())
    assert [c.seeds for c in chunks] == [(), ("How do I get access to Docker Hub?",), ("For admins",)]
    assert [c.position for c in chunks] == [0, 1, 2]
    assert chunks[1].metadata == {"source": docs[0].source, "section": "How do I get access to Docker Hub?"}
    assert all(c.title == "Docker Hub" and c.doc_id == "docker-hub.md" for c in chunks)


# ---------------------------------------------------------------- folders, titles, formats

def test_folder_walk_is_sorted_and_skips_hidden_and_unsupported(tmp_path):
    write(tmp_path / "b.md", "# B\n\nbody b")
    write(tmp_path / "a" / "z.txt", "plain z")
    write(tmp_path / ".hidden.md", "secret")
    write(tmp_path / ".git" / "x.md", "git internals")
    write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    write(tmp_path / "notes.docx", "ignored")
    docs, skipped = load_documents(str(tmp_path))
    assert [d.doc_id for d in docs] == ["a/z.txt", "b.md"]
    assert skipped == []  # unsupported extensions in a folder are skipped silently


def test_unsupported_single_file_is_reported(tmp_path):
    docs, skipped = load_documents(write(tmp_path / "notes.docx", "x"))
    assert docs == [] and skipped[0]["reason"].startswith("unsupported extension")


def test_missing_path_raises_naming_it(tmp_path):
    with pytest.raises(InputError, match="no-such-dir"):
        load_documents(tmp_path / "no-such-dir")


def test_title_fallbacks(tmp_path):
    write(tmp_path / "fm.md", "---\ntitle: 'Quoted title'\n---\n# Heading\n\ntext")
    write(tmp_path / "h1.md", "intro\n\n# The **first** heading\n\ntext")
    write(tmp_path / "page.html", "<html><head><title>Page &amp; title</title></head><body><p>hi</p></body></html>")
    write(tmp_path / "plain-notes.md", "no heading at all")
    docs, _ = load_documents(tmp_path)
    assert {d.doc_id: d.title for d in docs} == {
        "fm.md": "Quoted title", "h1.md": "The first heading", "page.html": "Page & title",
        "plain-notes.md": "plain-notes"}


def test_html_keeps_text_and_headings_drops_scripts(tmp_path):
    html = ("<html><head><title>Leave</title><style>p {color: red}</style></head><body>"
            "<h1>Leave policy</h1><p>Staff get\n   13 days of <b>sick</b> leave.</p><script>var x = 1;</script>"
            "<!-- internal note --><h2>Sick <em>leave</em></h2><ul><li>Tell your supervisor</li></ul>"
            "{% include 'footer.html' %}</body></html>")
    docs, _ = load_documents(write(tmp_path / "leave.htm", html))
    text = docs[0].text
    assert text == "# Leave policy\n\nStaff get 13 days of sick leave.\n\n## Sick leave\n\nTell your supervisor"
    assert docs[0].title == "Leave policy"
    assert [c.seeds for c in chunk_document(docs[0])] == [("Leave policy",), ("Leave policy", "Sick leave")]


def test_markdown_html_tags_stripped_but_code_kept(tmp_path):
    md = ("# Tools\n\n<details markdown=\"block\"><summary>Setup</summary>Install <b>it</b>.</details>\n\n"
          "Use `List<String>` and compare a<b in code:\n\n```java\nif (a<b && c>d) {}\n```\n\n"
          "Jinja {{ site.name }} and {%- if x -%}cond{%- endif -%} and Hugo {{< ref \"x\" >}}.")
    text = load_documents(write(tmp_path / "t.md", md))[0][0].text
    assert "<details" not in text and "<b>" not in text and "Install it." in text
    assert "`List<String>`" in text and "if (a<b && c>d) {}" in text
    assert "{{" not in text and "{%" not in text and "Jinja and cond and Hugo ." in text


# ---------------------------------------------------------------- files that cannot be used

def test_bad_files_are_skipped_with_reasons(tmp_path):
    write(tmp_path / "empty.md", "")
    write(tmp_path / "blank.txt", "  \n\n\t ")
    write(tmp_path / "only-front-matter.md", "---\ntitle: Redirect\nredirect_to: /x/\n---\n{% include 'x' %}\n")
    write(tmp_path / "binary.md", b"%PDF-1.4\x00\x01\x02 stream")
    write(tmp_path / "latin1.txt", "Caf\xe9 cr\xe8me".encode("latin-1"))
    write(tmp_path / "utf16.txt", "hello".encode("utf-16"))
    write(tmp_path / "bom.md", "\ufeff# Title\n\nbody".encode("utf-8"))
    docs, skipped = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["bom.md"] and docs[0].title == "Title"
    r = reasons(skipped)
    assert r["empty.md"] == "empty file" and r["blank.txt"] == "empty file"
    assert r["only-front-matter.md"].startswith("empty after removing")
    assert r["binary.md"].startswith("binary file")
    assert "not valid UTF-8" in r["latin1.txt"] and "0xe9" in r["latin1.txt"]
    assert "UTF-16" in r["utf16.txt"]


def test_file_over_limit_is_skipped_with_size_and_limit(tmp_path):
    write(tmp_path / "big.md", "word " * 300)
    write(tmp_path / "small.md", "word")
    docs, skipped = load_documents(tmp_path, ChunkingConfig(max_file_bytes=1000))
    assert [d.doc_id for d in docs] == ["small.md"]
    assert reasons(skipped)["big.md"] == "file is 1500 bytes, over the 1000-byte limit (max_file_bytes)"


def test_50_mb_file_is_skipped_quickly_without_reading_it(tmp_path):
    big = tmp_path / "huge.md"
    block = b"# Heading\n\n" + b"lorem ipsum dolor sit amet " * 40_000  # about 1 MB
    with open(big, "wb") as f:
        while f.tell() < 50_000_000:
            f.write(block)
    assert big.stat().st_size > ChunkingConfig().max_file_bytes
    tracemalloc.start()
    start = time.perf_counter()
    docs, skipped = load_documents(big)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert docs == [] and "over the 20000000-byte limit" in skipped[0]["reason"]
    assert elapsed < 1.0 and peak < 1_000_000  # the content was never read


def test_unreadable_file_is_skipped(tmp_path):
    locked = write(tmp_path / "locked.md", "# Secret\n\ntext")
    write(tmp_path / "open.md", "# Open\n\ntext")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not block reads here")
        docs, skipped = load_documents(tmp_path)
    finally:
        locked.chmod(0o644)
    assert [d.doc_id for d in docs] == ["open.md"]
    assert reasons(skipped)["locked.md"].startswith("permission denied")


def test_permission_error_is_a_skip_even_as_root(tmp_path, monkeypatch):
    # Root reads chmod-000 files, so the PermissionError branch is proven here by making open() refuse.
    import rag_augment.chunking as chunking
    locked = write(tmp_path / "locked.md", "# Secret")
    write(tmp_path / "open.md", "# Open\n\ntext")

    def refusing_open(path, *args, **kwargs):
        if Path(path).name == "locked.md":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(chunking, "open", refusing_open, raising=False)
    docs, skipped = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["open.md"]
    assert skipped == [{"source": str(locked), "reason": "permission denied: Permission denied"}]


# ---------------------------------------------------------------- BEIR corpus .jsonl

def corpus_lines(*records):
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def test_jsonl_corpus_gives_one_document_per_line(tmp_path):
    path = write(tmp_path / "corpus.jsonl", corpus_lines(
        {"_id": "4983", "title": "White matter", "text": "Alterations of the architecture."},
        "", {"_id": 12, "title": "", "text": "Numeric id."}, {"_id": "7", "title": "", "text": ""}))
    docs, skipped = load_documents(path)
    assert [(d.doc_id, d.title, d.text) for d in docs] == [
        ("4983", "White matter", "Alterations of the architecture."), ("12", "", "Numeric id.")]
    assert docs[0].metadata == {"format": "beir", "line": 1}
    assert skipped == [{"source": f"{path}:4", "reason": "empty record (no title, no text)"}]


@pytest.mark.parametrize("bad, message", [
    ("{not json", "line 2: not valid JSON"),
    ('["a list"]', "line 2: expected a JSON object"),
    ('{"title": "t", "text": "x"}', "line 2: missing or invalid '_id'"),
    ('{"_id": "2", "title": "t"}', "line 2: missing 'text'"),
    ('{"_id": "2", "text": 5}', "line 2: 'text' must be a string"),
])
def test_jsonl_bad_line_raises_naming_file_and_line(tmp_path, bad, message):
    path = write(tmp_path / "corpus.jsonl", corpus_lines({"_id": "1", "text": "ok"}, bad))
    with pytest.raises(InputError, match=message) as e:
        load_documents(path)
    assert "corpus.jsonl" in str(e.value)


def test_duplicate_doc_ids_raise(tmp_path):
    path = write(tmp_path / "corpus.jsonl", corpus_lines({"_id": "1", "text": "a"}, {"_id": "1", "text": "b"}))
    with pytest.raises(InputError, match="'1' appears twice"):
        load_documents(path)


# ---------------------------------------------------------------- chunking

POLICY = """# Leave

## Sick leave

You earn four hours of sick leave every pay period. Use it when you are ill.

## Annual leave

You earn annual leave based on your years of service.

## Notes

See your supervisor.

## Repeat

See your supervisor.
"""


def doc(text: str, title: str = "Policy", doc_id: str = "policy.md") -> Document:
    return Document(doc_id=doc_id, text=text, title=title, source=f"/kb/{doc_id}")


def test_chunk_fields_heading_paths_and_merged_heading_only_section():
    chunks = chunk_document(doc(POLICY))
    assert [c.seeds for c in chunks] == [("Leave", "Sick leave"), ("Leave", "Annual leave"), ("Leave", "Notes"),
                                         ("Leave", "Repeat")]
    first = chunks[0]
    # "# Leave" had no text of its own: it joins the next section instead of being a chunk of one heading.
    assert first.text.startswith("# Leave\n\n## Sick leave\n\nYou earn four hours")
    assert first.metadata == {"source": "/kb/policy.md", "section": "Leave > Sick leave"}
    assert first.content_hash == sha1_hex(first.text + "\x00" + "Policy")
    assert first.chunk_id == f"policy.md#{first.content_hash[:12]}"
    assert [c.position for c in chunks] == [0, 1, 2, 3]
    assert all("#" not in s for c in chunks for s in c.seeds)


def test_ids_are_stable_across_runs_and_survive_edits_elsewhere():
    before = chunk_document(doc(POLICY))
    assert [c.chunk_id for c in chunk_document(doc(POLICY))] == [c.chunk_id for c in before]
    edited = POLICY.replace("based on your years of service", "based on your years of federal service")
    after = chunk_document(doc(edited))
    assert before[0].chunk_id == after[0].chunk_id and before[2:] == after[2:]
    assert before[1].chunk_id != after[1].chunk_id
    inserted = chunk_document(doc(POLICY.replace("## Annual", "## Jury duty\n\nYou get paid leave.\n\n## Annual")))
    assert {c.chunk_id for c in before} <= {c.chunk_id for c in inserted}  # positions move, ids do not
    assert chunk_document(doc(POLICY, title="Other"))[0].chunk_id != before[0].chunk_id  # title is hashed


def test_same_text_twice_gets_ordered_suffixes():
    text = "Same paragraph here.\n\n# A\n\n" + "\n\n# A\n\n".join(["Repeated body text."] * 3)
    chunks = chunk_document(doc(text))
    ids = [c.chunk_id for c in chunks]
    base = ids[1]
    assert ids[1:] == [base, f"{base}-2", f"{base}-3"] and len(set(ids)) == 4


def test_punctuation_only_chunks_are_dropped_and_heading_only_page_kept():
    assert chunk_document(doc("---\n\n***\n\n...")) == []
    only_headings = chunk_document(doc("# Org chart\n\n## Teams"))
    assert len(only_headings) == 1 and "Org chart" in only_headings[0].text


def test_long_section_is_split_to_size_with_the_same_seeds():
    sentences = " ".join(f"Sentence number {i} talks about travel cards and receipts." for i in range(200))
    chunks = chunk_document(doc(f"# Travel\n\n{sentences}"), ChunkingConfig(chunk_size=64, chunk_overlap=8))
    assert len(chunks) > 10
    assert all(c.seeds == ("Travel",) for c in chunks)
    assert max(len(c.text.split()) for c in chunks) < 64
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_ellipsis_heading_joins_its_child_into_a_question():
    chunks = chunk_document(doc("## How do I...\n\n### Get IT help?\n\nCall the desk.\n\n### What is MAX?\n\nA site."))
    assert chunks[0].seeds == ("How do I get IT help?",)
    assert chunks[1].seeds == ("How do I...", "What is MAX?")


def test_chunk_documents_on_real_pages_is_deterministic():
    docs, _ = load_documents(HANDBOOK)
    a, b = chunk_documents(docs), chunk_documents(load_documents(HANDBOOK)[0])
    assert a == b and len(a) >= 4
    assert all(c.text.strip() and c.seeds is not None for c in a)
