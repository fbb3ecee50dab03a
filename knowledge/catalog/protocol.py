"""The index catalog: what the index holds besides vectors, and its generations.

The catalog is the truth about the index: documents and their versions, chunk
texts, the glossary, and which *generation* is live. Chroma holds the vectors and
is made to follow it. Every row carries the generation that added it and the one
that removed it (none while it is current), so a reader asks for exactly the rows
of one generation while an index run writes the next:

    live at G  ⇔  added_gen ≤ G  and  (removed_gen is NULL or removed_gen > G)

An index run reserves generation N (status `building`), writes its chunks and
documents tagged N, and switches the live generation to N in one transaction at
the end. Rows a run replaced or removed stay until a grace period after the
switch has passed (readers still on N-1 may need them), then the next run deletes
them. Two backends implement this protocol: SQLite in the data directory
(embedded) and PostgreSQL (shared by replicas).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from knowledge.documents import Chunk, Section

BUILDING, LIVE, RETIRED = "building", "live", "retired"


@dataclass(frozen=True)
class Generation:
    """One state of the index: the Chroma collection its vectors live in, its glossary."""

    number: int
    status: str  # building | live | retired
    collection: str
    embedder: str  # "" for an index made before generations (read from Chroma)
    dimension: int
    glossary: str
    rebuild: bool  # written into a new collection (every chunk embedded again)
    started_at: str
    switched_at: str | None = None


@dataclass(frozen=True)
class DocumentEntry:
    """A document as indexed."""

    path: str
    source: str  # "docs" (a documents folder) or "comms" (generated from communications)
    content_hash: str
    file_hash: str
    title: str
    effective_date: date | None
    url: str | None
    kind: str
    chunk_count: int
    indexed_at: str
    audience: str = ""  # who may read it (knowledge/audience.py key; "" is everyone)


@dataclass(frozen=True)
class DocumentVersion:
    """A document's text as it was when indexed (kept to compare with the next version)."""

    path: str
    content_hash: str
    title: str
    effective_date: date | None
    sections: tuple[Section, ...]
    audience: str = ""  # who could read this version


@dataclass(frozen=True)
class Garbage:
    """What a grace period has made safe to delete: chunks no reader can still need
    (their ids, to delete from Chroma first), and whole collections of old generations."""

    before: int  # rows removed at or before this generation may go
    chunk_ids: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    generations: int = 0  # retired generations before it, whose records may go

    def __bool__(self) -> bool:
        return bool(self.chunk_ids or self.collections or self.generations)


class Catalog(Protocol):
    """Documents, chunk texts, versions and generations of one index."""

    @property
    def description(self) -> str:
        """Where it lives, safe to show (no password)."""
        ...

    @property
    def shared(self) -> bool:
        """True when other machines may use it too (replicas)."""
        ...

    def catalog_id(self) -> str:
        """A random id fixed when the catalog was created (names its collections)."""
        ...

    # -- reading: any thread, never waits for a writer ------------------------------------------
    def live(self) -> Generation | None:
        """The generation questions are answered from; None before the first index run."""
        ...

    def iter_chunks(self, generation: int) -> Iterator[Chunk]:
        """Every chunk live at this generation (streamed)."""
        ...

    def documents(self, generation: int) -> list[DocumentEntry]:
        """Every document live at this generation, by path."""
        ...

    def last_version(self, path: str) -> DocumentVersion | None:
        """The newest recorded version of a document."""
        ...

    # -- writing: only inside writer_lock() ------------------------------------------------------
    def writer_lock(self) -> AbstractContextManager[None]:
        """Held for a whole index run: one writer per catalog, the others wait (saying so)."""
        ...

    def building(self) -> Generation | None:
        """A generation an index run began and never switched to (it was killed)."""
        ...

    def begin(
        self, *, collection: str, embedder: str, dimension: int, rebuild: bool, glossary: str
    ) -> Generation:
        """Reserve the next generation, status building."""
        ...

    def known(self, source: str) -> dict[str, tuple[str, str]]:
        """path -> (content hash, file hash) of the newest version of each document of a
        source, the building generation's included."""
        ...

    def set_file_hash(self, path: str, file_hash: str) -> None:
        """Same content, other bytes (e.g. line endings): nothing to index again."""
        ...

    def add_chunks(self, generation: int, chunks: Sequence[Chunk]) -> None:
        """Record chunks about to be written to Chroma (pending until their documents are
        committed: a run killed in between leaves them for `pending` to find)."""
        ...

    def commit_documents(
        self,
        generation: int,
        documents: Sequence[DocumentEntry],
        versions: Sequence[DocumentVersion],
        *,
        history: int,
    ) -> None:
        """One transaction: these documents' new versions (whose chunks were added) become
        part of the generation, their previous versions are removed in it."""
        ...

    def retire(self, generation: int, paths: Sequence[str]) -> None:
        """Remove these documents (and their chunks) in the generation."""
        ...

    def added(self, generation: int, *, pending_only: bool) -> list[tuple[str, str]]:
        """(chunk id, document path) of the chunks a generation added (`pending_only`: those
        whose documents were never committed)."""
        ...

    def drop_pending(self, generation: int) -> None:
        """Forget the pending chunks (after deleting them from Chroma)."""
        ...

    def discard(self, generation: int) -> None:
        """Undo a generation that never went live (after its chunks left Chroma)."""
        ...

    def switch(self, generation: int, *, glossary: str) -> None:
        """One transaction: the building generation becomes live, the live one retired."""
        ...

    def garbage(self, *, older_than: str) -> Garbage:
        """What no reader can need any more, when switches before `older_than` (ISO time)
        are past the grace period."""
        ...

    def forget(self, garbage: Garbage) -> None:
        """Delete the rows of collected garbage (after Chroma was cleaned)."""
        ...

    def latest_chunks(
        self, *, added_before: int | None = None, after: str = "", limit: int = 1000
    ) -> list[Chunk]:
        """A page of the newest committed chunks, by id after `after` (optionally only those
        added before a generation): what Chroma must hold."""
        ...

    def chunk_ids(self) -> set[str]:
        """Every chunk id the catalog knows, in any generation (anything else is an orphan)."""
        ...

    def close(self) -> None: ...
