"""The catalog contract, on SQLite and on PostgreSQL: generations seen exactly, one writer."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from knowledge.catalog import BUILDING, LIVE, Catalog, DocumentEntry, DocumentVersion
from knowledge.catalog.postgres import PostgresCatalog
from knowledge.catalog.sqlite import SqliteCatalog
from knowledge.documents import Chunk, Section
from knowledge.errors import CatalogError
from knowledge.migrations import Migration, load_migrations
from tests.knowledge.catalog.conftest import OpenCatalog


def chunk(cid: str, path: str, text: str, ordinal: int = 0) -> Chunk:
    return Chunk(
        id=cid,
        doc_path=path,
        title=path.title(),
        section=("Top", "Sub"),
        text=text,
        ordinal=ordinal,
        effective_date=date(2026, 7, 1),
        url="https://example.com/x",
    )


def entry(path: str, content: str = "c1", chunks: int = 1, source: str = "docs") -> DocumentEntry:
    return DocumentEntry(
        path=path,
        source=source,
        content_hash=content,
        file_hash=f"file-{content}",
        title=path.title(),
        effective_date=date(2026, 7, 1),
        url=None,
        kind="document",
        chunk_count=chunks,
        indexed_at="2026-11-30T00:00:00+00:00",
    )


def version(path: str, content: str, text: str) -> DocumentVersion:
    return DocumentVersion(path, content, path.title(), None, (Section(("Top",), text),))


def write(catalog: Catalog, number: int, path: str, content: str, *chunks: Chunk) -> None:
    catalog.add_chunks(number, list(chunks))
    catalog.commit_documents(
        number,
        [entry(path, content, len(chunks))],
        [version(path, content, " ".join(c.text for c in chunks))],
        history=5,
    )


def generation_one(catalog: Catalog) -> None:
    """Live generation 1: a.md (two chunks), b.md (one)."""
    g = catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    write(
        catalog,
        g.number,
        "a.md",
        "a1",
        chunk("a1-0", "a.md", "A one"),
        chunk("a1-1", "a.md", "A two", 1),
    )
    write(catalog, g.number, "b.md", "b1", chunk("b1-0", "b.md", "B one"))
    catalog.switch(g.number, glossary="terms:\n  X: Y\n")


def texts(catalog: Catalog, number: int) -> set[str]:
    return {c.text for c in catalog.iter_chunks(number)}


def test_a_fresh_catalog_has_no_live_generation_and_a_stable_id(
    catalog: Catalog, open_another: OpenCatalog
) -> None:
    assert catalog.live() is None and catalog.building() is None
    assert len(catalog.catalog_id()) >= 16
    assert open_another().catalog_id() == catalog.catalog_id()


def test_a_switched_generation_is_live_with_its_chunks_documents_and_glossary(
    catalog: Catalog, open_another: OpenCatalog
) -> None:
    generation_one(catalog)
    live = open_another().live()  # another process or replica sees it
    assert live is not None and live.number == 1 and live.status == LIVE
    assert (live.collection, live.embedder, live.dimension) == ("c1", "e", 3)
    assert live.glossary == "terms:\n  X: Y\n"
    chunks = {c.id: c for c in catalog.iter_chunks(1)}
    assert chunks["a1-1"] == chunk("a1-1", "a.md", "A two", 1)  # every field round-trips
    assert [d.path for d in catalog.documents(1)] == ["a.md", "b.md"]
    assert catalog.documents(1)[0] == entry("a.md", "a1", 2)
    assert catalog.known("docs") == {"a.md": ("a1", "file-a1"), "b.md": ("b1", "file-b1")}
    assert catalog.last_version("a.md") == version("a.md", "a1", "A one A two")


def test_readers_of_the_live_generation_see_none_of_the_next_until_the_switch(
    catalog: Catalog, open_another: OpenCatalog
) -> None:
    generation_one(catalog)
    reader = open_another()
    g2 = catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    assert g2.number == 2 and g2.status == BUILDING
    catalog.add_chunks(2, [chunk("a2-0", "a.md", "A edited")])  # pending
    assert texts(reader, 1) == {"A one", "A two", "B one"}
    catalog.commit_documents(
        2, [entry("a.md", "a2")], [version("a.md", "a2", "A edited")], history=5
    )
    catalog.retire(2, ["b.md"])
    # Generation 1 is whole for its readers; the writer's view is generation 2's.
    assert texts(reader, 1) == {"A one", "A two", "B one"}
    assert [d.content_hash for d in reader.documents(1)] == ["a1", "b1"]
    assert reader.live().number == 1  # type: ignore[union-attr]
    assert catalog.known("docs") == {"a.md": ("a2", "file-a2")}
    assert texts(reader, 2) == {"A edited"}
    catalog.switch(2, glossary="")
    assert reader.live().number == 2  # type: ignore[union-attr]
    assert reader.live().glossary == ""  # type: ignore[union-attr]
    assert texts(reader, 2) == {"A edited"} and texts(reader, 1) == {"A one", "A two", "B one"}


def test_a_killed_runs_pending_chunks_are_found_and_its_generation_can_be_discarded(
    catalog: Catalog,
) -> None:
    generation_one(catalog)
    catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    write(catalog, 2, "c.md", "c1", chunk("c1-0", "c.md", "C one"))
    catalog.add_chunks(2, [chunk("a2-0", "a.md", "A edited")])  # killed before commit
    catalog.retire(2, ["b.md"])
    assert catalog.building().number == 2  # type: ignore[union-attr]
    assert catalog.added(2, pending_only=True) == [("a2-0", "a.md")]
    assert sorted(catalog.added(2, pending_only=False)) == [("a2-0", "a.md"), ("c1-0", "c.md")]
    catalog.drop_pending(2)
    assert catalog.added(2, pending_only=True) == []
    assert catalog.known("docs") == {"a.md": ("a1", "file-a1"), "c.md": ("c1", "file-c1")}

    catalog.discard(2)
    assert catalog.building() is None and catalog.live().number == 1  # type: ignore[union-attr]
    assert catalog.known("docs") == {"a.md": ("a1", "file-a1"), "b.md": ("b1", "file-b1")}
    assert catalog.last_version("c.md") is None
    assert catalog.chunk_ids() == {"a1-0", "a1-1", "b1-0"}
    assert (
        catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="").number
        == 2
    )


def test_a_document_rewritten_within_its_generation_keeps_one_version(catalog: Catalog) -> None:
    """A resumed run may commit a document its killed predecessor had committed already."""
    generation_one(catalog)
    catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    write(catalog, 2, "a.md", "a2", chunk("a2-0", "a.md", "A edited"))
    write(catalog, 2, "a.md", "a3", chunk("a3-0", "a.md", "A edited again"))
    catalog.switch(2, glossary="")
    assert texts(catalog, 2) == {"A edited again", "B one"}
    assert [d.content_hash for d in catalog.documents(2) if d.path == "a.md"] == ["a3"]


def test_garbage_is_what_replaced_generations_left_once_the_grace_period_passed(
    catalog: Catalog,
) -> None:
    generation_one(catalog)
    g2 = catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    write(catalog, g2.number, "a.md", "a2", chunk("a2-0", "a.md", "A edited"))
    catalog.switch(2, glossary="")
    g3 = catalog.begin(collection="c2", embedder="e", dimension=3, rebuild=True, glossary="")
    catalog.retire(g3.number, ["b.md"])
    catalog.switch(3, glossary="")

    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert not catalog.garbage(older_than=past)  # every switch is within the grace period
    time.sleep(0.01)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    garbage = catalog.garbage(older_than=now)
    assert sorted(garbage.chunk_ids) == ["a1-0", "a1-1", "b1-0"]
    assert garbage.collections == ("c1",)  # generations 1 and 2 used it; 3 is in c2
    assert garbage.generations == 2
    catalog.forget(garbage)
    assert catalog.chunk_ids() == {"a2-0"}
    assert texts(catalog, 3) == {"A edited"}
    assert [d.path for d in catalog.documents(3)] == ["a.md"]
    assert not catalog.garbage(older_than=now)


def test_latest_chunks_come_in_pages_by_id(catalog: Catalog) -> None:
    generation_one(catalog)
    first = catalog.latest_chunks(limit=2)
    rest = catalog.latest_chunks(after=first[-1].id, limit=2)
    assert [c.id for c in first + rest] == ["a1-0", "a1-1", "b1-0"]
    catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=True, glossary="")
    write(catalog, 2, "b.md", "b2", chunk("b2-0", "b.md", "B edited"))
    assert [c.id for c in catalog.latest_chunks(added_before=2)] == ["a1-0", "a1-1"]


def test_one_writer_at_a_time_the_second_waits_saying_so(
    catalog: Catalog, open_another: OpenCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    other = open_another()
    events: list[str] = []
    with catalog.writer_lock():

        def second() -> None:
            with other.writer_lock():
                events.append("second has it")

        thread = threading.Thread(target=second)
        with caplog.at_level(logging.DEBUG):
            thread.start()
            time.sleep(0.5)
        events.append("first releases")
    thread.join(timeout=10)
    assert events == ["first releases", "second has it"]
    assert "waiting for it to finish" in caplog.text


def test_a_catalog_newer_than_this_partnerbot_is_refused(
    catalog: Catalog, catalog_url: str | None, open_another: OpenCatalog
) -> None:
    with catalog._writes() as s:  # type: ignore[attr-defined]
        s.execute(
            "INSERT INTO index_schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            (99, "future", "2030-01-01"),
        )
    with pytest.raises(CatalogError, match="schema version 99, newer than this partnerbot"):
        open_another()


ELITE = '[["tiers",["Elite"]]]'


def test_audiences_round_trip_with_chunks_documents_and_versions_across_generations(
    catalog: Catalog, open_another: OpenCatalog
) -> None:
    g = catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    restricted = replace(chunk("e1-0", "elite.md", "Elite rebate"), audience=ELITE)
    catalog.add_chunks(g.number, [restricted, chunk("p1-0", "public.md", "Public")])
    catalog.commit_documents(
        g.number,
        [replace(entry("elite.md", "e1"), audience=ELITE), entry("public.md", "p1")],
        [replace(version("elite.md", "e1", "Elite rebate"), audience=ELITE)],
        history=5,
    )
    catalog.switch(g.number, glossary="")
    # Generation 2 changes only the public document: the restricted one is carried as it was.
    g2 = catalog.begin(collection="c1", embedder="e", dimension=3, rebuild=False, glossary="")
    write(catalog, g2.number, "public.md", "p2", chunk("p2-0", "public.md", "Public v2"))
    catalog.switch(g2.number, glossary="")
    reader = open_another()
    for number in (1, 2):
        chunks = {c.id: c for c in reader.iter_chunks(number)}
        assert chunks["e1-0"].audience == ELITE
        assert all(c.audience == "" for cid, c in chunks.items() if cid != "e1-0")
        documents = {d.path: d for d in reader.documents(number)}
        assert (documents["elite.md"].audience, documents["public.md"].audience) == (ELITE, "")
    assert reader.last_version("elite.md").audience == ELITE  # type: ignore[union-attr]
    assert reader.latest_chunks()[0].audience == ELITE  # what Chroma must hold, with it


def test_a_catalog_from_before_audiences_is_migrated_and_its_rows_stay_public(
    catalog_url: str | None, tmp_path: Path
) -> None:
    backend = "postgres" if catalog_url else "sqlite"
    migrations = load_migrations("knowledge.catalog", backend)
    before = [m for m in migrations if "audience" not in m.name]
    assert len(before) == len(migrations) - 1
    old = _open(catalog_url, tmp_path, before)
    with old._writes() as s:  # type: ignore[attr-defined]  # (as the previous code wrote)
        s.execute(
            "INSERT INTO index_generations (number, status, collection, embedder, dimension, "
            "started_at, switched_at) VALUES (1, 'live', 'c1', 'e', 3, 't', 't')"
        )
        s.execute(
            "INSERT INTO index_documents (path, source, content_hash, file_hash, title, kind, "
            "chunk_count, indexed_at, added_gen) VALUES "
            "('a.md', 'docs', 'a1', 'f', 'A', 'document', 1, 't', 1)"
        )
        s.execute(
            "INSERT INTO index_chunks (id, doc_path, ordinal, title, section, text, kind, "
            "added_gen, written) VALUES ('a1-0', 'a.md', 0, 'A', '[]', 'A one', 'document', 1, 1)"
        )
        s.execute(
            "INSERT INTO index_versions (path, content_hash, title, sections, recorded_at, "
            "generation) VALUES ('a.md', 'a1', 'A', '[]', 't', 1)"
        )
    old.close()
    migrated = _open(catalog_url, tmp_path, None)
    try:
        assert [(c.id, c.audience) for c in migrated.iter_chunks(1)] == [("a1-0", "")]
        assert [(d.path, d.audience) for d in migrated.documents(1)] == [("a.md", "")]
        assert migrated.last_version("a.md").audience == ""  # type: ignore[union-attr]
    finally:
        migrated.close()


def _open(url: str | None, tmp_path: Path, migrations: list[Migration] | None) -> Catalog:
    if url:
        return PostgresCatalog(url, migrations=migrations)
    (tmp_path / "data").mkdir(exist_ok=True)
    return SqliteCatalog(tmp_path / "data", migrations=migrations)
