"""The repositories in portable SQL, shared by the SQLite and PostgreSQL backends.

Every statement is written once, with `?` placeholders, in the SQL both databases
speak (ON CONFLICT, RETURNING, no vendor functions); a backend supplies a `Session`
that runs it (PostgreSQL's turns `?` into `%s`) and a `Dialect` for the two things
that differ: row locks, and claiming a row that another worker holds.

Times are UTC ISO 8601 text in both backends ("2026-11-30T09:00:00+00:00"), which
sorts as it compares, so one set of statements serves both.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.errors import Conflict
from bot.models import ConversationRef
from bot.store.console_sql import SqlConsole, SqlGapMarks, SqlIndexRuns
from bot.store.types import (
    Ack,
    AskedQuestion,
    ChangeRecord,
    CommCounts,
    Delivery,
    Feedback,
    GapLine,
    GapReport,
    HistoryEntry,
    Interaction,
    NewDelivery,
    PartnerAck,
    Recipient,
    StoredCommunication,
    json_tuple,
)
from knowledge.changes import SentenceEdit

if TYPE_CHECKING:
    from bot.models import Answer, Citation, Question
    from knowledge.changes import SectionChange

Row = dict[str, Any]


@dataclass(frozen=True)
class Result:
    rows: list[Row]
    rowcount: int

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None


class Session(Protocol):
    """One connection (inside or outside a transaction) that runs a statement."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result: ...


# use(atomic) → a session; atomic: the statements run in one transaction.
SessionSource = Callable[[bool], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Dialect:
    """What differs between the backends' SQL."""

    lock_row: str  # appended to a SELECT that is followed by an UPDATE of the row
    skip_locked: str  # appended to a claim's SELECT: rows another transaction holds are skipped


def iso(dt: datetime) -> str:
    """The stored form of a time: UTC, seconds, '+00:00'."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _opt_time(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def bound(session: Session) -> SessionSource:
    """A session source that always hands out the same session (inside a transaction)."""

    @contextmanager
    def use(atomic: bool) -> Iterator[Session]:
        yield session

    return use


class SqlRepositories:
    """The repositories over one session source."""

    def __init__(self, use: SessionSource, dialect: Dialect) -> None:
        self.interactions = SqlInteractions(use)
        self.events = SqlEvents(use)
        self.comms = SqlCommunications(use, dialect)
        self.deliveries = SqlDeliveries(use, dialect)
        self.changes = SqlChanges(use)
        self.threads = SqlThreads(use)
        self.recipients = SqlRecipients(use)
        self.conversations = SqlConversations(use)
        self.console = SqlConsole(use)
        self.gap_marks = SqlGapMarks(use)
        self.index_runs = SqlIndexRuns(use)


# -- interactions, feedback, knowledge gaps ----------------------------------------------------
def _citations_json(citations: Iterable[Citation]) -> str:
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


def _interaction(row: Row) -> Interaction:
    return Interaction(
        id=int(row["id"]),
        at=row["at"],
        platform=row["platform"],
        asker=row["asker"],
        place=row["place"],
        question=row["question"],
        answer=row["answer"],
        abstained=bool(row["abstained"]),
        confidence=float(row["confidence"]),
        sources=json_tuple(row["sources"]),
    )


def _feedback(row: Row) -> Feedback:
    return Feedback(
        id=int(row["id"]),
        at=row["at"],
        interaction_id=int(row["interaction_id"]),
        platform=row["platform"],
        user=row["user_id"],
        rating=int(row["rating"]),
        question=row["question"],
        answer=row["answer"],
        sources=json_tuple(row["sources"]),
    )


class SqlInteractions:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def record(self, question: Question, answer: Answer) -> int:
        with self._use(False) as s:
            row = s.execute(
                "INSERT INTO interactions(at, platform, asker, place, question, answer, "
                "abstained, confidence, sources, audience) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    iso(datetime.now(UTC)),
                    question.platform,
                    question.asker,
                    question.place,
                    question.text,
                    answer.text,
                    int(answer.abstained),
                    float(answer.confidence),
                    _citations_json(answer.sources or answer.citations),
                    json.dumps({d: list(o) for d, o in question.audience.facts}),
                ),
            ).first()
        assert row is not None
        return int(row["id"])

    def get(self, interaction_id: int) -> Interaction | None:
        with self._use(False) as s:
            row = s.execute("SELECT * FROM interactions WHERE id = ?", (interaction_id,)).first()
        return _interaction(row) if row else None

    def record_feedback(
        self, *, interaction_id: int, user: str, rating: int, platform: str
    ) -> bool:
        """Store a 👍 (+1) or 👎 (-1); a second click by the same user replaces the first."""
        with self._use(True) as s:
            row = s.execute(
                "SELECT question, answer, sources FROM interactions WHERE id = ?",
                (interaction_id,),
            ).first()
            if row is None:
                return False
            s.execute(
                "INSERT INTO feedback(at, interaction_id, platform, user_id, rating, question, "
                "answer, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(interaction_id, user_id) DO UPDATE SET rating = excluded.rating, "
                "at = excluded.at",
                (
                    iso(datetime.now(UTC)),
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

    def feedback(self) -> list[Feedback]:
        with self._use(False) as s:
            return [_feedback(r) for r in s.execute("SELECT * FROM feedback ORDER BY id").rows]

    def gap_report(self, *, since: str | None = None, limit: int = 50) -> GapReport:
        since = since or "0000"
        with self._use(False) as s:
            abstentions = s.execute(
                "SELECT MIN(question) AS question, COUNT(*) AS n, MAX(at) AS last "
                "FROM interactions WHERE abstained = 1 AND at >= ? GROUP BY lower(trim(question)) "
                "ORDER BY n DESC, last DESC LIMIT ?",
                (since, limit),
            ).rows
            downvoted = s.execute(
                "SELECT MIN(question) AS question, MIN(answer) AS answer, COUNT(*) AS n, "
                "MAX(at) AS last FROM feedback WHERE rating < 0 AND at >= ? "
                "GROUP BY lower(trim(question)) ORDER BY n DESC, last DESC LIMIT ?",
                (since, limit),
            ).rows
        return GapReport(
            abstentions=tuple(GapLine(r["question"], int(r["n"]), r["last"]) for r in abstentions),
            downvoted=tuple(
                GapLine(r["question"], int(r["n"]), r["last"], r["answer"]) for r in downvoted
            ),
        )

    def in_place(
        self, platform: str, place: str, *, since: datetime, limit: int
    ) -> list[tuple[str, str]]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT question, answer FROM interactions WHERE platform = ? AND place = ? "
                "AND at >= ? ORDER BY id DESC LIMIT ?",
                (platform, place, iso(since), limit),
            ).rows
        return [(r["question"], r["answer"]) for r in reversed(rows)]

    def unanswered(self, *, since: str, limit: int = 20000) -> list[AskedQuestion]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT i.id, i.at, i.platform, i.question, i.abstained, i.sources, i.audience, "
                "(SELECT MIN(f.rating) FROM feedback f WHERE f.interaction_id = i.id) AS rating "
                "FROM interactions i WHERE i.at >= ? AND (i.abstained = 1 OR EXISTS "
                "(SELECT 1 FROM feedback f WHERE f.interaction_id = i.id AND f.rating < 0)) "
                "ORDER BY i.at DESC, i.id DESC LIMIT ?",
                (since, limit),
            ).rows
        return [
            AskedQuestion(
                interaction_id=int(r["id"]),
                at=r["at"],
                platform=r["platform"],
                question=r["question"],
                abstained=bool(r["abstained"]),
                downvoted=r["rating"] is not None and int(r["rating"]) < 0,
                audience={d: tuple(o) for d, o in json.loads(r["audience"] or "{}").items()},
                sources=json_tuple(r["sources"]),
            )
            for r in rows
        ]


# -- processed chat events ---------------------------------------------------------------------
class SqlEvents:
    def __init__(self, use: SessionSource) -> None:
        self._use = use
        self._last_expiry = 0.0

    def first_time(self, key: str, *, keep_seconds: float = 3600.0) -> bool:
        """True the first time an event key is seen (persisted, so a restart remembers)."""
        now = time.time()
        with self._use(False) as s:
            if now - self._last_expiry > 60:  # forget old keys once a minute, not per event
                self._last_expiry = now
                s.execute("DELETE FROM processed_events WHERE at < ?", (now - keep_seconds,))
            inserted = s.execute(
                "INSERT INTO processed_events(key, at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key, now),
            )
        return inserted.rowcount == 1


# -- chat threads ------------------------------------------------------------------------------
class SqlThreads:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def remember(self, key: str) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO chat_threads(key, topic, at) VALUES (?, NULL, ?) "
                "ON CONFLICT DO NOTHING",
                (key, iso(datetime.now(UTC))),
            )

    def set_topic(self, key: str, topic: str) -> bool:
        with self._use(False) as s:
            done = s.execute(
                "INSERT INTO chat_threads(key, topic, at) VALUES (?, ?, ?) ON CONFLICT(key) "
                "DO UPDATE SET topic = excluded.topic WHERE chat_threads.topic IS NULL",
                (key, topic, iso(datetime.now(UTC))),
            )
        return done.rowcount == 1

    def known(self, key: str) -> bool:
        with self._use(False) as s:
            return s.execute("SELECT 1 FROM chat_threads WHERE key = ?", (key,)).first() is not None

    def topic(self, key: str) -> str | None:
        with self._use(False) as s:
            row = s.execute("SELECT topic FROM chat_threads WHERE key = ?", (key,)).first()
        return None if row is None else row["topic"]


# -- conversation references (where a platform posts unasked) ---------------------------------
def _conversation(row: Row) -> ConversationRef:
    return ConversationRef(
        platform=row["platform"],
        place=row["place"],
        conversation_id=row["conversation_id"],
        service_url=row["service_url"],
        kind=row["kind"],
        tenant=row["tenant"],
        team=row["team"],
        updated_at=_opt_time(row["updated_at"]),
        removed_at=_opt_time(row["removed_at"]),
    )


class SqlConversations:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def remember(self, ref: ConversationRef, *, at: datetime) -> bool:
        values = (ref.conversation_id, ref.service_url, ref.kind, ref.tenant, ref.team)
        with self._use(False) as s:
            done = s.execute(
                "INSERT INTO conversation_refs(platform, place, conversation_id, service_url, "
                "kind, tenant, team, updated_at, removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) "
                "ON CONFLICT(platform, place) DO UPDATE SET conversation_id = "
                "excluded.conversation_id, service_url = excluded.service_url, kind = "
                "excluded.kind, tenant = excluded.tenant, team = excluded.team, updated_at = "
                "excluded.updated_at, removed_at = NULL WHERE conversation_refs.removed_at IS "
                "NOT NULL OR (conversation_refs.conversation_id, conversation_refs.service_url, "
                "conversation_refs.kind, conversation_refs.tenant, conversation_refs.team) "
                "<> (?, ?, ?, ?, ?)",
                (ref.platform, ref.place, *values, iso(at), *values),
            )
        return done.rowcount == 1

    def get(self, platform: str, place: str) -> ConversationRef | None:
        with self._use(False) as s:
            row = s.execute(
                "SELECT * FROM conversation_refs WHERE platform = ? AND place = ?",
                (platform, place),
            ).first()
        return _conversation(row) if row else None

    def mark_removed(self, platform: str, place: str, *, at: datetime) -> bool:
        with self._use(False) as s:
            done = s.execute(
                "UPDATE conversation_refs SET removed_at = ? WHERE platform = ? AND place = ? "
                "AND removed_at IS NULL",
                (iso(at), platform, place),
            )
        return done.rowcount == 1

    def mark_team_removed(self, platform: str, team: str, *, at: datetime) -> int:
        with self._use(False) as s:
            done = s.execute(
                "UPDATE conversation_refs SET removed_at = ? WHERE platform = ? AND team = ? "
                "AND team <> '' AND removed_at IS NULL",
                (iso(at), platform, team),
            )
        return done.rowcount

    def record_post(self, platform: str, key: str, message_id: str, *, at: datetime) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO posted_messages(platform, key, message_id, posted_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (platform, key, message_id, iso(at)),
            )

    def posted(self, platform: str, key: str) -> str | None:
        with self._use(False) as s:
            row = s.execute(
                "SELECT message_id FROM posted_messages WHERE platform = ? AND key = ?",
                (platform, key),
            ).first()
        return None if row is None else str(row["message_id"])


# -- communications ----------------------------------------------------------------------------
def _communication(row: Row) -> StoredCommunication:
    return StoredCommunication(
        id=row["id"],
        title=row["title"],
        data=row["data"],
        content_hash=row["content_hash"],
        send_at=from_iso(row["send_at"]),
        status=row["status"],
        revision=int(row["revision"]),
        epoch=int(row["epoch"]),
        source=row["source"],
        file_hash=row["file_hash"],
        warnings=json_tuple(row["warnings"]),
        registered_at=from_iso(row["registered_at"]),
        updated_at=from_iso(row["updated_at"]),
        edited_by=row.get("edited_by"),
    )


def _ack(row: Row) -> Ack:
    return Ack(
        comm_id=row["comm_id"],
        platform=row["platform"],
        channel=row["channel"],
        user=row["user_id"],
        at=row["at"],
        delivery_key=row["delivery_key"],
    )


class SqlCommunications:
    def __init__(self, use: SessionSource, dialect: Dialect) -> None:
        self._use = use
        self._dialect = dialect

    def get(self, comm_id: str, *, for_update: bool = False) -> StoredCommunication | None:
        lock = self._dialect.lock_row if for_update else ""
        with self._use(False) as s:
            row = s.execute(f"SELECT * FROM comms WHERE id = ?{lock}", (comm_id,)).first()
        return _communication(row) if row else None

    def all(self) -> list[StoredCommunication]:
        with self._use(False) as s:
            rows = s.execute("SELECT * FROM comms ORDER BY send_at, id").rows
        return [_communication(r) for r in rows]

    def due_to_send(self, now: datetime) -> list[str]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT id FROM comms WHERE status IN ('scheduled', 'updated') AND send_at <= ? "
                "ORDER BY id",
                (iso(now),),
            ).rows
        return [r["id"] for r in rows]

    @staticmethod
    def _values(c: StoredCommunication) -> tuple[Any, ...]:
        return (
            c.title,
            c.data,
            c.content_hash,
            iso(c.send_at),
            c.status,
            c.revision,
            c.epoch,
            c.source,
            c.file_hash,
            json.dumps(list(c.warnings)),
            iso(c.updated_at),
        )

    def insert(self, comm: StoredCommunication) -> None:
        """Add a communication; Conflict when another process added one with this id since
        this transaction looked (replicas syncing one folder at once)."""
        with self._use(False) as s:
            added = s.execute(
                "INSERT INTO comms(title, data, content_hash, send_at, status, revision, epoch, "
                "source, file_hash, warnings, updated_at, id, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                (*self._values(comm), comm.id, iso(comm.registered_at)),
            )
        if added.rowcount != 1:
            raise Conflict(f"communication {comm.id!r} was registered by another process meanwhile")

    def update(self, comm: StoredCommunication) -> None:
        with self._use(False) as s:
            s.execute(
                "UPDATE comms SET title = ?, data = ?, content_hash = ?, send_at = ?, "
                "status = ?, revision = ?, epoch = ?, source = ?, file_hash = ?, "
                "warnings = ?, updated_at = ? WHERE id = ?",
                (*self._values(comm), comm.id),
            )

    def set_status(self, comm_id: str, status: str, *, at: datetime) -> None:
        with self._use(False) as s:
            s.execute(
                "UPDATE comms SET status = ?, updated_at = ? WHERE id = ?",
                (status, iso(at), comm_id),
            )

    def set_source(self, comm_id: str, *, source: str | None, file_hash: str | None) -> None:
        with self._use(False) as s:
            s.execute(
                "UPDATE comms SET source = ?, file_hash = ? WHERE id = ?",
                (source, file_hash, comm_id),
            )

    def add_history(
        self, comm_id: str, *, at: datetime, action: str, who: str, detail: str
    ) -> None:
        with self._use(False) as s:
            s.execute(
                "INSERT INTO comm_history(comm_id, at, action, who, detail) VALUES (?, ?, ?, ?, ?)",
                (comm_id, iso(at), action, who, detail),
            )

    def history(self, comm_id: str) -> list[HistoryEntry]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT at, action, who, detail FROM comm_history WHERE comm_id = ? ORDER BY id",
                (comm_id,),
            ).rows
        return [HistoryEntry(r["at"], r["action"], r["who"], r["detail"]) for r in rows]

    def add_ack(self, ack: Ack) -> bool:
        """Record an acknowledgement; False when this user had acknowledged in that channel."""
        with self._use(False) as s:
            result = s.execute(
                "INSERT INTO comm_acks(comm_id, platform, channel, user_id, at, delivery_key) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (ack.comm_id, ack.platform, ack.channel, ack.user, ack.at, ack.delivery_key),
            )
        return result.rowcount == 1

    def acks(self, comm_id: str) -> list[Ack]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT * FROM comm_acks WHERE comm_id = ? ORDER BY at, user_id", (comm_id,)
            ).rows
        return [_ack(r) for r in rows]

    def acknowledged(self, comm_id: str, platform: str, channel: str) -> bool:
        with self._use(False) as s:
            row = s.execute(
                "SELECT 1 AS yes FROM comm_acks WHERE comm_id = ? AND platform = ? AND channel = ?",
                (comm_id, platform, channel),
            ).first()
        return row is not None

    def add_partner_ack(self, ack: PartnerAck) -> bool:
        """Record a partner's acknowledgement; False when this user had acknowledged for it."""
        with self._use(False) as s:
            result = s.execute(
                "INSERT INTO comm_partner_acks(comm_id, partner_id, platform, user_id, at, "
                "delivery_key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (ack.comm_id, ack.partner_id, ack.platform, ack.user, ack.at, ack.delivery_key),
            )
        return result.rowcount == 1

    def partner_acks(self, comm_id: str) -> list[PartnerAck]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT * FROM comm_partner_acks WHERE comm_id = ? "
                "ORDER BY at, partner_id, user_id",
                (comm_id,),
            ).rows
        return [
            PartnerAck(
                r["comm_id"],
                r["partner_id"],
                r["platform"],
                r["user_id"],
                r["at"],
                r["delivery_key"],
            )
            for r in rows
        ]

    def partner_acknowledged(self, comm_id: str, partner_id: str) -> bool:
        with self._use(False) as s:
            row = s.execute(
                "SELECT 1 AS yes FROM comm_partner_acks WHERE comm_id = ? AND partner_id = ?",
                (comm_id, partner_id),
            ).first()
        return row is not None

    def set_edited_by(self, comm_id: str, who: str | None) -> None:
        with self._use(False) as s:
            s.execute("UPDATE comms SET edited_by = ? WHERE id = ?", (who, comm_id))

    def page(
        self, *, since: datetime | None, statuses: Sequence[str] | None, offset: int, limit: int
    ) -> tuple[list[StoredCommunication], int]:
        where, params = ["1 = 1"], list[Any]()
        if since is not None:
            where.append("send_at >= ?")
            params.append(iso(since))
        if statuses:
            where.append(f"status IN ({_marks(statuses)})")
            params.extend(statuses)
        sql = " AND ".join(where)
        with self._use(False) as s:
            total = s.execute(f"SELECT COUNT(*) AS n FROM comms WHERE {sql}", params).first()
            rows = s.execute(
                f"SELECT * FROM comms WHERE {sql} ORDER BY send_at, id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).rows
        return [_communication(r) for r in rows], int(total["n"]) if total else 0

    def counts(self, comm_ids: Sequence[str], *, telling: Sequence[str]) -> dict[str, CommCounts]:
        if not comm_ids:
            return {}
        ids, kinds = list(comm_ids), list(telling)
        found: dict[str, dict[str, set[str]]] = {
            i: {k: set() for k in ("told", "acked", "affected", "p_told", "p_acked")} for i in ids
        }
        with self._use(False) as s:
            told = s.execute(
                "SELECT DISTINCT d.subject, d.platform, d.channel FROM deliveries d "
                "JOIN comms c ON c.id = d.subject WHERE d.feature = 'comms' "
                f"AND d.subject IN ({_marks(ids)}) AND d.status = 'posted' "
                f"AND d.kind IN ({_marks(kinds)}) AND d.revision >= c.epoch",
                (*ids, *kinds),
            ).rows
            acked = s.execute(
                "SELECT DISTINCT comm_id, platform, channel FROM comm_acks "
                f"WHERE comm_id IN ({_marks(ids)})",
                ids,
            ).rows
            partner_rows = s.execute(
                "SELECT d.subject, d.status, d.kind, d.detail FROM deliveries d "
                "JOIN comms c ON c.id = d.subject WHERE d.feature = 'comms-partner' "
                f"AND d.subject IN ({_marks(ids)}) AND d.status != 'superseded' "
                "AND d.revision >= c.epoch",
                ids,
            ).rows
            listed = s.execute(
                "SELECT DISTINCT comm_id, partner_id FROM comm_recipients "
                f"WHERE comm_id IN ({_marks(ids)}) AND partner_id != ''",
                ids,
            ).rows
            partner_acks = s.execute(
                "SELECT DISTINCT comm_id, partner_id FROM comm_partner_acks "
                f"WHERE comm_id IN ({_marks(ids)})",
                ids,
            ).rows
        for r in told:
            found[r["subject"]]["told"].add(f"{r['platform']}:{r['channel']}")
        for r in acked:
            found[r["comm_id"]]["acked"].add(f"{r['platform']}:{r['channel']}")
        for r in listed:
            found[r["comm_id"]]["affected"].add(r["partner_id"])
        for r in partner_rows:
            partner = str(json.loads(r["detail"] or "{}").get("partner", ""))
            if partner and r["kind"] in kinds:
                found[r["subject"]]["affected"].add(partner)
                if r["status"] == "posted":
                    found[r["subject"]]["p_told"].add(partner)
        for r in partner_acks:
            found[r["comm_id"]]["p_acked"].add(r["partner_id"])
        return {
            i: CommCounts(
                channels_told=len(f["told"]),
                channels_acknowledged=len(f["acked"]),
                partners_affected=len(f["affected"]),
                partners_told=len(f["p_told"]),
                partners_acknowledged=len(f["p_acked"]),
            )
            for i, f in found.items()
        }


# -- recipient lists ---------------------------------------------------------------------------
_RECIPIENT_ROWS = 500  # rows per INSERT (4 values each: far below any backend's limit)


class SqlRecipients:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def replace(self, comm_id: str, recipients: Sequence[Recipient]) -> None:
        with self._use(True) as s:
            s.execute("DELETE FROM comm_recipients WHERE comm_id = ?", (comm_id,))
            for start in range(0, len(recipients), _RECIPIENT_ROWS):
                batch = recipients[start : start + _RECIPIENT_ROWS]
                s.execute(
                    "INSERT INTO comm_recipients(comm_id, customer_id, customer_name, partner_id) "
                    f"VALUES {','.join(['(?, ?, ?, ?)'] * len(batch))}",
                    [
                        v
                        for r in batch
                        for v in (comm_id, r.customer_id, r.customer_name, r.partner_id)
                    ],
                )

    def delete(self, comm_id: str) -> int:
        with self._use(False) as s:
            return s.execute("DELETE FROM comm_recipients WHERE comm_id = ?", (comm_id,)).rowcount

    def counts(self, comm_id: str) -> dict[str, int]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT partner_id, COUNT(*) AS n FROM comm_recipients WHERE comm_id = ? "
                "GROUP BY partner_id",
                (comm_id,),
            ).rows
        return {r["partner_id"]: int(r["n"]) for r in rows}

    def for_partner(self, comm_id: str, partner_id: str) -> list[Recipient]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT customer_id, customer_name, partner_id FROM comm_recipients "
                "WHERE comm_id = ? AND partner_id = ?",
                (comm_id, partner_id),
            ).rows
        found = [Recipient(r["customer_id"], r["customer_name"], r["partner_id"]) for r in rows]
        # Sorted here, not in SQL: the order must not depend on the database's collation.
        return sorted(found, key=lambda r: (r.customer_name.casefold(), r.customer_id))

    def expired(self, sent_before: datetime) -> list[str]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT DISTINCT r.comm_id FROM comm_recipients r JOIN comms c ON c.id = r.comm_id "
                "WHERE c.send_at <= ? ORDER BY r.comm_id",
                (iso(sent_before),),
            ).rows
        return [r["comm_id"] for r in rows]


# -- the outbox --------------------------------------------------------------------------------
def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        key=row["key"],
        feature=row["feature"],
        subject=row["subject"],
        revision=int(row["revision"]),
        kind=row["kind"],
        lead_days=None if row["lead_days"] is None else int(row["lead_days"]),
        platform=row["platform"],
        channel=row["channel"],
        due_at=from_iso(row["due_at"]),
        status=row["status"],
        not_before=_opt_time(row["not_before"]),
        claimed_by=row["claimed_by"],
        claimed_until=_opt_time(row["claimed_until"]),
        attempts=int(row["attempts"]),
        message_id=row["message_id"],
        posted_at=_opt_time(row["posted_at"]),
        late=bool(row["late"]),
        reconciled=bool(row["reconciled"]),
        detail=json.loads(row["detail"] or "{}"),
        note=row["note"],
        created_at=from_iso(row["created_at"]),
    )


# A delivery is due when planned, its time has come and no retry back-off holds it; or when
# it was claimed and the claim's lease ran out (its owner died or hung).
_DUE = (
    "((status = 'planned' AND due_at <= ? AND (not_before IS NULL OR not_before <= ?)) "
    "OR (status = 'claimed' AND claimed_until <= ?))"
)
_CLAIM = (
    "UPDATE deliveries SET status = 'claimed', claimed_by = ?, claimed_until = ?, "
    "attempts = attempts + 1 WHERE id = ? AND (status = 'planned' OR "
    "(status = 'claimed' AND claimed_until <= ?)) RETURNING *"
)


class SqlDeliveries:
    def __init__(self, use: SessionSource, dialect: Dialect) -> None:
        self._use = use
        self._dialect = dialect

    def plan(self, delivery: NewDelivery, *, now: datetime) -> bool:
        """Add a planned delivery; False when its key was planned before (nothing changes)."""
        d = delivery
        with self._use(False) as s:
            result = s.execute(
                "INSERT INTO deliveries(key, feature, subject, revision, kind, lead_days, "
                "platform, channel, due_at, status, detail, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?) ON CONFLICT DO NOTHING",
                (
                    d.key,
                    d.feature,
                    d.subject,
                    d.revision,
                    d.kind,
                    d.lead_days,
                    d.platform,
                    d.channel,
                    iso(d.due_at),
                    json.dumps(d.detail),
                    iso(now),
                ),
            )
        return result.rowcount == 1

    def get(self, delivery_id: int) -> Delivery | None:
        with self._use(False) as s:
            row = s.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).first()
        return _delivery(row) if row else None

    def by_key(self, key: str) -> Delivery | None:
        with self._use(False) as s:
            row = s.execute("SELECT * FROM deliveries WHERE key = ?", (key,)).first()
        return _delivery(row) if row else None

    def for_subject(self, feature: str, subject: str) -> list[Delivery]:
        with self._use(False) as s:
            rows = s.execute(
                "SELECT * FROM deliveries WHERE feature = ? AND subject = ? ORDER BY due_at, id",
                (feature, subject),
            ).rows
        return [_delivery(r) for r in rows]

    def due(self, feature: str, now: datetime) -> list[Delivery]:
        t = iso(now)
        with self._use(False) as s:
            rows = s.execute(
                f"SELECT * FROM deliveries WHERE feature = ? AND {_DUE} ORDER BY due_at, id",
                (feature, t, t, t),
            ).rows
        return [_delivery(r) for r in rows]

    def claim_next(
        self, feature: str, *, platforms: Sequence[str], owner: str, now: datetime, until: datetime
    ) -> Delivery | None:
        """Claim the next due delivery for one of these platforms (None: nothing due)."""
        if not platforms:
            return None
        t = iso(now)
        with self._use(True) as s:
            row = s.execute(
                "SELECT id FROM deliveries WHERE feature = ? "
                f"AND platform IN ({_marks(platforms)}) AND {_DUE} "
                f"ORDER BY due_at, id LIMIT 1{self._dialect.skip_locked}",
                (feature, *platforms, t, t, t),
            ).first()
            if row is None:
                return None
            claimed = s.execute(_CLAIM, (owner, iso(until), row["id"], t)).first()
        return _delivery(claimed) if claimed else None

    def claim_key(self, key: str, *, owner: str, now: datetime, until: datetime) -> Delivery | None:
        """Claim one delivery by key if it is planned (or its claim expired); else None."""
        t = iso(now)
        with self._use(True) as s:
            row = s.execute(
                f"SELECT id FROM deliveries WHERE key = ?{self._dialect.lock_row}", (key,)
            ).first()
            if row is None:
                return None
            claimed = s.execute(_CLAIM, (owner, iso(until), row["id"], t)).first()
        return _delivery(claimed) if claimed else None

    def renew(self, delivery_id: int, *, owner: str, now: datetime, until: datetime) -> bool:
        """Still ours and the lease not run out: extend it (the re-check before posting)."""
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET claimed_until = ? WHERE id = ? AND status = 'claimed' "
                "AND claimed_by = ? AND claimed_until > ?",
                (iso(until), delivery_id, owner, iso(now)),
            )
        return result.rowcount == 1

    def mark_posted(
        self,
        delivery_id: int,
        *,
        owner: str,
        message_id: str,
        at: datetime,
        late: bool,
        reconciled: bool,
    ) -> bool:
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET status = 'posted', message_id = ?, posted_at = ?, "
                "late = ?, reconciled = ?, claimed_until = NULL, note = NULL "
                "WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
                (str(message_id), iso(at), int(late), int(reconciled), delivery_id, owner),
            )
        return result.rowcount == 1

    def retry_later(
        self,
        delivery_id: int,
        *,
        owner: str,
        note: str,
        not_before: datetime,
        attempted: bool = True,
    ) -> bool:
        uncount = "" if attempted else ", attempts = attempts - 1"
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET status = 'planned', note = ?, not_before = ?, "
                f"claimed_until = NULL{uncount} WHERE id = ? AND status = 'claimed' "
                "AND claimed_by = ?",
                (note, iso(not_before), delivery_id, owner),
            )
        return result.rowcount == 1

    def mark_failed(self, delivery_id: int, *, owner: str, note: str) -> bool:
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET status = 'failed', note = ?, claimed_until = NULL "
                "WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
                (note, delivery_id, owner),
            )
        return result.rowcount == 1

    def set_status(self, delivery_id: int, status: str, *, note: str) -> None:
        with self._use(False) as s:
            s.execute(
                "UPDATE deliveries SET status = ?, note = ? WHERE id = ?",
                (status, note, delivery_id),
            )

    def supersede_planned(self, feature: str, subject: str, *, note: str) -> int:
        """Planned (not yet claimed) deliveries of a subject will not go out; alerts still do."""
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET status = 'superseded', note = ? WHERE feature = ? "
                "AND subject = ? AND status = 'planned' AND kind != 'alert'",
                (note, feature, subject),
            )
        return result.rowcount

    def told_channels(
        self, feature: str, subject: str, *, min_revision: int, kinds: Sequence[str]
    ) -> set[tuple[str, str]]:
        """Channels that were (or may have been: a claim in flight, a failed try) told."""
        with self._use(False) as s:
            rows = s.execute(
                "SELECT DISTINCT platform, channel FROM deliveries WHERE feature = ? "
                f"AND subject = ? AND revision >= ? AND kind IN ({_marks(kinds)}) "
                "AND (status IN ('posted', 'claimed') OR (status = 'planned' AND attempts > 0))",
                (feature, subject, min_revision, *kinds),
            ).rows
        return {(r["platform"], r["channel"]) for r in rows}

    def last_posted(
        self, feature: str, subject: str, platform: str, channel: str, kinds: Sequence[str]
    ) -> Delivery | None:
        with self._use(False) as s:
            row = s.execute(
                "SELECT * FROM deliveries WHERE feature = ? AND subject = ? AND platform = ? "
                f"AND channel = ? AND status = 'posted' AND kind IN ({_marks(kinds)}) "
                "ORDER BY posted_at DESC, id DESC LIMIT 1",
                (feature, subject, platform, channel, *kinds),
            ).first()
        return _delivery(row) if row else None

    def release(self, owner: str) -> int:
        """Give back this owner's claims (on shutdown): planned again, the attempt not counted."""
        with self._use(False) as s:
            result = s.execute(
                "UPDATE deliveries SET status = 'planned', claimed_by = NULL, "
                "claimed_until = NULL, attempts = attempts - 1 "
                "WHERE status = 'claimed' AND claimed_by = ?",
                (owner,),
            )
        return result.rowcount


# -- program changes ---------------------------------------------------------------------------
def _change(row: Row) -> ChangeRecord:
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
        audience=row["audience"] or "",
    )


class SqlChanges:
    def __init__(self, use: SessionSource) -> None:
        self._use = use

    def add(self, changes: Iterable[SectionChange], *, detected_at: str) -> list[ChangeRecord]:
        """Record changes detected in one index run; returns them with their ids."""
        records: list[ChangeRecord] = []
        with self._use(True) as s:
            for c in changes:
                row = s.execute(
                    "INSERT INTO program_changes(detected_at, doc_path, doc_title, section, "
                    "kind, before, after, edits, effective_date, audience) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
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
                        c.audience,
                    ),
                ).first()
                assert row is not None
                records.append(_change(row))
        return records

    def get(self, ids: Sequence[int]) -> list[ChangeRecord]:
        if not ids:
            return []
        with self._use(False) as s:
            rows = s.execute(
                f"SELECT * FROM program_changes WHERE id IN ({_marks(ids)}) ORDER BY id",
                tuple(ids),
            ).rows
        return [_change(r) for r in rows]

    def list(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        unpublished_only: bool = False,
        doc_path: str | None = None,
        limit: int | None = None,
    ) -> list[ChangeRecord]:
        """Records in detection order (oldest first), filtered; `limit`: the latest ones."""
        where, params = ["1 = 1"], list[Any]()
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
                "ORDER BY id DESC LIMIT ?) AS latest ORDER BY id"
            )
            params.append(limit)
        with self._use(False) as s:
            return [_change(r) for r in s.execute(sql, tuple(params)).rows]

    def count(self) -> int:
        with self._use(False) as s:
            row = s.execute("SELECT COUNT(*) AS n FROM program_changes").first()
        return int(row["n"]) if row else 0

    def latest(self) -> ChangeRecord | None:
        with self._use(False) as s:
            row = s.execute("SELECT * FROM program_changes ORDER BY id DESC LIMIT 1").first()
        return _change(row) if row else None

    def mark_published(self, ids: Sequence[int], *, digest_key: str, at: str) -> None:
        if not ids:
            return
        with self._use(False) as s:
            s.execute(
                "UPDATE program_changes SET published_at = ?, digest_key = ? "
                f"WHERE id IN ({_marks(ids)})",
                (at, digest_key, *ids),
            )

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._use(False) as s:
            s.execute(f"DELETE FROM program_changes WHERE id IN ({_marks(ids)})", tuple(ids))
