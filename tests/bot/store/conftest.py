"""Every contract test runs twice: on SQLite (a file) and on a real PostgreSQL server.

`open_store()` opens another store on the same database, as a second process or
replica would (its own connection, pool and claims).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.store import DatabaseUrl, Store, open_store, parse_database_url
from tests.postgres_server import PostgresServer

OpenStore = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseUrl]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield DatabaseUrl.sqlite_file(tmp_path / "state.sqlite3")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("contract")
    yield parse_database_url(url)
    server.drop_database(url)


@pytest.fixture
def open_another(database_url: DatabaseUrl) -> Iterator[OpenStore]:
    opened: list[Store] = []

    def factory() -> Store:
        store = open_store(database_url)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_another: OpenStore) -> Store:
    return open_another()
