"""The store's contract: one repository per kind of state, typed dataclasses in and out.

Every backend (bot/store/sqlite.py, bot/store/postgres.py) passes the same contract
tests (tests/bot/store/). Outside a transaction each call is atomic on its own;
`Store.transaction()` gives the same repositories bound to one transaction, so a
feature can change a communication and its deliveries together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.models import ConversationRef
from bot.store.types import (
    Ack,
    ApiToken,
    AskedQuestion,
    AuditEntry,
    ChangeRecord,
    CommCounts,
    ConsoleSession,
    ConsoleUser,
    Delivery,
    Feedback,
    GapMark,
    GapReport,
    HistoryEntry,
    IdempotentCall,
    IndexRun,
    Interaction,
    NewDelivery,
    PartnerAck,
    Recipient,
    StoredCommunication,
)

if TYPE_CHECKING:
    from bot.models import Answer, Question
    from knowledge.changes import SectionChange


class InteractionRepository(Protocol):
    """Questions, their answers, the ratings they got, and the knowledge-gap report."""

    def record(self, question: Question, answer: Answer) -> int: ...

    def get(self, interaction_id: int) -> Interaction | None: ...

    def record_feedback(
        self, *, interaction_id: int, user: str, rating: int, platform: str
    ) -> bool: ...

    def feedback(self) -> list[Feedback]: ...

    def gap_report(self, *, since: str | None = None, limit: int = 50) -> GapReport: ...

    def in_place(
        self, platform: str, place: str, *, since: datetime, limit: int
    ) -> list[tuple[str, str]]:
        """The last `limit` questions asked in one place since a time, with the answers they
        got, oldest first (the conversation so far, where a platform cannot read it back)."""
        ...

    def unanswered(self, *, since: str, limit: int = 20000) -> list[AskedQuestion]:
        """Questions since `since` that were not answered (abstained) or were rated 👎, newest
        first, with who read the reply and the closest documents."""
        ...


class EventRepository(Protocol):
    """Chat events already handled (a platform retry or a second replica sees them once)."""

    def first_time(self, key: str, *, keep_seconds: float = 3600.0) -> bool: ...


class ThreadRepository(Protocol):
    """Chat threads the bot takes part in, and the topic an "Ask about this" thread is on."""

    def remember(self, key: str) -> None:
        """The bot replied in this thread (it answers follow-ups there)."""
        ...

    def set_topic(self, key: str, topic: str) -> bool:
        """Give a thread its topic; False when it already had one (its intro is posted)."""
        ...

    def known(self, key: str) -> bool: ...

    def topic(self, key: str) -> str | None: ...


class CommunicationRepository(Protocol):
    """Registered communications, their history and acknowledgements."""

    def get(self, comm_id: str, *, for_update: bool = False) -> StoredCommunication | None: ...

    def all(self) -> list[StoredCommunication]: ...

    def due_to_send(self, now: datetime) -> list[str]: ...

    def insert(self, comm: StoredCommunication) -> None: ...

    def update(self, comm: StoredCommunication) -> None: ...

    def set_status(self, comm_id: str, status: str, *, at: datetime) -> None: ...

    def set_source(self, comm_id: str, *, source: str | None, file_hash: str | None) -> None: ...

    def add_history(
        self, comm_id: str, *, at: datetime, action: str, who: str, detail: str
    ) -> None: ...

    def history(self, comm_id: str) -> list[HistoryEntry]: ...

    def add_ack(self, ack: Ack) -> bool: ...

    def acks(self, comm_id: str) -> list[Ack]: ...

    def acknowledged(self, comm_id: str, platform: str, channel: str) -> bool: ...

    def add_partner_ack(self, ack: PartnerAck) -> bool:
        """Record one person's acknowledgement for a partner; False when they had already."""
        ...

    def partner_acks(self, comm_id: str) -> list[PartnerAck]: ...

    def partner_acknowledged(self, comm_id: str, partner_id: str) -> bool: ...

    def set_edited_by(self, comm_id: str, who: str | None) -> None:
        """Who changed a file's communication outside its file (None: it matches its file)."""
        ...

    def counts(self, comm_ids: Sequence[str], *, telling: Sequence[str]) -> dict[str, CommCounts]:
        """Per communication: channels told (`telling` kinds posted in its current life) and
        acknowledged, partners affected, told and acknowledged."""
        ...

    def page(
        self, *, since: datetime | None, statuses: Sequence[str] | None, offset: int, limit: int
    ) -> tuple[list[StoredCommunication], int]:
        """Communications sent at or after `since` (None: all) with one of `statuses`, by
        send date; one page of them, and how many there are."""
        ...


class RecipientRepository(Protocol):
    """Communications' recipient lists (customers and partners of record), kept for a while."""

    def replace(self, comm_id: str, recipients: Sequence[Recipient]) -> None:
        """The communication's list becomes exactly these customers."""
        ...

    def delete(self, comm_id: str) -> int:
        """Forget the communication's list; returns how many customers were deleted."""
        ...

    def counts(self, comm_id: str) -> dict[str, int]:
        """Customers per partner of record ('' for customers without one)."""
        ...

    def for_partner(self, comm_id: str, partner_id: str) -> list[Recipient]:
        """One partner's customers on the list, by name."""
        ...

    def expired(self, sent_before: datetime) -> list[str]:
        """Communications whose send date is at or before `sent_before` and still have a list."""
        ...


class DeliveryRepository(Protocol):
    """The outbox table: one row per message to post, claimed with a lease (bot/delivery.py)."""

    def plan(self, delivery: NewDelivery, *, now: datetime) -> bool: ...

    def get(self, delivery_id: int) -> Delivery | None: ...

    def by_key(self, key: str) -> Delivery | None: ...

    def for_subject(self, feature: str, subject: str) -> list[Delivery]: ...

    def due(self, feature: str, now: datetime) -> list[Delivery]: ...

    def claim_next(
        self, feature: str, *, platforms: Sequence[str], owner: str, now: datetime, until: datetime
    ) -> Delivery | None: ...

    def claim_key(
        self, key: str, *, owner: str, now: datetime, until: datetime
    ) -> Delivery | None: ...

    def renew(self, delivery_id: int, *, owner: str, now: datetime, until: datetime) -> bool: ...

    def mark_posted(
        self,
        delivery_id: int,
        *,
        owner: str,
        message_id: str,
        at: datetime,
        late: bool,
        reconciled: bool,
    ) -> bool: ...

    def retry_later(
        self,
        delivery_id: int,
        *,
        owner: str,
        note: str,
        not_before: datetime,
        attempted: bool = True,
    ) -> bool:
        """Planned again from `not_before`; `attempted=False`: this claim did not try to post
        (held back), so it does not count as an attempt."""
        ...

    def mark_failed(self, delivery_id: int, *, owner: str, note: str) -> bool: ...

    def set_status(self, delivery_id: int, status: str, *, note: str) -> None: ...

    def supersede_planned(self, feature: str, subject: str, *, note: str) -> int: ...

    def told_channels(
        self, feature: str, subject: str, *, min_revision: int, kinds: Sequence[str]
    ) -> set[tuple[str, str]]: ...

    def last_posted(
        self, feature: str, subject: str, platform: str, channel: str, kinds: Sequence[str]
    ) -> Delivery | None: ...

    def release(self, owner: str) -> int: ...


class ConversationRepository(Protocol):
    """Where a platform posts without being asked (Teams conversation references), and what
    it posted by delivery key (a platform that cannot look a message up by its key)."""

    def remember(self, ref: ConversationRef, *, at: datetime) -> bool:
        """Keep (or update) a place's reference; the bot is in it again. True when it changed."""
        ...

    def get(self, platform: str, place: str) -> ConversationRef | None: ...

    def mark_removed(self, platform: str, place: str, *, at: datetime) -> bool:
        """The bot was taken out of this place; False when it was not known."""
        ...

    def mark_team_removed(self, platform: str, team: str, *, at: datetime) -> int:
        """The bot was taken out of a team: every channel of it; returns how many."""
        ...

    def record_post(self, platform: str, key: str, message_id: str, *, at: datetime) -> None:
        """A message posted under a delivery key (the first record of a key is kept)."""
        ...

    def posted(self, platform: str, key: str) -> str | None:
        """The message id posted under this delivery key, if one was recorded."""
        ...


class ChangeRepository(Protocol):
    """Program changes recorded on re-index (digests are deliveries in the outbox)."""

    def add(self, changes: Iterable[SectionChange], *, detected_at: str) -> list[ChangeRecord]: ...

    def get(self, ids: Sequence[int]) -> list[ChangeRecord]: ...

    def list(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        unpublished_only: bool = False,
        doc_path: str | None = None,
        limit: int | None = None,
    ) -> list[ChangeRecord]: ...

    def count(self) -> int: ...

    def latest(self) -> ChangeRecord | None: ...

    def mark_published(self, ids: Sequence[int], *, digest_key: str, at: str) -> None: ...

    def delete(self, ids: Sequence[int]) -> None: ...


class ConsoleRepository(Protocol):
    """The console's people, sessions, API tokens, idempotency keys, audit trail, failed
    sign-ins and signing key (bot/serving/console). Tokens are stored as hashes only."""

    def user(self, email: str) -> ConsoleUser | None: ...

    def users(self) -> list[ConsoleUser]: ...

    def put_user(
        self, *, email: str, role: str, name: str, password_hash: str | None, now: datetime
    ) -> bool:
        """Add or change a user (enabled again); True when it was new."""
        ...

    def disable_user(self, email: str, *, now: datetime) -> bool: ...

    def add_session(
        self, token_hash: str, *, email: str, via: str, now: datetime, expires_at: datetime
    ) -> None: ...

    def session(self, token_hash: str, *, now: datetime) -> ConsoleSession | None:
        """The session, if it has not expired (expired ones are deleted)."""
        ...

    def end_session(self, token_hash: str) -> None: ...

    def end_sessions(self, email: str) -> int: ...

    def add_token(
        self, *, name: str, token_hash: str, prefix: str, created_by: str, now: datetime
    ) -> ApiToken: ...

    def token(self, token_hash: str, *, now: datetime) -> ApiToken | None:
        """The token with this hash, active or revoked (its use is noted)."""
        ...

    def tokens(self) -> list[ApiToken]: ...

    def revoke_token(self, token_id: int, *, who: str, now: datetime) -> bool: ...

    def begin_call(
        self, token_id: int, key: str, *, request_hash: str, now: datetime
    ) -> IdempotentCall | None:
        """Claim an idempotency key: None when this is its first call (go ahead), else what
        the earlier call with it answered (status 0: still being handled)."""
        ...

    def finish_call(self, token_id: int, key: str, *, status: int, response: str) -> None: ...

    def forget_call(self, token_id: int, key: str) -> None:
        """The first call failed unexpectedly: a retry with the key may try again."""
        ...

    def audit(
        self, *, who: str, action: str, subject: str, before: str, after: str, now: datetime
    ) -> None: ...

    def audit_trail(
        self, *, limit: int = 200, subject: str | None = None, before_id: int | None = None
    ) -> list[AuditEntry]: ...

    def note_failure(self, keys: Sequence[str], *, now: datetime) -> None: ...

    def failures(self, key: str, *, since: datetime) -> int: ...

    def clear_failures(self, key: str) -> None: ...

    def secret(self, name: str, *, make: str) -> str:
        """The named secret, set to `make` the first time (every replica then reads it)."""
        ...


class GapMarkRepository(Protocol):
    """Knowledge gaps marked as answered by a document."""

    def mark(self, question_key: str, *, doc_path: str, who: str, now: datetime) -> None: ...

    def unmark(self, question_key: str) -> bool: ...

    def all(self) -> dict[str, GapMark]: ...


class IndexRunRepository(Protocol):
    """Index runs, newest first: the console's index page."""

    def record(
        self,
        *,
        at: datetime,
        generation: int | None,
        counts: dict[str, int],
        failed: Sequence[tuple[str, str]],
        seconds: float,
    ) -> None: ...

    def recent(self, limit: int = 10) -> list[IndexRun]: ...


class Repositories(Protocol):
    """The repositories of one store (or of one transaction on it)."""

    @property
    def interactions(self) -> InteractionRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def comms(self) -> CommunicationRepository: ...

    @property
    def deliveries(self) -> DeliveryRepository: ...

    @property
    def changes(self) -> ChangeRepository: ...

    @property
    def recipients(self) -> RecipientRepository: ...

    @property
    def threads(self) -> ThreadRepository: ...

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def console(self) -> ConsoleRepository: ...

    @property
    def gap_marks(self) -> GapMarkRepository: ...

    @property
    def index_runs(self) -> IndexRunRepository: ...


class Store(Repositories, Protocol):
    """A state backend: its repositories, transactions over them, and its schema version."""

    @property
    def description(self) -> str:
        """Where the state lives, safe to log (no password)."""
        ...

    def transaction(self) -> AbstractContextManager[Repositories]:
        """All-or-nothing: the repositories bound to one transaction (a write lock on SQLite,
        row locks on PostgreSQL)."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...
