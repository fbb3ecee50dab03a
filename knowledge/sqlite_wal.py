"""SQLite files shared by several processes on one host: WAL mode, switched to safely."""

from __future__ import annotations

import sqlite3
import time


def use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL; switching needs a moment alone with the file (another process may be
    creating it right now), and SQLite does not wait for that by itself."""
    for _ in range(100):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise
            time.sleep(0.05)
    db.execute("PRAGMA journal_mode=WAL")
