"""The embedded state backend: one SQLite file (default: state.sqlite3 in the data dir).

One connection per store, serialised by a lock; WAL mode so readers never block the
bot. Several processes may share the file: a transaction is BEGIN IMMEDIATE, which
takes the database's write lock for the whole block (that is what makes a claim
atomic here; PostgreSQL locks rows instead).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.store.migrations import VERSION_TABLE, Migration, load_migrations, pending, statements
from bot.store.sql import Dialect, Result, SqlRepositories, bound
from knowledge.sqlite_wal import use_wal

logger = logging.getLogger(__name__)

DIALECT = Dialect(lock_row="", skip_locked="")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Session:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cur = self._db.execute(sql, tuple(params))
        rows = [dict(r) for r in cur.fetchall()] if cur.description else []
        return Result(rows, cur.rowcount)


class SqliteStore(SqlRepositories):
    """The bot's state in one SQLite file."""

    backend = "sqlite"

    def __init__(self, path: Path, *, migrations: list[Migration] | None = None) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=30000")
            use_wal(self._db)
            # WAL + NORMAL: commits survive a crash of the process (not of the OS) and skip
            # an fsync per answer; the database itself is never corrupted.
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the state database {path}: {e}") from None
        self._lock = threading.RLock()
        self._session = _Session(self._db)
        self._migrate(load_migrations("sqlite") if migrations is None else migrations)
        super().__init__(self._use, DIALECT)

    @property
    def description(self) -> str:
        return f"sqlite:///{self.path}"

    @contextmanager
    def _use(self, atomic: bool) -> Iterator[_Session]:
        with self._lock:
            if not atomic:
                yield self._session
                return
            with self._immediate():
                yield self._session

    @contextmanager
    def _immediate(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[SqlRepositories]:
        """BEGIN IMMEDIATE … COMMIT: the write lock for the whole block."""
        with self._lock, self._immediate():
            yield SqlRepositories(bound(self._session), DIALECT)

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self, migrations: list[Migration]) -> None:
        with self._lock:
            self._db.execute(VERSION_TABLE)
            pending(self.schema_version(), migrations, where=self.description)
            for migration in migrations:
                # One transaction per migration, its version checked inside the write lock:
                # when two processes start at once, one migrates and the other skips.
                with self._immediate():
                    if self.schema_version() >= migration.version:
                        continue
                    try:
                        for statement in statements(migration.sql):
                            self._db.execute(statement)
                    except sqlite3.Error as e:
                        raise StoreError(
                            f"migrating the state database {self.path} to schema version "
                            f"{migration.version} ({migration.name}) failed: {e}"
                        ) from e
                    self._db.execute(
                        "INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, _now()),
                    )
                logger.info("state database %s: schema version %d", self.path, migration.version)

    def close(self) -> None:
        with self._lock:
            self._db.close()
