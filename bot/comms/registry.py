"""The communications registry: register, edit, reschedule and cancel; what partners were told.

`Communications` is what the CLI, the chat commands, the dispatcher and the
answerer use. Every change is one SQLite transaction that updates the
communication and its planned deliveries together, so a reader (or the
dispatcher in another process) never sees one without the other.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from sqlite3 import Connection, Row
from typing import TYPE_CHECKING, Any

from bot.comms import model
from bot.comms.indexing import communication_document
from bot.comms.loading import (
    FileRefused,
    Loaded,
    Problem,
    discover,
    load_communication,
    parse_when,
)
from bot.comms.model import Clock, Communication, format_day, format_when
from bot.comms.planning import PlannedNotice, notice_label, plan_notices
from bot.comms.routing import ChannelRef, Routes, load_routes, parse_channel_refs
from bot.comms.store import (
    TELLING_KINDS,
    delivery_id_of,
    delivery_key,
    ensure_schema,
    from_iso,
    iso,
    notice_name,
)
from bot.config import SAMPLES_DIR
from bot.errors import UserError
from bot.models import ButtonReply, Topic
from bot.prompts import message, render

if TYPE_CHECKING:
    from bot.core import PartnerBot

logger = logging.getLogger(__name__)

ACTIVE = ("scheduled", "updated")
TOPIC_KIND = "comms"  # the topic of an "Ask about this" thread: Topic("comms", <id>)


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

    @property
    def id(self) -> str:
        return self.comm.id


@dataclass
class RegisterResult:
    action: str  # added | updated | unchanged | revived
    record: Record
    warnings: tuple[str, ...] = ()
    changes: list[str] = field(default_factory=list)
    planned: list[PlannedNotice] = field(default_factory=list)
    updated_channels: list[ChannelRef] = field(default_factory=list)


@dataclass
class SyncResult:
    folder: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    failed: list[FileRefused] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "cancelled": len(self.cancelled),
            "failed": len(self.failed),
        }


@dataclass(frozen=True)
class PlanRow:
    """One line of a preview: a notice to a channel, when, and where it stands."""

    platform: str
    channel: str
    notice: str
    when: datetime | None
    status: str


@dataclass
class Preview:
    comm: Communication
    status: str
    registered: bool
    rows: list[PlanRow]
    warnings: tuple[str, ...] = ()


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
        telling = [n for n in self.notices if n["kind"] in TELLING_KINDS]
        return telling[0]["posted_at"] if telling else None


@dataclass
class StatusReport:
    record: Record
    channels: list[ChannelStatus]
    not_posted: list[dict[str, Any]]  # stale / failed deliveries, for the admin


def _record(row: Row) -> Record:
    return Record(
        comm=Communication.from_json(row["data"]),
        status=row["status"],
        revision=int(row["revision"]),
        epoch=int(row["epoch"]),
        source=row["source"],
        file_hash=row["file_hash"],
        warnings=tuple(json.loads(row["warnings"] or "[]")),
        registered_at=from_iso(row["registered_at"]),
        updated_at=from_iso(row["updated_at"]),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Communications:
    """Registry of vendor-to-customer communications, kept in the bot's state database."""

    def __init__(
        self,
        bot: PartnerBot,
        *,
        clock: Clock | None = None,
        platforms: Iterable[str] | None = None,
    ) -> None:
        self.bot = bot
        self.settings = bot.settings
        # Known platform names: a routes file naming another is refused.
        self.platforms = tuple(platforms) if platforms is not None else None
        # None: the system clock, looked up on each call (so tests can patch model.utc_now).
        self.clock: Clock | None = clock
        self._schema_ready = False

    # -- configuration ----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock() if self.clock is not None else model.utc_now()

    @property
    def folder(self) -> Path:
        """The communications folder: PARTNERBOT_COMMS_DIR, else the shipped samples."""
        return Path(self.settings.comms_dir or SAMPLES_DIR / "comms")

    @property
    def routes_path(self) -> Path:
        return Path(self.settings.comms_routes or self.folder / "routes.yml")

    @property
    def routes(self) -> Routes:
        return load_routes(self.routes_path, platforms=self.platforms)

    @property
    def lead_days(self) -> tuple[int, ...]:
        return tuple(self.settings.comms_lead_days) or model.DEFAULT_LEAD_DAYS

    @property
    def admin_channels(self) -> list[ChannelRef]:
        return parse_channel_refs(
            self.settings.admin_channels,
            variable="PARTNERBOT_ADMIN_CHANNELS",
            platforms=self.platforms,
        )

    @property
    def db(self) -> Any:
        if not self._schema_ready:
            ensure_schema(self.bot.store)
            self._schema_ready = True
        return self.bot.store

    # -- reading ----------------------------------------------------------------------------------
    def get(self, comm_id: str) -> Record | None:
        rows = self.db.query("SELECT * FROM comms WHERE id = ?", (comm_id,))
        return _record(rows[0]) if rows else None

    def require(self, comm_id: str) -> Record:
        record = self.get(comm_id)
        if record is None:
            raise UserError(message("comms_unknown", id=comm_id))
        return record

    def records(self, *, include_all: bool = False) -> list[Record]:
        """Upcoming ones, plus those sent or cancelled recently (all with include_all)."""
        self.mark_sent()
        rows = self.db.query("SELECT * FROM comms ORDER BY send_at, id")
        records = [_record(r) for r in rows]
        if include_all:
            return records
        cutoff = self.now() - timedelta(days=self.settings.comms_recent_days)
        return [r for r in records if r.status in ACTIVE or r.comm.send_at_utc >= cutoff]

    def indexed_records(self) -> list[Record]:
        """What the knowledge index should hold: not cancelled, upcoming or recently sent."""
        cutoff = self.now() - timedelta(days=self.settings.comms_recent_days)
        return [
            r
            for r in self.records(include_all=True)
            if r.status != "cancelled" and r.comm.send_at_utc >= cutoff
        ]

    def mark_sent(self) -> list[str]:
        """Communications whose send_at has passed become 'sent'; returns their ids."""
        now = iso(self.now())
        due = "SELECT id FROM comms WHERE status IN ('scheduled', 'updated') AND send_at <= ?"
        if not self.db.query(due, (now,)):
            return []  # the usual case: no write lock taken
        with self.db.transaction() as db:
            ids = [r["id"] for r in db.execute(due, (now,))]
            for comm_id in ids:
                db.execute(
                    "UPDATE comms SET status = 'sent', updated_at = ? WHERE id = ?", (now, comm_id)
                )
                self._history(db, comm_id, "sent", "dispatcher", "send_at passed")
        return ids

    # -- registering ------------------------------------------------------------------------------
    def load_file(self, path: Path, *, routes: Routes | None = None) -> Loaded | FileRefused:
        return load_communication(path, routes=routes or self.routes, now=self.now())

    def add_file(self, path: Path, *, who: str = "cli") -> RegisterResult | FileRefused:
        """Register (or update) the communication in one file."""
        if not path.is_file():
            raise UserError(f"{path} does not exist or is not a file")
        data = path.read_bytes()
        loaded = load_communication(path, routes=self.routes, now=self.now(), data=data)
        if isinstance(loaded, FileRefused):
            return loaded
        result = self.register(
            loaded.communication,
            source=str(path.resolve()),
            file_hash=_sha256(data),
            warnings=loaded.warnings,
            who=who,
        )
        self.refresh_index()
        return result

    def sync_folder(self, folder: Path | None = None, *, who: str = "sync") -> SyncResult:
        """Register new and changed files, cancel ones whose file was removed; by content hash."""
        folder = Path(folder or self.folder)
        if not folder.is_dir():
            raise UserError(f"{folder} is not a folder of communications")
        result = SyncResult(folder=folder)
        routes = self.routes
        root = str(folder.resolve())
        by_source = {
            r.source: r
            for r in self.records(include_all=True)
            if r.source and r.source.startswith(root + "/")
        }
        seen_sources: set[str] = set()
        seen_ids: dict[str, str] = {}
        for path in discover(folder, routes_path=self.routes_path):
            rel = path.relative_to(folder).as_posix()
            source = str(path.resolve())
            seen_sources.add(source)
            try:
                data = path.read_bytes()
            except OSError as e:
                result.failed.append(FileRefused(rel, (_problem(f"unreadable: {e.strerror}"),)))
                continue
            file_hash = _sha256(data)
            known = by_source.get(source)
            if known is not None and known.file_hash == file_hash:
                result.unchanged.append(known.id)
                seen_ids[known.id] = rel
                continue
            loaded = load_communication(path, routes=routes, now=self.now(), rel=rel, data=data)
            if isinstance(loaded, FileRefused):
                result.failed.append(loaded)
                continue
            comm = loaded.communication
            if comm.id in seen_ids:
                result.failed.append(
                    FileRefused(
                        rel, (_problem(f"id {comm.id!r} is also used by {seen_ids[comm.id]}"),)
                    )
                )
                continue
            seen_ids[comm.id] = rel
            try:
                registered = self.register(
                    comm, source=source, file_hash=file_hash, warnings=loaded.warnings, who=who
                )
            except UserError as e:
                result.failed.append(FileRefused(rel, (_problem(str(e)),)))
                continue
            result.warnings.extend(loaded.warnings)
            bucket = {
                "added": result.added,
                "revived": result.added,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }[registered.action]
            bucket.append(comm.id)
        for source, record in by_source.items():
            if source not in seen_sources and record.status in ACTIVE:
                self.cancel(record.id, who=f"{who} (file removed)")
                result.cancelled.append(record.id)
        self.refresh_index()
        return result

    def register(
        self,
        comm: Communication,
        *,
        source: str | None = None,
        file_hash: str | None = None,
        warnings: Iterable[str] = (),
        who: str = "cli",
    ) -> RegisterResult:
        """Add a communication, or apply a new version of one (an "Updated" notice follows)."""
        now = self.now()
        routes = self.routes
        channels = routes.channels_for(comm)
        warnings = tuple(warnings)
        stamp = iso(now)
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM comms WHERE id = ?", (comm.id,)).fetchone()
            previous = _record(row) if row is not None else None
            if (
                previous is not None
                and (previous.status == "sent" or previous.comm.send_at_utc <= now)
                and previous.status != "cancelled"
            ):
                raise UserError(
                    message(
                        "comms_already_sent",
                        title=previous.comm.title,
                        send_day=format_day(previous.comm.send_at),
                    )
                )
            if (
                previous is not None
                and previous.status != "cancelled"
                and previous.comm.content_hash == comm.content_hash
            ):
                db.execute(
                    "UPDATE comms SET source = ?, file_hash = ? WHERE id = ?",
                    (source or previous.source, file_hash or previous.file_hash, comm.id),
                )
                return RegisterResult("unchanged", previous, warnings)

            changes: list[str] = []
            told: set[ChannelRef] = set()
            if previous is None:
                action, revision, epoch, status = "added", 1, 1, "scheduled"
            elif previous.status == "cancelled":
                action, status = "revived", "scheduled"
                revision = epoch = previous.revision + 1
            else:
                action, status = "updated", "updated"
                revision, epoch = previous.revision + 1, previous.epoch
                told = self._told(db, comm.id, epoch)
                changes = comm.changed_fields(previous.comm)
                self._supersede(db, comm.id, f"superseded by revision {revision}")
            if previous is not None and previous.status == "cancelled":
                self._supersede(db, comm.id, "registered again")

            values = (
                comm.title,
                comm.to_json(),
                comm.content_hash,
                iso(comm.send_at),
                status,
                revision,
                epoch,
                source,
                file_hash,
                json.dumps(list(warnings)),
                stamp,
            )
            if previous is None:
                db.execute(
                    "INSERT INTO comms(title, data, content_hash, send_at, status, revision, "
                    "epoch, source, file_hash, warnings, updated_at, id, registered_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, comm.id, stamp),
                )
            else:
                db.execute(
                    "UPDATE comms SET title = ?, data = ?, content_hash = ?, send_at = ?, "
                    "status = ?, revision = ?, epoch = ?, source = ?, file_hash = ?, "
                    "warnings = ?, updated_at = ? WHERE id = ?",
                    (*values, comm.id),
                )
            updated_channels = sorted(told)
            for ref in updated_channels:
                self._plan(
                    db,
                    comm.id,
                    revision,
                    "updated",
                    None,
                    ref,
                    now,
                    detail={
                        "changes": changes,
                        "previous_send_at": iso(previous.comm.send_at) if previous else None,
                    },
                )
            planned = plan_notices(
                send_at=comm.send_at_utc,
                channels=channels,
                lead_days=comm.effective_lead_days(self.lead_days),
                now=now,
                told=told,
                ack_reminder_days=self.settings.comms_ack_reminder_days,
            )
            for notice in planned:
                self._plan(
                    db, comm.id, revision, notice.kind, notice.lead_days, notice.ref, notice.due_at
                )
            detail = f"revision {revision}: send_at {comm.send_at.isoformat()}"
            if changes:
                detail += f"; changed: {', '.join(changes)}"
            self._history(db, comm.id, action, who, detail)
            if not comm.points_to_partner and (
                previous is None or previous.comm.points_to_partner or action == "revived"
            ):
                self.alert_admins(
                    db,
                    comm,
                    revision,
                    "no-partner",
                    render(
                        "comms_alert_no_partner",
                        title=comm.title,
                        id=comm.id,
                        pointed_to=comm.customer_pointed_to or "no contact is named",
                    ),
                )
            row = db.execute("SELECT * FROM comms WHERE id = ?", (comm.id,)).fetchone()
        logger.info("communication %s %s (revision %d) by %s", comm.id, action, revision, who)
        return RegisterResult(action, _record(row), warnings, changes, planned, updated_channels)

    def reschedule(self, comm_id: str, when: str | datetime, *, who: str = "cli") -> RegisterResult:
        """Move the send date: channels already told get an "Updated" notice, then new reminders."""
        record = self.require(comm_id)
        self._require_active(record)
        send_at = parse_when(when) if isinstance(when, str) else when
        if isinstance(send_at, str):
            raise UserError(send_at)
        if send_at.tzinfo is None:
            raise UserError(f"{send_at.isoformat()} has no UTC offset")
        if send_at <= self.now():
            raise UserError(message("comms_past_when", when=format_when(send_at)))
        result = self.register(
            record.comm.rescheduled(send_at),
            source=record.source,
            file_hash=record.file_hash,
            warnings=record.warnings,
            who=who,
        )
        self.refresh_index()
        return result

    def cancel(self, comm_id: str, *, who: str = "cli") -> tuple[Record, list[ChannelRef]]:
        """Cancel: channels already told get a "Cancelled" notice; nothing else is posted."""
        now = self.now()
        with self.db.transaction() as db:
            row = db.execute("SELECT * FROM comms WHERE id = ?", (comm_id,)).fetchone()
            if row is None:
                raise UserError(message("comms_unknown", id=comm_id))
            record = _record(row)
            self._require_active(record)
            told = sorted(self._told(db, comm_id, record.epoch))
            self._supersede(db, comm_id, "cancelled")
            db.execute(
                "UPDATE comms SET status = 'cancelled', updated_at = ? WHERE id = ?",
                (iso(now), comm_id),
            )
            for ref in told:
                self._plan(db, comm_id, record.revision, "cancelled", None, ref, now)
            self._history(db, comm_id, "cancelled", who, f"{len(told)} channel(s) to tell")
        logger.info("communication %s cancelled by %s", comm_id, who)
        self.refresh_index()
        return self.require(comm_id), told

    def _require_active(self, record: Record) -> None:
        if record.status == "sent" or (
            record.status in ACTIVE and record.comm.send_at_utc <= self.now()
        ):
            raise UserError(
                message(
                    "comms_already_sent",
                    title=record.comm.title,
                    send_day=format_day(record.comm.send_at),
                )
            )
        if record.status not in ACTIVE:
            raise UserError(
                message("comms_cannot_cancel", title=record.comm.title, status=record.status)
            )

    # -- deliveries -------------------------------------------------------------------------------
    def _plan(
        self,
        db: Connection,
        comm_id: str,
        revision: int,
        kind: str,
        lead_days: int | None,
        ref: ChannelRef,
        due_at: datetime,
        *,
        what: str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        key = delivery_key(
            comm_id, revision, notice_name(kind, lead_days, what), ref.platform, ref.channel
        )
        db.execute(
            "INSERT OR IGNORE INTO comm_deliveries(key, comm_id, revision, platform, channel, "
            "kind, lead_days, due_at, status, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?)",
            (
                key,
                comm_id,
                revision,
                ref.platform,
                ref.channel,
                kind,
                lead_days,
                iso(due_at),
                json.dumps(detail or {}),
                iso(self.now()),
            ),
        )

    def _supersede(self, db: Connection, comm_id: str, note: str) -> None:
        db.execute(
            "UPDATE comm_deliveries SET status = 'superseded', note = ? "
            "WHERE comm_id = ? AND status = 'planned' AND kind != 'alert'",
            (note, comm_id),
        )

    def _told(self, db: Connection, comm_id: str, epoch: int) -> set[ChannelRef]:
        """Channels that were (or may have been: a claim in flight) told in this life."""
        kinds = ",".join("?" * len(TELLING_KINDS))
        rows = db.execute(
            f"SELECT DISTINCT platform, channel FROM comm_deliveries WHERE comm_id = ? "
            f"AND revision >= ? AND kind IN ({kinds}) AND (status IN ('posted', 'claimed') "
            "OR (status = 'planned' AND attempts > 0))",
            (comm_id, epoch, *TELLING_KINDS),
        )
        return {ChannelRef(r["platform"], r["channel"]) for r in rows}

    def alert_admins(
        self, db: Connection, comm: Communication, revision: int, what: str, text: str
    ) -> None:
        """Log, and post to the admin channels (PARTNERBOT_ADMIN_CHANNELS) once per key."""
        logger.warning("admin alert (%s): %s", comm.id, text)
        for ref in self.admin_channels:
            self._plan(
                db,
                comm.id,
                revision,
                "alert",
                None,
                ref,
                self.now(),
                what=what,
                detail={"text": text},
            )

    def _history(self, db: Connection, comm_id: str, action: str, who: str, detail: str) -> None:
        db.execute(
            "INSERT INTO comm_history(comm_id, at, action, who, detail) VALUES (?, ?, ?, ?, ?)",
            (comm_id, iso(self.now()), action, who, detail),
        )

    def history(self, comm_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT at, action, who, detail FROM comm_history WHERE comm_id = ? ORDER BY id",
            (comm_id,),
        )
        return [dict(r) for r in rows]

    def deliveries(self, comm_id: str) -> list[Row]:
        return list(
            self.db.query(
                "SELECT * FROM comm_deliveries WHERE comm_id = ? ORDER BY due_at, id", (comm_id,)
            )
        )

    # -- preview and status -----------------------------------------------------------------------
    def preview(self, comm_id: str) -> Preview:
        """Which channels get which notice when (dry run for a file not yet registered)."""
        self.mark_sent()
        record = self.get(comm_id)
        if record is None:
            return self._dry_run(comm_id)
        rows: list[PlanRow] = []
        covered: set[ChannelRef] = set()
        for d in self.deliveries(comm_id):
            if d["kind"] == "alert" or d["revision"] < record.epoch:
                continue
            if d["status"] == "superseded":
                continue
            ref = ChannelRef(d["platform"], d["channel"])
            covered.add(ref)
            when = from_iso(d["posted_at"] or d["due_at"])
            status = d["status"]
            if status == "posted" and d["late"]:
                status = "posted (late)"
            rows.append(
                PlanRow(
                    ref.platform, ref.channel, notice_label(d["kind"], d["lead_days"]), when, status
                )
            )
        for ref in self.routes.channels_for(record.comm):
            if ref not in covered:
                rows.append(PlanRow(ref.platform, ref.channel, "—", None, "no notice due"))
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or record.comm.send_at_utc))
        return Preview(record.comm, record.status, True, rows, record.warnings)

    def _dry_run(self, comm_id: str) -> Preview:
        routes = self.routes
        folder = self.folder
        if folder.is_dir():
            for path in discover(folder, routes_path=self.routes_path):
                loaded = load_communication(
                    path, routes=routes, now=self.now(), rel=path.relative_to(folder).as_posix()
                )
                if isinstance(loaded, FileRefused):
                    if path.stem == comm_id or comm_id in path.read_text(errors="replace"):
                        raise UserError(f"{loaded} — fix the file, then preview again")
                    continue
                if loaded.communication.id == comm_id:
                    return self.preview_communication(loaded.communication, loaded.warnings)
        raise UserError(message("comms_unknown", id=comm_id))

    def preview_communication(self, comm: Communication, warnings: tuple[str, ...] = ()) -> Preview:
        """The plan a communication would get if registered now (nothing is stored)."""
        routes = self.routes
        planned = plan_notices(
            send_at=comm.send_at_utc,
            channels=routes.channels_for(comm),
            lead_days=comm.effective_lead_days(self.lead_days),
            now=self.now(),
            ack_reminder_days=self.settings.comms_ack_reminder_days,
        )
        rows = [
            PlanRow(p.ref.platform, p.ref.channel, p.label, p.due_at, "would be planned")
            for p in planned
        ]
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or comm.send_at_utc))
        return Preview(comm, "not registered", False, rows, warnings)

    def status(self, comm_id: str) -> StatusReport:
        """Per channel: what was posted when (late?), who acknowledged, what comes next."""
        self.mark_sent()
        record = self.require(comm_id)
        channels: dict[ChannelRef, ChannelStatus] = {}
        not_posted: list[dict[str, Any]] = []
        for ref in self.routes.channels_for(record.comm) if record.status in ACTIVE else []:
            channels[ref] = ChannelStatus(ref.platform, ref.channel)
        for d in self.deliveries(comm_id):
            if d["kind"] == "alert" or d["revision"] < record.epoch:
                continue
            ref = ChannelRef(d["platform"], d["channel"])
            entry = channels.setdefault(ref, ChannelStatus(ref.platform, ref.channel))
            label = notice_label(d["kind"], d["lead_days"])
            if d["status"] == "posted":
                entry.notices.append(
                    {
                        "kind": d["kind"],
                        "notice": label,
                        "posted_at": from_iso(d["posted_at"]),
                        "late": bool(d["late"]),
                        "message_id": d["message_id"],
                    }
                )
            elif d["status"] in ("planned", "claimed"):
                due = from_iso(d["due_at"])
                if entry.next_at is None or due < entry.next_at:
                    entry.next_notice, entry.next_at = label, due
            elif d["status"] in ("stale", "failed"):
                not_posted.append(
                    {
                        "platform": ref.platform,
                        "channel": ref.channel,
                        "notice": label,
                        "status": d["status"],
                        "note": d["note"] or "",
                    }
                )
        for ack in self.db.query(
            "SELECT platform, channel, user, at FROM comm_acks WHERE comm_id = ? ORDER BY at",
            (comm_id,),
        ):
            ref = ChannelRef(ack["platform"], ack["channel"])
            entry = channels.setdefault(ref, ChannelStatus(ref.platform, ref.channel))
            entry.acks.append({"user": ack["user"], "at": ack["at"]})
        ordered = [channels[k] for k in sorted(channels)]
        return StatusReport(record, ordered, not_posted)

    # -- buttons ----------------------------------------------------------------------------------
    def handle_button(
        self, *, kind: str, value: str, user: str, channel: str, platform: str
    ) -> ButtonReply:
        """Acknowledge (recorded per user and channel) or Ask about this: a thread on the
        notice whose topic is the communication."""
        delivery_id = delivery_id_of(value)
        if delivery_id is not None:
            rows = self.db.query("SELECT * FROM comm_deliveries WHERE id = ?", (delivery_id,))
        else:
            rows = self.db.query("SELECT * FROM comm_deliveries WHERE key = ?", (value,))
        record = self.get(rows[0]["comm_id"]) if rows else None
        if not rows or record is None:
            return ButtonReply(message("comms_button_unknown"))
        delivery = rows[0]
        comm = record.comm
        if kind == "acknowledge":
            with self.db.transaction() as db:
                cur = db.execute(
                    "INSERT OR IGNORE INTO comm_acks(comm_id, platform, channel, user, at, "
                    "delivery_key) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        comm.id,
                        delivery["platform"],
                        delivery["channel"],
                        user,
                        iso(self.now()),
                        delivery["key"],
                    ),
                )
            logger.info(
                "acknowledged %s by %s in %s:%s (clicked in %s:%s)",
                comm.id,
                user,
                delivery["platform"],
                delivery["channel"],
                platform,
                channel,
            )
            key = "comms_ack_thanks" if cur.rowcount == 1 else "comms_ack_again"
            return ButtonReply(message(key, title=comm.title, send_day=format_day(comm.send_at)))
        if kind == "ask":
            intro = message(
                "comms_ask_intro",
                title=comm.title,
                send_day=format_day(comm.send_at),
                ref=comm.doc_path,
            )
            return ButtonReply(intro, open_thread=True, topic=Topic(TOPIC_KIND, comm.id))
        raise UserError(f"unknown notice button {kind!r}")

    # -- knowledge index --------------------------------------------------------------------------
    def refresh_index(self) -> None:
        """Index upcoming and recent communications (source "comms"); drop the others."""
        try:
            docs = [communication_document(r.comm, r.status) for r in self.indexed_records()]
            report = self.bot.index.sync_documents(docs, source="comms")
        except Exception:
            logger.exception("indexing communications failed; questions may miss them")
            return
        if report.added or report.updated or report.removed:
            logger.info("communications index: %s", report.counts())


def _problem(reason: str) -> Problem:
    return Problem(1, reason)
