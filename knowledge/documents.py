"""Typed stages of ingestion: a source file becomes a Document, then Chunks, then Passages."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from knowledge.audience import Audience


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text under one heading path, in document order."""

    path: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    """One loaded program document, identified by its path relative to the indexed folder."""

    path: str
    title: str
    sections: tuple[Section, ...]
    effective_date: date | None = None
    url: str | None = None
    audience: Audience = field(default_factory=Audience)  # who may read it (default everyone)
    kind: str = "document"  # "document" or "communication"

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so any visible edit re-embeds."""
        h = hashlib.sha256()
        for part in (
            self.title,
            str(self.effective_date or ""),
            self.url or "",
            self.audience.key,
        ):
            h.update(part.encode())
            h.update(b"\0")
        for s in self.sections:
            h.update(" › ".join(s.path).encode())
            h.update(b"\0")
            h.update(s.text.encode())
            h.update(b"\0")
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A file that could not be loaded, and why (the run goes on)."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """An embeddable piece of a document that remembers where it came from."""

    id: str
    doc_path: str
    title: str
    section: tuple[str, ...]
    text: str
    ordinal: int
    effective_date: date | None = None
    url: str | None = None
    kind: str = "document"
    audience: str = ""  # its document's audience key (knowledge/audience.py): "" is everyone

    @property
    def section_label(self) -> str:
        return " › ".join(self.section)


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk with its fused score, ready to be cited."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    extras: dict[str, float] = field(default_factory=dict)

    @property
    def doc_path(self) -> str:
        return self.chunk.doc_path

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def section_label(self) -> str:
        return self.chunk.section_label

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def effective_date(self) -> date | None:
        return self.chunk.effective_date
