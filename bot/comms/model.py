"""What a vendor-to-customer communication is, independent of where it came from.

A `Communication` is immutable: a reschedule or an edit makes a new one (and a new
revision in the registry). Its lifecycle status lives in the registry, not here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Status = Literal["scheduled", "updated", "cancelled", "sent"]
Clock = Callable[[], datetime]

# Audience dimensions, in the order they are shown. An empty list means "no restriction".
DIMENSIONS: tuple[str, ...] = ("regions", "segments", "products", "tiers", "competencies")

DEFAULT_LEAD_DAYS: tuple[int, ...] = (14, 3, 1)


def utc_now() -> datetime:
    """The system clock (tests and dry runs inject another)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Audience:
    """Who receives the communication, as tags per dimension."""

    regions: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    competencies: tuple[str, ...] = ()

    def tags(self, dimension: str) -> tuple[str, ...]:
        return tuple(getattr(self, dimension))

    def describe(self) -> str:
        """'smb customers in ANZ, EMEA · products: Northwind Books · partner tiers: …'."""
        who = "customers"
        if self.segments:
            who = f"{', '.join(self.segments)} customers"
        if self.regions:
            who += f" in {', '.join(self.regions)}"
        parts = [who if (self.segments or self.regions) else "all customers"]
        if self.products:
            parts.append(f"products: {', '.join(self.products)}")
        if self.tiers:
            parts.append(f"partner tiers affected: {', '.join(self.tiers)}")
        if self.competencies:
            parts.append(f"competencies: {', '.join(self.competencies)}")
        return " · ".join(parts)


@dataclass(frozen=True)
class FAQItem:
    q: str
    a: str


@dataclass(frozen=True)
class Communication:
    """One vendor-to-customer communication, as registered."""

    id: str
    title: str
    sender: str
    send_at: datetime  # timezone-aware, in the offset the vendor wrote
    audience: Audience = field(default_factory=Audience)
    channel: str = "email"
    aims: str = ""
    customer_summary: str = ""
    full_text: str = ""
    full_text_url: str | None = None
    customer_pointed_to: str = ""
    points_to_partner: bool = False
    talking_points: tuple[str, ...] = ()
    faq: tuple[FAQItem, ...] = ()
    links: tuple[str, ...] = ()
    lead_days: tuple[int, ...] | None = None  # None: the global default
    # The recipient list, if one is given: where from ("x.csv" beside the file, "inline")
    # and its digest. The list itself is kept apart (bot/comms/recipients.py), never here.
    recipients_file: str | None = None
    recipients_digest: str | None = None

    @property
    def send_at_utc(self) -> datetime:
        return self.send_at.astimezone(UTC)

    @property
    def doc_path(self) -> str:
        """Its path in the knowledge index (and the reference shown in notices)."""
        return f"comms/{self.id}"

    def effective_lead_days(self, default: tuple[int, ...]) -> tuple[int, ...]:
        days = self.lead_days if self.lead_days else default
        return tuple(sorted({int(d) for d in days if int(d) > 0}, reverse=True))

    def rescheduled(self, send_at: datetime) -> Communication:
        return replace(self, send_at=send_at)

    # -- persistence ------------------------------------------------------------------------------
    def to_json(self) -> str:
        data = asdict(self)
        data["send_at"] = self.send_at.isoformat()
        return json.dumps(data, sort_keys=True)

    def as_json(self) -> dict[str, Any]:
        """Every field, as JSON values (the send date as ISO 8601 with its offset)."""
        data: dict[str, Any] = json.loads(self.to_json())
        return data

    @classmethod
    def from_json(cls, raw: str) -> Communication:
        data: dict[str, Any] = json.loads(raw)
        return cls(
            id=data["id"],
            title=data["title"],
            sender=data["sender"],
            send_at=datetime.fromisoformat(data["send_at"]),
            audience=Audience(**{k: tuple(v) for k, v in data["audience"].items()}),
            channel=data["channel"],
            aims=data["aims"],
            customer_summary=data["customer_summary"],
            full_text=data["full_text"],
            full_text_url=data["full_text_url"],
            customer_pointed_to=data["customer_pointed_to"],
            points_to_partner=bool(data["points_to_partner"]),
            talking_points=tuple(data["talking_points"]),
            faq=tuple(FAQItem(**f) for f in data["faq"]),
            links=tuple(data["links"]),
            lead_days=tuple(data["lead_days"]) if data["lead_days"] else None,
            recipients_file=data.get("recipients_file"),
            recipients_digest=data.get("recipients_digest"),
        )

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def changed_fields(self, other: Communication) -> list[str]:
        """Human names of the fields that differ from `other` (for "Updated" notices)."""
        names = {
            "title": "title",
            "sender": "sender",
            "send_at": "send date",
            "audience": "audience",
            "channel": "channel",
            "aims": "aims",
            "customer_summary": "what customers are told",
            "full_text": "full text",
            "full_text_url": "full text link",
            "customer_pointed_to": "where customers are pointed",
            "points_to_partner": "where customers are pointed",
            "talking_points": "talking points",
            "faq": "FAQ",
            "links": "links",
            "lead_days": "notice schedule",
            "recipients_file": "recipient list",
            "recipients_digest": "recipient list",
        }
        changed: list[str] = []
        for attr, label in names.items():
            mine, theirs = getattr(self, attr), getattr(other, attr)
            if attr == "send_at":
                mine, theirs = self.send_at_utc, other.send_at_utc
            if mine != theirs and label not in changed:
                changed.append(label)
        return changed


# -- showing dates --------------------------------------------------------------------------------
def _offset(dt: datetime) -> str:
    off = dt.utcoffset() or timedelta(0)
    if not off:
        return "UTC"
    sign = "+" if off >= timedelta(0) else "-"
    minutes = abs(int(off.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_when(dt: datetime, tz_of: datetime | None = None) -> str:
    """'Wed 20 Jan 2027 09:00 UTC+11:00', in the offset of `tz_of` (default: dt's own)."""
    if tz_of is not None and tz_of.tzinfo is not None:
        dt = dt.astimezone(tz_of.tzinfo)
    return f"{dt:%a %d %b %Y %H:%M} {_offset(dt)}"


def format_day(dt: datetime) -> str:
    """'Wed 20 Jan 2027'."""
    return f"{dt:%a %d %b %Y}"


def in_days(target: datetime, now: datetime) -> str:
    """'in 14 days', 'tomorrow', 'in 5 hours', 'now' — how far `target` is from `now`."""
    delta = target - now
    seconds = delta.total_seconds()
    if seconds <= 0:
        return "now"
    days = seconds / 86400
    if days >= 1.5:
        return f"in {round(days)} days"
    if days >= 0.75:
        return "in 1 day"
    hours = max(1, round(seconds / 3600))
    return f"in {hours} hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class Record:
    """A registered communication and where it is in its life."""

    comm: Communication
    status: str
    revision: int
    epoch: int  # the revision this life began at (a cancelled one can be registered again)
    source: str | None
    file_hash: str | None
    warnings: tuple[str, ...]
    registered_at: datetime
    updated_at: datetime
    # A file's communication changed in the console or through the API since: by whom.
    edited_by: str | None = None

    @property
    def id(self) -> str:
        return self.comm.id

    @property
    def version(self) -> str:
        """What an edit was based on: any change of content (a new revision) or of status
        (cancelled, sent) gives another version, so a stale edit is refused, never applied."""
        return f"{self.revision}.{self.status}"

    @property
    def from_file(self) -> bool:
        """Registered from a file in the communications folder (not the console or API)."""
        return bool(self.source) and str(self.source).startswith("/")
