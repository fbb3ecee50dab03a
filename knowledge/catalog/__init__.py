"""The index catalog (documents, chunk texts, versions, generations): see protocol.py.

    catalog = open_catalog(None, data_dir=...)              # SQLite in the data dir
    catalog = open_catalog("postgresql://…", data_dir=...)  # shared by replicas

The composition root passes the URL: PostgreSQL when the bot's state is there and
the vectors live on a Chroma server, so every replica sees one index.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.catalog.protocol import (
    BUILDING,
    LIVE,
    RETIRED,
    Catalog,
    DocumentEntry,
    DocumentVersion,
    Garbage,
    Generation,
)

__all__ = [
    "BUILDING",
    "LIVE",
    "RETIRED",
    "Catalog",
    "DocumentEntry",
    "DocumentVersion",
    "Garbage",
    "Generation",
    "open_catalog",
]


def open_catalog(url: str | None, *, data_dir: Path) -> Catalog:
    """Open (and migrate) the catalog a URL names; None: SQLite in the data directory."""
    if url and url.split("://", 1)[0].lower() in ("postgresql", "postgres"):
        from knowledge.catalog.postgres import PostgresCatalog  # psycopg only when used

        return PostgresCatalog(url)
    from knowledge.catalog.sqlite import SqliteCatalog

    return SqliteCatalog(data_dir)
