"""Heading-aware chunking sized for the embedder.

Each section is cut into units that must not be split (sentences, list items,
table rows rewritten as "Header: value" lines), then packed greedily into chunks
of at most ~140 words with a one-unit overlap inside a section. all-MiniLM-L6-v2
was trained on 128 tokens and truncates at 256, so larger chunks lose their tail.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from knowledge.documents import Chunk, Document
from knowledge.markup import plain_inline, plain_text

MAX_WORDS = 140
LIST_MARK = "- "
OVERLAP_MAX_WORDS = 35

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"\b(e\.g|i\.e|etc|vs|approx|no|inc|ltd|Mr|Ms|Dr|St)\.$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations like 'e.g.' intact."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    parts = _SENTENCE_END.split(text)
    merged: list[str] = []
    for part in parts:
        if merged and _ABBREV.search(merged[-1]):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [p.strip() for p in merged if p.strip()]


def _table_units(lines: list[str]) -> list[str]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in lines
        if not _TABLE_RULE.match(line)
    ]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        return ["; ".join(header) + "."]
    units = []
    for row in body:
        pairs = [
            f"{h}: {v}" if h else v for h, v in zip(header, row, strict=False) if v and v != "-"
        ]
        if pairs:
            units.append("; ".join(pairs) + ".")
    return units


def section_units(text: str) -> list[str]:
    """The indivisible pieces of a section: sentences, list items and table rows."""
    return [unit for unit, _ in section_parts(text)]


def section_parts(text: str) -> list[tuple[str, bool]]:
    """Each indivisible piece of a section, and whether it is a list item or table row."""
    text = plain_text(text)
    units: list[tuple[str, bool]] = []
    block: list[str] = []
    table: list[str] = []

    def flush_block() -> None:
        if block:
            units.extend((u, False) for u in split_sentences(" ".join(block)))
            block.clear()

    def flush_table() -> None:
        if table:
            units.extend((u, True) for u in _table_units(table))
            table.clear()

    for raw in text.split("\n"):
        line = raw.rstrip()
        if line.lstrip().startswith("|"):
            flush_block()
            table.append(line)
            continue
        flush_table()
        if not line.strip():
            flush_block()
        elif _LIST_ITEM.match(line):
            flush_block()
            item = _LIST_ITEM.sub("", line).strip()
            units.append((item if item[-1:] in ".!?:;" else item + ".", True))
        else:
            block.append(line.strip())
    flush_block()
    flush_table()
    return [(u, item) for u, item in units if u]


def _words(text: str) -> int:
    return len(text.split())


def _split_long(unit: str, limit: int) -> Iterator[str]:
    """A unit longer than a chunk (rare: a run-on sentence) is cut at word boundaries."""
    words = unit.split()
    for start in range(0, len(words), limit):
        yield " ".join(words[start : start + limit])


def chunk_document(doc: Document, *, max_words: int = MAX_WORDS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in doc.sections:
        units: list[str] = []
        for unit, item in section_parts(section.text):
            pieces = _split_long(unit, max_words) if _words(unit) > max_words else [unit]
            # List items and table rows keep a "- " mark, so answers can quote a list as one.
            units.extend(f"{LIST_MARK}{p}" if item else p for p in pieces)
        current: list[str] = []
        count = 0
        for unit in units:
            n = _words(unit)
            if current and count + n > max_words:
                chunks.append(_make_chunk(doc, section.path, current, len(chunks)))
                tail = current[-1]
                current, count = (
                    ([tail], _words(tail)) if _words(tail) <= OVERLAP_MAX_WORDS else ([], 0)
                )
                if count + n > max_words:
                    current, count = [], 0
            current.append(unit)
            count += n
        if current:
            chunks.append(_make_chunk(doc, section.path, current, len(chunks)))
    return chunks


def neighbour_id(chunk_id: str, offset: int) -> str | None:
    """The id of the chunk `offset` places after (or before) this one in its document."""
    digest, _, ordinal = chunk_id.rpartition("-")
    if not digest or not ordinal.isdigit() or int(ordinal) + offset < 0:
        return None
    return f"{digest}-{int(ordinal) + offset:04d}"


def _make_chunk(doc: Document, path: tuple[str, ...], units: list[str], ordinal: int) -> Chunk:
    digest = hashlib.sha1(doc.path.encode()).hexdigest()[:16]
    return Chunk(
        id=f"{digest}-{ordinal:04d}",
        doc_path=doc.path,
        title=plain_inline(doc.title),
        section=tuple(plain_inline(p) for p in path),
        text="\n".join(units),
        ordinal=ordinal,
        effective_date=doc.effective_date,
        url=doc.url,
        kind=doc.kind,
        audience=doc.audience.key,
    )


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees: the chunk's place in the program, then its text."""
    head = chunk.title if not chunk.section else f"{chunk.title} › {chunk.section_label}"
    return f"{head}\n{chunk.text}"


def chunk_all(docs: Iterable[Document]) -> list[Chunk]:
    return [c for d in docs for c in chunk_document(d)]
