"""The communications registry: register, edit, reschedule and cancel; what partners were told.

`Communications` is what the CLI, the chat commands, the dispatcher and the
answerer use. It is given narrow parts: the state store, its settings, a clock,
and two callables into the knowledge side (index documents, answer a question).
Every change is one store transaction that updates the communication and its
planned deliveries (outbox rows) together, so a reader (or the dispatcher in
another process) never sees one without the other.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.comms import model
from bot.comms.indexing import communication_document
from bot.comms.keys import (
    FEATURE,
    PARTNER_FEATURE,
    TELLING_KINDS,
    delivery_id_of,
    delivery_key,
    first_told,
    notice_name,
)
from bot.comms.loading import (
    FileRefused,
    Loaded,
    Problem,
    discover,
    load_communication,
    parse_when,
    read_comm_file,
)
from bot.comms.model import Clock, Communication, Record, format_day, format_when
from bot.comms.partner_notices import (
    PartnerNotices,
    PartnerPlanRow,
    PartnerStatus,
    RecipientSummary,
    Told,
)
from bot.comms.planning import PlannedNotice, notice_label, plan_notices
from bot.comms.recipients import RecipientList, source_hash, split
from bot.comms.routing import ChannelRef, Routes, load_routes, parse_channel_refs
from bot.comms.settings import CommsSettings
from bot.errors import ConfigError, UserError
from bot.models import ButtonReply, Topic
from bot.partners import PartnersFile, file_version
from bot.prompts import message, render
from bot.store import (
    Ack,
    Delivery,
    NewDelivery,
    PartnerAck,
    Repositories,
    Store,
    StoredCommunication,
)

if TYPE_CHECKING:
    from bot.models import Answer, Question
    from knowledge.documents import Document
    from knowledge.index import SyncReport

# The knowledge side, as the feature needs it: keep these documents indexed (source
# "comms"); answer a question from the documents.
IndexDocuments = Callable[[list["Document"]], "SyncReport"]
AnswerQuestion = Callable[["Question"], "Answer"]

logger = logging.getLogger(__name__)

ACTIVE = ("scheduled", "updated")
TOPIC_KIND = "comms"  # the topic of an "Ask about this" thread: Topic("comms", <id>)


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
    partner_rows: list[PartnerPlanRow] = field(default_factory=list)  # private notices
    recipients: RecipientSummary | None = None


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


@dataclass
class StatusReport:
    record: Record
    channels: list[ChannelStatus]
    not_posted: list[dict[str, Any]]  # stale / failed deliveries, for the admin
    partners: list[PartnerStatus] = field(default_factory=list)  # private notices
    recipients: RecipientSummary | None = None


def _record(stored: StoredCommunication) -> Record:
    return Record(
        comm=Communication.from_json(stored.data),
        status=stored.status,
        revision=stored.revision,
        epoch=stored.epoch,
        source=stored.source,
        file_hash=stored.file_hash,
        warnings=stored.warnings,
        registered_at=stored.registered_at,
        updated_at=stored.updated_at,
    )


# (platform, channel, partner id) → why that place is not the partner's alone, or None.
SharedPlace = Callable[[str, str, str], str | None]


class Communications:
    """Registry of vendor-to-customer communications, kept in the bot's state store."""

    def __init__(
        self,
        *,
        store: Store,
        settings: CommsSettings,
        index_documents: IndexDocuments | None = None,
        answer_documents: AnswerQuestion | None = None,
        clock: Clock | None = None,
        platforms: Iterable[str] | None = None,
        partners: PartnersFile | None = None,
        shared_place: SharedPlace | None = None,
        reserved: Callable[[], Mapping[ChannelRef, str]] | None = None,
    ) -> None:
        self.store = store
        # Why a partner's place is not private to it right now (someone else reads it), or
        # None: asked right before each private notice is posted there (bot/chat/audiences.py).
        self.shared_place: SharedPlace = shared_place or (lambda platform, channel, partner: None)
        self.settings = settings
        # Known platform names: a routes file or setting naming another is refused.
        self.platforms = tuple(platforms) if platforms is not None else None
        self._index_documents = index_documents
        self.answer_documents = answer_documents
        # None: the system clock, looked up on each call (so tests can patch model.utc_now).
        self.clock: Clock | None = clock
        # Who is who (bot/partners.py); its tiers, regions and competencies are checked
        # against the routes file's tags when there is one.
        # A partner's place may not be a channel others read (bot/partners.py): `reserved`,
        # those channels, by default this registry's route and admin channels.
        self.reserved = reserved or self.channels_in_use
        self.partners = partners or PartnersFile(
            settings.partners_path,
            platforms=self.platforms,
            vocabulary=self._vocabulary,
            reserved=lambda: self.reserved(),
            depends=lambda: file_version(self.routes_path),
        )
        self.partner_notices = PartnerNotices(
            store=store,
            partners=self.partners,
            settings=settings,
            now=self.now,
            platforms=self.platforms,
        )

    # -- configuration ----------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock() if self.clock is not None else model.utc_now()

    @property
    def folder(self) -> Path:
        """The communications folder: PARTNERBOT_COMMS_DIR, else the shipped samples."""
        return self.settings.folder

    @property
    def routes_path(self) -> Path:
        return self.settings.routes_path

    @property
    def routes(self) -> Routes:
        return load_routes(self.routes_path, platforms=self.platforms)

    def channels_in_use(self) -> dict[ChannelRef, str]:
        """Channels others read: each route's channels and the admin channels, with what each
        is (a partner's place may be none of them)."""
        found: dict[ChannelRef, str] = {}
        with contextlib.suppress(ConfigError):  # (reported where the routes are read)
            for route in self.routes.routes:
                for ref in route.channels:
                    found.setdefault(ref, f"a channel of route {route.name!r} in the routes file")
        with contextlib.suppress(ConfigError):
            for ref in self.admin_channels:
                found.setdefault(ref, "an admin channel (PARTNERBOT_ADMIN_CHANNELS)")
        return found

    def _vocabulary(self) -> dict[str, frozenset[str]] | None:
        routes = self.routes
        return {d: t for d, t in routes.known_tags.items() if t} if routes.exists else None

    @property
    def lead_days(self) -> tuple[int, ...]:
        return self.settings.lead_days

    @property
    def admin_channels(self) -> list[ChannelRef]:
        return parse_channel_refs(
            self.settings.admin_channels,
            variable="PARTNERBOT_ADMIN_CHANNELS",
            platforms=self.platforms,
        )

    # -- reading ----------------------------------------------------------------------------------
    def get(self, comm_id: str) -> Record | None:
        stored = self.store.comms.get(comm_id)
        return _record(stored) if stored else None

    def require(self, comm_id: str) -> Record:
        record = self.get(comm_id)
        if record is None:
            raise UserError(message("comms_unknown", id=comm_id))
        return record

    def records(self, *, include_all: bool = False) -> list[Record]:
        """Upcoming ones, plus those sent or cancelled recently (all with include_all)."""
        self.mark_sent()
        records = [_record(r) for r in self.store.comms.all()]
        if include_all:
            return records
        cutoff = self.now() - timedelta(days=self.settings.recent_days)
        return [r for r in records if r.status in ACTIVE or r.comm.send_at_utc >= cutoff]

    def indexed_records(self) -> list[Record]:
        """What the knowledge index should hold: not cancelled, upcoming or recently sent."""
        cutoff = self.now() - timedelta(days=self.settings.recent_days)
        return [
            r
            for r in self.records(include_all=True)
            if r.status != "cancelled" and r.comm.send_at_utc >= cutoff
        ]

    def mark_sent(self) -> list[str]:
        """Communications whose send_at has passed become 'sent'; returns their ids."""
        now = self.now()
        if not self.store.comms.due_to_send(now):
            return []  # the usual case: no write lock taken
        with self.store.transaction() as tx:
            ids = tx.comms.due_to_send(now)
            for comm_id in ids:
                tx.comms.set_status(comm_id, "sent", at=now)
                self._history(tx, comm_id, "sent", "dispatcher", "send_at passed")
        return ids

    # -- registering ------------------------------------------------------------------------------
    def load_file(self, path: Path, *, routes: Routes | None = None) -> Loaded | FileRefused:
        return load_communication(path, routes=routes or self.routes, now=self.now())

    def add_file(self, path: Path, *, who: str = "cli") -> RegisterResult | FileRefused:
        """Register (or update) the communication in one file."""
        if not path.is_file():
            raise UserError(f"{path} does not exist or is not a file")
        data = read_comm_file(path, path.name)
        if isinstance(data, FileRefused):
            return data
        loaded = load_communication(path, routes=self.routes, now=self.now(), data=data)
        if isinstance(loaded, FileRefused):
            return loaded
        source = str(path.resolve())
        comm = loaded.communication
        records = self.records(include_all=True)
        holder = next((r for r in records if r.id == comm.id), None)
        if (
            holder is not None
            and holder.status in ACTIVE
            and holder.source not in (None, source)
            and Path(str(holder.source)).is_file()
        ):
            reason = message("comms_id_taken", id=comm.id, other=holder.source)
            return FileRefused(loaded.path, (_problem(reason),))
        previous = next((r for r in records if r.source == source), None)
        refused = _id_changed(loaded.path, previous, comm.id)
        if refused is not None:
            return refused
        result = self.register(
            comm,
            source=source,
            file_hash=source_hash(path, data, comm.recipients_file),
            warnings=loaded.warnings,
            who=who,
            recipients=loaded.recipients,
        )
        self.refresh_index()
        return result

    def sync_folder(self, folder: Path | None = None, *, who: str = "sync") -> SyncResult:
        """Register new and changed files, cancel ones whose file was removed; by content hash.

        Two files with one id are both refused and the registered communication is left as
        it was (a new file cannot take over a registered id); a file whose id changed while
        its communication is still scheduled is refused (see `_id_changed`).
        """
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
        # 1. Every file's id: from the registry when the file is unchanged, else parsed.
        found: list[_Found] = []
        for path in discover(folder, routes_path=self.routes_path):
            if isinstance(path, FileRefused):
                result.failed.append(path)
                continue
            rel = path.relative_to(folder).as_posix()
            source = str(path.resolve())
            data = read_comm_file(path, rel)
            if isinstance(data, FileRefused):
                result.failed.append(data)
                continue
            known = by_source.get(source)
            # (with the recipient list the file names, so an edit of that list is a change)
            file_hash = source_hash(path, data, known.comm.recipients_file if known else None)
            if known is not None and known.file_hash == file_hash:
                found.append(_Found(rel, source, file_hash, known.id, None))
                continue
            loaded = load_communication(path, routes=routes, now=self.now(), rel=rel, data=data)
            if isinstance(loaded, FileRefused):
                result.failed.append(loaded)
                continue
            file_hash = source_hash(path, data, loaded.communication.recipients_file)
            found.append(_Found(rel, source, file_hash, loaded.communication.id, loaded))
        files_by_id: dict[str, list[str]] = {}
        for f in found:
            files_by_id.setdefault(f.id, []).append(f.rel)
        # 2. Register; an id in several files: all of them refused, the registry untouched.
        for f in found:
            others = [rel for rel in files_by_id[f.id] if rel != f.rel]
            if others:
                reason = message("comms_duplicate_id", id=f.id, others=", ".join(others))
                result.failed.append(FileRefused(f.rel, (_problem(reason),)))
                continue
            if f.loaded is None:
                result.unchanged.append(f.id)
                continue
            refused = _id_changed(f.rel, by_source.get(f.source), f.id)
            if refused is not None:
                result.failed.append(refused)
                continue
            try:
                registered = self.register(
                    f.loaded.communication,
                    source=f.source,
                    file_hash=f.file_hash,
                    warnings=f.loaded.warnings,
                    who=who,
                    recipients=f.loaded.recipients,
                )
            except UserError as e:
                result.failed.append(FileRefused(f.rel, (_problem(str(e)),)))
                continue
            result.warnings.extend(f.loaded.warnings)
            bucket = {
                "added": result.added,
                "revived": result.added,
                "updated": result.updated,
                "unchanged": result.unchanged,
            }[registered.action]
            bucket.append(f.id)
        # 3. A removed file cancels its communication, unless its id is still in the folder
        # (the file was renamed, or another file with that id was refused above).
        seen_sources = {f.source for f in found} | {
            str((folder / r.path).resolve()) for r in result.failed
        }
        for source, record in by_source.items():
            if source in seen_sources or record.id in files_by_id:
                continue
            if record.status in ACTIVE:
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
        recipients: RecipientList | None = None,
    ) -> RegisterResult:
        """Add a communication, or apply a new version of one (an "Updated" notice follows).
        `recipients`: its recipient list (None: keep the stored one, if the communication
        still names one); each affected partner is told privately."""
        now = self.now()
        routes = self.routes
        channels = routes.channels_for(comm)
        warnings = tuple(warnings)
        with self.store.transaction() as tx:
            row = tx.comms.get(comm.id, for_update=True)
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
                tx.comms.set_source(
                    comm.id,
                    source=source or previous.source,
                    file_hash=file_hash or previous.file_hash,
                )
                return RegisterResult("unchanged", previous, warnings)

            changes: list[str] = []
            told: set[ChannelRef] = set()
            partners_told: dict[ChannelRef, Told] = {}
            if previous is None:
                action, revision, epoch, status = "added", 1, 1, "scheduled"
            elif previous.status == "cancelled":
                action, status = "revived", "scheduled"
                revision = epoch = previous.revision + 1
            else:
                action, status = "updated", "updated"
                revision, epoch = previous.revision + 1, previous.epoch
                told = self._told(tx, comm.id, epoch)
                partners_told = self.partner_notices.told(tx, comm.id, epoch)
                changes = comm.changed_fields(previous.comm)
                self._supersede(tx, comm.id, f"superseded by revision {revision}")
            if previous is not None and previous.status == "cancelled":
                self._supersede(tx, comm.id, "registered again")

            stored = StoredCommunication(
                id=comm.id,
                title=comm.title,
                data=comm.to_json(),
                content_hash=comm.content_hash,
                send_at=comm.send_at,
                status=status,
                revision=revision,
                epoch=epoch,
                source=source,
                file_hash=file_hash,
                warnings=warnings,
                registered_at=previous.registered_at if previous else now,
                updated_at=now,
            )
            if previous is None:
                tx.comms.insert(stored)
            else:
                tx.comms.update(stored)
            # Channels never see the recipient list: a change of it alone is no news to them
            # (each partner it concerns is told privately below).
            channel_changes = [c for c in changes if c != "recipient list"]
            updated_channels = sorted(told) if channel_changes else []
            previous_send_at = (
                previous.comm.send_at_utc.isoformat(timespec="seconds") if previous else None
            )
            for ref in updated_channels:
                self._plan(
                    tx,
                    comm.id,
                    revision,
                    "updated",
                    None,
                    ref,
                    now,
                    detail={"changes": channel_changes, "previous_send_at": previous_send_at},
                )
            planned = plan_notices(
                send_at=comm.send_at_utc,
                channels=channels,
                lead_days=comm.effective_lead_days(self.lead_days),
                now=now,
                told=told,
                ack_reminder_days=self.settings.ack_reminder_days,
            )
            for notice in planned:
                self._plan(
                    tx, comm.id, revision, notice.kind, notice.lead_days, notice.ref, notice.due_at
                )
            if recipients is not None:
                tx.recipients.replace(comm.id, recipients.recipients)
            elif comm.recipients_digest is None:
                tx.recipients.delete(comm.id)
            self.partner_notices.plan(
                tx,
                comm,
                revision,
                told=partners_told,
                changes=changes,
                previous_send_at=previous_send_at,
            )
            detail = f"revision {revision}: send_at {comm.send_at.isoformat()}"
            if changes:
                detail += f"; changed: {', '.join(changes)}"
            self._history(tx, comm.id, action, who, detail)
            if not comm.points_to_partner and (
                previous is None or previous.comm.points_to_partner or action == "revived"
            ):
                self.alert_admins(
                    tx,
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
        logger.info("communication %s %s (revision %d) by %s", comm.id, action, revision, who)
        return RegisterResult(action, _record(stored), warnings, changes, planned, updated_channels)

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
        with self.store.transaction() as tx:
            row = tx.comms.get(comm_id, for_update=True)
            if row is None:
                raise UserError(message("comms_unknown", id=comm_id))
            record = _record(row)
            self._require_active(record)
            told = sorted(self._told(tx, comm_id, record.epoch))
            partners_told = self.partner_notices.told(tx, comm_id, record.epoch)
            self._supersede(tx, comm_id, "cancelled")
            tx.comms.set_status(comm_id, "cancelled", at=now)
            for ref in told:
                self._plan(tx, comm_id, record.revision, "cancelled", None, ref, now)
            partners = self.partner_notices.plan_cancelled(
                tx, comm_id, record.revision, partners_told
            )
            detail = f"{len(told)} channel(s) and {partners} partner place(s) or contact(s) to tell"
            self._history(tx, comm_id, "cancelled", who, detail)
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

    # -- deliveries (outbox rows) ------------------------------------------------------------------
    def _plan(
        self,
        tx: Repositories,
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
        tx.deliveries.plan(
            NewDelivery(
                key=key,
                feature=FEATURE,
                subject=comm_id,
                kind=kind,
                platform=ref.platform,
                channel=ref.channel,
                due_at=due_at,
                revision=revision,
                lead_days=lead_days,
                detail=detail or {},
            ),
            now=self.now(),
        )

    def _supersede(self, tx: Repositories, comm_id: str, note: str) -> None:
        for feature in (FEATURE, PARTNER_FEATURE):
            tx.deliveries.supersede_planned(feature, comm_id, note=note)

    def _told(self, tx: Repositories, comm_id: str, epoch: int) -> set[ChannelRef]:
        """Channels that were (or may have been: a claim in flight) told in this life."""
        told = tx.deliveries.told_channels(
            FEATURE, comm_id, min_revision=epoch, kinds=TELLING_KINDS
        )
        return {ChannelRef(platform, channel) for platform, channel in told}

    def alert_admins(
        self, tx: Repositories, comm: Communication, revision: int, what: str, text: str
    ) -> None:
        """Log, and post to the admin channels (PARTNERBOT_ADMIN_CHANNELS) once per key."""
        logger.warning("admin alert (%s): %s", comm.id, text)
        for ref in self.admin_channels:
            self._plan(
                tx,
                comm.id,
                revision,
                "alert",
                None,
                ref,
                self.now(),
                what=what,
                detail={"text": text},
            )

    def _history(self, tx: Repositories, comm_id: str, action: str, who: str, detail: str) -> None:
        tx.comms.add_history(comm_id, at=self.now(), action=action, who=who, detail=detail)

    def history(self, comm_id: str) -> list[dict[str, Any]]:
        return [h.as_json() for h in self.store.comms.history(comm_id)]

    def deliveries(self, comm_id: str) -> list[Delivery]:
        """Every notice planned for a communication, in due order."""
        return self.store.deliveries.for_subject(FEATURE, comm_id)

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
            if d.kind == "alert" or d.revision < record.epoch:
                continue
            if d.status == "superseded":
                continue
            ref = ChannelRef(d.platform, d.channel)
            covered.add(ref)
            when = d.posted_at or d.due_at
            status = d.status
            if status == "posted" and d.late:
                status = "posted (late)"
            rows.append(
                PlanRow(ref.platform, ref.channel, notice_label(d.kind, d.lead_days), when, status)
            )
        for ref in self.routes.channels_for(record.comm):
            if ref not in covered:
                rows.append(PlanRow(ref.platform, ref.channel, "—", None, "no notice due"))
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or record.comm.send_at_utc))
        partners = self.partner_notices
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
        routes = self.routes
        folder = self.folder
        if folder.is_dir():
            for path in discover(folder, routes_path=self.routes_path):
                if isinstance(path, FileRefused):
                    continue
                rel = path.relative_to(folder).as_posix()
                data = read_comm_file(path, rel)
                if isinstance(data, FileRefused):
                    continue
                loaded = load_communication(path, routes=routes, now=self.now(), rel=rel, data=data)
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
        routes = self.routes
        planned = plan_notices(
            send_at=comm.send_at_utc,
            channels=routes.channels_for(comm),
            lead_days=comm.effective_lead_days(self.lead_days),
            now=self.now(),
            ack_reminder_days=self.settings.ack_reminder_days,
        )
        rows = [
            PlanRow(p.ref.platform, p.ref.channel, p.label, p.due_at, "would be planned")
            for p in planned
        ]
        rows.sort(key=lambda r: (r.platform, r.channel, r.when or comm.send_at_utc))
        counts = recipients.counts() if recipients else {}
        summary = None
        if recipients is not None:
            keep_until = self.partner_notices.keep_until(comm)
            summary = RecipientSummary(
                recipients.source, split(counts, self.partner_notices.partners), False, keep_until
            )
        partner_rows = self.partner_notices.dry_run_rows(comm, counts)
        return Preview(comm, "not registered", False, rows, warnings, partner_rows, summary)

    def status(self, comm_id: str) -> StatusReport:
        """Per channel: what was posted when (late?), who acknowledged, what comes next."""
        self.mark_sent()
        record = self.require(comm_id)
        channels: dict[ChannelRef, ChannelStatus] = {}
        not_posted: list[dict[str, Any]] = []
        for ref in self.routes.channels_for(record.comm) if record.status in ACTIVE else []:
            channels[ref] = ChannelStatus(ref.platform, ref.channel)
        for d in self.deliveries(comm_id):
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
        for ack in self.store.comms.acks(comm_id):
            ref = ChannelRef(ack.platform, ack.channel)
            entry = channels.setdefault(ref, ChannelStatus(ref.platform, ref.channel))
            entry.acks.append({"user": ack.user, "at": ack.at})
        ordered = [channels[k] for k in sorted(channels)]
        partners = self.partner_notices
        return StatusReport(
            record,
            ordered,
            not_posted,
            partners.status(record.comm, record.epoch),
            partners.summary(record.comm),
        )

    # -- buttons ----------------------------------------------------------------------------------
    def handle_button(
        self, *, kind: str, value: str, user: str, channel: str, platform: str
    ) -> ButtonReply:
        """Acknowledge (recorded per user and channel) or Ask about this: a thread on the
        notice whose topic is the communication."""
        delivery_id = delivery_id_of(value)
        if delivery_id is not None:
            delivery = self.store.deliveries.get(delivery_id)
        else:
            delivery = self.store.deliveries.by_key(value)
        mine = delivery is not None and delivery.feature in (FEATURE, PARTNER_FEATURE)
        record = self.get(delivery.subject) if delivery and mine else None
        if delivery is None or record is None:
            return ButtonReply(message("comms_button_unknown"))
        comm = record.comm
        if kind == "acknowledge" and delivery.feature == PARTNER_FEATURE:
            return self._partner_ack(comm, delivery, user=user, platform=platform)
        if kind == "acknowledge":
            first = self.store.comms.add_ack(
                Ack(
                    comm_id=comm.id,
                    platform=delivery.platform,
                    channel=delivery.channel,
                    user=user,
                    at=self.now().astimezone(UTC).isoformat(timespec="seconds"),
                    delivery_key=delivery.key,
                )
            )
            logger.info(
                "acknowledged %s by %s in %s:%s (clicked in %s:%s)",
                comm.id,
                user,
                delivery.platform,
                delivery.channel,
                platform,
                channel,
            )
            key = "comms_ack_thanks" if first else "comms_ack_again"
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

    def _partner_ack(
        self, comm: Communication, delivery: Delivery, *, user: str, platform: str
    ) -> ButtonReply:
        """Acknowledged for the partner the private notice was for (whoever of it clicks)."""
        partner_id = str(delivery.detail.get("partner", ""))
        first = self.store.comms.add_partner_ack(
            PartnerAck(
                comm_id=comm.id,
                partner_id=partner_id,
                platform=platform,
                user=user,
                at=self.now().astimezone(UTC).isoformat(timespec="seconds"),
                delivery_key=delivery.key,
            )
        )
        logger.info("acknowledged %s for partner %s by %s:%s", comm.id, partner_id, platform, user)
        partner = self.partner_notices.partners.get(partner_id)
        key = "comms_partner_ack_thanks" if first else "comms_ack_again"
        text = message(
            key,
            title=comm.title,
            send_day=format_day(comm.send_at),
            partner=partner.name if partner else partner_id,
        )
        return ButtonReply(text)

    def refresh_partner_notices(self) -> int:
        """After the partners file changed: tell the partners it now knows (see PartnerNotices)."""
        planned = 0
        for record in self.records():
            if record.status in ACTIVE and record.comm.recipients_file:
                planned += self.partner_notices.refresh(record.comm, record.revision, record.epoch)
        return planned

    # -- knowledge index --------------------------------------------------------------------------
    def refresh_index(self) -> None:
        """Index upcoming and recent communications (source "comms"); drop the others."""
        if self._index_documents is None:
            return
        try:
            docs = [communication_document(r.comm, r.status) for r in self.indexed_records()]
            report = self._index_documents(docs)
        except Exception:
            logger.exception("indexing communications failed; questions may miss them")
            return
        if report.added or report.updated or report.removed:
            logger.info("communications index: %s", report.counts())

    def answer(self, question: Question) -> Answer | None:
        """Answers only this part can give well (see bot/comms/qa.py); None otherwise."""
        from bot.comms.qa import answer_question

        try:
            return answer_question(self, question)
        except Exception:
            logger.exception("answering from communications failed; using the documents")
            return None


def _problem(reason: str) -> Problem:
    return Problem(1, reason)


@dataclass(frozen=True)
class _Found:
    """A communication file in a synced folder, and the id it holds."""

    rel: str
    source: str
    file_hash: str
    id: str
    loaded: Loaded | None  # None: unchanged since it was registered


def _id_changed(rel: str, previous: Record | None, new_id: str) -> FileRefused | None:
    """A file registered as one communication now names another id. Refused while the old one
    is still scheduled: cancelling it silently (or announcing both) is worse than asking."""
    if previous is None or previous.id == new_id or previous.status not in ACTIVE:
        return None
    reason = message("comms_id_changed", old=previous.id, new=new_id)
    return FileRefused(rel, (_problem(reason),))
