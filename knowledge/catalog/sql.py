"""The catalog in portable SQL, shared by the SQLite and PostgreSQL backends.

Every statement is written once with `?` placeholders in the SQL both databases
speak; a backend supplies sessions that run them (PostgreSQL's turn `?` into `%s`)
and its own writer lock. Times are UTC ISO 8601 text with microseconds, which sorts
as it compares.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any, Protocol

from knowledge.catalog.protocol import (
    BUILDING,
    LIVE,
    RETIRED,
    DocumentEntry,
    DocumentVersion,
    Garbage,
    Generation,
)
from knowledge.documents import Chunk, Section

BATCH = 500  # ids named in one statement


class Session(Protocol):
    """One connection, inside a transaction for writes."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]: ...


SessionSource = Callable[[], AbstractContextManager[Session]]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _sections_json(sections: Iterable[Section]) -> str:
    return json.dumps([{"path": list(s.path), "text": s.text} for s in sections])


def _sections(raw: str) -> tuple[Section, ...]:
    return tuple(Section(tuple(s["path"]), s["text"]) for s in json.loads(raw))


_GENERATION = (
    "SELECT number, status, collection, embedder, dimension, glossary, rebuild, started_at, "
    "switched_at FROM index_generations"
)
_CHUNK = (
    "SELECT id, doc_path, ordinal, title, section, text, effective_date, url, kind, audience "
    "FROM index_chunks"
)
_DOCUMENT = (
    "SELECT path, source, content_hash, file_hash, title, effective_date, url, kind, "
    "chunk_count, indexed_at, audience FROM index_documents"
)
_LIVE_AT = "added_gen <= ? AND (removed_gen IS NULL OR removed_gen > ?)"


def _generation(row: Sequence[Any]) -> Generation:
    return Generation(
        number=int(row[0]),
        status=row[1],
        collection=row[2],
        embedder=row[3],
        dimension=int(row[4]),
        glossary=row[5],
        rebuild=bool(row[6]),
        started_at=row[7],
        switched_at=row[8],
    )


def chunk_from_row(r: Sequence[Any]) -> Chunk:
    return Chunk(
        id=r[0],
        doc_path=r[1],
        ordinal=int(r[2]),
        title=r[3],
        section=tuple(json.loads(r[4])),
        text=r[5],
        effective_date=_date(r[6]),
        url=r[7],
        kind=r[8],
        audience=r[9],
    )


def _document(r: Sequence[Any]) -> DocumentEntry:
    return DocumentEntry(
        path=r[0],
        source=r[1],
        content_hash=r[2],
        file_hash=r[3],
        title=r[4],
        effective_date=_date(r[5]),
        url=r[6],
        kind=r[7],
        chunk_count=int(r[8]),
        indexed_at=r[9],
        audience=r[10],
    )


def _batches(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SqlCatalog:
    """Everything but the connections and the writer lock (see sqlite.py, postgres.py)."""

    def __init__(self, *, reads: SessionSource, writes: SessionSource) -> None:
        self._reads = reads
        self._writes = writes

    def catalog_id(self) -> str:
        with self._reads() as s:
            rows = s.execute("SELECT value FROM index_meta WHERE key = 'catalog_id'")
        return str(rows[0][0])

    # -- reading ------------------------------------------------------------------------------
    def live(self) -> Generation | None:
        with self._reads() as s:
            rows = s.execute(f"{_GENERATION} WHERE status = ?", (LIVE,))
        return _generation(rows[0]) if rows else None

    def iter_chunks(self, generation: int) -> Iterator[Chunk]:
        with self._reads() as s:
            for row in s.stream(f"{_CHUNK} WHERE {_LIVE_AT}", (generation, generation)):
                yield chunk_from_row(row)

    def documents(self, generation: int) -> list[DocumentEntry]:
        with self._reads() as s:
            rows = s.execute(f"{_DOCUMENT} WHERE {_LIVE_AT} ORDER BY path", (generation,) * 2)
        return [_document(r) for r in rows]

    def last_version(self, path: str) -> DocumentVersion | None:
        with self._reads() as s:
            rows = s.execute(
                "SELECT path, content_hash, title, effective_date, sections, audience "
                "FROM index_versions "
                "WHERE path = ? ORDER BY id DESC LIMIT 1",
                (path,),
            )
        if not rows:
            return None
        r = rows[0]
        return DocumentVersion(r[0], r[1], r[2], _date(r[3]), _sections(r[4]), r[5])

    # -- writing ------------------------------------------------------------------------------
    def building(self) -> Generation | None:
        with self._reads() as s:
            rows = s.execute(f"{_GENERATION} WHERE status = ? ORDER BY number", (BUILDING,))
        return _generation(rows[-1]) if rows else None

    def begin(
        self, *, collection: str, embedder: str, dimension: int, rebuild: bool, glossary: str
    ) -> Generation:
        with self._writes() as s:
            (top,) = s.execute("SELECT COALESCE(MAX(number), 0) FROM index_generations")[0]
            number = int(top) + 1
            started = now()
            s.execute(
                "INSERT INTO index_generations (number, status, collection, embedder, "
                "dimension, glossary, rebuild, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    BUILDING,
                    collection,
                    embedder,
                    dimension,
                    glossary,
                    int(rebuild),
                    started,
                ),
            )
        return Generation(
            number, BUILDING, collection, embedder, dimension, glossary, rebuild, started
        )

    def known(self, source: str) -> dict[str, tuple[str, str]]:
        with self._reads() as s:
            rows = s.execute(
                "SELECT path, content_hash, file_hash FROM index_documents "
                "WHERE source = ? AND removed_gen IS NULL",
                (source,),
            )
        return {path: (content, file) for path, content, file in rows}

    def set_file_hash(self, path: str, file_hash: str) -> None:
        with self._writes() as s:
            s.execute(
                "UPDATE index_documents SET file_hash = ? WHERE path = ? AND removed_gen IS NULL",
                (file_hash, path),
            )

    def add_chunks(self, generation: int, chunks: Sequence[Chunk]) -> None:
        with self._writes() as s:
            s.executemany(
                "INSERT INTO index_chunks (id, doc_path, ordinal, title, section, text, "
                "effective_date, url, kind, audience, added_gen, removed_gen, written) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0) ON CONFLICT (id) DO UPDATE SET "
                "added_gen = excluded.added_gen, removed_gen = NULL, written = 0",
                [
                    (
                        c.id,
                        c.doc_path,
                        c.ordinal,
                        c.title,
                        json.dumps(list(c.section)),
                        c.text,
                        _iso(c.effective_date),
                        c.url,
                        c.kind,
                        c.audience,
                        generation,
                    )
                    for c in chunks
                ],
            )

    def commit_documents(
        self,
        generation: int,
        documents: Sequence[DocumentEntry],
        versions: Sequence[DocumentVersion],
        *,
        history: int,
    ) -> None:
        paths = [d.path for d in documents]
        with self._writes() as s:
            for batch in _batches(paths):
                marks = _marks(len(batch))
                # A version this same generation wrote earlier (a resumed run) is replaced.
                s.execute(
                    f"DELETE FROM index_documents WHERE added_gen = ? AND path IN ({marks})",
                    (generation, *batch),
                )
                s.execute(
                    "UPDATE index_documents SET removed_gen = ? "
                    f"WHERE removed_gen IS NULL AND path IN ({marks})",
                    (generation, *batch),
                )
                s.execute(
                    "UPDATE index_chunks SET removed_gen = ? WHERE removed_gen IS NULL "
                    f"AND NOT (added_gen = ? AND written = 0) AND doc_path IN ({marks})",
                    (generation, generation, *batch),
                )
                s.execute(
                    "UPDATE index_chunks SET written = 1 "
                    f"WHERE added_gen = ? AND written = 0 AND doc_path IN ({marks})",
                    (generation, *batch),
                )
            s.executemany(
                "INSERT INTO index_documents (path, source, content_hash, file_hash, title, "
                "effective_date, url, kind, chunk_count, indexed_at, audience, added_gen, "
                "removed_gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    (
                        d.path,
                        d.source,
                        d.content_hash,
                        d.file_hash,
                        d.title,
                        _iso(d.effective_date),
                        d.url,
                        d.kind,
                        d.chunk_count,
                        d.indexed_at,
                        d.audience,
                        generation,
                    )
                    for d in documents
                ],
            )
            for v in versions:
                s.execute(
                    "INSERT INTO index_versions (path, content_hash, title, effective_date, "
                    "sections, recorded_at, generation, audience) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        v.path,
                        v.content_hash,
                        v.title,
                        _iso(v.effective_date),
                        _sections_json(v.sections),
                        now(),
                        generation,
                        v.audience,
                    ),
                )
                s.execute(
                    "DELETE FROM index_versions WHERE path = ? AND id NOT IN (SELECT id FROM "
                    "index_versions WHERE path = ? ORDER BY id DESC LIMIT ?)",
                    (v.path, v.path, history),
                )

    def retire(self, generation: int, paths: Sequence[str]) -> None:
        with self._writes() as s:
            for batch in _batches(list(paths)):
                marks = _marks(len(batch))
                for table, column in (("index_documents", "path"), ("index_chunks", "doc_path")):
                    s.execute(
                        f"UPDATE {table} SET removed_gen = ? "
                        f"WHERE {column} IN ({marks}) AND removed_gen IS NULL",
                        (generation, *batch),
                    )
            # Documents this generation added and now removes never existed for anyone.
            s.execute(
                "DELETE FROM index_documents WHERE added_gen = ? AND removed_gen = ?",
                (generation, generation),
            )

    def added(self, generation: int, *, pending_only: bool) -> list[tuple[str, str]]:
        where = "added_gen = ? AND written = 0" if pending_only else "added_gen = ?"
        with self._reads() as s:
            rows = s.execute(f"SELECT id, doc_path FROM index_chunks WHERE {where}", (generation,))
        return [(r[0], r[1]) for r in rows]

    def drop_pending(self, generation: int) -> None:
        with self._writes() as s:
            s.execute("DELETE FROM index_chunks WHERE added_gen = ? AND written = 0", (generation,))

    def discard(self, generation: int) -> None:
        with self._writes() as s:
            for table in ("index_chunks", "index_documents"):
                s.execute(f"DELETE FROM {table} WHERE added_gen = ?", (generation,))
                s.execute(
                    f"UPDATE {table} SET removed_gen = NULL WHERE removed_gen = ?", (generation,)
                )
            s.execute("DELETE FROM index_versions WHERE generation = ?", (generation,))
            s.execute(
                "DELETE FROM index_generations WHERE number = ? AND status = ?",
                (generation, BUILDING),
            )

    def switch(self, generation: int, *, glossary: str) -> None:
        with self._writes() as s:
            at = now()
            s.execute(
                "UPDATE index_generations SET status = ?, retired_at = ? WHERE status = ?",
                (RETIRED, at, LIVE),
            )
            s.execute(
                "UPDATE index_generations SET status = ?, switched_at = ?, glossary = ? "
                "WHERE number = ?",
                (LIVE, at, glossary, generation),
            )

    def garbage(self, *, older_than: str) -> Garbage:
        with self._reads() as s:
            (cutoff,) = s.execute(
                "SELECT MAX(number) FROM index_generations "
                "WHERE status IN (?, ?) AND switched_at < ?",
                (LIVE, RETIRED, older_than),
            )[0]
            if cutoff is None:
                return Garbage(before=0)
            ids = [
                r[0]
                for r in s.execute(
                    "SELECT id FROM index_chunks "
                    "WHERE removed_gen IS NOT NULL AND removed_gen <= ?",
                    (cutoff,),
                )
            ]
            # A collection no generation since the cutoff (nor the one building) uses.
            in_use = {
                r[0]
                for r in s.execute(
                    "SELECT collection FROM index_generations "
                    "WHERE number >= ? OR status IN (?, ?)",
                    (cutoff, LIVE, BUILDING),
                )
            }
            old = {
                r[0]
                for r in s.execute(
                    "SELECT collection FROM index_generations WHERE number < ?", (cutoff,)
                )
            }
            (generations,) = s.execute(
                "SELECT COUNT(*) FROM index_generations WHERE status = ? AND number < ?",
                (RETIRED, cutoff),
            )[0]
        return Garbage(int(cutoff), tuple(ids), tuple(sorted(old - in_use)), int(generations))

    def forget(self, garbage: Garbage) -> None:
        with self._writes() as s:
            for batch in _batches(list(garbage.chunk_ids)):
                s.execute(f"DELETE FROM index_chunks WHERE id IN ({_marks(len(batch))})", batch)
            s.execute(
                "DELETE FROM index_documents WHERE removed_gen IS NOT NULL AND removed_gen <= ?",
                (garbage.before,),
            )
            s.execute(
                "DELETE FROM index_generations WHERE status = ? AND number < ?",
                (RETIRED, garbage.before),
            )

    def latest_chunks(
        self, *, added_before: int | None = None, after: str = "", limit: int = 1000
    ) -> list[Chunk]:
        where = "removed_gen IS NULL AND written = 1 AND id > ?"
        params: list[Any] = [after]
        if added_before is not None:
            where += " AND added_gen < ?"
            params.append(added_before)
        with self._reads() as s:
            rows = s.execute(f"{_CHUNK} WHERE {where} ORDER BY id LIMIT ?", (*params, limit))
        return [chunk_from_row(r) for r in rows]

    def chunk_ids(self) -> set[str]:
        with self._reads() as s:
            return {r[0] for r in s.stream("SELECT id FROM index_chunks")}
