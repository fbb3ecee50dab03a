"""What an admin sees of the communications: the list, a preview, a status, the partners file.

Reports only read: the registry, its deliveries and acknowledgements, the routes and the
partners file. A communication whose send date has passed is shown as sent whether or not
the dispatcher has recorded it yet. Each report has its own `as_json()`, the one shape the
command line's `--json` and the vendor's console print.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.comms.keys import first_told, posted_as_json
from bot.comms.loading import FileRefused, discover, load_communication, read_comm_file
from bot.comms.model import Communication, Record
from bot.comms.partner_notices import (
    PartnerNotices,
    PartnerPlanRow,
    PartnerStatus,
    RecipientSummary,
    shown_target,
    targets,
)
from bot.comms.planning import notice_label, plan_notices
from bot.comms.recipients import RecipientList, split
from bot.comms.routing import ChannelRef, Routes
from bot.comms.settings import CommsSettings
from bot.errors import UserError
from bot.partners import Partner, PartnersFile
from bot.prompts import message
from bot.store import CommunicationRepository, Delivery

logger = logging.getLogger(__name__)

ACTIVE = ("scheduled", "updated")


def iso_utc(dt: datetime) -> str:
    """A time as stored and printed in JSON: UTC, seconds."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


@dataclass(frozen=True)
class Listed:
    """One line of the list: a communication, how many channels it reaches, what is next."""

    record: Record
    channels: int
    next_delivery: Delivery | None

    @property
    def next_notice(self) -> str | None:
        d = self.next_delivery
        return notice_label(d.kind, d.lead_days) if d is not None else None

    def as_json(self) -> dict[str, Any]:
        r, nxt = self.record, self.next_delivery
        return {
            "id": r.id,
            "title": r.comm.title,
            "send_at": r.comm.send_at.isoformat(),
            "status": r.status,
            "channels": self.channels,
            "next_notice": iso_utc(nxt.due_at) if nxt else None,
        }


@dataclass(frozen=True)
class PlanRow:
    """One line of a preview: a notice to a channel, when, and where it stands."""

    platform: str
    channel: str
    notice: str
    when: datetime | None
    status: str

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "channel": self.channel,
            "notice": self.notice,
            "when": _iso(self.when),
            "status": self.status,
        }


@dataclass
class Preview:
    comm: Communication
    status: str
    registered: bool
    rows: list[PlanRow]
    warnings: tuple[str, ...] = ()
    partner_rows: list[PartnerPlanRow] = field(default_factory=list)  # private notices
    recipients: RecipientSummary | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.comm.id,
            "title": self.comm.title,
            "send_at": self.comm.send_at.isoformat(),
            "status": self.status,
            "registered": self.registered,
            "notices": [r.as_json() for r in self.rows],
            "warnings": list(self.warnings),
            "partner_notices": [r.as_json() for r in self.partner_rows],
            "recipients": self.recipients.as_json() if self.recipients else None,
        }


@dataclass
class ChannelStatus:
    platform: str
    channel: str
    notices: list[dict[str, Any]] = field(default_factory=list)  # posted, in order
    acks: list[dict[str, str]] = field(default_factory=list)
    next_notice: str | None = None
    next_at: datetime | None = None

    @property
    def told_at(self) -> datetime | None:
        return first_told(self.notices)

    def as_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "channel": self.channel,
            "told_at": _iso(self.told_at),
            "notices": posted_as_json(self.notices),
            "acknowledged_by": self.acks,
            "next_notice": self.next_notice,
            "next_at": _iso(self.next_at),
        }


@dataclass
class StatusReport:
    record: Record
    channels: list[ChannelStatus]
    not_posted: list[dict[str, Any]]  # stale / failed deliveries, for the admin
    partners: list[PartnerStatus] = field(default_factory=list)  # private notices
    recipients: RecipientSummary | None = None

    def as_json(self) -> dict[str, Any]:
        record = self.record
        return {
            "id": record.id,
            "title": record.comm.title,
            "status": record.status,
            "send_at": record.comm.send_at.isoformat(),
            "revision": record.revision,
            "channels": [c.as_json() for c in self.channels],
            "not_posted": self.not_posted,
            "partners": [p.as_json() for p in self.partners],
            "recipients": self.recipients.as_json() if self.recipients else None,
        }


@dataclass(frozen=True)
class Details:
    """Everything registered about one communication, and its history."""

    record: Record
    history: list[dict[str, Any]]
    lead_days: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        record = self.record
        return {
            **record.comm.as_json(),
            "status": record.status,
            "revision": record.revision,
            "source": record.source,
            "warnings": list(record.warnings),
            "history": self.history,
        }


@dataclass(frozen=True)
class PartnerPlaces:
    """One partner of the partners file and where its private notices go."""

    partner: str
    name: str
    tier: str
    region: str
    competencies: tuple[str, ...]
    told_in: tuple[str, ...]
    contacts: tuple[str, ...]
    teams: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "name": self.name,
            "tier": self.tier,
            "region": self.region,
            "competencies": list(self.competencies),
            "told_in": list(self.told_in),
            "contacts": list(self.contacts),
            "teams": list(self.teams),
        }


@dataclass(frozen=True)
class PartnersReport:
    """The partners file, checked: each partner and where its private notices go."""

    path: Path | None  # None: no partners file
    partners: tuple[PartnerPlaces, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path) if self.path else None,
            "partners": [p.as_json() for p in self.partners],
        }


class Registry(Protocol):
    """What reports read of the registry (bot/comms/registry.py `Communications`)."""

    settings: CommsSettings
    platforms: tuple[str, ...] | None
    partners: PartnersFile
    partner_notices: PartnerNotices

    @property
    def routes(self) -> Routes: ...

    def now(self) -> datetime: ...

    def get(self, comm_id: str) -> Record | None: ...

    def require(self, comm_id: str) -> Record: ...

    def records(self, *, include_all: bool = False) -> list[Record]: ...

    def deliveries(self, comm_id: str) -> list[Delivery]: ...

    def history(self, comm_id: str) -> list[dict[str, Any]]: ...


class Reports:
    """The admin's reports over one registry; nothing here writes."""

    def __init__(self, *, registry: Registry, comms: CommunicationRepository) -> None:
        self.registry = registry
        self._comms = comms  # acknowledgements

    def listing(self, *, include_all: bool = False) -> list[Listed]:
        """Upcoming communications (and recent ones; all with include_all), each with the
        channels it reaches and its next notice."""
        rows: list[Listed] = []
        for r in self.registry.records(include_all=include_all):
            deliveries = [d for d in self.registry.deliveries(r.id) if d.kind != "alert"]
            channels = {(d.platform, d.channel) for d in deliveries}
            pending = [d for d in deliveries if d.status == "planned"]
            rows.append(Listed(r, len(channels), pending[0] if pending else None))
        return rows

    def details(self, comm_id: str) -> Details:
        registry = self.registry
        record = registry.require(comm_id)
        lead_days = record.comm.effective_lead_days(registry.settings.lead_days)
        return Details(record, registry.history(comm_id), lead_days)

    # -- preview ----------------------------------------------------------------------------------
    def preview(self, comm_id: str) -> Preview:
        """Which channels get which notice when (dry run for a file not yet registered)."""
        registry = self.registry
        record = registry.get(comm_id)
        if record is None:
            return self._dry_run(comm_id)
        rows: list[PlanRow] = []
        covered: set[ChannelRef] = set()
        for d in registry.deliveries(comm_id):
            if d.kind == "alert" or d.revision < record.epoch or d.status == "superseded":
                continue
            ref = ChannelRef(d.platform, d.channel)
            covered.add(ref)
            status = "posted (late)" if d.status == "posted" and d.late else d.status
            label = notice_label(d.kind, d.lead_days)
            rows.append(PlanRow(ref.platform, ref.channel, label, d.posted_at or d.due_at, status))
        for ref in registry.routes.channels_for(record.comm):
            if ref not in covered:
                rows.append(PlanRow(ref.platform, ref.channel, "—", None, "no notice due"))
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or record.comm.send_at_utc))
        partners = registry.partner_notices
        return Preview(
            record.comm,
            record.status,
            True,
            rows,
            record.warnings,
            partners.preview_rows(record.comm, record.epoch),
            partners.summary(record.comm),
        )

    def _dry_run(self, comm_id: str) -> Preview:
        registry = self.registry
        routes = registry.routes
        folder = registry.settings.folder
        if folder.is_dir():
            for path in discover(folder, routes_path=registry.settings.routes_path):
                if isinstance(path, FileRefused):
                    continue
                rel = path.relative_to(folder).as_posix()
                data = read_comm_file(path, rel)
                if isinstance(data, FileRefused):
                    continue
                now = registry.now()
                loaded = load_communication(path, routes=routes, now=now, rel=rel, data=data)
                if isinstance(loaded, FileRefused):
                    if path.stem == comm_id or comm_id in path.read_text(errors="replace"):
                        raise UserError(f"{loaded} — fix the file, then preview again")
                    continue
                if loaded.communication.id == comm_id:
                    return self.preview_communication(
                        loaded.communication, loaded.warnings, loaded.recipients
                    )
        raise UserError(message("comms_unknown", id=comm_id))

    def preview_communication(
        self,
        comm: Communication,
        warnings: tuple[str, ...] = (),
        recipients: RecipientList | None = None,
    ) -> Preview:
        """The plan a communication would get if registered now (nothing is stored)."""
        registry = self.registry
        settings = registry.settings
        planned = plan_notices(
            send_at=comm.send_at_utc,
            channels=registry.routes.channels_for(comm),
            lead_days=comm.effective_lead_days(settings.lead_days),
            now=registry.now(),
            ack_reminder_days=settings.ack_reminder_days,
        )
        rows = [
            PlanRow(p.ref.platform, p.ref.channel, p.label, p.due_at, "would be planned")
            for p in planned
        ]
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or comm.send_at_utc))
        partners = registry.partner_notices
        counts = recipients.counts() if recipients else {}
        summary = None
        if recipients is not None:
            keep_until = partners.keep_until(comm)
            summary = RecipientSummary(
                recipients.source, split(counts, partners.partners), False, keep_until
            )
        partner_rows = partners.dry_run_rows(comm, counts)
        return Preview(comm, "not registered", False, rows, warnings, partner_rows, summary)

    # -- status -----------------------------------------------------------------------------------
    def status(self, comm_id: str) -> StatusReport:
        """Per channel: what was posted when (late?), who acknowledged, what comes next."""
        registry = self.registry
        record = registry.require(comm_id)
        channels: dict[ChannelRef, ChannelStatus] = {}
        not_posted: list[dict[str, Any]] = []
        for ref in registry.routes.channels_for(record.comm) if record.status in ACTIVE else []:
            channels[ref] = ChannelStatus(ref.platform, ref.channel)
        for d in registry.deliveries(comm_id):
            if d.kind == "alert" or d.revision < record.epoch:
                continue
            ref = ChannelRef(d.platform, d.channel)
            entry = channels.setdefault(ref, ChannelStatus(ref.platform, ref.channel))
            label = notice_label(d.kind, d.lead_days)
            if d.status == "posted":
                entry.notices.append(
                    {
                        "kind": d.kind,
                        "notice": label,
                        "posted_at": d.posted_at,
                        "late": d.late,
                        "message_id": d.message_id,
                    }
                )
            elif d.status in ("planned", "claimed"):
                if entry.next_at is None or d.due_at < entry.next_at:
                    entry.next_notice, entry.next_at = label, d.due_at
            elif d.status in ("stale", "failed"):
                not_posted.append(
                    {
                        "platform": ref.platform,
                        "channel": ref.channel,
                        "notice": label,
                        "status": d.status,
                        "note": d.note or "",
                    }
                )
        for ack in self._comms.acks(comm_id):
            ref = ChannelRef(ack.platform, ack.channel)
            entry = channels.setdefault(ref, ChannelStatus(ref.platform, ref.channel))
            entry.acks.append({"user": ack.user, "at": ack.at})
        partners = registry.partner_notices
        return StatusReport(
            record,
            [channels[k] for k in sorted(channels)],
            not_posted,
            partners.status(record.comm, record.epoch),
            partners.summary(record.comm),
        )

    # -- the partners file ------------------------------------------------------------------------
    def partners(self) -> PartnersReport:
        """The partners file, checked (a broken file raises with each problem's line)."""
        partners = self.registry.partners.check()
        platforms = self.registry.platforms
        return PartnersReport(partners.path, tuple(_places(p, platforms) for p in partners))


def _places(p: Partner, platforms: Collection[str] | None) -> PartnerPlaces:
    return PartnerPlaces(
        partner=p.id,
        name=p.name,
        tier=p.tier,
        region=p.region,
        competencies=tuple(p.competencies),
        told_in=tuple(shown_target(ref) for ref in targets(p, platforms)),
        contacts=tuple(f"{a.platform}:{a.id}" for a in p.contacts),
        teams=tuple(f"{on.platform}:{t}" for on in p.presence for t in on.teams),
    )
