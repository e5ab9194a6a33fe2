"""Load documents (markdown, text, HTML, BEIR corpus .jsonl) and split them into chunks with stable ids.

Splitting is LlamaIndex's: MarkdownNodeParser for sections, SentenceSplitter for size. Chunk ids come from the
chunk's own content, so editing one section of a page leaves every other chunk id (and its cache entry) intact.
"""
from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from rag_augment.errors import ConfigError, InputError
from rag_augment.hashing import sha1_hex
from rag_augment.text import strip_zero_width
from rag_augment.types import Chunk, Document

MARKDOWN_EXTS = {".md", ".markdown"}
TEXT_EXTS = {".txt"}
HTML_EXTS = {".html", ".htm"}
JSONL_EXTS = {".jsonl"}
SUPPORTED_EXTS = MARKDOWN_EXTS | TEXT_EXTS | HTML_EXTS | JSONL_EXTS


@dataclass(frozen=True)
class ChunkingConfig:
    chunk_size: int = 256         # tokens as SentenceSplitter counts them; fits all-MiniLM-L6-v2's window
    chunk_overlap: int = 32
    max_file_bytes: int = 20_000_000

    def __post_init__(self) -> None:
        for name in ("chunk_size", "chunk_overlap", "max_file_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"chunking.{name} must be an integer, got {value!r}")
        if self.chunk_size < 1:
            raise ConfigError(f"chunking.chunk_size must be >= 1, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunking.chunk_overlap must be >= 0 and < chunk_size ({self.chunk_size}), "
                              f"got {self.chunk_overlap}")
        if self.max_file_bytes < 1:
            raise ConfigError(f"chunking.max_file_bytes must be >= 1, got {self.max_file_bytes}")


# ---------------------------------------------------------------- names and invisible characters

_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def readable_name(name: str) -> str:
    """A file name as text that Chroma can store and a terminal can print: bytes that are not UTF-8 and control
    characters (a newline in a name) are written as \\xNN, so the name stays recognisable and distinct."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return _NAME_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# ---------------------------------------------------------------- markup cleaning

_FRONT_MATTER = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n(.*?)\n(?:---|\+\+\+|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FM_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*(.*)$", re.M)  # stripped in code: a lazy (.*?)\s*$ is quadratic
_SLACK_TAG = re.compile(r"\{%-?\s*slack_channel\s+[\"']([^\"']+)[\"']\s*-?%\}")
_TEMPLATE_DELIMITERS = (("{%", "%}"), ("{{", "}}"), ("{#", "#}"))
_ATTR_LIST = re.compile(r"\{:?[ \t]*[.#][\w-][^{}\n]*\}")  # kramdown/pandoc attributes: {.usa-button}
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
# Linear time on hostile input: every alternative of the link text starts with a different character and none
# is a bare '[', so a failed match at one '[' costs a few steps, never a rescan (5,000 '[' took 101 s before).
_MD_LINK = re.compile(r"(?<!\\)!?\[((?:\\.|\[[^\[\]\n]{0,200}\]|[^\[\]\\\n]|\n(?![ \t]*\n)){0,500}?)\]"
                      r"\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
_CODE = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]+`)", re.S)
_H1 = re.compile(r"^#[ \t]+(.+)$", re.M)  # closing '#'s are stripped in code, for the same reason
_BLOCK_TAGS = {"p", "div", "section", "article", "header", "footer", "main", "aside", "nav", "ul", "ol", "li",
               "table", "tr", "details", "summary", "blockquote", "pre", "dl", "dt", "dd", "form", "figure"}


class _TextExtractor(HTMLParser):
    """Keeps text, turns <h1>-<h6> into markdown headings, drops script/style, remembers <title>."""

    def __init__(self, collapse_ws: bool):
        super().__init__(convert_charrefs=True)
        self.collapse_ws = collapse_ws  # HTML source whitespace means nothing; markdown newlines do
        self.out: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = ["#" * int(tag[1]) + " "]
        elif tag == "br" or tag in _BLOCK_TAGS:
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            line = re.sub(r"\s+", " ", "".join(self._heading)).rstrip()
            self._heading = None
            if re.search(r"\w", line):
                self.out.append(f"\n\n{line}\n\n")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data):
        if self._skip:
            return
        if self._in_title:
            self.title += data
        elif self._heading is not None:
            self._heading.append(data)
        else:
            self.out.append(re.sub(r"\s+", " ", data) if self.collapse_ws else data)


_TAG_REACH = 4096  # longest tag we parse as a tag; real ones are far shorter


def _defuse_unclosed_tags(text: str) -> str:
    """html.parser rescans the rest of the page from every '<' it cannot close (5,000 of them take seconds): a
    '<' with no '>' within _TAG_REACH characters is written as &lt;, which the parser reads back as a plain '<'."""
    out, i, gt = [], 0, -1
    while (lt := text.find("<", i)) >= 0:
        if gt < lt:
            gt = text.find(">", lt)
            if gt < 0:  # no '>' after here: every remaining '<' is text
                out.append(text[i:lt] + text[lt:].replace("<", "&lt;"))
                return "".join(out)
        out.append(text[i:lt] + ("&lt;" if gt - lt > _TAG_REACH else "<"))
        i = lt + 1
    out.append(text[i:])
    return "".join(out)


def _strip_html(text: str, collapse_ws: bool) -> tuple[str, str]:
    parser = _TextExtractor(collapse_ws)
    parser.feed(_defuse_unclosed_tags(text))
    parser.close()
    return "".join(parser.out), re.sub(r"\s+", " ", parser.title).strip()


def _strip_html_outside_code(text: str) -> str:
    # Markdown code often holds '<' (generics, comparisons) that html.parser would read as tags.
    parts = _CODE.split(text)
    return "".join(p if i % 2 else _strip_html(p, collapse_ws=False)[0] for i, p in enumerate(parts))


def _tidy(text: str) -> str:
    # Padded markdown tables cost hundreds of tokens of spaces and dashes: squeeze them.
    text = re.sub(r"(?<=\S)[ \t]{2,}", " ", text.replace("\xa0", " "))
    text = re.sub(r"([-=_*])\1{3,}", r"\1\1\1", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _inline_md(text: str) -> str:
    """A heading or title as plain words: no links, emphasis, code marks or trailing '#'."""
    text = _MD_LINK.sub(r"\1", _MD_LINK.sub(r"\1", text))  # twice: images inside links
    text = re.sub(r"[*_`]+", "", text)
    return re.sub(r"\s+", " ", text).strip().rstrip("#").strip()


def _drop_templates(text: str) -> str:
    """Removes {% %}, {{ }} and {# #} spans. A scan with str.find, not a lazy regex: an opener with no closer
    after it would make the regex rescan the rest of the page from every later opener (quadratic)."""
    for start, end in _TEMPLATE_DELIMITERS:
        out, i = [], 0
        while (j := text.find(start, i)) >= 0:
            k = text.find(end, j + len(start))
            if k < 0:
                break  # no closer after this opener means none after any later one either
            out.append(text[i:j])
            i = k + len(end)
        text = "".join(out) + text[i:]
    return text


def _front_matter(text: str) -> tuple[str, str]:
    m = _FRONT_MATTER.match(text)
    if not m:
        return text, ""
    t = _FM_TITLE.search(m.group(1))
    title = t.group(1).strip().strip("\"'").strip() if t else ""
    if title in (">", "|", ">-", "|-"):  # block scalars: rare; fall back to the H1
        title = ""
    return text[m.end():], title


def clean_markup(text: str, fmt: str) -> tuple[str, str]:
    """(clean text, title found in the markup or '') for fmt in {'markdown', 'html', 'text'}."""
    text = strip_zero_width(text).replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "text":
        return _tidy(text), ""
    text, fm_title = _front_matter(text)
    text = _SLACK_TAG.sub(r"#\1", text)  # the 18F handbook's channel tag carries a name worth keeping
    text = _ATTR_LIST.sub("", _drop_templates(_COMMENT.sub("", text)))
    html_title = ""
    if fmt == "html":
        text, html_title = _strip_html(text, collapse_ws=True)
    else:
        text = _strip_html_outside_code(_AUTOLINK.sub(r"\1", text))
        # Link text stays, targets go: URLs would eat the embedder's 256-token window. Twice: images in links.
        text = _MD_LINK.sub(r"\1", _MD_LINK.sub(r"\1", text))
    text = _tidy(text)
    h1 = _H1.search(text)
    title = fm_title or (h1.group(1).rstrip(" \t#") if h1 else "") or html_title
    return text, _inline_md(_strip_html(title, collapse_ws=True)[0]) if title else ""


# ---------------------------------------------------------------- loading

def _skip(source: object, reason: str, **extra: str) -> dict:
    return {"source": readable_name(str(source)), "reason": reason, **extra}


def _open_nonblocking(path, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _open_regular(path: Path):
    """(binary file, '') or (None, reason to skip). Only regular files are read: opening a FIFO named x.md would
    block forever, a device would never end. O_NONBLOCK makes even a FIFO's open return, so the type check runs
    on the very file that was opened (no race with a swap between a stat and the open)."""
    try:
        f = open(path, "rb", opener=_open_nonblocking)  # noqa: SIM115 - handed to the caller, who closes it
    except FileNotFoundError:
        return None, "dangling symlink (its target is missing)" if path.is_symlink() else "vanished while listing"
    except PermissionError as e:
        return None, f"permission denied: {e.strerror or e}"
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    mode = os.fstat(f.fileno()).st_mode
    if not stat.S_ISREG(mode):
        f.close()
        return None, f"not a regular file ({_file_kind(mode)})"
    os.set_blocking(f.fileno(), True)
    return f, ""


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def _read_text(path: Path, limit: int) -> tuple[str | None, str]:
    """(text, '') or (None, reason to skip). Never reads more than limit + 1 bytes."""
    f, reason = _open_regular(path)
    if f is None:
        return None, reason
    try:
        with f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                return None, f"file is {size} bytes, over the {limit}-byte limit (max_file_bytes)"
            data = f.read(limit + 1)
    except OSError as e:
        return None, f"cannot read: {e.strerror or e}"
    if len(data) > limit:
        return None, f"file grew past the {limit}-byte limit (max_file_bytes) while reading"
    if not data.strip():
        return None, "empty file"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return None, "UTF-16 encoded text; only UTF-8 is read (re-save the file as UTF-8)"
    if b"\x00" in data:
        return None, "binary file (contains NUL bytes)"
    try:
        return data.decode("utf-8-sig"), ""  # plain UTF-8, with or without a byte-order mark
    except UnicodeDecodeError as e:
        return None, (f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
                      "re-save the file as UTF-8")


def _load_markup(path: Path, doc_id: str, cfg: ChunkingConfig) -> tuple[Document | None, dict | None]:
    raw, reason = _read_text(path, cfg.max_file_bytes)
    if raw is None:
        return None, _skip(path, reason)
    ext = path.suffix.lower()
    fmt = "markdown" if ext in MARKDOWN_EXTS else "html" if ext in HTML_EXTS else "text"
    text, title = clean_markup(raw, fmt)
    if not re.search(r"\w", text):
        return None, _skip(path, "empty after removing front matter, template tags and markup")
    return Document(doc_id=doc_id, text=text, title=title or readable_name(path.stem),
                    source=readable_name(str(path)), metadata={"format": fmt}), None


def _jsonl_record(line: bytes, path: Path, lineno: int) -> dict:
    try:
        rec = json.loads(line.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: line {lineno}: not valid JSON ({e})") from e
    if not isinstance(rec, dict):
        raise InputError(f"{path}: line {lineno}: expected a JSON object with _id, title, text")
    if not isinstance(rec.get("_id"), (str, int)) or isinstance(rec.get("_id"), bool) or rec["_id"] == "":
        raise InputError(f"{path}: line {lineno}: missing or invalid '_id'")
    for key in ("text", "title"):
        if not isinstance(rec.get(key, ""), str):
            raise InputError(f"{path}: line {lineno}: '{key}' must be a string")
    if "text" not in rec:
        raise InputError(f"{path}: line {lineno}: missing 'text'")
    return rec


def _not_text(rec: dict) -> str:
    """Why a record cannot be stored ('' when it can): JSON's \\ud800 escapes decode to lone surrogates, which
    are not Unicode text and which nothing downstream (hashing, Chroma) can encode."""
    for key in ("_id", "title", "text"):
        value = str(rec.get(key, ""))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"'{key}' holds a lone surrogate (\\u{ord(value[e.start]):04x} at character {e.start}), not text"
    return ""


def _id_if_text(rec: dict) -> dict:
    """The record's doc id for a skip, so its indexed version is kept, when the id itself is printable."""
    doc_id = str(rec["_id"])
    return {} if _not_text({"_id": doc_id}) else {"doc_id": doc_id}


def _load_jsonl(path: Path, cfg: ChunkingConfig) -> tuple[list[Document], list[dict]]:
    """Streamed line by line, so max_file_bytes limits each record, not the corpus."""
    docs, skipped = [], []
    f, reason = _open_regular(path)
    if f is None:
        return [], [_skip(path, reason)]
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            if len(line) > cfg.max_file_bytes:
                skipped.append(_skip(f"{path}:{lineno}", f"record is {len(line)} bytes, over the "
                                                        f"{cfg.max_file_bytes}-byte limit (max_file_bytes)"))
                continue
            rec = _jsonl_record(line, path, lineno)
            bad = _not_text(rec)
            if bad:
                skipped.append(_skip(f"{path}:{lineno}", bad, **_id_if_text(rec)))
                continue
            text, title = strip_zero_width(rec["text"]).strip(), strip_zero_width(rec.get("title", "")).strip()
            if not (text or title):
                skipped.append(_skip(f"{path}:{lineno}", "empty record (no title, no text)"))
                continue
            docs.append(Document(doc_id=str(rec["_id"]), text=text or title, title=title,
                                 source=readable_name(str(path)), metadata={"format": "beir", "line": lineno}))
    return docs, skipped


def _walk(root: Path, skipped: list[dict]) -> list[Path]:
    """Files under root (hidden entries left out), sorted by their path as seen from root. Links to folders are
    followed, but only after the real tree, so a real path wins when both reach one folder; each real folder is
    read once, so a link loop ends. A folder that cannot be read, a second way into one, and a broken link are
    reported in `skipped`."""
    seen: set[tuple[int, int]] = set()
    files: list[Path] = []
    real: list[Path] = [root]
    links: list[Path] = []
    while real or links:
        folder = real.pop() if real else links.pop(0)
        if _first_visit(folder, seen, skipped):
            _list_folder(folder, real, links, files, skipped)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _first_visit(folder: Path, seen: set[tuple[int, int]], skipped: list[dict]) -> bool:
    try:
        st = os.stat(folder)
    except OSError as e:
        skipped.append(_skip(folder, f"cannot list folder: {e.strerror or e}"))
        return False
    if (st.st_dev, st.st_ino) in seen:
        skipped.append(_skip(folder, "a link to a folder already read (a link loop, or a second link to it)"))
        return False
    seen.add((st.st_dev, st.st_ino))
    return True


def _list_folder(folder: Path, subfolders: list[Path], links: list[Path], files: list[Path],
                 skipped: list[dict]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as e:
        skipped.append(_skip(folder, f"cannot list folder: {e.strerror or e}"))
        return
    for entry in entries:
        path = Path(entry.path)
        if not entry.is_symlink():
            (subfolders if entry.is_dir(follow_symlinks=False) else files).append(path)
        elif _is_linked_folder(path, skipped):
            links.append(path)
        else:
            files.append(path)


def _is_linked_folder(link: Path, skipped: list[dict]) -> bool:
    """Whether a link leads to a folder. A broken link with a document's extension is left to the reader, which
    reports it; any other broken link is reported here (it may have been a linked-in folder)."""
    try:
        return stat.S_ISDIR(os.stat(link).st_mode)
    except OSError as e:
        if link.suffix.lower() not in SUPPORTED_EXTS:
            why = "its target is missing" if isinstance(e, FileNotFoundError) else e.strerror or str(e)
            skipped.append(_skip(link, f"broken symlink ({why})"))
        return False


def load_documents(path: str | Path, cfg: ChunkingConfig | None = None) -> tuple[list[Document], list[dict]]:
    """Documents from a file or a folder (recursive, sorted, hidden entries skipped), plus the skipped files
    as {"source", "reason"}. Raises InputError for a missing path, a bad .jsonl line or a repeated doc id."""
    cfg = cfg or ChunkingConfig()
    root = Path(path)
    if not root.exists():
        raise InputError(f"no such file or folder: {root}")
    skipped: list[dict] = []
    if root.is_dir():
        files = [(p, readable_name(p.relative_to(root).as_posix())) for p in _walk(root, skipped)
                 if p.suffix.lower() in SUPPORTED_EXTS]
    elif root.suffix.lower() not in SUPPORTED_EXTS:
        return [], [_skip(root, f"unsupported extension {root.suffix or '(none)'!r}")]
    else:
        files = [(root, readable_name(root.name))]
    docs: list[Document] = []
    for file, doc_id in files:
        if file.suffix.lower() in JSONL_EXTS:
            new, skips = _load_jsonl(file, cfg)
        else:
            doc, skip = _load_markup(file, doc_id, cfg)
            new, skips = [doc] if doc else [], [skip] if skip else []
        docs += new
        skipped += skips
    _check_unique(docs)
    return docs, skipped


def _check_unique(docs: list[Document]) -> None:
    seen: dict[str, Document] = {}
    for d in docs:
        if d.doc_id in seen:
            first = seen[d.doc_id]
            where = f"line {d.metadata['line']} of " if "line" in d.metadata else ""
            raise InputError(f"document id {d.doc_id!r} appears twice: in {first.source} and {where}{d.source}")
        seen[d.doc_id] = d


# ---------------------------------------------------------------- chunking

_HEADING_LINE = re.compile(r"^#+\s(.*)$")
_PATH_SEP = "\x1f"  # headings may contain '/', MarkdownNodeParser's default separator


@lru_cache(maxsize=8)
def _sentence_splitter(chunk_size: int, chunk_overlap: int):
    from llama_index.core.node_parser import SentenceSplitter
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


@lru_cache(maxsize=1)
def _markdown_parser():
    from llama_index.core.node_parser import MarkdownNodeParser
    return MarkdownNodeParser.from_defaults(include_prev_next_rel=False, header_path_separator=_PATH_SEP)


def _has_words(text: str) -> bool:
    return re.search(r"[^\W_]", text) is not None


def _sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, section text) per markdown section; heading-only sections join the next section."""
    from llama_index.core.schema import Document as LIDocument
    nodes = _markdown_parser().get_nodes_from_node(LIDocument(text=text))
    sections, pending = [], ""
    for node in nodes:
        body = node.get_content()
        path = [h for h in node.metadata.get("header_path", "").split(_PATH_SEP) if h]
        first = _HEADING_LINE.match(body.split("\n", 1)[0])
        if first:
            path.append(first.group(1))
        if not _has_words("\n".join(ln for ln in body.split("\n") if not _HEADING_LINE.match(ln))):
            pending += body + "\n\n"
            continue
        sections.append((_seeds(path), pending + body))
        pending = ""
    if pending and not sections:  # a page of headings only: keep it findable by its headings
        sections.append(((), pending.strip()))
    return sections


_ELLIPSIS = re.compile(r"(?:\.\.\.|…)$")
_QUESTION_START = re.compile(r"^(?:what|how|why|when|where|who|which|can|do|does|is|are|should)\b", re.I)


def _seeds(path: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for heading in path:
        h = _inline_md(heading)
        if out and h and _ELLIPSIS.search(out[-1]) and not _QUESTION_START.match(h):
            # "How do I..." > "Get IT help" reads as the question "How do I get IT help?"
            h = _ELLIPSIS.sub("", out.pop()).rstrip() + " " + (h[0].lower() + h[1:] if h[1:2].islower() else h)
            h = h if h.endswith("?") or not _QUESTION_START.match(h) else h + "?"
        if h and h.lower() not in (o.lower() for o in out):
            out.append(h)
    return tuple(out)


def chunk_document(doc: Document, cfg: ChunkingConfig | None = None) -> list[Chunk]:
    cfg = cfg or ChunkingConfig()
    splitter = _sentence_splitter(cfg.chunk_size, cfg.chunk_overlap)
    pieces = [(seeds, piece.strip()) for seeds, section in _sections(doc.text)
              for piece in splitter.split_text(section) if _has_words(piece)]
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for position, (seeds, text) in enumerate(pieces):
        content_hash = sha1_hex(text + "\x00" + doc.title)
        base = f"{doc.doc_id}#{content_hash[:12]}"
        seen[base] = seen.get(base, 0) + 1
        chunk_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        chunks.append(Chunk(chunk_id=chunk_id, doc_id=doc.doc_id, text=text, content_hash=content_hash,
                            position=position, title=doc.title, seeds=seeds,
                            metadata={"source": doc.source, "section": " > ".join(seeds)}))
    return chunks


def chunk_documents(docs: list[Document], cfg: ChunkingConfig | None = None) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d, cfg)]


def chunk_each(docs: list[Document], cfg: ChunkingConfig | None = None) -> tuple[list[Chunk], list[dict]]:
    """Chunks of every document that splits, and a skip (with its doc_id) for each one that does not: nltk's
    sentence splitter gives up on some pathological pages with a TimeoutError, and one page must not stop a run."""
    chunks: list[Chunk] = []
    skipped: list[dict] = []
    for d in docs:
        try:
            chunks += chunk_document(d, cfg)
        except (TimeoutError, RecursionError, UnicodeError) as e:
            where = f"{d.source}:{d.metadata['line']}" if "line" in d.metadata else d.source or d.doc_id
            skipped.append(_skip(where, _split_failure(e), doc_id=d.doc_id))
    return chunks, skipped


def _split_failure(e: Exception) -> str:
    if isinstance(e, TimeoutError):  # nltk's message quotes its whole pattern: not worth a user's screen
        return ("cannot be split into sentences: nltk's sentence splitter ran past its time limit (a very long "
                "text without paragraph breaks?); split it into smaller files")
    return f"cannot be split into chunks ({type(e).__name__}: {str(e)[:200]})"
