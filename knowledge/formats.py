"""A parser per file format: bytes in, a Document out, or a LoadError saying why not.

Markdown and plain text are parsed in the indexing process. PDF, DOCX and HTML go
through libraries that a hostile file can keep busy or make allocate without end,
so they are parsed in a child process with a time and memory limit
(knowledge/parser_process.py); the bounds below refuse the known bombs before
the library starts.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from knowledge import bounded_yaml
from knowledge.audience import Audience, AudienceError
from knowledge.documents import Document, Section

# DOCX: a zip of XML parts. Sizes are the zip's declared sizes, which also cap what
# reading a part can produce, so a zip bomb is refused before it is unpacked.
MAX_ZIP_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 100 * 2**20
MAX_UNPACKED_XML_BYTES = 20 * 2**20
MAX_PARAGRAPHS = 50_000  # DOCX paragraphs and table rows
MAX_PDF_PAGES = 2_000
MAX_HTML_TAGS = 200_000

AUDIENCE_KEYS = frozenset({"audience", "audiences"})
_HEADER_LINE = re.compile(r"^\s*([A-Za-z][\w -]{0,40}):(?:\s|$)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class LoadError(Exception):
    """A file cannot be turned into a document; the message says why."""


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


def _is_fence(line: str) -> bool:
    """A front matter fence: `---` alone on its line (trailing spaces are a slip, not a
    reason to read the front matter as text); `...` may close it too."""
    return line.rstrip() == "---"


def split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, number of lines the front matter took). The opening fence
    is the first line, or the first after blank lines when what it fences is a mapping (a
    body that opens with a rule `---` stays text); fences may carry trailing spaces."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if first == len(lines) or not _is_fence(lines[first]):
        return {}, text, 0
    end = next(
        (
            i
            for i in range(first + 1, len(lines))
            if _is_fence(lines[i]) or lines[i].rstrip() == "..."
        ),
        None,
    )
    if end is None:
        if first > 0:
            return {}, text, 0
        raise LoadError("front matter starts with '---' but never ends")
    raw = "\n".join(lines[first + 1 : end])
    try:
        meta = bounded_yaml.load(raw) or {}
    except yaml.YAMLError as e:
        if first > 0:
            return {}, text, 0
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        what = (
            "front matter refused"
            if isinstance(e, bounded_yaml.YAMLRefused)
            else "invalid YAML front matter"
        )
        raise LoadError(f"{what}{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(meta, dict):
        if first > 0:
            return {}, text, 0
        raise LoadError("front matter must be a mapping of key: value")
    body = "\n".join(lines[end + 1 :])
    return meta, body, end + 1


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


def _audience(meta: dict[str, Any], body: str, body_line: int) -> Audience:
    """Who may read it (`audience:`, knowledge/audience.py); not said: its folder decides.
    The key is read in any near form (`Audience:`, `audiences:`); given twice, or written in
    the text instead of the front matter, the document is refused with the line."""
    keys = [k for k in meta if is_audience_key(k)]
    if len(keys) > 1:
        raise LoadError(f"front matter gives the audience twice ({', '.join(map(str, keys))})")
    if not keys:
        for number, key in _header(body):
            if is_audience_key(key):
                raise LoadError(
                    f"line {body_line + number}: an audience outside the front matter; put it "
                    "between '---' lines at the top of the file"
                )
        return Audience()
    try:
        return Audience.parse(meta[keys[0]])
    except AudienceError as e:
        raise LoadError(f"front matter {e}") from None


def _header(body: str) -> Iterator[tuple[int, str]]:
    """(line number, key) of the `key: value` lines a text opens with (front matter written
    without its fences), up to the first line that is neither one nor its continuation."""
    started = False
    for number, line in enumerate(body.split("\n"), start=1):
        if not line.strip():
            if started:
                return
            continue
        if started and (line[:1].isspace() or line.lstrip().startswith("- ")):
            continue  # a value continued on the next lines
        match = _HEADER_LINE.match(line)
        if match is None:
            return
        started = True
        yield number, match.group(1)


def is_audience_key(key: Any) -> bool:
    """`audience` in any near form: `Audience`, `AUDIENCES`, ` audience `, `audience_`."""
    return isinstance(key, str) and re.sub(r"[\s_-]", "", key).casefold() in AUDIENCE_KEYS


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
    meta, body, lines = split_front_matter(_decode_text(data))
    audience = _audience(meta, body, lines)
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
        audience=audience,
    )


def load_text(data: bytes, rel: str) -> Document:
    text = _decode_text(data).strip()
    _audience({}, text, 0)  # (a text file cannot say its audience: one that tries is refused)
    return Document(path=rel, title=_title_from_name(rel), sections=(Section((), text),))


def load_html(data: bytes, rel: str) -> Document:
    from bs4 import BeautifulSoup

    if b"\0" in data[:8192]:
        raise LoadError("binary content (NUL bytes) in an HTML file")
    tags = data.count(b"<") - data.count(b"</")  # elements opened
    if tags > MAX_HTML_TAGS:
        raise LoadError(f"the HTML has {tags:,} tags; the limit is {MAX_HTML_TAGS:,}")
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
        pages = len(reader.pages)
        if pages > MAX_PDF_PAGES:
            raise LoadError(f"the PDF has {pages:,} pages; the limit is {MAX_PDF_PAGES:,}")
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


def _check_zip(data: bytes) -> None:
    """Refuse a DOCX whose parts would unpack past the bounds (read from the zip directory)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise LoadError(f"corrupt DOCX ({e})") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise LoadError(f"the DOCX holds {len(entries):,} parts; the limit is {MAX_ZIP_ENTRIES:,}")
    total = sum(e.file_size for e in entries)
    xml = sum(e.file_size for e in entries if e.filename.lower().endswith((".xml", ".rels")))
    for size, limit, what in (
        (xml, MAX_UNPACKED_XML_BYTES, "of XML"),
        (total, MAX_UNPACKED_BYTES, "in all"),
    ):
        if size > limit:
            raise LoadError(
                f"the DOCX unpacks to {size / 2**20:,.0f} MB {what}; the limit is "
                f"{limit // 2**20} MB"
            )


def load_docx(data: bytes, rel: str) -> Document:
    import docx

    _check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise LoadError(f"corrupt DOCX ({e})") from None
    paragraphs = document.paragraphs
    rows = sum(len(table.rows) for table in document.tables)
    if len(paragraphs) + rows > MAX_PARAGRAPHS:
        raise LoadError(
            f"the DOCX has {len(paragraphs) + rows:,} paragraphs and table rows; "
            f"the limit is {MAX_PARAGRAPHS:,}"
        )
    lines: list[str] = []
    title: str | None = document.core_properties.title or None
    for para in paragraphs:
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


PARSERS: dict[str, Callable[[bytes, str], Document]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
# Parsed in a child process with a time and memory limit (knowledge/parser_process.py).
ISOLATED_SUFFIXES = frozenset({".html", ".htm", ".pdf", ".docx"})


def parse(suffix: str, data: bytes, rel: str) -> Document:
    """The document in these bytes, by file suffix; LoadError when it cannot be read."""
    parser = PARSERS.get(suffix.lower())
    if parser is None:
        raise LoadError(f"unsupported file type {suffix!r}")
    doc = parser(data, rel)
    if not doc.text.strip():
        raise LoadError("no text could be extracted")
    return doc
