"""The shared state backend: PostgreSQL (PARTNERBOT_DATABASE_URL=postgresql://…).

Replicas share it: every call takes a connection from a small pool and runs in one
transaction; claims lock rows with FOR UPDATE SKIP LOCKED, so two dispatchers never
wait for (or take) the same delivery. Migrations run under an advisory lock, so
replicas starting together migrate once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.errors import StoreError
from bot.store.migrations import VERSION_TABLE, Migration, load_migrations, pending, statements
from bot.store.sql import Dialect, Result, SqlRepositories, bound
from bot.store.url import DatabaseUrl

logger = logging.getLogger(__name__)

DIALECT = Dialect(lock_row=" FOR UPDATE", skip_locked=" FOR UPDATE SKIP LOCKED")
# Any number: the key of the advisory lock held while migrating.
_MIGRATION_LOCK = 7_140_214_615


@cache
def _placeholders(sql: str) -> str:
    """`?` → `%s` (psycopg's placeholder); a literal % doubled."""
    return re.sub(r"\?", "%s", sql.replace("%", "%%"))


class _Session:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cur = self._conn.execute(_placeholders(sql), tuple(params))
        rows = list(cur.fetchall()) if cur.description else []
        return Result(rows, cur.rowcount)


def _scrub(error: Exception, url: DatabaseUrl) -> str:
    """An error's text with the URL's password (if it appears at all) masked."""
    text = str(error).strip() or type(error).__name__
    password = psycopg.conninfo.conninfo_to_dict(url.url).get("password")
    return text.replace(str(password), "***") if password else text


class PostgresStore(SqlRepositories):
    """The bot's state in a PostgreSQL database."""

    backend = "postgres"

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        min_size: int = 1,
        max_size: int = 4,
        connect_timeout: float = 10.0,
        migrations: list[Migration] | None = None,
    ) -> None:
        self.url = url
        try:
            # One plain connection first: a wrong password or host fails at once with the
            # server's reason (a pool would retry until its timeout), then the migrations.
            with psycopg.connect(
                url.url, row_factory=dict_row, connect_timeout=max(1, int(connect_timeout))
            ) as conn:
                self._migrate(
                    conn, load_migrations("postgres") if migrations is None else migrations
                )
        except psycopg.Error as e:
            raise StoreError(
                f"cannot use the state database {url.redacted()}: {_scrub(e, url)} "
                "(check PARTNERBOT_DATABASE_URL)"
            ) from None
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url.url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "connect_timeout": max(1, int(connect_timeout))},
            open=False,
            name="partnerbot-state",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(
                f"cannot connect to the state database {url.redacted()} within "
                f"{connect_timeout:g} s: check PARTNERBOT_DATABASE_URL and that the server runs"
            ) from None
        super().__init__(self._use, DIALECT)

    @property
    def description(self) -> str:
        return self.url.redacted()

    @contextmanager
    def _use(self, atomic: bool) -> Iterator[_Session]:
        # Every call is one transaction (committed when the block ends without an error).
        with self._pool.connection() as conn:
            yield _Session(conn)

    @contextmanager
    def transaction(self) -> Iterator[SqlRepositories]:
        with self._pool.connection() as conn:
            yield SqlRepositories(bound(_Session(conn)), DIALECT)

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
        return int(row["v"] or 0) if row else 0

    def _migrate(
        self, conn: psycopg.Connection[dict[str, Any]], migrations: list[Migration]
    ) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(VERSION_TABLE)
            row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            current = int(row["v"] or 0) if row else 0
            for migration in pending(current, migrations, where=self.description):
                try:
                    with conn.transaction():
                        for statement in statements(migration.sql):
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO schema_version(version, name, applied_at) "
                            "VALUES (%s, %s, %s)",
                            (
                                migration.version,
                                migration.name,
                                datetime.now(UTC).isoformat(timespec="seconds"),
                            ),
                        )
                except psycopg.Error as e:
                    raise StoreError(
                        f"migrating the state database {self.description} to schema version "
                        f"{migration.version} ({migration.name}) failed: {_scrub(e, self.url)}"
                    ) from None
                logger.info(
                    "state database %s: schema version %d", self.description, migration.version
                )

    def close(self) -> None:
        self._pool.close()
