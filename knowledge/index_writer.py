"""Index runs: how a new generation of the index is written and switched to.

How a run writes (the catalog is the truth; Chroma follows it):

1. A group of changed documents is loaded, chunked and embedded (groups are bounded,
   so memory does not grow with the folder).
2. Their chunks are recorded as pending in the catalog, tagged with the new
   generation; chunk ids are derived from (path, content hash, generation), so they
   never collide with a chunk a reader may still be using.
3. Chroma takes the vectors; one catalog transaction commits the documents, which
   removes their previous versions *in the new generation* (readers of the live one
   still see them, and Chroma still holds them).
4. At the end the generation is switched to. Rows removed by it are deleted — from
   Chroma first — by a run after a grace period, when no reader can need them.

A run that changes nothing makes no generation. A run killed in the middle left a
`building` generation: the next run deletes its pending chunks from Chroma and carries
on with what it had committed. A rebuild writes the new generation into a new
collection (every chunk embedded again); a killed rebuild is dropped whole. Writers
hold the catalog's writer lock for the whole run (other processes and machines wait);
nothing a question needs is locked.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import yaml
from chromadb.errors import ChromaError, NotFoundError

from knowledge import bounded_yaml
from knowledge.background import in_background
from knowledge.catalog import Catalog, DocumentEntry, DocumentVersion, Generation
from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Chunk, Document, LoadFailure
from knowledge.embeddings import Embedder
from knowledge.errors import DocumentsMissingError, IndexWriteError, disk_full_reason
from knowledge.folder_audience import FolderAudiences
from knowledge.glossary import GLOSSARY_FILE
from knowledge.loaders import FileLoader, LoadError, discover, link_problem, read_file
from knowledge.vectors import CHROMA_BATCH, VectorStore

logger = logging.getLogger(__name__)

# Documents are embedded in groups of about this many chunks, then written: what a run
# holds in memory at once, and what a killed run redoes at most. Within a group texts
# are length-sorted and embedded in slices (full batches, a progress update per slice).
EMBED_GROUP_CHUNKS = 512
EMBED_SLICE = 64
HISTORY_VERSIONS = 5
MAX_GLOSSARY_BYTES = 1024 * 1024

ProgressFn = Callable[[int, int], None]


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    # Documents a killed run had left half-written, put right by this run.
    repaired: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0
    generation: int | None = None  # the generation this run switched to (None: no change)
    # For change detection: (previous version or None, new document) per added/updated doc,
    # and the last version of every removed document. Not kept by the first run over a
    # source (the baseline, which is no change), so its memory stays bounded.
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
    """What `check` found in Chroma against the catalog, and put right."""

    documents: int = 0
    chunks: int = 0
    pending: list[str] = field(default_factory=list)  # documents a killed run left half-written
    orphans: int = 0  # chunks in Chroma the catalog does not know: deleted
    missing: int = 0  # chunks of the catalog Chroma lacks: embedded again
    mismatched: int = 0  # chunks whose text or labels differ: embedded again
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing needed repairing."""
        return not (self.pending or self.orphans or self.missing or self.mismatched)


@dataclass
class _Run:
    """One index run's state: the generation it writes (reserved on its first write)."""

    live: Generation | None
    rebuild: bool
    progress: _Progress
    generation: Generation | None = None
    collection: Any | None = None
    glossary: str | None = None  # a new glossary text; None: the live one is kept
    repaired: list[str] = field(default_factory=list)


class IndexWriter:
    """Writes generations of one index: sync a folder or a set of documents, check."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        vectors: VectorStore,
        embedder: Embedder,
        grace: timedelta,
        on_switch: Callable[[int], None],
    ) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self._grace = grace
        self._catalog_id = catalog.catalog_id()
        self._on_switch = on_switch
        self._mutex = threading.Lock()  # writers of this process; never a reader
        self._background = threading.local()  # set in a background run's own thread

    def _in_background(self, run: Callable[[], SyncReport]) -> SyncReport:
        """The run in a thread of the lowest priority, embedding on that thread alone."""

        def marked() -> SyncReport:
            self._background.active = True
            return run()

        return in_background(marked)

    def _embedder(self) -> Embedder:
        """The embedder for this thread's run: on one core in a background run."""
        if getattr(self._background, "active", False):
            one_core = getattr(self.embedder, "on_one_core", None)
            if one_core is not None:
                return cast(Embedder, one_core())
        return self.embedder

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the catalog's writer lock (other processes and machines) and this index's
        (other threads); a full disk ends the write with one clear message."""
        try:
            with self.catalog.writer_lock(), self._mutex:
                yield
        except Exception as e:
            full = disk_full_error(e, self.catalog.description, self.vectors)
            if full is None:
                raise
            raise full from None

    def sync(
        self,
        root: Path,
        *,
        source: str = "docs",
        rebuild: bool = False,
        on_progress: ProgressFn | None = None,
        background: bool = False,
    ) -> SyncReport:
        """Bring the index in line with a folder: embed new/changed, drop deleted, report all.
        `rebuild`: every chunk is embedded again, into a new collection. `background`: the
        process answers questions meanwhile; they come first (see `in_background`)."""
        if background:
            return self._in_background(
                lambda: self.sync(root, source=source, rebuild=rebuild, on_progress=on_progress)
            )
        started = time.perf_counter()
        root = Path(root)
        if not root.exists():
            # Never read a missing folder as an empty one: that would remove every document.
            raise DocumentsMissingError(f"{root} does not exist; the index was not changed")
        with self._writing():
            run = self._start(rebuild, on_progress)
            report = SyncReport(repaired=run.repaired)
            known = self.catalog.known(source)
            seen: set[str] = set()
            documents = self._folder(root, known, seen, report)
            new_hashes = self._apply(run, source, documents, known, report)
            removed = [] if root.is_file() else [p for p in known if p not in seen]
            report.renamed.extend(_renames(known, removed, new_hashes))
            self._remove(run, removed, report)
            if root.is_dir():
                run.glossary = self._read_folder_glossary(root, report)
            self._finish(run, report)
        report.seconds = time.perf_counter() - started
        return report

    def sync_documents(
        self,
        documents: Sequence[Document],
        *,
        source: str,
        on_progress: ProgressFn | None = None,
        background: bool = False,
    ) -> SyncReport:
        """Make `source` hold exactly these documents (used for generated ones, e.g. comms)."""
        if background:
            return self._in_background(
                lambda: self.sync_documents(documents, source=source, on_progress=on_progress)
            )
        started = time.perf_counter()
        with self._writing():
            run = self._start(False, on_progress)
            report = SyncReport(repaired=run.repaired)
            known = self.catalog.known(source)
            fresh = []
            for d in documents:
                if d.path in known and known[d.path][1] == d.content_hash:
                    report.unchanged.append(d.path)
                else:
                    fresh.append((d, d.content_hash))
            new_hashes = self._apply(run, source, iter(fresh), known, report)
            wanted = {d.path for d in documents}
            removed = [p for p in known if p not in wanted]
            report.renamed.extend(_renames(known, removed, new_hashes))
            self._remove(run, removed, report)
            self._finish(run, report)
        report.seconds = time.perf_counter() - started
        return report

    def _folder(
        self,
        root: Path,
        known: dict[str, tuple[str, str]],
        seen: set[str],
        report: SyncReport,
    ) -> Iterator[tuple[Document, str]]:
        """The folder's new and changed documents, loaded one at a time."""
        folders = FolderAudiences(root if root.is_dir() else root.parent)
        with FileLoader() as loader:
            for path in discover(root):
                if isinstance(path, LoadFailure):
                    report.failed.append(path)  # not a document: removed if it was indexed
                    continue
                rel = path.name if root.is_file() else path.relative_to(root).as_posix()
                seen.add(rel)
                try:
                    folder = None if root.is_file() else folders.for_file(rel)
                    data = read_file(path)
                except LoadError as e:  # (a bad _audience.yml: its documents stay as they were)
                    report.failed.append(LoadFailure(rel, str(e)))
                    continue
                digest = hashlib.sha256(data)
                if folder is not None:  # its folder's audience is part of what was read
                    digest.update(f"\0{folder[0]}\0{folder[1].key}".encode())
                file_hash = digest.hexdigest()
                if rel in known and known[rel][1] == file_hash:
                    report.unchanged.append(rel)
                    continue
                loaded = loader.load(path, rel, data=data)
                del data
                if isinstance(loaded, LoadFailure):
                    report.failed.append(loaded)  # a previously indexed version stays searchable
                    continue
                if folder is not None and not loaded.audience.given:
                    loaded = replace(loaded, audience=folder[1])
                yield loaded, file_hash

    def _start(self, rebuild: bool, on_progress: ProgressFn | None) -> _Run:
        """Put right what a killed run left, collect garbage, and prepare this run."""
        live = self.catalog.live()
        run = _Run(live=live, rebuild=rebuild, progress=_Progress(on_progress))
        building = self.catalog.building()
        if building is not None:
            run.repaired = self._recover(building, live, run)
        self._collect_garbage(live)
        if rebuild:
            self._begin(run)
        return run

    def _recover(self, building: Generation, live: Generation | None, run: _Run) -> list[str]:
        """A killed run's generation: carry on with it (its pending chunks deleted), or for a
        rebuild (then or now) drop it; the documents it had half-written."""
        if building.rebuild or run.rebuild:
            added = self.catalog.added(building.number, pending_only=False)
            if live is not None and building.collection == live.collection:
                self.vectors.delete(live.collection, [cid for cid, _ in added])
            else:
                self.vectors.drop(building.collection)
            self.catalog.discard(building.number)
            logger.warning("dropped generation %d, which a killed run left", building.number)
            return sorted({path for _, path in added})
        pending = self.catalog.added(building.number, pending_only=True)
        if pending:
            self.vectors.delete(building.collection, [cid for cid, _ in pending])
            self.catalog.drop_pending(building.number)
        try:
            run.collection = self.vectors.collection(building.collection)
        except NotFoundError:  # killed before its collection was made: start it again
            self.catalog.discard(building.number)
            return sorted({path for _, path in pending})
        run.generation = building
        repaired = sorted({path for _, path in pending})
        if repaired:
            logger.warning(
                "repaired %d document(s) an interrupted run left half-written", len(repaired)
            )
        return repaired

    def _collect_garbage(self, live: Generation | None) -> None:
        """Delete what switches longer than the grace period ago replaced: chunks (from
        Chroma first, then the catalog) and the collections of generations before a rebuild."""
        if live is None:
            return
        cutoff = (datetime.now(UTC) - self._grace).isoformat(timespec="microseconds")
        garbage = self.catalog.garbage(older_than=cutoff)
        if not garbage:
            return
        self.vectors.delete(live.collection, garbage.chunk_ids)
        for name in garbage.collections:
            self.vectors.drop(name)
        self.catalog.forget(garbage)
        logger.info(
            "collected %d replaced chunk(s) and %d old collection(s)",
            len(garbage.chunk_ids),
            len(garbage.collections),
        )

    def _begin(self, run: _Run) -> Generation:
        """Reserve the run's generation on its first write (a run that changes nothing
        makes none). A rebuild, or the first run, writes into a new collection."""
        if run.generation is not None:
            return run.generation
        live = run.live
        if live is None or run.rebuild:
            name, collection = self.vectors.create(prefix=self._catalog_id, embedder=self.embedder)
        else:
            name, collection = live.collection, self.vectors.collection(live.collection)
        run.generation = self.catalog.begin(
            collection=name,
            embedder=self.embedder.model_name,
            dimension=self.embedder.dimension,
            rebuild=run.rebuild,
            glossary=live.glossary if live else "",
        )
        run.collection = collection
        return run.generation

    def _apply(
        self,
        run: _Run,
        source: str,
        documents: Iterator[tuple[Document, str]],
        known: dict[str, tuple[str, str]],
        report: SyncReport,
    ) -> dict[str, str]:
        """Embed and write new and changed documents in bounded groups, as they come;
        path -> content hash of each one written."""
        keep_changes = bool(known)  # the first run over a source is the baseline
        group: list[tuple[Document, str, list[Chunk]]] = []
        size = 0
        new_hashes: dict[str, str] = {}
        for doc, file_hash in documents:
            previous = known.get(doc.path)
            if previous and previous[0] == doc.content_hash:
                # Same content, different bytes (e.g. line endings): nothing to embed.
                if previous[1] != file_hash:
                    self.catalog.set_file_hash(doc.path, file_hash)
                report.unchanged.append(doc.path)
                continue
            number = self._begin(run).number
            chunks = _versioned_chunks(doc, number)
            run.progress.add(len(chunks))
            group.append((doc, file_hash, chunks))
            new_hashes[doc.path] = doc.content_hash
            size += len(chunks)
            if size >= EMBED_GROUP_CHUNKS:
                self._write_group(run, source, group, known, report, keep_changes)
                group, size = [], 0
        if group:
            self._write_group(run, source, group, known, report, keep_changes)
        report.chunks_embedded += run.progress.done
        return new_hashes

    def _write_group(
        self,
        run: _Run,
        source: str,
        group: list[tuple[Document, str, list[Chunk]]],
        known: dict[str, tuple[str, str]],
        report: SyncReport,
        keep_changes: bool,
    ) -> None:
        """Embed a group of documents, then write it: pending chunks in the catalog, the
        vectors, then one catalog transaction committing the documents. Until that commit
        the catalog names the old versions, so a killed run redoes exactly these."""
        assert run.generation is not None
        number = run.generation.number
        chunks_all = [c for _, _, chunks in group for c in chunks]
        vectors = self._embed(chunks_all, run.progress)
        previous = (
            {d.path: self.catalog.last_version(d.path) for d, _, _ in group if d.path in known}
            if keep_changes
            else {}
        )
        self.catalog.add_chunks(number, chunks_all)
        self._upsert(run.collection, chunks_all, vectors)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self.catalog.commit_documents(
            number,
            [
                DocumentEntry(
                    path=doc.path,
                    source=source,
                    content_hash=doc.content_hash,
                    file_hash=file_hash,
                    title=doc.title,
                    effective_date=doc.effective_date,
                    url=doc.url,
                    kind=doc.kind,
                    chunk_count=len(chunks),
                    indexed_at=now,
                    audience=doc.audience.key,
                )
                for doc, file_hash, chunks in group
            ],
            [
                DocumentVersion(
                    doc.path,
                    doc.content_hash,
                    doc.title,
                    doc.effective_date,
                    doc.sections,
                    doc.audience.key,
                )
                for doc, _, _ in group
            ],
            history=HISTORY_VERSIONS,
        )
        for doc, _, _ in group:
            (report.updated if doc.path in known else report.added).append(doc.path)
            if keep_changes:
                report.changed.append((previous.get(doc.path), doc))

    def _remove(self, run: _Run, paths: list[str], report: SyncReport) -> None:
        if not paths:
            return
        report.removed_versions.extend(v for v in map(self.catalog.last_version, paths) if v)
        number = self._begin(run).number
        self.catalog.retire(number, paths)  # Chroma keeps their vectors for the grace period
        report.removed.extend(paths)

    def _finish(self, run: _Run, report: SyncReport) -> None:
        """Switch to the run's generation, if it wrote one (a rebuild first embeds every
        chunk it did not write into its new collection)."""
        live_glossary = run.live.glossary if run.live else ""
        if run.glossary is not None and run.glossary != live_glossary:
            self._begin(run)
        if run.generation is None:
            return
        number = run.generation.number
        if run.rebuild:
            self._copy_into(run)
            report.chunks_embedded = run.progress.done
        glossary = run.glossary if run.glossary is not None else live_glossary
        self.catalog.switch(number, glossary=glossary)
        report.generation = number
        logger.info("index generation %d is live", number)
        self._on_switch(number)

    def _copy_into(self, run: _Run) -> None:
        """A rebuild: embed every current chunk the run did not write into its collection."""
        assert run.generation is not None
        after = ""
        while True:
            page = self.catalog.latest_chunks(
                added_before=run.generation.number, after=after, limit=EMBED_GROUP_CHUNKS
            )
            if not page:
                return
            run.progress.add(len(page))
            self._upsert(run.collection, page, self._embed(page, run.progress))
            after = page[-1].id

    def _embed(self, chunks: Sequence[Chunk], progress: _Progress | None = None) -> np.ndarray:
        """Vectors of these chunks, in their order. Texts are length-sorted and embedded in
        slices (full batches, little padding, a progress update per slice)."""
        texts = [embedding_text(c) for c in chunks]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(order), EMBED_SLICE):
            idx = order[start : start + EMBED_SLICE]
            parts.append(self._embedder().embed([texts[i] for i in idx]))
            if progress is not None:
                progress.advance(len(idx))
        stacked = np.vstack(parts) if parts else np.zeros((0, 0), np.float32)
        vectors = np.empty_like(stacked)
        vectors[order] = stacked  # back to the chunks' own order
        return vectors

    def _upsert(self, collection: Any, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), CHROMA_BATCH):
            part = chunks[start : start + CHROMA_BATCH]
            collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + len(part)].tolist(),
                documents=[c.text for c in part],
                metadatas=[_chunk_metadata(c) for c in part],
            )

    # -- checking ------------------------------------------------------------------------------
    def check(self) -> CheckReport:
        """Compare every Chroma entry with the catalog and put right what differs: chunks
        the catalog does not know are deleted, lost or altered ones embedded again."""
        started = time.perf_counter()
        with self._writing():
            live = self.catalog.live()
            run = _Run(live=live, rebuild=False, progress=_Progress(None))
            building = self.catalog.building()
            report = CheckReport(
                pending=self._recover(building, live, run) if building is not None else []
            )
            name = run.generation.collection if run.generation else (live and live.collection)
            if name:
                collection = self.vectors.collection(name)
                known = self.catalog.chunk_ids()
                wanted: dict[str, Chunk] = {}
                after = ""
                while page := self.catalog.latest_chunks(after=after, limit=CHROMA_BATCH):
                    wanted.update((c.id, c) for c in page)
                    after = page[-1].id
                have: dict[str, tuple[str, dict[str, Any]]] = {}
                total = int(collection.count())
                for offset in range(0, max(total, 1), CHROMA_BATCH):
                    have.update(
                        _entries(
                            collection.get(
                                include=["documents", "metadatas"],
                                limit=CHROMA_BATCH,
                                offset=offset,
                            )
                        )
                    )
                orphans = [cid for cid in have if cid not in known]
                missing = [c for cid, c in wanted.items() if cid not in have]
                mismatched = [
                    c for cid, c in wanted.items() if cid in have and have[cid] != _entry(c)
                ]
                for start in range(0, len(orphans), CHROMA_BATCH):
                    collection.delete(ids=orphans[start : start + CHROMA_BATCH])
                restore = missing + mismatched
                for start in range(0, len(restore), EMBED_GROUP_CHUNKS):
                    part = restore[start : start + EMBED_GROUP_CHUNKS]
                    self._upsert(collection, part, self._embed(part))
                report.orphans, report.missing, report.mismatched = (
                    len(orphans),
                    len(missing),
                    len(mismatched),
                )
                report.chunks = len(wanted)
                report.documents = len(self.catalog.documents(live.number)) if live else 0
        report.seconds = time.perf_counter() - started
        return report

    # -- glossary ------------------------------------------------------------------------------
    def _read_folder_glossary(self, root: Path, report: SyncReport) -> str | None:
        """The folder's glossary text ("" when it has none); a bad one is reported and the
        last good one kept (None)."""
        path = root / GLOSSARY_FILE
        if not (path.exists() or path.is_symlink()):
            return ""
        try:
            return _read_glossary(path, root)
        except LoadError as e:
            report.failed.append(LoadFailure(GLOSSARY_FILE, str(e)))
            return None


class _Progress:
    """Counts chunks to embed (the total grows as documents are loaded) and embedded."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.total, self.done, self._callback = 0, 0, callback

    def add(self, n: int) -> None:
        self.total += n
        if self._callback:
            self._callback(self.done, self.total)

    def advance(self, n: int) -> None:
        self.done += n
        if self._callback:
            self._callback(self.done, self.total)


def _versioned_chunks(doc: Document, generation: int) -> list[Chunk]:
    """The document's chunks with ids of this version in this generation: a replaced
    version's chunks keep theirs, so readers of the live generation never lose them.
    ("<digest>-<ordinal>": neighbours in a document share the digest.)"""
    key = f"{doc.path}\0{doc.content_hash}\0{generation}".encode()
    digest = hashlib.sha1(key).hexdigest()[:16]
    return [replace(c, id=f"{digest}-{c.ordinal:04d}") for c in chunk_document(doc)]


def _renames(
    known: dict[str, tuple[str, str]], removed: list[str], new_hashes: dict[str, str]
) -> list[tuple[str, str]]:
    """A removed document whose content reappears under a new path is a rename."""
    gone = {known[path][0]: path for path in removed}
    renamed = []
    for path, content_hash in new_hashes.items():
        old = gone.pop(content_hash, None)
        if old is not None and path not in known:
            renamed.append((old, path))
    return renamed


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


def disk_full_error(
    error: BaseException, catalog: str, vectors: VectorStore
) -> IndexWriteError | None:
    """The message for a write of the index that failed on a full disk (the catalog's, or
    the vector store's: where it says), or None when that is not why it failed."""
    chroma = isinstance(error, ChromaError)
    reason = disk_full_reason(error) or vectors.disk_full(error)
    if reason is None:
        return None
    logger.debug("index write failed", exc_info=error)
    return IndexWriteError(
        f"the disk holding the index in {vectors.description if chroma else catalog} is full "
        f"({reason}). Free some space and index again: the next run repairs what this one "
        "left half-written, and nothing indexed before is lost."
    )


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
