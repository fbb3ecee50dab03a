"""What goes into the store and comes out of it: plain typed dataclasses, no database types.

Times of communications and deliveries are timezone-aware datetimes (stored as UTC
ISO 8601 text in every backend, which sorts as it compares); interaction, feedback
and change times are the ISO strings they always were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from knowledge.changes import ChangeKind, EditedSection, SentenceEdit


# -- interactions, feedback, knowledge gaps ----------------------------------------------------
@dataclass(frozen=True)
class Interaction:
    """One question and the answer it got (what 👍/👎 refer to)."""

    id: int
    at: str
    platform: str
    asker: str
    place: str
    question: str
    answer: str
    abstained: bool
    confidence: float
    sources: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Feedback:
    """A rating of one answer by one user (a second click replaces the first)."""

    id: int
    at: str
    interaction_id: int
    platform: str
    user: str
    rating: int  # +1 / -1
    question: str
    answer: str
    sources: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class GapLine:
    """A question asked `count` times (case and spacing ignored) that went unanswered or 👎."""

    question: str
    count: int
    last: str
    answer: str | None = None


@dataclass(frozen=True)
class GapReport:
    abstentions: tuple[GapLine, ...]
    downvoted: tuple[GapLine, ...]

    def as_json(self) -> dict[str, Any]:
        """The shape of `partnerbot report --json`."""
        return {
            "abstentions": [
                {"question": g.question, "n": g.count, "last": g.last} for g in self.abstentions
            ],
            "downvoted": [
                {"question": g.question, "answer": g.answer, "n": g.count, "last": g.last}
                for g in self.downvoted
            ],
            "totals": {
                "abstentions": sum(g.count for g in self.abstentions),
                "downvoted": sum(g.count for g in self.downvoted),
            },
        }


# -- communications ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredCommunication:
    """A registered communication as stored: its data (JSON) and where it is in its life."""

    id: str
    title: str
    data: str  # the Communication as JSON (bot/comms/model.py reads it)
    content_hash: str
    send_at: datetime
    status: str  # scheduled | updated | sent | cancelled
    revision: int
    epoch: int  # the revision this life began at
    source: str | None
    file_hash: str | None
    warnings: tuple[str, ...]
    registered_at: datetime
    updated_at: datetime
    # A file's communication changed in the console or through the API since: by whom.
    edited_by: str | None = None


@dataclass(frozen=True)
class CommCounts:
    """A communication's reach at a glance (the console's list)."""

    channels_told: int = 0
    channels_acknowledged: int = 0
    partners_affected: int = 0
    partners_told: int = 0
    partners_acknowledged: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    action: str
    who: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"at": self.at, "action": self.action, "who": self.who, "detail": self.detail}


@dataclass(frozen=True)
class Ack:
    """Someone acknowledged a communication for one partner channel."""

    comm_id: str
    platform: str
    channel: str
    user: str
    at: str
    delivery_key: str


@dataclass(frozen=True)
class PartnerAck:
    """Someone acknowledged a communication for one partner (on its private notice)."""

    comm_id: str
    partner_id: str
    platform: str
    user: str
    at: str
    delivery_key: str


@dataclass(frozen=True)
class Recipient:
    """A customer who receives a communication, and its partner of record ('' when none)."""

    customer_id: str
    customer_name: str
    partner_id: str


# -- the outbox --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewDelivery:
    """A message to plan: one thing (`subject`) told to one channel, under a unique key."""

    key: str
    feature: str  # comms | changes
    subject: str  # communication id, digest publication
    kind: str
    platform: str
    channel: str
    due_at: datetime
    revision: int = 0
    lead_days: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """A planned message and where it stands (see bot/delivery.py for the lifecycle)."""

    id: int
    key: str
    feature: str
    subject: str
    revision: int
    kind: str
    lead_days: int | None
    platform: str
    channel: str
    due_at: datetime
    status: str  # planned | claimed | posted | superseded | skipped | stale | failed
    not_before: datetime | None
    claimed_by: str | None
    claimed_until: datetime | None
    attempts: int
    message_id: str | None
    posted_at: datetime | None
    late: bool
    reconciled: bool
    detail: dict[str, Any]
    note: str | None
    created_at: datetime


# -- program changes ---------------------------------------------------------------------------
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
    audience: str = ""  # who may be told of it (knowledge/audience.py joint_key; "" everyone)

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


def json_tuple(text: str | None) -> tuple[Any, ...]:
    """A stored JSON list as a tuple ('[]' when empty)."""
    return tuple(json.loads(text or "[]"))


# -- the vendor's console ----------------------------------------------------------------------
ROLES: tuple[str, ...] = ("viewer", "editor", "admin")  # each may do what the ones before may


@dataclass(frozen=True)
class ConsoleUser:
    """Someone who may sign in to the console, and what they may do there."""

    email: str
    name: str
    role: str  # viewer | editor | admin
    password_hash: str | None  # None: signs in with the identity provider only
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ConsoleSession:
    email: str
    via: str  # password | oidc
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ApiToken:
    """A bearer token for one integration (a marketing tool); only its hash is stored."""

    id: int
    name: str
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IdempotentCall:
    """What an API call with an idempotency key answered (status 0: still being handled)."""

    request_hash: str
    status: int
    response: str


@dataclass(frozen=True)
class AuditEntry:
    """One change made in the console or through the API: who, when, what, before → after."""

    id: int
    at: datetime
    who: str
    action: str
    subject: str
    before: str  # JSON, '' when there was nothing before
    after: str


@dataclass(frozen=True)
class GapMark:
    """A knowledge gap (a question) marked as answered by a document."""

    question_key: str
    doc_path: str
    marked_by: str
    marked_at: datetime


@dataclass(frozen=True)
class IndexRun:
    """One index run: when, the generation it made live, its counts and failed files."""

    id: int
    at: datetime
    generation: int | None
    counts: dict[str, int]
    failed: tuple[tuple[str, str], ...]  # (path, reason)
    seconds: float


@dataclass(frozen=True)
class AskedQuestion:
    """A question that went unanswered or was rated 👎, with who read the reply (audience
    facts by dimension: partners, tiers, …) and the documents closest to it."""

    interaction_id: int
    at: str
    platform: str
    question: str
    abstained: bool
    downvoted: bool
    audience: dict[str, tuple[str, ...]]
    sources: tuple[dict[str, Any], ...]
