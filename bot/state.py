"""Durable bot state in SQLite: interactions, feedback, processed chat events.

One connection per store, serialised by a lock; WAL mode so readers (reports)
never block the bot. Communications and program changes keep their own tables
in the same file (see bot/comms and bot/changes).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import Answer, Citation, Question

_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    platform TEXT NOT NULL,
    asker TEXT NOT NULL,
    place TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    confidence REAL NOT NULL,
    sources TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS interactions_at ON interactions(at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    interaction_id INTEGER,
    platform TEXT NOT NULL,
    user TEXT NOT NULL,
    rating INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL,
    UNIQUE(interaction_id, user)
);
CREATE TABLE IF NOT EXISTS processed_events (
    key TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(at);
CREATE TABLE IF NOT EXISTS chat_threads (
    key TEXT PRIMARY KEY,
    topic TEXT,
    at TEXT NOT NULL
);
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _citations_json(citations: tuple[Citation, ...]) -> str:
    return json.dumps(
        [
            {
                "number": c.number,
                "title": c.title,
                "section": c.section,
                "path": c.path,
                "url": c.url,
                "effective_date": c.effective_date.isoformat() if c.effective_date else None,
                "score": c.score,
                "cited": c.cited,
            }
            for c in citations
        ]
    )


class Store:
    """The bot's own durable state (separate from the knowledge index)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: commits survive a crash of the process (not of the OS) and skip
        # an fsync per answer; the database itself is never corrupted.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(_SCHEMA)
        self._last_expiry = 0.0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: a write lock for the whole block (atomic claims)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self.db.execute(sql, params))

    # -- interactions and feedback --------------------------------------------------------
    def record_interaction(self, question: Question, answer: Answer) -> int:
        cur = self.execute(
            "INSERT INTO interactions(at, platform, asker, place, question, answer, abstained, "
            "confidence, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                utcnow(),
                question.platform,
                question.asker,
                question.place,
                question.text,
                answer.text,
                int(answer.abstained),
                answer.confidence,
                _citations_json(answer.sources or answer.citations),
            ),
        )
        return int(cur.lastrowid or 0)

    def interaction(self, interaction_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM interactions WHERE id = ?", (interaction_id,))
        return rows[0] if rows else None

    def record_feedback(
        self, *, interaction_id: int, user: str, rating: int, platform: str
    ) -> bool:
        """Store a 👍 (+1) or 👎 (-1); a second click by the same user replaces the first."""
        row = self.interaction(interaction_id)
        if row is None:
            return False
        self.execute(
            "INSERT INTO feedback(at, interaction_id, platform, user, rating, question, answer, "
            "sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(interaction_id, user) DO "
            "UPDATE SET rating = excluded.rating, at = excluded.at",
            (
                utcnow(),
                interaction_id,
                platform,
                user,
                1 if rating > 0 else -1,
                row["question"],
                row["answer"],
                row["sources"],
            ),
        )
        return True

    def feedback(self) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM feedback ORDER BY id")

    # -- chat event de-duplication ------------------------------------------------------------
    def first_time(self, key: str, *, keep_seconds: float = 3600.0) -> bool:
        """True the first time an event key is seen (persisted, so a restart remembers)."""
        now = time.time()
        with self._lock:
            if now - self._last_expiry > 60:  # forget old keys once a minute, not per event
                self.db.execute("DELETE FROM processed_events WHERE at < ?", (now - keep_seconds,))
                self._last_expiry = now
            cur = self.db.execute(
                "INSERT OR IGNORE INTO processed_events(key, at) VALUES (?, ?)", (key, now)
            )
            return cur.rowcount == 1

    # -- threads the bot takes part in, and what each is about ---------------------------------
    def remember_thread(self, key: str) -> None:
        """Note that the bot replied in this thread (it answers follow-ups there)."""
        self.execute(
            "INSERT OR IGNORE INTO chat_threads(key, topic, at) VALUES (?, NULL, ?)",
            (key, utcnow()),
        )

    def set_thread_topic(self, key: str, topic: str) -> bool:
        """Give a thread its topic; False when it already had one (its intro is posted)."""
        cur = self.execute(
            "INSERT INTO chat_threads(key, topic, at) VALUES (?, ?, ?) ON CONFLICT(key) "
            "DO UPDATE SET topic = excluded.topic WHERE chat_threads.topic IS NULL",
            (key, topic, utcnow()),
        )
        return cur.rowcount == 1

    def known_thread(self, key: str) -> bool:
        return bool(self.query("SELECT 1 FROM chat_threads WHERE key = ?", (key,)))

    def thread_topic(self, key: str) -> str | None:
        rows = self.query("SELECT topic FROM chat_threads WHERE key = ?", (key,))
        return str(rows[0]["topic"]) if rows and rows[0]["topic"] is not None else None

    # -- knowledge-gap report -------------------------------------------------------------------
    def gap_report(self, *, since: str | None = None, limit: int = 50) -> dict[str, Any]:
        since = since or "0000"
        abstentions = self.query(
            "SELECT question, COUNT(*) AS n, MAX(at) AS last FROM interactions "
            "WHERE abstained = 1 AND at >= ? GROUP BY lower(trim(question)) "
            "ORDER BY n DESC, last DESC LIMIT ?",
            (since, limit),
        )
        downvotes = self.query(
            "SELECT question, answer, COUNT(*) AS n, MAX(at) AS last FROM feedback "
            "WHERE rating < 0 AND at >= ? GROUP BY lower(trim(question)) "
            "ORDER BY n DESC, last DESC LIMIT ?",
            (since, limit),
        )
        return {
            "abstentions": [dict(r) for r in abstentions],
            "downvoted": [dict(r) for r in downvotes],
            "totals": {
                "abstentions": sum(r["n"] for r in abstentions),
                "downvoted": sum(r["n"] for r in downvotes),
            },
        }

    def close(self) -> None:
        with self._lock:
            self.db.close()
