"""The shared catalog: PostgreSQL, the database of PARTNERBOT_DATABASE_URL (replicas).

Tables are prefixed `index_` and migrated on their own track (`index_schema_version`)
beside the bot's state. Reads take a pooled connection; a snapshot load streams the
chunks through a server-side cursor. The writer lock is a session advisory lock on a
connection of its own, so index runs from any machine take turns, and a killed run's
lock is released with its connection.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from knowledge.catalog.sql import SqlCatalog, now
from knowledge.errors import CatalogError
from knowledge.migrations import Migration, load_migrations, newer_than_known, statements
from knowledge.migrations import version_table as _version_table

logger = logging.getLogger(__name__)

VERSION_TABLE = "index_schema_version"
# Advisory lock keys (any numbers, distinct from the state store's).
_WRITER_LOCK = 7_140_214_616
_MIGRATION_LOCK = 7_140_214_617
STREAM_ROWS = 2000


@cache
def _placeholders(sql: str) -> str:
    """`?` → `%s` (psycopg's placeholder); a literal % doubled."""
    return re.sub(r"\?", "%s", sql.replace("%", "%%"))


class _Session:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn.execute(_placeholders(sql), tuple(params))
        return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_placeholders(sql), [tuple(r) for r in rows])

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        with self._conn.cursor(name="partnerbot_stream") as cur:
            cur.itersize = STREAM_ROWS
            cur.execute(_placeholders(sql), tuple(params))
            yield from cur


def redacted(url: str) -> str:
    """The URL without its password: what logs and errors show."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparseable database URL>"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


def _scrub(error: Exception, url: str) -> str:
    text = str(error).strip() or type(error).__name__
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    return text.replace(str(password), "***") if password else text


class PostgresCatalog(SqlCatalog):
    """The catalog in the shared PostgreSQL database."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        migrations: list[Migration] | None = None,
    ) -> None:
        self._url = url
        self._timeout = max(1, int(connect_timeout))
        try:
            with psycopg.connect(url, connect_timeout=self._timeout) as conn:
                self._migrate(
                    conn,
                    load_migrations("knowledge.catalog", "postgres")
                    if migrations is None
                    else migrations,
                )
        except psycopg.Error as e:
            raise CatalogError(
                f"cannot use the index catalog in {self.description}: {_scrub(e, url)} "
                "(check PARTNERBOT_DATABASE_URL)"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max_size,
            kwargs={"connect_timeout": self._timeout},
            open=False,
            name="partnerbot-index",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            self._pool.close()
            raise CatalogError(
                f"cannot connect to the index catalog in {self.description} within "
                f"{connect_timeout:g} s: check PARTNERBOT_DATABASE_URL and that the server runs"
            ) from None
        super().__init__(reads=self._read, writes=self._write)

    @property
    def description(self) -> str:
        return redacted(self._url)

    @contextmanager
    def _read(self) -> Iterator[_Session]:
        with self._pool.connection() as conn:
            yield _Session(conn)

    @contextmanager
    def _write(self) -> Iterator[_Session]:
        with self._pool.connection() as conn, conn.transaction():
            yield _Session(conn)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """A session advisory lock on a connection of its own, for the whole run."""
        with psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout) as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (_WRITER_LOCK,)).fetchone()
            if not (got and got[0]):
                logger.warning(
                    "another partnerbot run is writing the index in %s; waiting for it to "
                    "finish, then only what it left undone is done",
                    self.description,
                )
                conn.execute("SELECT pg_advisory_lock(%s)", (_WRITER_LOCK,))
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_WRITER_LOCK,))
                except psycopg.Error:  # the connection is closed anyway, which releases it
                    logger.debug("releasing the index writer lock failed", exc_info=True)

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
        return int(row[0] or 0) if row else 0

    def _migrate(self, conn: psycopg.Connection[Any], migrations: list[Migration]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(_version_table(VERSION_TABLE))
            row = conn.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
            current = int(row[0] or 0) if row else 0
            latest = newer_than_known(current, migrations)
            if latest is not None:
                raise CatalogError(
                    f"the index catalog in {self.description} has schema version {current}, "
                    f"newer than this partnerbot knows (version {latest}): upgrade partnerbot"
                )
            for migration in (m for m in migrations if m.version > current):
                try:
                    with conn.transaction():
                        for statement in statements(migration.sql):
                            conn.execute(statement)
                        conn.execute(
                            f"INSERT INTO {VERSION_TABLE}(version, name, applied_at) "
                            "VALUES (%s, %s, %s)",
                            (migration.version, migration.name, now()),
                        )
                except psycopg.Error as e:
                    raise CatalogError(
                        f"migrating the index catalog in {self.description} to schema version "
                        f"{migration.version} ({migration.name}) failed: {_scrub(e, self._url)}"
                    ) from None
                logger.info(
                    "index catalog %s: schema version %d", self.description, migration.version
                )

    def close(self) -> None:
        self._pool.close()
