"""Every catalog contract test runs twice: on SQLite (a data dir) and on a real PostgreSQL.

`open_catalog()` opens another catalog on the same database, as a second process or
replica would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knowledge.catalog import Catalog, open_catalog
from tests.postgres_server import PostgresServer

OpenCatalog = Callable[[], Catalog]


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data dir) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("catalog")
    yield url
    server.drop_database(url)


@pytest.fixture
def open_another(catalog_url: str | None, tmp_path: Path) -> Iterator[OpenCatalog]:
    opened: list[Catalog] = []

    def factory() -> Catalog:
        catalog = open_catalog(catalog_url, data_dir=tmp_path / "data")
        opened.append(catalog)
        return catalog

    (tmp_path / "data").mkdir()
    yield factory
    for catalog in opened:
        catalog.close()


@pytest.fixture
def catalog(open_another: OpenCatalog) -> Catalog:
    return open_another()
