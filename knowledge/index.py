"""The knowledge index: Chroma vectors, a catalog of chunk texts, BM25 — read by generation.

Questions are answered from one *generation* of the index at a time: an immutable
snapshot (chunk texts, BM25, glossary, the Chroma collection) loaded from the
catalog (knowledge/catalog/). An index run (knowledge/index_writer.py) writes the
next generation beside it and switches to it in one transaction at the end; readers
follow the switch — in this process at once, in others within a poll — and never
wait for a writer: no lock a question needs is held while documents are embedded,
and a new snapshot is loaded beside the one in use, then swapped in.

Chroma holds the live generation's vectors plus those of the one being written and
of replaced ones (kept for a grace period, for readers still on the previous
generation), so a dense search keeps only the snapshot's chunks.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from chromadb.errors import ChromaError, NotFoundError

from knowledge.audience import Viewer
from knowledge.background import giving_way, lowest_priority
from knowledge.catalog import Catalog, DocumentEntry, DocumentVersion, Generation, open_catalog
from knowledge.documents import Chunk, Document
from knowledge.embeddings import Embedder
from knowledge.errors import EmbedderMismatchError, IndexUnavailableError, IndexWriteError
from knowledge.glossary import Glossary
from knowledge.index_writer import (
    CheckReport,
    IndexWriter,
    ProgressFn,
    SyncReport,
    disk_full_error,
)
from knowledge.lexical import LexicalIndex, TermCounts
from knowledge.vectors import CHROMA_BATCH, ChromaServer, VectorStore

__all__ = [
    "CheckReport",
    "ChromaServer",
    "DocumentVersion",
    "IndexView",
    "KnowledgeIndex",
    "ProgressFn",
    "Scope",
    "SyncReport",
]

logger = logging.getLogger(__name__)

# Rows and collections a switch replaced stay this long for readers still on the old
# generation (they follow within a poll), then the next index run deletes them.
DEFAULT_GRACE_SECONDS = 300.0
# The dense search is exact: over the generation's vectors, read from Chroma once per
# generation and held in memory (a viewer who may read part of it: over that part's rows).
# Chroma's own search is approximate, and its graph depends on how (and under what load)
# it was built, so the same question could find other passages after a rebuild of the
# same documents; an answer depends on the index and the question only. Derived data
# (BM25, vocabulary) is kept for this many parts at once; what it is put together from,
# learned per audience (IndexView.pieces), for the generation.
SCOPES_KEPT = 16


T = TypeVar("T")


# What is learned from one audience's chunks (in id order), to be put together per viewer.
Learn = Callable[[list[Chunk]], T]


@dataclass(frozen=True)
class IndexView:
    """One generation's texts, for what is derived from them (see `KnowledgeIndex.derived`)."""

    generation: int
    chunks: Mapping[str, Chunk]
    lexical: LexicalIndex
    glossary: Glossary
    # (name, learn) -> what `learn` made of each audience's chunks of the view, made once
    # per generation and audience (None: the view is learned from as one piece).
    learned: Callable[[str, Learn[Any]], list[Any]] | None = None

    def ordered_chunks(self) -> list[Chunk]:
        """Every chunk, in the lexical index's (stable) order."""
        return [self.chunks[cid] for cid in self.lexical.ids if cid in self.chunks]

    def pieces(self, name: str, learn: Learn[T]) -> list[T]:
        """What `learn` makes of the chunks of each audience in this view (each audience's
        chunks in id order; audiences in a stable order): made once per generation and
        audience, and shared by the views of every viewer who reads that audience, so a
        viewer's first question reuses what others' made. `name` names `learn`."""
        if self.learned is None:
            return [learn(sorted(self.chunks.values(), key=lambda c: c.id))]
        return cast(list[T], self.learned(name, learn))


@dataclass(frozen=True)
class Scope:
    """What one viewer may read of one generation: the audiences of the chunks it may read.
    `key` is "" when that is every chunk (nothing is filtered), else a digest of them."""

    key: str
    audiences: frozenset[str]
    chunks: int  # how many chunks it may read
    total: int  # chunks in the generation

    @property
    def share(self) -> float:
        return self.chunks / self.total if self.total else 1.0

    def allows(self, chunk: Chunk) -> bool:
        return not self.key or chunk.audience in self.audiences


@dataclass(frozen=True)
class _Snapshot:
    """One generation, as questions read it. Never replaced in part: a new one replaces it
    (`derived` only fills in, once per name)."""

    generation: Generation | None
    collection: Any  # None before the first generation
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    glossary: Glossary
    documents: tuple[DocumentEntry, ...]
    derived: dict[str, Any] = field(default_factory=dict)
    # Held while something is derived from this generation (not from another one).
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def number(self) -> int:
        return self.generation.number if self.generation else 0

    @property
    def by_audience(self) -> dict[str, list[Chunk]]:
        """Chunks per audience key, each in id order (made once)."""
        grouped = self.derived.get("by audience")
        if grouped is None:
            grouped = {}
            for chunk in sorted(self.chunks.values(), key=lambda c: c.id):
                grouped.setdefault(chunk.audience, []).append(chunk)
            self.derived["by audience"] = grouped
        return cast(dict[str, list[Chunk]], grouped)

    @property
    def audiences(self) -> dict[str, int]:
        """Chunks per audience key."""
        return {key: len(chunks) for key, chunks in self.by_audience.items()}

    def scope(self, viewer: Viewer | None) -> Scope:
        """What a viewer may read of this generation (None: everything); worked out once
        per viewer (a question asks several times)."""
        scopes = cast(dict[str, Scope], self.derived.setdefault("scopes", {}))
        name = "" if viewer is None else viewer.key
        found = scopes.get(name)
        if found is None:
            found = scopes[name] = self._scope(viewer)
        return found

    def _scope(self, viewer: Viewer | None) -> Scope:
        counts = self.audiences
        total = len(self.chunks)
        if viewer is None or viewer.everything or all(not k for k in counts):
            return Scope("", frozenset(counts), total, total)
        visible = frozenset(k for k in counts if viewer.sees_key(k))
        if len(visible) == len(counts):
            return Scope("", visible, total, total)
        digest = hashlib.sha1("\n".join(sorted(visible)).encode()).hexdigest()[:16]
        return Scope(digest, visible, sum(counts[k] for k in visible), total)

    def pieces(self, keys: Iterable[str], name: str, learn: Learn[T]) -> list[T]:
        """What `learn` makes of each of these audiences' chunks (made once per audience,
        or taken from the generation before when that audience's chunks are the same
        there: the caller holds the lock)."""
        made = cast(dict[tuple[str, str], Any], self.derived.setdefault("pieces", {}))
        grouped = self.by_audience
        out = []
        for key in sorted(keys):
            piece = made.get((name, key))
            if piece is None:
                piece = self._earlier_piece(name, key)
                if piece is None:
                    piece = learn(grouped[key])
                made[(name, key)] = piece
            out.append(piece)
        return out

    def follow(self, earlier: _Snapshot) -> None:
        """Let `pieces` take what was learned from an audience's chunks in the generation
        before, when they are the same in this one (until `forget_earlier`)."""
        self.derived["earlier"] = (earlier.by_audience, earlier.derived.get("pieces", {}))

    def forget_earlier(self) -> None:
        self.derived.pop("earlier", None)

    def _earlier_piece(self, name: str, key: str) -> Any:
        earlier = self.derived.get("earlier")
        if earlier is None:
            return None
        grouped, made = earlier
        piece = made.get((name, key))
        if piece is None or grouped.get(key) != self.by_audience[key]:
            return None
        return piece


def _empty() -> _Snapshot:
    return _Snapshot(None, None, {}, LexicalIndex(None, []), Glossary(), ())


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
        the data directory). `chroma`: a Chroma server (None: embedded in the data
        directory). `follow_seconds`: look for a new generation that often, in a thread
        (None: only on `poll()`). `rebuild`: open an index built with another embedder,
        to be rebuilt (opening it otherwise fails)."""
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IndexWriteError(
                f"cannot create the data directory {self.data_dir} ({e.strerror}); "
                "create it or choose another"
            ) from None
        self.embedder = embedder
        server = chroma or (ChromaServer(chroma_host, chroma_port) if chroma_host else None)
        self._allow_other_embedder = rebuild
        self._follow_seconds = follow_seconds
        self._load_lock = threading.Lock()  # one snapshot load at a time
        self._viewers_lock = threading.Lock()
        self._derivers: dict[str, Callable[[IndexView], Any]] = {}
        # Viewers who asked lately: what is derived for their part of a generation is made
        # for the next one too, before questions switch to it.
        self._viewers: OrderedDict[str, Viewer] = OrderedDict()
        self._snapshot: _Snapshot | None = None
        self._written_here: set[int] = set()
        self._closed = threading.Event()
        self._follower: threading.Thread | None = None
        self.catalog: Catalog = open_catalog(catalog_url, data_dir=self.data_dir)
        try:
            self.vectors = VectorStore(data_dir=self.data_dir, server=server)
        except BaseException:
            self.catalog.close()
            raise
        self._catalog_id = self.catalog.catalog_id()
        self.writer = IndexWriter(
            catalog=self.catalog,
            vectors=self.vectors,
            embedder=embedder,
            grace=timedelta(seconds=max(0.0, grace_seconds)),
            on_switch=self._switched,
        )
        live = self.catalog.live()
        if live is not None:
            self._check_embedder(live)

    @property
    def shared(self) -> bool:
        """True when replicas share this index (its catalog is in PostgreSQL)."""
        return self.catalog.shared

    def _check_embedder(self, live: Generation) -> None:
        name, dimension = live.embedder, live.dimension
        if not name:  # made before generations: Chroma's collection knows
            try:
                meta = self.vectors.collection(live.collection).metadata or {}
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

    def poll(self, *, give_way: bool = False) -> bool:
        """Look for a new live generation; load and switch to it (questions go on being
        answered from the current one meanwhile). True when it switched. `give_way`: while
        loading one, hand the interpreter's lock to other threads more often (the follower
        thread; see knowledge/background.py)."""
        live = self.catalog.live()
        number = live.number if live else 0
        current = self._snapshot
        if current is not None and current.number == number:
            return False
        with self._load_lock, giving_way() if give_way else nullcontext():
            current = self._snapshot
            if current is not None and current.number == number:
                return False
            fresh = (
                self.vectors.embedded and current is not None and number not in self._written_here
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
            if current is not None:
                loaded.follow(current)
            try:
                self._derive_all(loaded)
            finally:
                loaded.forget_earlier()  # (the earlier generation's chunks can go)
            self._snapshot = loaded
        logger.info("answering from index generation %d (%d chunks)", number, len(loaded.chunks))
        return True

    def derived(
        self, name: str, build: Callable[[IndexView], T], *, viewer: Viewer | None = None
    ) -> T:
        """What `build` makes of the current generation (say, a vocabulary learned from its
        texts), made once per generation — of the part of it `viewer` may read (None:
        all of it), as if the index held nothing else, so nothing learned from documents a
        viewer may not read reaches it. Once asked for, it is made for every later
        generation (and the viewers asking lately) before questions switch to it, so no
        question waits for it."""
        self._derivers.setdefault(name, build)
        snapshot = self._current()
        scope = self._remember(snapshot, viewer)
        return cast(T, self._derive(snapshot, scope, name, build))

    def scope(self, viewer: Viewer | None) -> Scope:
        """What a viewer may read of the current generation."""
        return self._current().scope(viewer)

    def _remember(self, snapshot: _Snapshot, viewer: Viewer | None) -> Scope:
        scope = snapshot.scope(viewer)
        if viewer is not None and scope.key:
            with self._viewers_lock:
                self._viewers[viewer.key] = viewer
                self._viewers.move_to_end(viewer.key)
                while len(self._viewers) > SCOPES_KEPT:
                    self._viewers.popitem(last=False)
        return scope

    def _derive(
        self, snapshot: _Snapshot, scope: Scope, name: str, build: Callable[[IndexView], Any]
    ) -> Any:
        slot = f"{name}@{scope.key}" if scope.key else name
        if slot not in snapshot.derived:
            with snapshot.lock:  # the next generation is prepared meanwhile, not waited for
                if slot not in snapshot.derived:
                    snapshot.derived[slot] = build(self._view(snapshot, scope))
                    self._forget_old_scopes(snapshot, scope)
        return snapshot.derived[slot]

    def _view(self, snapshot: _Snapshot, scope: Scope) -> IndexView:
        """The generation as a viewer may read it: its chunks, and BM25 over them alone —
        put together from what was counted per audience it reads (never another's)."""
        keys = scope.audiences

        def learned(name: str, learn: Learn[Any]) -> list[Any]:
            return snapshot.pieces(keys, name, learn)

        if not scope.key:
            return IndexView(
                snapshot.number, snapshot.chunks, snapshot.lexical, snapshot.glossary, learned
            )
        slot = f"lexical@{scope.key}"
        lexical = snapshot.derived.get(slot)
        chunks = {c.id: c for key in keys for c in snapshot.by_audience[key]}
        if lexical is None:
            counted = snapshot.pieces(keys, "lexical terms", _term_counts)
            lexical = snapshot.derived[slot] = LexicalIndex.from_counts(TermCounts.joined(counted))
        return IndexView(snapshot.number, chunks, lexical, snapshot.glossary, learned)

    def _forget_old_scopes(self, snapshot: _Snapshot, scope: Scope) -> None:
        """Keep what was derived for the last SCOPES_KEPT parts only (memory stays bounded)."""
        order = snapshot.derived.setdefault("scope order", OrderedDict())
        order[scope.key] = None
        order.move_to_end(scope.key)
        while len(order) > SCOPES_KEPT:
            old, _ = order.popitem(last=False)
            for slot in [k for k in snapshot.derived if k.endswith(f"@{old}")]:
                del snapshot.derived[slot]

    def _derive_all(self, snapshot: _Snapshot) -> None:
        scopes = {"": snapshot.scope(None)}
        with self._viewers_lock:
            viewers = list(self._viewers.values())
        for viewer in viewers:
            scope = snapshot.scope(viewer)
            scopes.setdefault(scope.key, scope)
        vectors = ("vectors", self._generation_vectors(snapshot))
        for scope in scopes.values():
            builds = [*self._derivers.items(), vectors if not scope.key else _scope_rows(snapshot)]
            for name, build in builds:
                try:
                    self._derive(snapshot, scope, name, build)
                except Exception:  # made when first asked for instead
                    logger.exception(
                        "preparing %s for index generation %d failed", name, snapshot.number
                    )

    def _load(self, live: Generation | None, *, fresh_client: bool = False) -> _Snapshot:
        for _ in range(5):
            if live is None:
                return _empty()
            self._check_embedder(live)
            # Embedded: a generation another process wrote needs a client that sees it.
            client = self.vectors.refreshed() if fresh_client else self.vectors.client
            try:
                collection = self.vectors.collection(live.collection, client)
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
        lexical = _lexical_of(chunks)
        directory = self.data_dir / "bm25"
        try:  # a cache for the next start: answering goes on without it
            lexical.save(directory)
            (directory / "generation").write_text(f"{self._catalog_id}:{number}")
        except OSError as e:
            logger.warning("could not save the lexical index in %s: %s", directory, e)
        logger.info(
            "lexical index of generation %d: %d chunks in %.1f s",
            number,
            len(chunks),
            time.perf_counter() - started,
        )
        return lexical

    def _start_follower(self) -> None:
        if self._follow_seconds is None or self._follower is not None or self._closed.is_set():
            return
        self._follower = threading.Thread(target=self._follow, name="index-follower", daemon=True)
        self._follower.start()

    def _follow(self) -> None:
        """The follower thread: loads new generations at the lowest priority, so questions
        answered from the current one meanwhile come first."""
        assert self._follow_seconds is not None
        lowest_priority()
        while not self._closed.wait(self._follow_seconds):
            try:
                self.poll(give_way=True)
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

    def dense_search(
        self, vector: Sequence[float], k: int, *, viewer: Viewer | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity) of the current generation that `viewer` may
        read (None: all of it), best first (ties: in id order). Exact, so the same index
        and question always find the same chunks."""
        snapshot = self._current()
        for _ in range(3):
            if not snapshot.chunks or snapshot.collection is None:
                return []
            scope = self._remember(snapshot, viewer)
            if not scope.chunks:
                return []
            try:
                return self._exact_search(snapshot, scope, vector, k)
            except ChromaError as e:
                # Its vectors were not read yet and the collection went (a rebuild's grace
                # period passed): follow the newer generation.
                newer = self._after_lost_collection(snapshot)
                if newer is None:
                    full = disk_full_error(e, self.catalog.description, self.vectors)
                    if full is None:
                        raise
                    raise full from None
                snapshot = newer
        return []

    def _exact_search(
        self, snapshot: _Snapshot, scope: Scope, vector: Sequence[float], k: int
    ) -> list[tuple[str, float]]:
        everyone = snapshot.scope(None)
        ids, matrix = self._derive(
            snapshot, everyone, "vectors", self._generation_vectors(snapshot)
        )
        if not ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query /= float(np.linalg.norm(query)) or 1.0
        similarity = matrix @ query
        rows = self._derive(snapshot, scope, *_scope_rows(snapshot)) if scope.key else None
        if rows is not None:
            similarity = similarity[rows]
        top = (
            np.argpartition(-similarity, k)[:k]
            if len(similarity) > k
            else np.arange(len(similarity))
        )
        top = top[np.lexsort((top, -similarity[top]))]  # best first; ties by position (id order)
        picked = rows[top] if rows is not None else top
        return [(ids[i], float(similarity[j])) for i, j in zip(picked, top, strict=True)]

    def _generation_vectors(
        self, snapshot: _Snapshot
    ) -> Callable[[IndexView], tuple[list[str], np.ndarray]]:
        def load(view: IndexView) -> tuple[list[str], np.ndarray]:
            """The generation's chunk vectors from Chroma, normalised, in id order."""
            wanted = sorted(snapshot.chunks)
            found: dict[str, np.ndarray] = {}
            for start in range(0, len(wanted), CHROMA_BATCH):
                got = snapshot.collection.get(
                    ids=wanted[start : start + CHROMA_BATCH], include=["embeddings"]
                )
                for cid, embedding in zip(got["ids"], got["embeddings"], strict=True):
                    found[cid] = np.asarray(embedding, dtype=np.float32)
            ids = [cid for cid in wanted if cid in found]
            if not ids:
                return [], np.zeros((0, 0), np.float32)
            matrix = np.vstack([found[cid] for cid in ids])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            return ids, matrix / np.where(norms == 0, 1.0, norms)

        return load

    def _after_lost_collection(self, snapshot: _Snapshot) -> _Snapshot | None:
        """A query failed: when the collection was dropped (a rebuild's grace period
        passed), follow the newer generation now; None when it is still there."""
        self.poll()
        current = self._current()
        if current is not snapshot:
            return current
        name = snapshot.generation.collection if snapshot.generation else ""
        try:
            self.vectors.collection(name)
        except NotFoundError:
            raise IndexUnavailableError(
                f"the index's Chroma collection {name} is gone: run partnerbot index --check "
                "(or --rebuild)"
            ) from None
        return None

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
                "audience": d.audience,
                "chunks": d.chunk_count,
                "indexed_at": d.indexed_at,
            }
            for d in self._current().documents
        ]

    def last_version(self, path: str) -> DocumentVersion | None:
        return self.catalog.last_version(path)

    # -- writing (knowledge/index_writer.py) -----------------------------------------------------
    def sync(
        self,
        root: Path,
        *,
        source: str = "docs",
        rebuild: bool = False,
        on_progress: ProgressFn | None = None,
    ) -> SyncReport:
        """Bring the index in line with a folder: embed new/changed, drop deleted, report all.
        `rebuild`: every chunk is embedded again, into a new collection. In a process that
        answers questions the run goes in the background, so they come first."""
        return self.writer.sync(
            root,
            source=source,
            rebuild=rebuild,
            on_progress=on_progress,
            background=self._answering,
        )

    def sync_documents(
        self, documents: Sequence[Document], *, source: str, on_progress: ProgressFn | None = None
    ) -> SyncReport:
        """Make `source` hold exactly these documents (used for generated ones, e.g. comms)."""
        return self.writer.sync_documents(
            documents, source=source, on_progress=on_progress, background=self._answering
        )

    @property
    def _answering(self) -> bool:
        """Has this process answered from the index (then an index run gives way to it)?"""
        return self._snapshot is not None

    def check(self) -> CheckReport:
        """Compare Chroma with the catalog and put right what differs (see IndexWriter)."""
        return self.writer.check()

    def _switched(self, number: int) -> None:
        """This process switched to a generation: questions here follow it at once."""
        self._written_here.add(number)
        if self._snapshot is not None:
            self.poll()

    def close(self) -> None:
        self._closed.set()
        follower = self._follower
        if follower is not None and follower is not threading.current_thread():
            follower.join(timeout=5)
        self.catalog.close()
        self.vectors.close()


def _lexical_of(chunks: Mapping[str, Chunk]) -> LexicalIndex:
    """BM25 over these chunks' titles, section paths and texts, in id order."""
    return LexicalIndex.from_counts(_term_counts(sorted(chunks.values(), key=lambda c: c.id)))


def _term_counts(chunks: Sequence[Chunk]) -> TermCounts:
    """What BM25 counts of these chunks: their titles, section paths and texts."""
    return TermCounts.of(
        [c.id for c in chunks], [f"{c.title} {' '.join(c.section)} {c.text}" for c in chunks]
    )


def _scope_rows(snapshot: _Snapshot) -> tuple[str, Callable[[IndexView], np.ndarray]]:
    """("vector rows", build): the rows of the generation's vectors a part of it holds."""

    def rows(view: IndexView) -> np.ndarray:
        ids, _ = snapshot.derived["vectors"]
        return np.flatnonzero([cid in view.chunks for cid in ids])

    return "vector rows", rows
