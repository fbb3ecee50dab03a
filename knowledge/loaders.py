"""Loaders: a file in, a Document or a LoadFailure out. One bad file never aborts a run."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from knowledge import bounded_yaml
from knowledge.documents import Document, LoadFailure, Section

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 25 * 1024 * 1024
MARKDOWN_SUFFIXES = {".md", ".markdown"}
SUFFIXES = MARKDOWN_SUFFIXES | {".txt", ".html", ".htm", ".pdf", ".docx"}

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class LoadError(Exception):
    """A file cannot be turned into a document; the message says why."""


def discover(root: Path) -> Iterator[Path]:
    """Every loadable file under root (or root itself), sorted, skipping hidden ones."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            yield path


def load_folder(root: Path) -> Iterator[Document | LoadFailure]:
    """Load every document under root; failures are yielded, never raised."""
    for path in discover(root):
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        yield load_file(path, rel)


def load_file(path: Path, rel: str, *, data: bytes | None = None) -> Document | LoadFailure:
    """Load one file (its bytes may be passed in when the caller already read them)."""
    try:
        size = len(data) if data is not None else path.stat().st_size
        if size == 0:
            raise LoadError("the file is empty")
        if size > MAX_FILE_BYTES:
            raise LoadError(
                f"the file is {size / 1e6:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB"
            )
        loader = _LOADERS.get(path.suffix.lower())
        if loader is None:
            raise LoadError(f"unsupported file type {path.suffix!r}")
        doc = loader(data if data is not None else path.read_bytes(), rel)
        if not doc.text.strip():
            raise LoadError("no text could be extracted")
        return doc
    except LoadError as e:
        return LoadFailure(rel, str(e))
    except Exception as e:  # a library choked on a malformed file: report, don't abort
        logger.debug("loader failed for %s", rel, exc_info=True)
        return LoadFailure(rel, f"could not be read ({type(e).__name__}: {e})"[:300])


def _decode_text(data: bytes) -> str:
    if b"\0" in data[:8192]:
        raise LoadError("binary content (NUL bytes) in a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise LoadError(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise LoadError(f"front matter date {value!r} is not an ISO date (YYYY-MM-DD)") from None


def split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, number of lines the front matter took)."""
    if not text.startswith("---\n"):
        return {}, text, 0
    end = text.find("\n---", 4)
    if end == -1:
        raise LoadError("front matter starts with '---' but never ends")
    raw = text[4:end]
    try:
        meta = bounded_yaml.load(raw) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        what = (
            "front matter refused"
            if isinstance(e, bounded_yaml.YAMLRefused)
            else "invalid YAML front matter"
        )
        raise LoadError(f"{what}{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(meta, dict):
        raise LoadError("front matter must be a mapping of key: value")
    body_start = text.find("\n", end + 4)
    body = "" if body_start == -1 else text[body_start + 1 :]
    return meta, body, raw.count("\n") + 2


_SCALARS = (str, int, float, bool, date)


def _scalar(meta: dict[str, Any], *keys: str) -> Any:
    """The first of these front matter fields that is set; a list or mapping is refused."""
    for key in keys:
        value = meta.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, _SCALARS):
            kind = "a list" if isinstance(value, list) else "a mapping"
            raise LoadError(f"front matter {key!r} must be a single value, not {kind}")
        return value
    return None


def _tags(meta: dict[str, Any], *keys: str) -> tuple[str, ...]:
    """A comma-separated string or a list of single values."""
    key = next((k for k in keys if meta.get(k)), None)
    if key is None:
        return ()
    value = meta[key]
    if isinstance(value, _SCALARS):
        value = [v.strip() for v in str(value).split(",")]
    if not isinstance(value, list) or not all(isinstance(v, _SCALARS) for v in value):
        raise LoadError(f"front matter {key!r} must be a list of names, e.g. [msp, smb]")
    return tuple(str(v) for v in value if str(v).strip())


def sections_from_markdown(body: str) -> tuple[str | None, list[Section]]:
    """Split Markdown by headings; return (first H1 if any, sections with heading paths)."""
    h1: str | None = None
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(buf).strip()
        if text:
            sections.append(Section(tuple(t for _, t in stack), text))
        buf.clear()

    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if not m:
            buf.append(line)
            continue
        flush()
        level, heading = len(m.group(1)), m.group(2).strip()
        if level == 1 and h1 is None and not sections and not stack:
            h1 = heading  # the document title, not part of section paths
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
    flush()
    return h1, sections


def _title_from_name(rel: str) -> str:
    stem = Path(rel).stem
    return re.sub(r"[-_]+", " ", stem).strip().capitalize() or rel


def load_markdown(data: bytes, rel: str) -> Document:
    meta, body, _ = split_front_matter(_decode_text(data))
    h1, sections = sections_from_markdown(body)
    title = _scalar(meta, "title")
    url = _scalar(meta, "url")
    return Document(
        path=rel,
        title=str(title or h1 or _title_from_name(rel)),
        sections=tuple(sections),
        effective_date=_as_date(
            _scalar(meta, "effective_date", "effective", "published_date", "published", "date")
        ),
        url=str(url) if url else None,
        audience=_tags(meta, "audience", "tags"),
    )


def load_text(data: bytes, rel: str) -> Document:
    text = _decode_text(data).strip()
    return Document(path=rel, title=_title_from_name(rel), sections=(Section((), text),))


def load_html(data: bytes, rel: str) -> Document:
    from bs4 import BeautifulSoup

    if b"\0" in data[:8192]:
        raise LoadError("binary content (NUL bytes) in an HTML file")
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "head", "nav", "footer"]):
        if tag.name == "head":
            continue
        tag.decompose()
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    body = soup.body or soup
    lines: list[str] = []
    for el in body.find_all(["h1", "h2", "h3", "h4", "p", "li", "tr", "pre", "blockquote"]):
        if el.find_parent(["li", "tr", "pre", "blockquote"]) is not None and el.name in {"p"}:
            continue
        if el.name == "tr":
            cells = [c.get_text(" ", strip=True) for c in el.find_all(["th", "td"])]
            if any(cells):
                lines.append("| " + " | ".join(cells) + " |")
            continue
        text = el.get_text(" ", strip=True)
        if not text:
            continue
        if el.name in {"h1", "h2", "h3", "h4"}:
            lines.append(f"\n{'#' * int(el.name[1])} {text}\n")
        elif el.name == "li":
            lines.append(f"- {text}")
        else:
            lines.append(f"\n{text}\n")
    h1, sections = sections_from_markdown("\n".join(lines))
    return Document(path=rel, title=title or h1 or _title_from_name(rel), sections=tuple(sections))


def load_pdf(data: bytes, rel: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise LoadError("not a PDF (the file does not start with %PDF)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise LoadError("the PDF is encrypted")
        meta_title = (reader.metadata.title if reader.metadata else None) or None
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section((f"Page {number}",), _reflow(text)))
    except PdfReadError as e:
        raise LoadError(f"corrupt PDF ({e})") from None
    return Document(path=rel, title=meta_title or _title_from_name(rel), sections=tuple(sections))


def _reflow(text: str) -> str:
    """Join PDF lines broken mid-sentence, keep paragraph breaks."""
    text = re.sub(r"-\n(\w)", r"\1", text)
    return re.sub(r"(?<![.:;!?])\n(?=[a-z0-9(])", " ", text)


def load_docx(data: bytes, rel: str) -> Document:
    import zipfile

    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise LoadError(f"corrupt DOCX ({e})") from None
    lines: list[str] = []
    title: str | None = document.core_properties.title or None
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style == "Title":
            title = title or text
        elif style.startswith("Heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 2
            lines.append(f"\n{'#' * min(level + 1, 6)} {text}\n")
        elif "List" in style:
            lines.append(f"- {text}")
        else:
            lines.append(f"\n{text}\n")
    for table in document.tables:
        for row in table.rows:
            lines.append("| " + " | ".join(c.text.strip() for c in row.cells) + " |")
    _, sections = sections_from_markdown("\n".join(lines))
    return Document(path=rel, title=title or _title_from_name(rel), sections=tuple(sections))


_LOADERS: dict[str, Callable[[bytes, str], Document]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def partition(items: Iterable[Document | LoadFailure]) -> tuple[list[Document], list[LoadFailure]]:
    docs: list[Document] = []
    failures: list[LoadFailure] = []
    for item in items:
        (docs if isinstance(item, Document) else failures).append(item)  # type: ignore[arg-type]
    return docs, failures
