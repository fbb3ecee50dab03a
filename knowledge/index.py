"""The knowledge index: Chroma vectors + BM25 + a SQLite manifest, synced by content hash.

A sync embeds only new and changed documents and removes deleted ones. The
manifest is the truth; Chroma is made to follow it, and a crash between the two
is repaired by the next run:

1. Before Chroma is touched for some documents, their paths are committed to
   `pending_writes` (an intent record).
2. Chroma's chunks of those documents are deleted and the new ones added.
3. One manifest transaction records the new versions and clears their intents.

A run that finds intents left by a killed run makes Chroma match the manifest for
those documents (removing chunks the manifest does not know, re-embedding the
ones it lost), unless this run rewrites them anyway. `check` compares every
Chroma id with the manifest. Writers hold the data directory's lock
(knowledge/index_lock.py), so two runs never interleave.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
import numpy as np
import yaml
from chromadb.api.types import EmbeddingFunction
from chromadb.config import Settings as ChromaSettings

from knowledge import bounded_yaml
from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Chunk, Document, LoadFailure, Section
from knowledge.embeddings import Embedder
from knowledge.errors import DocumentsMissingError, EmbedderMismatchError, IndexWriteError
from knowledge.glossary import GLOSSARY_FILE, Glossary
from knowledge.index_lock import index_lock, opening_lock
from knowledge.lexical import LexicalIndex
from knowledge.loaders import FileLoader, LoadError, discover, link_problem, read_file

logger = logging.getLogger(__name__)

COLLECTION = "partnerbot"
# Documents are embedded in groups of about this many chunks, then written. Within a
# group texts are length-sorted and embedded in slices (full batches, little padding,
# a progress update per slice); an interrupted run redoes at most one group.
EMBED_GROUP_CHUNKS = 512
EMBED_SLICE = 64
HISTORY_VERSIONS = 5
CHROMA_BATCH = 4000  # below Chroma's max batch size
WHERE_BATCH = 500  # documents named in one Chroma `where` filter
MAX_GLOSSARY_BYTES = 1024 * 1024

ProgressFn = Callable[[int, int], None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    doc_path TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    title TEXT NOT NULL,
    section TEXT NOT NULL,
    text TEXT NOT NULL,
    effective_date TEXT,
    url TEXT,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_path);
CREATE TABLE IF NOT EXISTS versions (
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    effective_date TEXT,
    sections TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_path ON versions(path, recorded_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_writes (path TEXT PRIMARY KEY, since TEXT NOT NULL);
"""


@dataclass
class DocumentVersion:
    """A document's text as it was when indexed (kept to compare with the next version)."""

    path: str
    content_hash: str
    title: str
    effective_date: date | None
    sections: tuple[Section, ...]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    # Documents a killed run had left half-written in Chroma, put right by this run.
    repaired: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0
    # For change detection: (previous version or None, new document) per added/updated doc,
    # and the last version of every removed document.
    changed: list[tuple[DocumentVersion | None, Document]] = field(default_factory=list)
    removed_versions: list[DocumentVersion] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "removed": len(self.removed),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
            "repaired": len(self.repaired),
            "chunks_embedded": self.chunks_embedded,
        }


@dataclass
class CheckReport:
    """What `check` found in Chroma against the manifest, and put right."""

    documents: int = 0
    chunks: int = 0
    pending: list[str] = field(default_factory=list)  # documents a killed run left half-written
    orphans: int = 0  # chunks in Chroma the manifest does not know: deleted
    missing: int = 0  # chunks of the manifest Chroma lacks: embedded again
    mismatched: int = 0  # chunks whose text or labels differ: embedded again
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing needed repairing."""
        return not (self.pending or self.orphans or self.missing or self.mismatched)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _sections_json(sections: Iterable[Section]) -> str:
    return json.dumps([{"path": list(s.path), "text": s.text} for s in sections])


def _sections_from_json(raw: str) -> tuple[Section, ...]:
    return tuple(Section(tuple(s["path"]), s["text"]) for s in json.loads(raw))


class KnowledgeIndex:
    """Owns the vector collection, the lexical index and the manifest in one data directory."""

    def __init__(
        self,
        *,
        data_dir: Path,
        embedder: Embedder,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        rebuild: bool = False,
    ) -> None:
        """Open (or create) the index; `rebuild` drops what is there first, which is how an
        index built with another embedder is replaced (opening it otherwise fails)."""
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IndexWriteError(
                f"cannot create the data directory {self.data_dir} ({e.strerror}); "
                "create it or choose another"
            ) from None
        self.embedder = embedder
        self._lock = threading.RLock()
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        with opening_lock(self.data_dir):
            self._db = sqlite3.connect(
                self.data_dir / "index.sqlite3", check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if chroma_host:
                self._client: Any = chromadb.HttpClient(
                    host=chroma_host, port=chroma_port, settings=chroma_settings
                )
            else:
                self._client = chromadb.PersistentClient(
                    path=str(self.data_dir / "chroma"), settings=chroma_settings
                )
        if rebuild:
            with self._writing():
                self._drop()
        with opening_lock(self.data_dir):
            self._collection = self._open_collection()
        self._glossary: Glossary | None = None
        self._chunk_table: tuple[int, dict[str, Chunk]] | None = None
        self._lexical: LexicalIndex | None = None
        self._lexical_generation = -1

    # -- opening ------------------------------------------------------------------------
    def _open_collection(self) -> Any:
        wanted = {"embedder": self.embedder.model_name, "dimension": self.embedder.dimension}
        existing = {c.name if hasattr(c, "name") else c for c in self._client.list_collections()}
        if COLLECTION in existing:
            raw = self._client.get_collection(COLLECTION, embedding_function=None)
            meta = raw.metadata or {}
            have = meta.get("embedder")
            if have and (
                have != wanted["embedder"] or meta.get("dimension") != wanted["dimension"]
            ):
                raise EmbedderMismatchError(
                    f"The index in {self.data_dir} was built with embedder '{have}' "
                    f"({meta.get('dimension')} dimensions) but '{wanted['embedder']}' "
                    f"({wanted['dimension']} dimensions) is configured. Either set "
                    f"PARTNERBOT_EMBEDDER back, or re-index with the new embedder: "
                    f"partnerbot index --rebuild PATH"
                )
            return raw
        # Registered embedders are stored with the collection so Chroma can reopen it with
        # the same function; vectors are always computed by us and passed in explicitly.
        function = self.embedder if isinstance(self.embedder, EmbeddingFunction) else None
        return self._client.get_or_create_collection(
            COLLECTION,
            embedding_function=function,
            metadata={**wanted, "hnsw:space": "cosine"},
        )

    def rebuild(self) -> None:
        """Drop everything indexed and start an empty collection for this embedder."""
        with self._writing():
            self._drop()
            self._collection = self._open_collection()

    def _drop(self) -> None:
        """Empty the manifest (recording intents for every document), then drop Chroma's
        collection; a crash in between leaves intents the next run repairs."""
        paths = [r[0] for r in self._db.execute("SELECT path FROM documents")]
        with self._transaction():
            self._record_intents(paths)
            self._db.execute("DELETE FROM documents")
            self._db.execute("DELETE FROM chunks")
            self._bump_generation()
        existing = {c.name if hasattr(c, "name") else c for c in self._client.list_collections()}
        if COLLECTION in existing:
            self._client.delete_collection(COLLECTION)
        self._db.execute("DELETE FROM pending_writes")  # the collection is gone: nothing stale

    # -- writing safely -----------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the data directory's lock (other processes) and this index's (other threads);
        a full disk ends the write with one clear message, repaired by the next run."""
        try:
            with index_lock(self.data_dir), self._lock:
                yield
        except Exception as e:
            reason = _disk_full(e)
            if reason is None:
                raise
            logger.debug("index write failed", exc_info=True)
            raise IndexWriteError(
                f"the disk holding the index in {self.data_dir} is full ({reason}). Free some "
                "space and index again: the next run repairs what this one left half-written, "
                "and nothing indexed before is lost."
            ) from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # a failed COMMIT may have rolled back already
                self._db.execute("ROLLBACK")
            raise

    def _record_intents(self, paths: Sequence[str]) -> None:
        """Mark documents about to change in Chroma (inside the caller's transaction)."""
        now = _now()
        self._db.executemany(
            "INSERT OR REPLACE INTO pending_writes VALUES (?, ?)", [(p, now) for p in paths]
        )

    def _clear_intents(self, paths: Sequence[str]) -> None:
        self._db.executemany("DELETE FROM pending_writes WHERE path = ?", [(p,) for p in paths])

    def _begin_chroma_write(self, paths: Sequence[str]) -> None:
        with self._transaction():
            self._record_intents(paths)

    # -- manifest helpers ---------------------------------------------------------------
    def _known(self, source: str) -> dict[str, tuple[str, str]]:
        rows = self._db.execute(
            "SELECT path, content_hash, file_hash FROM documents WHERE source = ?", (source,)
        )
        return {path: (content, file) for path, content, file in rows}

    def _bump_generation(self) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def generation(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def last_version(self, path: str) -> DocumentVersion | None:
        row = self._db.execute(
            "SELECT path, content_hash, title, effective_date, sections FROM versions "
            "WHERE path = ? ORDER BY rowid DESC LIMIT 1",
            (path,),
        ).fetchone()
        if row is None:
            return None
        return DocumentVersion(row[0], row[1], row[2], _date(row[3]), _sections_from_json(row[4]))

    # -- syncing ------------------------------------------------------------------------
    def sync(
        self, root: Path, *, source: str = "docs", on_progress: ProgressFn | None = None
    ) -> SyncReport:
        """Bring the index in line with a folder: embed new/changed, drop deleted, report all."""
        started = time.perf_counter()
        root = Path(root)
        if not root.exists():
            # Never read a missing folder as an empty one: that would remove every document.
            raise DocumentsMissingError(f"{root} does not exist; the index was not changed")
        with self._writing():
            report = self._sync(root, source, on_progress)
        report.seconds = time.perf_counter() - started
        return report

    def _sync(self, root: Path, source: str, on_progress: ProgressFn | None) -> SyncReport:
        known = self._known(source)
        report = SyncReport()
        docs: list[tuple[Document, str]] = []
        seen: set[str] = set()
        with FileLoader() as loader:
            for path in discover(root):
                if isinstance(path, LoadFailure):
                    report.failed.append(path)  # not a document: removed if it was indexed
                    continue
                rel = path.name if root.is_file() else path.relative_to(root).as_posix()
                seen.add(rel)
                try:
                    data = read_file(path)
                except LoadError as e:
                    report.failed.append(LoadFailure(rel, str(e)))
                    continue
                file_hash = _sha256(data)
                if rel in known and known[rel][1] == file_hash:
                    report.unchanged.append(rel)
                    continue
                loaded = loader.load(path, rel, data=data)
                if isinstance(loaded, LoadFailure):
                    report.failed.append(loaded)  # a previously indexed version stays searchable
                    continue
                docs.append((loaded, file_hash))
        removed = [] if root.is_file() else [p for p in known if p not in seen]
        if root.is_dir():
            self._store_glossary(root, report)
        self._apply(docs, removed, known, source, report, on_progress)
        return report

    def sync_documents(
        self,
        documents: Sequence[Document],
        *,
        source: str,
        on_progress: ProgressFn | None = None,
    ) -> SyncReport:
        """Make `source` hold exactly these documents (used for generated ones, e.g. comms)."""
        started = time.perf_counter()
        with self._writing():
            known = self._known(source)
            report = SyncReport()
            docs = [(d, d.content_hash) for d in documents]
            unchanged = {d.path for d, h in docs if d.path in known and known[d.path][1] == h}
            report.unchanged.extend(sorted(unchanged))
            wanted = {d.path for d in documents}
            pending = [(d, h) for d, h in docs if d.path not in unchanged]
            removed = [p for p in known if p not in wanted]
            self._apply(pending, removed, known, source, report, on_progress)
        report.seconds = time.perf_counter() - started
        return report

    def _apply(
        self,
        docs: list[tuple[Document, str]],
        removed: list[str],
        known: dict[str, tuple[str, str]],
        source: str,
        report: SyncReport,
        on_progress: ProgressFn | None,
    ) -> None:
        to_embed: list[tuple[Document, str, list[Chunk]]] = []
        for doc, file_hash in docs:
            previous = known.get(doc.path)
            if previous and previous[0] == doc.content_hash:
                # Same content, different bytes (e.g. line endings): nothing to embed.
                self._db.execute(
                    "UPDATE documents SET file_hash = ? WHERE path = ?", (file_hash, doc.path)
                )
                report.unchanged.append(doc.path)
                continue
            to_embed.append((doc, file_hash, chunk_document(doc)))

        # A removed document whose content reappears under a new path is a rename.
        removed_hashes = {known[p][0]: p for p in removed}
        for doc, _, _ in to_embed:
            old = removed_hashes.pop(doc.content_hash, None)
            if old is not None and doc.path not in known:
                report.renamed.append((old, doc.path))

        # Documents this run rewrites or removes are put right by that; the others a killed
        # run left half-written are made to match the manifest first.
        rewritten = {doc.path for doc, _, _ in to_embed} | set(removed)
        report.repaired.extend(self._repair_pending(exclude=rewritten))

        total = sum(len(c) for _, _, c in to_embed)
        progress = _Progress(total, on_progress)
        group: list[tuple[Document, str, list[Chunk]]] = []
        for item in to_embed:
            group.append(item)
            if sum(len(c) for _, _, c in group) >= EMBED_GROUP_CHUNKS:
                self._write_group(group, known, source, report, progress)
                group = []
        if group:
            self._write_group(group, known, source, report, progress)
        if removed:
            self._remove(removed, report)
        report.chunks_embedded += progress.done
        if to_embed or removed:
            self.refresh_lexical(force=True)

    def _remove(self, paths: list[str], report: SyncReport) -> None:
        report.removed_versions.extend(v for v in map(self.last_version, paths) if v)
        self._begin_chroma_write(paths)
        for start in range(0, len(paths), WHERE_BATCH):
            self._collection.delete(where={"doc_path": {"$in": paths[start : start + WHERE_BATCH]}})
        with self._transaction():
            for path in paths:
                self._db.execute("DELETE FROM chunks WHERE doc_path = ?", (path,))
                self._db.execute("DELETE FROM documents WHERE path = ?", (path,))
            self._clear_intents(paths)
            self._bump_generation()
        report.removed.extend(paths)

    def _write_group(
        self,
        group: list[tuple[Document, str, list[Chunk]]],
        known: dict[str, tuple[str, str]],
        source: str,
        report: SyncReport,
        progress: _Progress,
    ) -> None:
        """Embed a group of documents, then write them: intents, Chroma, then one manifest
        transaction. Until that commit the manifest still names the old versions, so an
        interrupted run redoes exactly these documents next time."""
        chunks_all = [c for _, _, chunks in group for c in chunks]
        vectors = self._embed(chunks_all, progress)
        previous = {d.path: self.last_version(d.path) for d, _, _ in group if d.path in known}
        paths = [d.path for d, _, _ in group]
        self._begin_chroma_write(paths)
        # Every path, known or new: a killed run may have left chunks of a new one.
        self._collection.delete(where={"doc_path": {"$in": paths}})
        self._upsert(chunks_all, vectors)
        now = _now()
        with self._transaction():
            for doc, file_hash, chunks in group:
                effective = doc.effective_date.isoformat() if doc.effective_date else None
                self._db.execute("DELETE FROM chunks WHERE doc_path = ?", (doc.path,))
                self._db.executemany(
                    "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            c.id,
                            c.doc_path,
                            c.ordinal,
                            c.title,
                            json.dumps(list(c.section)),
                            c.text,
                            effective,
                            c.url,
                            c.kind,
                        )
                        for c in chunks
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.path,
                        source,
                        doc.content_hash,
                        file_hash,
                        doc.title,
                        effective,
                        doc.url,
                        doc.kind,
                        len(chunks),
                        now,
                    ),
                )
                self._db.execute(
                    "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        doc.path,
                        doc.content_hash,
                        doc.title,
                        effective,
                        _sections_json(doc.sections),
                        now,
                    ),
                )
                self._db.execute(
                    "DELETE FROM versions WHERE path = ? AND rowid NOT IN (SELECT rowid FROM "
                    "versions WHERE path = ? ORDER BY rowid DESC LIMIT ?)",
                    (doc.path, doc.path, HISTORY_VERSIONS),
                )
            self._clear_intents(paths)
            self._bump_generation()
        for doc, _, _ in group:
            (report.updated if doc.path in known else report.added).append(doc.path)
            report.changed.append((previous.get(doc.path), doc))

    def _embed(self, chunks: Sequence[Chunk], progress: _Progress | None = None) -> np.ndarray:
        """Vectors of these chunks, in their order. Texts are length-sorted and embedded in
        slices (full batches, little padding, a progress update per slice)."""
        texts = [embedding_text(c) for c in chunks]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(order), EMBED_SLICE):
            idx = order[start : start + EMBED_SLICE]
            parts.append(self.embedder.embed([texts[i] for i in idx]))
            if progress is not None:
                progress.advance(len(idx))
        stacked = np.vstack(parts) if parts else np.zeros((0, 0), np.float32)
        vectors = np.empty_like(stacked)
        vectors[order] = stacked  # back to the chunks' own order
        return vectors

    def _upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), CHROMA_BATCH):
            part = chunks[start : start + CHROMA_BATCH]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + len(part)].tolist(),
                documents=[c.text for c in part],
                metadatas=[_chunk_metadata(c) for c in part],
            )

    # -- repairing ----------------------------------------------------------------------
    def _repair_pending(self, *, exclude: set[str]) -> list[str]:
        """Make Chroma match the manifest for the documents a killed run left half-written
        (except those this run rewrites anyway); the paths that needed it."""
        pending = [r[0] for r in self._db.execute("SELECT path FROM pending_writes")]
        todo = [p for p in pending if p not in exclude]
        repaired: list[str] = []
        for start in range(0, len(todo), WHERE_BATCH):
            batch = todo[start : start + WHERE_BATCH]
            repaired.extend(self._match_manifest(batch))
            with self._transaction():
                self._clear_intents(batch)
        if repaired:
            logger.warning(
                "repaired %d document(s) an interrupted run left half-written", len(repaired)
            )
        return repaired

    def _match_manifest(self, paths: list[str]) -> list[str]:
        """Make Chroma hold exactly the manifest's chunks of these documents; the documents
        that differed (chunks missing, extra, or with other text or labels)."""
        placeholders = ",".join("?" * len(paths))
        rows = self._db.execute(f"{_CHUNK_SELECT} WHERE doc_path IN ({placeholders})", paths)
        wanted = {c.id: c for c in map(_chunk_from_row, rows)}
        have = _entries(
            self._collection.get(
                where={"doc_path": {"$in": paths}}, include=["documents", "metadatas"]
            )
        )
        differing = {c.doc_path for cid, c in wanted.items() if have.get(cid) != _entry(c)}
        differing |= {str(meta["doc_path"]) for cid, (_, meta) in have.items() if cid not in wanted}
        if not differing:
            return []
        self._collection.delete(where={"doc_path": {"$in": sorted(differing)}})
        restore = [c for c in wanted.values() if c.doc_path in differing]
        self._upsert(restore, self._embed(restore))
        return sorted(differing)

    def check(self) -> CheckReport:
        """Compare every Chroma entry with the manifest and put right what differs: chunks
        the manifest does not know are deleted, lost or altered ones embedded again."""
        started = time.perf_counter()
        with self._writing():
            report = CheckReport(pending=self._repair_pending(exclude=set()))
            wanted = self._all_chunks()
            have: dict[str, tuple[str, dict[str, Any]]] = {}
            for offset in range(0, max(self.vector_count(), 1), CHROMA_BATCH):
                page = self._collection.get(
                    include=["documents", "metadatas"], limit=CHROMA_BATCH, offset=offset
                )
                have.update(_entries(page))
            orphans = [cid for cid in have if cid not in wanted]
            missing = [c for cid, c in wanted.items() if cid not in have]
            mismatched = [c for cid, c in wanted.items() if cid in have and have[cid] != _entry(c)]
            for start in range(0, len(orphans), CHROMA_BATCH):
                self._collection.delete(ids=orphans[start : start + CHROMA_BATCH])
            restore = missing + mismatched
            if restore:
                self._upsert(restore, self._embed(restore))
            self.refresh_lexical()  # rebuilt if a killed run left it behind the manifest
            report.orphans, report.missing, report.mismatched = (
                len(orphans),
                len(missing),
                len(mismatched),
            )
            report.documents, report.chunks = self.document_count(), len(wanted)
        report.seconds = time.perf_counter() - started
        return report

    def _store_glossary(self, root: Path, report: SyncReport) -> None:
        """Keep the folder's glossary with the index; a bad one is reported and the last
        good one kept (a removed one is dropped)."""
        path = root / GLOSSARY_FILE
        text = ""
        if path.exists() or path.is_symlink():
            try:
                text = _read_glossary(path, root)
            except LoadError as e:
                report.failed.append(LoadFailure(GLOSSARY_FILE, str(e)))
                return
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES('glossary', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (text,),
        )
        self._glossary = None

    def glossary(self) -> Glossary:
        """The glossary of the last indexed documents folder (empty if it had none)."""
        if self._glossary is None:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'glossary'").fetchone()
            self._glossary = Glossary.parse(row[0]) if row and row[0] else Glossary()
        return self._glossary

    # -- reading ------------------------------------------------------------------------
    def refresh_lexical(self, *, force: bool = False) -> LexicalIndex:
        """The BM25 index, rebuilt from the manifest when it is older than the last write."""
        with self._lock:
            generation = self.generation()
            if not force and self._lexical is not None and self._lexical_generation == generation:
                return self._lexical
            directory = self.data_dir / "bm25"
            stamp = directory / "generation"
            lexical: LexicalIndex | None = None
            if not force and stamp.exists() and stamp.read_text().strip() == str(generation):
                lexical = LexicalIndex.load(directory)
            if lexical is None:
                rows = self._db.execute("SELECT id, title, section, text FROM chunks ORDER BY id")
                ids, texts = [], []
                for cid, title, section, text in rows:
                    ids.append(cid)
                    texts.append(f"{title} {' '.join(json.loads(section))} {text}")
                lexical = LexicalIndex.build(ids, texts)
                lexical.save(directory)
                stamp.write_text(str(generation))
            self._lexical, self._lexical_generation = lexical, generation
            return lexical

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity), best first."""
        count = len(self._all_chunks())  # cheaper than asking Chroma
        if count == 0:
            return []
        result = self._collection.query(
            query_embeddings=[list(map(float, vector))],
            n_results=min(k, count),
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """The chunks with these ids (those that exist), from the in-memory table."""
        table = self._all_chunks()
        return {cid: table[cid] for cid in ids if cid in table}

    def _all_chunks(self) -> dict[str, Chunk]:
        """Every chunk, read once per index generation: a question then costs no SQL."""
        generation = self.generation()
        cached = self._chunk_table
        if cached is not None and cached[0] == generation:
            return cached[1]
        table = {c.id: c for c in map(_chunk_from_row, self._db.execute(_CHUNK_SELECT))}
        self._chunk_table = (generation, table)
        return table

    def vector_count(self) -> int:
        return int(self._collection.count())

    def chunk_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def document_count(self, source: str | None = None) -> int:
        if source is None:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
        row = self._db.execute("SELECT COUNT(*) FROM documents WHERE source = ?", (source,))
        return int(row.fetchone()[0])

    def documents(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT path, source, title, effective_date, url, kind, chunk_count, indexed_at "
            "FROM documents ORDER BY path"
        )
        keys = ("path", "source", "title", "effective_date", "url", "kind", "chunks", "indexed_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def close(self) -> None:
        self._db.close()


class _Progress:
    """Counts embedded chunks and tells the caller's progress callback."""

    def __init__(self, total: int, callback: ProgressFn | None) -> None:
        self.total, self.done, self._callback = total, 0, callback
        if callback:
            callback(0, total)

    def advance(self, n: int) -> None:
        self.done += n
        if self._callback:
            self._callback(self.done, self.total)


_CHUNK_SELECT = (
    "SELECT id, doc_path, ordinal, title, section, text, effective_date, url, kind FROM chunks"
)


def _chunk_from_row(r: Sequence[Any]) -> Chunk:
    return Chunk(
        id=r[0],
        doc_path=r[1],
        ordinal=r[2],
        title=r[3],
        section=tuple(json.loads(r[4])),
        text=r[5],
        effective_date=_date(r[6]),
        url=r[7],
        kind=r[8],
    )


def _entries(got: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (text, metadata) from a Chroma `get`."""
    return dict(zip(got["ids"], zip(got["documents"], got["metadatas"], strict=True), strict=True))


def _entry(chunk: Chunk) -> tuple[str, dict[str, str | int]]:
    """What Chroma holds for a chunk besides its vector (which follows from these)."""
    return chunk.text, _chunk_metadata(chunk)


def _read_glossary(path: Path, root: Path) -> str:
    problem = link_problem(path, root)
    if problem:
        raise LoadError(problem)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise LoadError(f"could not be read ({e.strerror})") from None
    if size > MAX_GLOSSARY_BYTES:
        raise LoadError(
            f"the glossary is {size / 2**20:,.1f} MB; the limit is {MAX_GLOSSARY_BYTES // 2**20} MB"
        )
    try:
        text = read_file(path).decode("utf-8-sig")
        bounded_yaml.load(text)
    except UnicodeDecodeError:
        raise LoadError("not valid UTF-8 (the last good glossary is kept)") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = getattr(e, "problem", None) or str(e)
        raise LoadError(f"invalid YAML{where}: {reason} (the last good glossary is kept)") from None
    return text


_DISK_FULL = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _disk_full(error: BaseException) -> str | None:
    """The reason, when this error (or one it was raised from) says the disk is full."""
    seen: set[int] = set()
    chain: list[BaseException] = [error]
    while chain:
        e = chain.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return e.strerror or os.strerror(e.errno)
        text = str(e).lower()
        for words in _DISK_FULL:
            if words in text:
                return words
        chain.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return None


def _chunk_metadata(chunk: Chunk) -> dict[str, str | int]:
    # Chroma metadata values cannot be None.
    return {
        "doc_path": chunk.doc_path,
        "title": chunk.title,
        "section": chunk.section_label,
        "ordinal": chunk.ordinal,
        "effective_date": chunk.effective_date.isoformat() if chunk.effective_date else "",
        "url": chunk.url or "",
        "kind": chunk.kind,
    }
