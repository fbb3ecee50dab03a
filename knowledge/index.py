"""The knowledge index: Chroma vectors, a catalog of chunk texts, BM25 — in generations.

Questions are answered from one *generation* of the index at a time: an immutable
snapshot (chunk texts, BM25, glossary, the Chroma collection) loaded from the
catalog (knowledge/catalog/). An index run writes the next generation beside it and
switches to it in one transaction at the end; readers follow the switch — in this
process at once, elsewhere within a poll — and never wait for a writer, since no
lock a question needs is held while documents are embedded.

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

A run killed in the middle left a `building` generation: the next run deletes its
pending chunks from Chroma and carries on with what it had committed. `--rebuild`
writes the new generation into a new Chroma collection (every chunk embedded
again) and switches to it; the old collection is dropped after the grace period.
Only a dense search's result is filtered to the snapshot's chunks: Chroma holds the
live generation's vectors plus those of the one being written and of replaced ones.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
import numpy as np
import yaml
from chromadb.api.types import EmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from knowledge import bounded_yaml
from knowledge.catalog import Catalog, DocumentEntry, DocumentVersion, Generation, open_catalog
from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Chunk, Document, LoadFailure
from knowledge.embeddings import Embedder
from knowledge.errors import (
    DocumentsMissingError,
    EmbedderMismatchError,
    IndexUnavailableError,
    IndexWriteError,
)
from knowledge.glossary import GLOSSARY_FILE, Glossary
from knowledge.index_lock import opening_lock
from knowledge.lexical import LexicalIndex
from knowledge.loaders import FileLoader, LoadError, discover, link_problem, read_file

__all__ = ["CheckReport", "ChromaServer", "DocumentVersion", "KnowledgeIndex", "SyncReport"]

logger = logging.getLogger(__name__)

# Documents are embedded in groups of about this many chunks, then written: what a run
# holds in memory at once, and what a killed run redoes at most. Within a group texts
# are length-sorted and embedded in slices (full batches, a progress update per slice).
EMBED_GROUP_CHUNKS = 512
EMBED_SLICE = 64
HISTORY_VERSIONS = 5
CHROMA_BATCH = 4000  # below Chroma's max batch size
MAX_GLOSSARY_BYTES = 1024 * 1024
# Rows and collections a switch replaced stay this long for readers still on the old
# generation (they follow within a poll), then the next run deletes them.
DEFAULT_GRACE_SECONDS = 300.0
LEGACY_COLLECTION = "partnerbot"

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ChromaServer:
    """A Chroma server (`chroma run`) instead of the embedded store in the data directory."""

    host: str
    port: int = 8000
    ssl: bool = False
    auth_token: str | None = field(default=None, repr=False)  # never logged
    auth_header: str = "Authorization"  # or X-Chroma-Token
    ca_bundle: str | None = None  # verify the server against this CA file (self-signed)

    @property
    def address(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


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


@dataclass(frozen=True)
class _Snapshot:
    """One generation, as questions read it. Never changed: a new one replaces it."""

    generation: Generation | None
    collection: Any  # None before the first generation
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    glossary: Glossary
    documents: tuple[DocumentEntry, ...]

    @property
    def number(self) -> int:
        return self.generation.number if self.generation else 0


_EMPTY = _Snapshot(None, None, {}, LexicalIndex(None, []), Glossary(), ())


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


class KnowledgeIndex:
    """The vector collection, the catalog and the lexical index, read by generation."""

    def __init__(
        self,
        *,
        data_dir: Path,
        embedder: Embedder,
        catalog_url: str | None = None,
        chroma: ChromaServer | None = None,
        chroma_host: str | None = None,
        chroma_port: int = 8000,
        rebuild: bool = False,
        follow_seconds: float | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        """Open the index. `catalog_url`: PostgreSQL shared by replicas (None: SQLite in
        the data directory). `follow_seconds`: poll for a new generation that often (a
        thread; None: only on `poll()`). `rebuild`: open an index built with another
        embedder, to be rebuilt (opening it otherwise fails)."""
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IndexWriteError(
                f"cannot create the data directory {self.data_dir} ({e.strerror}); "
                "create it or choose another"
            ) from None
        self.embedder = embedder
        self._server = chroma or (ChromaServer(chroma_host, chroma_port) if chroma_host else None)
        self._allow_other_embedder = rebuild
        self._grace = timedelta(seconds=max(0.0, grace_seconds))
        self._follow_seconds = follow_seconds
        self._write_mutex = threading.Lock()  # writers of this process; never a reader
        self._load_lock = threading.Lock()  # one snapshot load at a time
        self._snapshot: _Snapshot | None = None
        self._written_here: set[int] = set()
        self._clients: list[Any] = []
        self._closed = threading.Event()
        self._follower: threading.Thread | None = None
        if self._server is None:
            with opening_lock(self.data_dir):
                self.catalog: Catalog = open_catalog(catalog_url, data_dir=self.data_dir)
                self._clients.append(self._new_client())
        else:
            self.catalog = open_catalog(catalog_url, data_dir=self.data_dir)
            self._clients.append(self._new_client())
        self._catalog_id = self.catalog.catalog_id()
        live = self.catalog.live()
        if live is not None:
            self._check_embedder(live)

    # -- Chroma ------------------------------------------------------------------------------
    @property
    def _client(self) -> Any:
        return self._clients[-1]

    @property
    def shared(self) -> bool:
        """True when replicas share this index (the catalog is in PostgreSQL)."""
        return self.catalog.shared

    def _new_client(self, *, fresh: bool = False) -> Any:
        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        server = self._server
        if server is None:
            # A process keeps the vectors it loaded in memory and does not see another
            # process's later writes: following a generation another process wrote opens
            # the store afresh (under another name for the same folder).
            path = str(self.data_dir / "chroma") + "/." * (len(self._clients) if fresh else 0)
            return chromadb.PersistentClient(path=path, settings=settings)
        if server.auth_token:
            settings = ChromaSettings(
                anonymized_telemetry=False,
                allow_reset=False,
                chroma_client_auth_provider="chromadb.auth.token_authn.TokenAuthClientProvider",
                chroma_client_auth_credentials=server.auth_token,
                chroma_auth_token_transport_header=server.auth_header,
            )
        if server.ca_bundle:
            settings.chroma_server_ssl_verify = server.ca_bundle
        try:
            return chromadb.HttpClient(
                host=server.host, port=server.port, ssl=server.ssl, settings=settings
            )
        except Exception as e:
            raise IndexUnavailableError(
                f"cannot reach the Chroma server at {server.address}: {_scrubbed(e, server)} "
                "(check CHROMA_HOST, CHROMA_PORT, CHROMA_SSL and CHROMA_AUTH_TOKEN)"
            ) from None

    def _collection(self, name: str, client: Any | None = None) -> Any:
        return (client or self._client).get_collection(name, embedding_function=None)

    def _create_collection(self) -> tuple[str, Any]:
        name = f"pb-{self._catalog_id[:8]}-{uuid.uuid4().hex[:12]}"
        function = self.embedder if isinstance(self.embedder, EmbeddingFunction) else None
        collection = self._client.get_or_create_collection(
            name,
            embedding_function=function,
            metadata={
                "embedder": self.embedder.model_name,
                "dimension": self.embedder.dimension,
                "hnsw:space": "cosine",
            },
        )
        return name, collection

    def _check_embedder(self, live: Generation) -> None:
        name, dimension = live.embedder, live.dimension
        if not name:  # made before generations: Chroma's collection knows
            try:
                meta = self._collection(live.collection).metadata or {}
            except NotFoundError:
                return
            name, dimension = str(meta.get("embedder") or ""), int(meta.get("dimension") or 0)
        wanted = (self.embedder.model_name, self.embedder.dimension)
        if name and (name, dimension) != wanted and not self._allow_other_embedder:
            raise EmbedderMismatchError(
                f"The index in {self.catalog.description} was built with embedder '{name}' "
                f"({dimension} dimensions) but '{wanted[0]}' ({wanted[1]} dimensions) is "
                f"configured. Either set PARTNERBOT_EMBEDDER back, or re-index with the new "
                f"embedder: partnerbot index --rebuild PATH"
            )

    # -- reading: the current snapshot ------------------------------------------------------------
    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            with self._load_lock:  # only before the first snapshot does a reader wait
                if self._snapshot is None:
                    self._snapshot = self._load(self.catalog.live())
                snapshot = self._snapshot
            self._start_follower()
        return snapshot

    def poll(self) -> bool:
        """Look for a new live generation; load and switch to it (questions go on being
        answered from the current one meanwhile). True when it switched."""
        live = self.catalog.live()
        number = live.number if live else 0
        current = self._snapshot
        if current is not None and current.number == number:
            return False
        with self._load_lock:
            current = self._snapshot
            if current is not None and current.number == number:
                return False
            fresh = (
                self._server is None and current is not None and number not in self._written_here
            )
            try:
                loaded = self._load(live, fresh_client=fresh)
            except EmbedderMismatchError:
                if current is None:
                    raise
                logger.error(
                    "generation %d of the index was built with another embedder; still "
                    "answering from generation %d: restart with the new PARTNERBOT_EMBEDDER",
                    number,
                    current.number,
                )
                return False
            self._snapshot = loaded
        logger.info("answering from index generation %d (%d chunks)", number, len(loaded.chunks))
        return True

    def _load(self, live: Generation | None, *, fresh_client: bool = False) -> _Snapshot:
        for _ in range(5):
            if live is None:
                return _EMPTY
            self._check_embedder(live)
            client = self._client
            if fresh_client:
                client = self._new_client(fresh=True)
                self._clients.append(client)
                for old in self._clients[:-2]:  # in use by no snapshot any more
                    _close_client(old)
                del self._clients[:-2]
            try:
                collection = self._collection(live.collection, client)
            except NotFoundError:  # dropped meanwhile: a newer generation is live
                live = self.catalog.live()
                continue
            chunks = {c.id: c for c in self.catalog.iter_chunks(live.number)}
            return _Snapshot(
                generation=live,
                collection=collection,
                chunks=chunks,
                lexical=self._lexical_for(live.number, chunks),
                glossary=Glossary.parse(live.glossary) if live.glossary else Glossary(),
                documents=tuple(self.catalog.documents(live.number)),
            )
        raise IndexUnavailableError(
            f"the index's Chroma collection keeps disappearing ({self.catalog.description}); "
            "run partnerbot index --check"
        )

    def _lexical_for(self, number: int, chunks: dict[str, Chunk]) -> LexicalIndex:
        """BM25 of a generation: saved in the data directory, rebuilt when it is older."""
        directory = self.data_dir / "bm25"
        stamp = directory / "generation"
        key = f"{self._catalog_id}:{number}"
        try:
            if stamp.exists() and stamp.read_text().strip() == key:
                loaded = LexicalIndex.load(directory)
                if loaded is not None:
                    return loaded
        except (OSError, ValueError):
            logger.warning("the saved lexical index could not be read; rebuilding it")
        return self._build_lexical(number, chunks)

    def _build_lexical(self, number: int, chunks: dict[str, Chunk]) -> LexicalIndex:
        started = time.perf_counter()
        ordered = sorted(chunks.values(), key=lambda c: c.id)
        lexical = LexicalIndex.build(
            [c.id for c in ordered],
            [f"{c.title} {' '.join(c.section)} {c.text}" for c in ordered],
        )
        directory = self.data_dir / "bm25"
        try:  # a cache for the next start: answering goes on without it
            lexical.save(directory)
            (directory / "generation").write_text(f"{self._catalog_id}:{number}")
        except OSError as e:
            logger.warning("could not save the lexical index in %s: %s", directory, e)
        logger.info(
            "lexical index of generation %d: %d chunks in %.1f s",
            number,
            len(ordered),
            time.perf_counter() - started,
        )
        return lexical

    def _start_follower(self) -> None:
        if self._follow_seconds is None or self._follower is not None or self._closed.is_set():
            return
        self._follower = threading.Thread(target=self._follow, name="index-follower", daemon=True)
        self._follower.start()

    def _follow(self) -> None:
        assert self._follow_seconds is not None
        while not self._closed.wait(self._follow_seconds):
            try:
                self.poll()
            except Exception as e:  # the catalog or Chroma unreachable: keep the snapshot
                logger.warning("checking for a new index generation failed: %s", e)

    def generation(self) -> int:
        """The generation questions are answered from (0: nothing indexed yet)."""
        return self._current().number

    def glossary(self) -> Glossary:
        """The glossary of the current generation (empty if its folder had none)."""
        return self._current().glossary

    def refresh_lexical(self, *, force: bool = False) -> LexicalIndex:
        """The BM25 index of the current generation (`force`: built again from its chunks)."""
        snapshot = self._current()
        if not force:
            return snapshot.lexical
        lexical = self._build_lexical(snapshot.number, snapshot.chunks)
        self._snapshot = replace(snapshot, lexical=lexical)
        return lexical

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity) of the current generation, best first."""
        snapshot = self._current()
        if not snapshot.chunks or snapshot.collection is None:
            return []
        # Chroma also holds the next generation's and replaced chunks: ask for more than k
        # and keep this generation's, asking again for more when too few were.
        fetch = 2 * k + 10
        hits: list[tuple[str, float]] = []
        for _ in range(6):
            try:
                result = snapshot.collection.query(
                    query_embeddings=[list(map(float, vector))],
                    n_results=fetch,
                    include=["distances"],
                )
            except NotFoundError:
                snapshot = self._after_lost_collection(snapshot)
                if snapshot.collection is None:
                    return []
                continue
            ids = result["ids"][0]
            distances = (result.get("distances") or [[]])[0]
            hits = [
                (cid, 1.0 - float(d))
                for cid, d in zip(ids, distances, strict=True)
                if cid in snapshot.chunks
            ]
            if len(hits) >= k or len(ids) < fetch:
                break
            fetch *= 4
        return hits[:k]

    def _after_lost_collection(self, snapshot: _Snapshot) -> _Snapshot:
        """The collection was dropped (a rebuild's grace period passed): follow now."""
        self.poll()
        current = self._current()
        if current is snapshot:
            name = snapshot.generation.collection if snapshot.generation else ""
            raise IndexUnavailableError(
                f"the index's Chroma collection {name} is gone: run partnerbot index --check "
                "(or --rebuild)"
            )
        return current

    def chunks(self, ids: Iterable[str]) -> dict[str, Chunk]:
        """The chunks with these ids (those in the current generation)."""
        table = self._current().chunks
        return {cid: table[cid] for cid in ids if cid in table}

    def live_chunks(self) -> dict[str, Chunk]:
        """Every chunk of the current generation, by id."""
        return self._current().chunks

    def vector_count(self) -> int:
        """Vectors in the current generation's collection (replaced ones included until
        collected)."""
        collection = self._current().collection
        return int(collection.count()) if collection is not None else 0

    def chunk_count(self) -> int:
        return len(self._current().chunks)

    def document_count(self, source: str | None = None) -> int:
        documents = self._current().documents
        return sum(1 for d in documents if source is None or d.source == source)

    def documents(self) -> list[dict[str, Any]]:
        return [
            {
                "path": d.path,
                "source": d.source,
                "title": d.title,
                "effective_date": d.effective_date.isoformat() if d.effective_date else None,
                "url": d.url,
                "kind": d.kind,
                "chunks": d.chunk_count,
                "indexed_at": d.indexed_at,
            }
            for d in self._current().documents
        ]

    def last_version(self, path: str) -> DocumentVersion | None:
        return self.catalog.last_version(path)

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the catalog's writer lock (other processes and machines) and this index's
        (other threads); a full disk ends the write with one clear message."""
        try:
            with self.catalog.writer_lock(), self._write_mutex:
                yield
        except Exception as e:
            reason = _disk_full(e)
            if reason is None:
                raise
            logger.debug("index write failed", exc_info=True)
            raise IndexWriteError(
                f"the disk holding the index in {self.catalog.description} is full ({reason}). "
                "Free some space and index again: the next run repairs what this one left "
                "half-written, and nothing indexed before is lost."
            ) from None

    def sync(
        self,
        root: Path,
        *,
        source: str = "docs",
        rebuild: bool = False,
        on_progress: ProgressFn | None = None,
    ) -> SyncReport:
        """Bring the index in line with a folder: embed new/changed, drop deleted, report all.
        `rebuild`: every chunk is embedded again, into a new collection."""
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
    ) -> SyncReport:
        """Make `source` hold exactly these documents (used for generated ones, e.g. comms)."""
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
                file_hash = hashlib.sha256(data).hexdigest()
                if rel in known and known[rel][1] == file_hash:
                    report.unchanged.append(rel)
                    continue
                loaded = loader.load(path, rel, data=data)
                del data
                if isinstance(loaded, LoadFailure):
                    report.failed.append(loaded)  # a previously indexed version stays searchable
                    continue
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
                self._delete_vectors(live.collection, [cid for cid, _ in added])
            else:
                _drop_collection(self._client, building.collection)
            self.catalog.discard(building.number)
            logger.warning("dropped generation %d, which a killed run left", building.number)
            return sorted({path for _, path in added})
        pending = self.catalog.added(building.number, pending_only=True)
        if pending:
            self._delete_vectors(building.collection, [cid for cid, _ in pending])
            self.catalog.drop_pending(building.number)
        try:
            run.collection = self._collection(building.collection)
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

    def _delete_vectors(self, collection_name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        try:
            collection = self._collection(collection_name)
        except NotFoundError:
            return
        for start in range(0, len(ids), CHROMA_BATCH):
            collection.delete(ids=list(ids[start : start + CHROMA_BATCH]))

    def _collect_garbage(self, live: Generation | None) -> None:
        """Delete what switches longer than the grace period ago replaced: chunks (from
        Chroma first, then the catalog) and the collections of generations before a rebuild."""
        if live is None:
            return
        cutoff = (datetime.now(UTC) - self._grace).isoformat(timespec="microseconds")
        garbage = self.catalog.garbage(older_than=cutoff)
        if not garbage:
            return
        self._delete_vectors(live.collection, garbage.chunk_ids)
        for name in garbage.collections:
            _drop_collection(self._client, name)
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
            name, collection = self._create_collection()
        else:
            name, collection = live.collection, self._collection(live.collection)
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
                )
                for doc, file_hash, chunks in group
            ],
            [
                DocumentVersion(
                    doc.path, doc.content_hash, doc.title, doc.effective_date, doc.sections
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
        self._written_here.add(number)
        report.generation = number
        logger.info("index generation %d is live", number)
        if self._snapshot is not None:  # this process answers questions: follow at once
            self.poll()

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
            parts.append(self.embedder.embed([texts[i] for i in idx]))
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
                collection = self._collection(name)
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

    def close(self) -> None:
        self._closed.set()
        follower = self._follower
        if follower is not None and follower is not threading.current_thread():
            follower.join(timeout=5)
        self.catalog.close()
        for client in self._clients:
            _close_client(client)
        self._clients = self._clients[-1:]


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


def _drop_collection(client: Any, name: str) -> None:
    with suppress(NotFoundError, ValueError):
        client.delete_collection(name)


def _close_client(client: Any) -> None:
    try:
        client.close()
    except Exception:
        logger.debug("closing a Chroma client failed", exc_info=True)


def _scrubbed(error: Exception, server: ChromaServer) -> str:
    text = str(error).strip() or type(error).__name__
    return text.replace(server.auth_token, "***") if server.auth_token else text


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
