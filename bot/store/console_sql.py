"""The console's repositories in portable SQL (see bot/store/sql.py for the conventions):
its people, sessions, API tokens, idempotency keys, audit trail, failed sign-ins and
signing key; knowledge gaps marked as answered; index runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from bot.store.types import (
    ApiToken,
    AuditEntry,
    ConsoleSession,
    ConsoleUser,
    GapMark,
    IdempotentCall,
    IndexRun,
)

# use(atomic) → a session that runs a statement (bot/store/sql.py's Session).
SessionSource = Callable[[bool], AbstractContextManager[Any]]
Row = dict[str, Any]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _user(row: Row) -> ConsoleUser:
    return ConsoleUser(
        email=row["email"],
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        disabled=bool(row["disabled"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def _token(row: Row) -> ApiToken:
    return ApiToken(
        id=int(row["id"]),
        name=row["name"],
        prefix=row["prefix"],
        created_by=row["created_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
        revoked_at=_time(row["revoked_at"]),
        revoked_by=row["revoked_by"],
        last_used_at=_time(row["last_used_at"]),
    )


class SqlConsole:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    # -- users ----------------------------------------------------------------------------
    def user(self, email: str) -> ConsoleUser | None:
        with self._use(False) as s:
            row = s.execute("SELECT * FROM console_users WHERE email = ?", (email,)).first()
        return _user(row) if row else None

    def users(self) -> list[ConsoleUser]:
        with self._use(False) as s:
            rows = s.execute("SELECT * FROM console_users ORDER BY email").rows
        return [_user(r) for r in rows]

    def put_user(
        self, *, email: str, role: str, name: str, password_hash: str | None, now: datetime
    ) -> bool:
        with self._use(True) as s:
            known = s.execute("SELECT 1 AS yes FROM console_users WHERE email = ?", (email,))
            if known.first() is None:
                s.execute(
                    "INSERT INTO console_users(email, name, role, password_hash, disabled, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                    (email, name, role, password_hash, _iso(now), _iso(now)),
                )
                return True
            s.execute(
                "UPDATE console_users SET name = ?, role = ?, "
                "password_hash = COALESCE(?, password_hash), disabled = 0, updated_at = ? "
                "WHERE email = ?",
                (name, role, password_hash, _iso(now), email),
            )
            return False

    def disable_user(self, email: str, *, now: datetime) -> bool:
        with self._use(True) as s:
            done = s.execute(
                "UPDATE console_users SET disabled = 1, updated_at = ? WHERE email = ?",
                (_iso(now), email),
            )
            s.execute("DELETE FROM console_sessions WHERE email = ?", (email,))
        return done.rowcount == 1

    # -- sessions -------------------------------------------------------------------------
    def add_session(
        self, token_hash: str, *, email: str, via: str, now: datetime, expires_at: datetime
    ) -> None:
        with self._use(True) as s:
            s.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (_iso(now),))
            s.execute(
                "INSERT INTO console_sessions(token_hash, email, via, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, email, via, _iso(now), _iso(expires_at)),
            )

    def session(self, token_hash: str, *, now: datetime) -> ConsoleSession | None:
        with self._use(False) as s:
            row = s.execute(
                "SELECT * FROM console_sessions WHERE token_hash = ?", (token_hash,)
            ).first()
            if row is None:
                return None
            if row["expires_at"] <= _iso(now):
                s.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))
                return None
        return ConsoleSession(
            email=row["email"],
            via=row["via"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
        )

    def end_session(self, token_hash: str) -> None:
        with self._use(False) as s:
            s.execute("DELETE FROM console_sessions WHERE token_hash = ?", (token_hash,))

    def end_sessions(self, email: str) -> int:
        with self._use(False) as s:
            return s.execute("DELETE FROM console_sessions WHERE email = ?", (email,)).rowcount

    # -- API tokens -----------------------------------------------------------------------
    def add_token(
        self, *, name: str, token_hash: str, prefix: str, created_by: str, now: datetime
    ) -> ApiToken:
        with self._use(False) as s:
            row = s.execute(
                "INSERT INTO console_tokens(name, token_hash, prefix, created_by, created_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING *",
                (name, token_hash, prefix, created_by, _iso(now)),
            ).first()
        assert row is not None
        return _token(row)

    def token(self, token_hash: str, *, now: datetime) -> ApiToken | None:
        with self._use(False) as s:
            row = s.execute(
                "UPDATE console_tokens SET last_used_at = ? WHERE token_hash = ? RETURNING *",
                (_iso(now), token_hash),
            ).first()
        return _token(row) if row else None

    def tokens(self) -> list[ApiToken]:
        with self._use(False) as s:
            rows = s.execute("SELECT * FROM console_tokens ORDER BY id").rows
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: int, *, who: str, now: datetime) -> bool:
        with self._use(False) as s:
            done = s.execute(
                "UPDATE console_tokens SET revoked_at = ?, revoked_by = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (_iso(now), who, token_id),
            )
        return done.rowcount == 1

    # -- idempotency keys -----------------------------------------------------------------
    def begin_call(
        self, token_id: int, key: str, *, request_hash: str, now: datetime
    ) -> IdempotentCall | None:
        with self._use(True) as s:
            inserted = s.execute(
                "INSERT INTO console_idempotency(token_id, key, request_hash, status, response, "
                "created_at) VALUES (?, ?, ?, 0, '', ?) ON CONFLICT DO NOTHING",
                (token_id, key, request_hash, _iso(now)),
            )
            if inserted.rowcount == 1:
                return None
            row = s.execute(
                "SELECT request_hash, status, response FROM console_idempotency "
                "WHERE token_id = ? AND key = ?",
                (token_id, key),
            ).first()
        assert row is not None
        return IdempotentCall(row["request_hash"], int(row["status"]), row["response"])

    def finish_call(self, token_id: int, key: str, *, status: int, response: str) -> None:
        with self._use(False) as s:
            s.execute(
                "UPDATE console_idempotency SET status = ?, response = ? "
                "WHERE token_id = ? AND key = ?",
                (status, response, token_id, key),
            )

    def forget_call(self, token_id: int, key: str) -> None:
        with self._use(False) as s:
            s.execute(
                "DELETE FROM console_idempotency WHERE token_id = ? AND key = ?", (token_id, key)
            )

    # -- audit ----------------------------------------------------------------------------
    def audit(
        self, *, who: str, action: str, subject: str, before: str, after: str, now: datetime
    ) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO console_audit(at, who, action, subject, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_iso(now), who, action, subject, before, after),
            )

    def audit_trail(
        self, *, limit: int = 200, subject: str | None = None, before_id: int | None = None
    ) -> list[AuditEntry]:
        where, params = ["1 = 1"], list[Any]()
        if subject is not None:
            where.append("subject = ?")
            params.append(subject)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        with self._use(False) as s:
            rows = s.execute(
                f"SELECT * FROM console_audit WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).rows
        return [
            AuditEntry(
                id=int(r["id"]),
                at=datetime.fromisoformat(r["at"]),
                who=r["who"],
                action=r["action"],
                subject=r["subject"],
                before=r["before"],
                after=r["after"],
            )
            for r in rows
        ]

    # -- failed sign-ins ------------------------------------------------------------------
    def note_failure(self, keys: Sequence[str], *, now: datetime) -> None:
        with self._use(True) as s:
            for key in keys:
                s.execute(
                    "INSERT INTO console_signin_failures(key, at) VALUES (?, ?)", (key, _iso(now))
                )

    def failures(self, key: str, *, since: datetime) -> int:
        with self._use(False) as s:
            s.execute("DELETE FROM console_signin_failures WHERE at < ?", (_iso(since),))
            row = s.execute(
                "SELECT COUNT(*) AS n FROM console_signin_failures WHERE key = ? AND at >= ?",
                (key, _iso(since)),
            ).first()
        return int(row["n"]) if row else 0

    def clear_failures(self, key: str) -> None:
        with self._use(False) as s:
            s.execute("DELETE FROM console_signin_failures WHERE key = ?", (key,))

    # -- the signing key ------------------------------------------------------------------
    def secret(self, name: str, *, make: str) -> str:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO console_secrets(name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (name, make),
            )
            row = s.execute("SELECT value FROM console_secrets WHERE name = ?", (name,)).first()
        assert row is not None
        return str(row["value"])


class SqlGapMarks:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def mark(self, question_key: str, *, doc_path: str, who: str, now: datetime) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO gap_marks(question_key, doc_path, marked_by, marked_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(question_key) DO UPDATE SET "
                "doc_path = excluded.doc_path, marked_by = excluded.marked_by, "
                "marked_at = excluded.marked_at",
                (question_key, doc_path, who, _iso(now)),
            )

    def unmark(self, question_key: str) -> bool:
        with self._use(False) as s:
            done = s.execute("DELETE FROM gap_marks WHERE question_key = ?", (question_key,))
        return done.rowcount == 1

    def all(self) -> dict[str, GapMark]:
        with self._use(False) as s:
            rows = s.execute("SELECT * FROM gap_marks").rows
        return {
            r["question_key"]: GapMark(
                r["question_key"],
                r["doc_path"],
                r["marked_by"],
                datetime.fromisoformat(r["marked_at"]),
            )
            for r in rows
        }


class SqlIndexRuns:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def record(
        self,
        *,
        at: datetime,
        generation: int | None,
        counts: dict[str, int],
        failed: Sequence[tuple[str, str]],
        seconds: float,
    ) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO index_runs(at, generation, counts, failed, seconds) "
                "VALUES (?, ?, ?, ?, ?)",
                (_iso(at), generation, json.dumps(counts), json.dumps(list(failed)), seconds),
            )

    def recent(self, limit: int = 10) -> list[IndexRun]:
        with self._use(False) as s:
            rows = s.execute("SELECT * FROM index_runs ORDER BY id DESC LIMIT ?", (limit,)).rows
        return [
            IndexRun(
                id=int(r["id"]),
                at=datetime.fromisoformat(r["at"]),
                generation=None if r["generation"] is None else int(r["generation"]),
                counts={k: int(v) for k, v in json.loads(r["counts"]).items()},
                failed=tuple((str(p), str(why)) for p, why in json.loads(r["failed"])),
                seconds=float(r["seconds"]),
            )
            for r in rows
        ]
