"""The embedded catalog: `index.sqlite3` in the data directory (one host).

WAL mode, one connection for readers and one for the writer, so a reader (a
question's generation check, a snapshot load) never waits for an index run. The
writer lock is the data directory's lock file (knowledge/index_lock.py): runs from
several processes on one data directory take turns.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from knowledge.catalog.sql import SqlCatalog, now
from knowledge.errors import CatalogError
from knowledge.index_lock import index_lock
from knowledge.migrations import Migration, load_migrations, newer_than_known, statements
from knowledge.migrations import version_table as _version_table
from knowledge.sqlite_wal import use_wal

logger = logging.getLogger(__name__)

FILE = "index.sqlite3"
VERSION_TABLE = "index_schema_version"
STREAM_ROWS = 2000


class _Session:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        cursor = self._db.execute(sql, tuple(params))
        while rows := cursor.fetchmany(STREAM_ROWS):
            yield from rows


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    use_wal(db)
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class SqliteCatalog(SqlCatalog):
    """The catalog in one SQLite file next to the embedded index."""

    shared = False

    def __init__(self, data_dir: Path, *, migrations: list[Migration] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / FILE
        try:
            self._reader = _connect(self.path)
            self._writer = _connect(self.path)
        except (OSError, sqlite3.Error) as e:
            raise CatalogError(f"cannot open the index catalog {self.path}: {e}") from None
        self._read_lock = threading.Lock()
        self._write_lock = threading.RLock()
        if migrations is None:
            migrations = load_migrations("knowledge.catalog", "sqlite")
        self._migrate(migrations)
        super().__init__(reads=self._read, writes=self._write)

    @property
    def description(self) -> str:
        return str(self.path)

    @contextmanager
    def _read(self) -> Iterator[_Session]:
        with self._read_lock:
            yield _Session(self._reader)

    @contextmanager
    def _write(self) -> Iterator[_Session]:
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield _Session(self._writer)
            except BaseException:
                if self._writer.in_transaction:  # a failed COMMIT may have rolled back already
                    self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def writer_lock(self) -> AbstractContextManager[None]:
        return index_lock(self.data_dir)

    # -- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._write_lock:
            row = self._writer.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}").fetchone()
        return int(row[0] or 0)

    def _migrate(self, migrations: list[Migration]) -> None:
        with self._write_lock:
            self._writer.execute(_version_table(VERSION_TABLE))
            current = self.schema_version()
            latest = newer_than_known(current, migrations)
            if latest is not None:
                raise CatalogError(
                    f"the index catalog {self.path} has schema version {current}, newer than "
                    f"this partnerbot knows (version {latest}): upgrade partnerbot, or use "
                    "another PARTNERBOT_DATA_DIR"
                )
            for migration in migrations:
                # Checked again inside the write lock: of two processes opening at once,
                # one migrates and the other skips.
                self._writer.execute("BEGIN IMMEDIATE")
                try:
                    if self.schema_version() >= migration.version:
                        self._writer.execute("ROLLBACK")
                        continue
                    for statement in statements(migration.sql):
                        self._writer.execute(statement)
                    self._writer.execute(
                        f"INSERT INTO {VERSION_TABLE}(version, name, applied_at) VALUES (?, ?, ?)",
                        (migration.version, migration.name, now()),
                    )
                except BaseException as e:
                    if self._writer.in_transaction:
                        self._writer.execute("ROLLBACK")
                    if isinstance(e, sqlite3.Error):
                        raise CatalogError(
                            f"migrating the index catalog {self.path} to schema version "
                            f"{migration.version} ({migration.name}) failed: {e}"
                        ) from e
                    raise
                self._writer.execute("COMMIT")
                logger.info("index catalog %s: schema version %d", self.path, migration.version)

    def close(self) -> None:
        with self._read_lock, self._write_lock:
            self._reader.close()
            self._writer.close()
