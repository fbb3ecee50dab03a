"""Program-change records: what changed, where, when it was detected, whether it was told.

Kept in the bot's state database (its own tables beside interactions and feedback),
so they survive restarts and re-indexes and can be listed, answered from and published.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.state import Store
from knowledge.changes import ChangeKind, EditedSection, SectionChange, SentenceEdit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS program_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at TEXT NOT NULL,
    doc_path TEXT NOT NULL,
    doc_title TEXT NOT NULL,
    section TEXT NOT NULL,          -- JSON list of headings, [] for the whole document
    kind TEXT NOT NULL,             -- added | removed | changed
    before TEXT NOT NULL,           -- excerpt of the old text ('' when added)
    after TEXT NOT NULL,            -- excerpt of the new text ('' when removed)
    edits TEXT NOT NULL,            -- JSON [[before | null, after | null], ...]
    effective_date TEXT,
    published_at TEXT,
    digest_key TEXT
);
CREATE INDEX IF NOT EXISTS program_changes_detected ON program_changes(detected_at);
CREATE INDEX IF NOT EXISTS program_changes_doc ON program_changes(doc_path);
CREATE TABLE IF NOT EXISTS program_change_deliveries (
    key TEXT PRIMARY KEY,           -- one digest in one channel
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ChangeRecord(EditedSection):
    """One recorded program change (a section added, removed or changed in a document)."""

    id: int
    detected_at: str  # ISO 8601 UTC
    doc_path: str
    doc_title: str
    section: tuple[str, ...]
    kind: ChangeKind
    edits: tuple[SentenceEdit, ...]
    effective_date: date | None = None
    published_at: str | None = None

    @property
    def label(self) -> str:
        """Document › section, as cited."""
        return f"{self.doc_title} › {self.section_label}" if self.section else self.doc_title

    @property
    def detected_on(self) -> str:
        return self.detected_at[:10]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detected_at": self.detected_at,
            "document": self.doc_path,
            "title": self.doc_title,
            "section": list(self.section),
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "edits": [{"before": e.before, "after": e.after} for e in self.edits],
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
            "published_at": self.published_at,
        }


def _record(row: sqlite3.Row) -> ChangeRecord:
    return ChangeRecord(
        id=int(row["id"]),
        detected_at=row["detected_at"],
        doc_path=row["doc_path"],
        doc_title=row["doc_title"],
        section=tuple(json.loads(row["section"])),
        kind=row["kind"],
        edits=tuple(SentenceEdit(b, a) for b, a in json.loads(row["edits"])),
        effective_date=date.fromisoformat(row["effective_date"]) if row["effective_date"] else None,
        published_at=row["published_at"],
    )


class ChangeStore:
    """Program-change records and digest deliveries in the bot's SQLite state."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Statement by statement through the store's lock (no semicolons in the comments).
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                store.execute(statement)

    def add(self, changes: Iterable[SectionChange], *, detected_at: str) -> list[ChangeRecord]:
        """Record changes detected in one index run; returns them with their ids."""
        ids: list[int] = []
        with self.store.transaction() as db:
            for c in changes:
                cur = db.execute(
                    "INSERT INTO program_changes(detected_at, doc_path, doc_title, section, "
                    "kind, before, after, edits, effective_date) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        detected_at,
                        c.doc_path,
                        c.title,
                        json.dumps(list(c.section)),
                        c.kind,
                        c.before,
                        c.after,
                        json.dumps([[e.before, e.after] for e in c.edits]),
                        c.effective_date.isoformat() if c.effective_date else None,
                    ),
                )
                ids.append(int(cur.lastrowid or 0))
        return self.get(ids)

    def get(self, ids: Sequence[int]) -> list[ChangeRecord]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.store.query(
            f"SELECT * FROM program_changes WHERE id IN ({marks}) ORDER BY id", tuple(ids)
        )
        return [_record(r) for r in rows]

    def list(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        unpublished_only: bool = False,
        doc_path: str | None = None,
        limit: int | None = None,
    ) -> list[ChangeRecord]:
        """Records in detection order (oldest first), filtered."""
        where, params = ["1 = 1"], []
        if since:
            where.append("detected_at >= ?")
            params.append(since)
        if until:
            where.append("detected_at < ?")
            params.append(until)
        if unpublished_only:
            where.append("published_at IS NULL")
        if doc_path:
            where.append("doc_path = ?")
            params.append(doc_path)
        sql = f"SELECT * FROM program_changes WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            sql = (
                f"SELECT * FROM (SELECT * FROM program_changes WHERE {' AND '.join(where)} "
                "ORDER BY id DESC LIMIT ?) ORDER BY id"
            )
            params.append(str(limit))
        return [_record(r) for r in self.store.query(sql, tuple(params))]

    def count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) FROM program_changes")[0][0])

    def latest(self) -> ChangeRecord | None:
        rows = self.store.query("SELECT * FROM program_changes ORDER BY id DESC LIMIT 1")
        return _record(rows[0]) if rows else None

    def mark_published(self, ids: Sequence[int], *, digest_key: str, at: str) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        self.store.execute(
            f"UPDATE program_changes SET published_at = ?, digest_key = ? WHERE id IN ({marks})",
            (at, digest_key, *ids),
        )

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        self.store.execute(f"DELETE FROM program_changes WHERE id IN ({marks})", tuple(ids))

    # -- deliveries: one digest posted once per channel, even across a crash ----------------
    def delivery(self, key: str) -> str | None:
        rows = self.store.query(
            "SELECT message_id FROM program_change_deliveries WHERE key = ?", (key,)
        )
        return str(rows[0][0]) if rows else None

    def record_delivery(self, key: str, *, channel: str, message_id: str, at: str) -> None:
        self.store.execute(
            "INSERT OR REPLACE INTO program_change_deliveries(key, channel, message_id, at) "
            "VALUES (?, ?, ?, ?)",
            (key, channel, message_id, at),
        )
