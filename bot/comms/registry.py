"""The communications registry: register, edit, reschedule and cancel; read what is registered.

`Communications` is what the CLI, the chat commands and the dispatcher use. It is given
narrow parts: the state store, its settings, a clock, and a callable into the knowledge
side (index documents). Every change is one store transaction that updates the
communication and its planned deliveries (outbox rows, bot/comms/planner.py) together, so
a reader (or the dispatcher in another process) never sees one without the other. Reads
never write: a communication whose send date has passed reads as sent before the
dispatcher records it (`mark_sent`). The admin's reports are `reports`
(bot/comms/reports.py); buttons and answers are the feature's (bot/comms/feature.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bot.comms import model
from bot.comms.indexing import IndexDocuments, IndexedCommunications
from bot.comms.keys import FEATURE
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
from bot.comms.partner_notices import PartnerNotices
from bot.comms.planner import Heard, NoticePlanner
from bot.comms.planning import PlannedNotice
from bot.comms.recipients import RecipientList, source_hash
from bot.comms.reports import ACTIVE, Reports
from bot.comms.routing import ChannelRef, Routes, load_routes, parse_channel_refs
from bot.comms.settings import CommsSettings
from bot.errors import UserError
from bot.partners import PartnersFile
from bot.prompts import message
from bot.store import Delivery, Repositories, Store, StoredCommunication
from bot.watched import WatchedFile

logger = logging.getLogger(__name__)

TOPIC_KIND = "comms"  # the topic of an "Ask about this" thread: Topic("comms", <id>)


@dataclass
class RegisterResult:
    action: str  # added | updated | unchanged | revived
    record: Record
    warnings: tuple[str, ...] = ()
    changes: list[str] = field(default_factory=list)
    planned: list[PlannedNotice] = field(default_factory=list)
    updated_channels: list[ChannelRef] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "id": self.record.id,
            "revision": self.record.revision,
            "warnings": list(self.warnings),
        }


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

    def as_json(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "folder": str(self.folder),
            "ids": {
                "added": self.added,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "cancelled": self.cancelled,
            },
            "failures": [
                {"path": f.path, "line": p.line, "reason": p.reason}
                for f in self.failed
                for p in f.problems
            ],
            "warnings": self.warnings,
        }


def _record(stored: StoredCommunication, now: datetime) -> Record:
    """A stored communication as read: past its send date it is sent, recorded or not."""
    comm = Communication.from_json(stored.data)
    status = stored.status
    if status in ACTIVE and comm.send_at_utc <= now:
        status = "sent"
    return Record(
        comm=comm,
        status=status,
        revision=stored.revision,
        epoch=stored.epoch,
        source=stored.source,
        file_hash=stored.file_hash,
        warnings=stored.warnings,
        registered_at=stored.registered_at,
        updated_at=stored.updated_at,
        edited_by=stored.edited_by,
    )


class Communications:
    """Registry of vendor-to-customer communications, kept in the bot's state store."""

    def __init__(
        self,
        *,
        store: Store,
        settings: CommsSettings,
        index_documents: IndexDocuments | None = None,
        clock: Clock | None = None,
        platforms: Iterable[str] | None = None,
        partners: PartnersFile | None = None,
    ) -> None:
        self._store = store
        self.settings = settings
        # Known platform names: a routes file or setting naming another is refused.
        self.platforms = tuple(platforms) if platforms is not None else None
        # None: the system clock, looked up on each call (so tests can patch model.utc_now).
        self.clock: Clock | None = clock
        # Read when it changes (bot/watched.py): a broken one raises for every reader.
        self.routes_file = WatchedFile(
            settings.routes_path, partial(load_routes, platforms=self.platforms)
        )
        # Who is who (bot/partners.py); its tiers, regions and competencies are checked
        # against the routes file's tags when there is one.
        self.partners = partners or PartnersFile(
            settings.partners_path,
            platforms=self.platforms,
            vocabulary=self._vocabulary,
            depends_on=(self.routes_file,),
        )
        self.partner_notices = PartnerNotices(
            store=store,
            partners=self.partners,
            settings=settings,
            now=self.now,
            platforms=self.platforms,
        )
        self.planner = NoticePlanner(
            settings=settings,
            partner_notices=self.partner_notices,
            admin_channels=lambda: self.admin_channels,
            now=self.now,
        )
        self.reports = Reports(registry=self, comms=store.comms)
        self.indexed = IndexedCommunications(
            index_documents=index_documents, records=self.indexed_records
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
        """The routes file (PARTNERBOT_COMMS_ROUTES), read again only when it changed."""
        return self.routes_file.get()

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

    # -- reading (never writes) -------------------------------------------------------------------
    def get(self, comm_id: str) -> Record | None:
        stored = self._store.comms.get(comm_id)
        return _record(stored, self.now()) if stored else None

    def require(self, comm_id: str) -> Record:
        record = self.get(comm_id)
        if record is None:
            raise UserError(message("comms_unknown", id=comm_id))
        return record

    def records(self, *, include_all: bool = False) -> list[Record]:
        """Upcoming ones, plus those sent or cancelled recently (all with include_all)."""
        now = self.now()
        records = [_record(r, now) for r in self._store.comms.all()]
        if include_all:
            return records
        cutoff = now - timedelta(days=self.settings.recent_days)
        return [r for r in records if r.status in ACTIVE or r.comm.send_at_utc >= cutoff]

    def indexed_records(self) -> list[Record]:
        """What the knowledge index should hold: not cancelled, upcoming or recently sent."""
        cutoff = self.now() - timedelta(days=self.settings.recent_days)
        return [
            r
            for r in self.records(include_all=True)
            if r.status != "cancelled" and r.comm.send_at_utc >= cutoff
        ]

    def history(self, comm_id: str) -> list[dict[str, Any]]:
        return [h.as_json() for h in self._store.comms.history(comm_id)]

    def deliveries(self, comm_id: str) -> list[Delivery]:
        """Every notice planned for a communication, in due order."""
        return self._store.deliveries.for_subject(FEATURE, comm_id)

    # -- recording what happened ------------------------------------------------------------------
    def mark_sent(self) -> list[str]:
        """Record as 'sent' the communications whose send_at has passed; returns their ids."""
        now = self.now()
        if not self._store.comms.due_to_send(now):
            return []  # the usual case: no write lock taken
        with self._store.transaction() as tx:
            ids = tx.comms.due_to_send(now)
            for comm_id in ids:
                tx.comms.set_status(comm_id, "sent", at=now)
                self._history(tx, comm_id, "sent", "dispatcher", "send_at passed")
        return ids

    def refresh_index(self) -> None:
        """Index upcoming and recent communications (source "comms"); drop the others."""
        self.indexed.refresh()

    def refresh_partner_notices(self) -> int:
        """After the partners file changed: tell the partners it now knows (see PartnerNotices)."""
        planned = 0
        for record in self.records():
            if record.status in ACTIVE and record.comm.recipients_file:
                planned += self.partner_notices.refresh(record.comm, record.revision, record.epoch)
        return planned

    # -- registering ------------------------------------------------------------------------------
    def load_file(self, path: Path, *, routes: Routes | None = None) -> Loaded | FileRefused:
        return load_communication(path, routes=routes or self.routes, now=self.now())

    def add_file(
        self, path: Path, *, who: str = "cli", over_console: bool = False
    ) -> RegisterResult | FileRefused:
        """Register (or update) the communication in one file. A communication changed in the
        console since its file was read is not overwritten by the file (refused, saying so)
        unless `over_console`."""
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
            and (not holder.from_file or Path(str(holder.source)).is_file())
        ):
            other = holder.source if holder.from_file else message("comms_the_console")
            reason = message("comms_id_taken", id=comm.id, other=other)
            return FileRefused(loaded.path, (_problem(reason),))
        previous = next((r for r in records if r.source == source), None)
        refused = _id_changed(loaded.path, previous, comm.id) or (
            None if over_console else _edited_elsewhere(loaded.path, holder, comm)
        )
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
        every = self.records(include_all=True)
        by_source = {r.source: r for r in every if r.source and r.source.startswith(root + "/")}
        by_id = {r.id: r for r in every}
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
            made_elsewhere = by_id.get(f.id)
            if (
                made_elsewhere is not None
                and made_elsewhere.status in ACTIVE
                and not made_elsewhere.from_file
            ):
                reason = message("comms_id_taken", id=f.id, other=message("comms_the_console"))
                result.failed.append(FileRefused(f.rel, (_problem(reason),)))
                continue
            refused = _id_changed(f.rel, by_source.get(f.source), f.id) or _edited_elsewhere(
                f.rel, by_source.get(f.source), f.loaded.communication
            )
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
            if record.status in ACTIVE and record.edited_by:
                # Changed in the console since: the console's version stays (say so).
                result.warnings.append(
                    message("comms_file_removed_kept", id=record.id, who=record.edited_by)
                )
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
        expect: str | None = None,
        outside_file: bool = False,
    ) -> RegisterResult:
        """Add a communication, or apply a new version of one (an "Updated" notice follows).
        `recipients`: its recipient list (None: keep the stored one, if the communication
        still names one); each affected partner is told privately. `expect`: the version
        (`Record.version`) the change was based on — another one is refused, never
        overwritten (EditConflict). `outside_file`: a change made in the console or through
        the API, which a file the communication came from no longer matches."""
        now = self.now()
        routes = self.routes
        channels = routes.channels_for(comm)
        warnings = tuple(warnings)
        with self._store.transaction() as tx:
            row = tx.comms.get(comm.id, for_update=True)
            previous = _record(row, now) if row is not None else None
            check_version(tx, comm.id, previous, expect)
            if previous is not None and previous.from_file:
                if outside_file:
                    tx.comms.set_edited_by(comm.id, who)
                elif source == previous.source:
                    tx.comms.set_edited_by(comm.id, None)  # the file now says what it holds
            if previous is not None and previous.status == "sent":
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
            heard = Heard()
            if previous is None:
                action, revision, epoch, status = "added", 1, 1, "scheduled"
            elif previous.status == "cancelled":
                action, status = "revived", "scheduled"
                revision = epoch = previous.revision + 1
                self.planner.supersede(tx, comm.id, "registered again")
            else:
                action, status = "updated", "updated"
                revision, epoch = previous.revision + 1, previous.epoch
                heard = self.planner.heard(tx, comm.id, epoch)
                changes = comm.changed_fields(previous.comm)
                self.planner.supersede(tx, comm.id, f"superseded by revision {revision}")

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
            if recipients is not None:
                tx.recipients.replace(comm.id, recipients.recipients)
            elif comm.recipients_digest is None:
                tx.recipients.delete(comm.id)
            planned = self.planner.plan_revision(
                tx,
                comm,
                revision,
                channels=channels,
                heard=heard,
                changes=changes,
                previous=previous,
                action=action,
            )
            detail = f"revision {revision}: send_at {comm.send_at.isoformat()}"
            if changes:
                detail += f"; changed: {', '.join(changes)}"
            self._history(tx, comm.id, action, who, detail)
        logger.info("communication %s %s (revision %d) by %s", comm.id, action, revision, who)
        return RegisterResult(
            action,
            _record(stored, now),
            warnings,
            changes,
            planned.notices,
            planned.updated_channels,
        )

    def reschedule(
        self,
        comm_id: str,
        when: str | datetime,
        *,
        who: str = "cli",
        expect: str | None = None,
        outside_file: bool = False,
    ) -> RegisterResult:
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
            expect=expect or record.version,
            outside_file=outside_file,
        )
        self.refresh_index()
        return result

    def cancel(
        self,
        comm_id: str,
        *,
        who: str = "cli",
        expect: str | None = None,
        outside_file: bool = False,
    ) -> tuple[Record, list[ChannelRef]]:
        """Cancel: channels already told get a "Cancelled" notice; nothing else is posted."""
        now = self.now()
        with self._store.transaction() as tx:
            row = tx.comms.get(comm_id, for_update=True)
            if row is None:
                raise UserError(message("comms_unknown", id=comm_id))
            record = _record(row, now)
            check_version(tx, comm_id, record, expect)
            self._require_active(record)
            if outside_file and record.from_file:
                tx.comms.set_edited_by(comm_id, who)
            heard = self.planner.heard(tx, comm_id, record.epoch)
            tx.comms.set_status(comm_id, "cancelled", at=now)
            told, partners = self.planner.plan_cancelled(tx, comm_id, record.revision, heard)
            detail = f"{len(told)} channel(s) and {partners} partner place(s) or contact(s) to tell"
            self._history(tx, comm_id, "cancelled", who, detail)
        logger.info("communication %s cancelled by %s", comm_id, who)
        self.refresh_index()
        return self.require(comm_id), told

    def _require_active(self, record: Record) -> None:
        if record.status == "sent":
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

    def _history(self, tx: Repositories, comm_id: str, action: str, who: str, detail: str) -> None:
        tx.comms.add_history(comm_id, at=self.now(), action=action, who=who, detail=detail)


def _problem(reason: str) -> Problem:
    return Problem(1, reason)


class EditConflict(UserError):
    """A change based on a version of a communication that has changed since: refused."""


def check_version(
    tx: Repositories, comm_id: str, current: Record | None, expect: str | None
) -> None:
    """Refuse a change based on another version than the stored one, saying who changed it
    last and when (the store's row lock makes this hold across replicas)."""
    if expect is None:
        return
    if current is None:
        if expect == "new":
            return
        raise EditConflict(message("comms_unknown", id=comm_id))
    if current.version != expect:
        last = tx.comms.history(comm_id)[-1:] or None
        raise EditConflict(
            message(
                "comms_edit_conflict",
                title=current.comm.title,
                who=last[0].who if last else "someone",
                at=last[0].at if last else current.updated_at.isoformat(timespec="seconds"),
                action=last[0].action if last else "changed",
            )
        )


def _edited_elsewhere(rel: str, record: Record | None, comm: Communication) -> FileRefused | None:
    """The file of a communication changed in the console (or API) since it was read says
    something else: refused, so neither silently overwrites the other."""
    if record is None or not record.edited_by or record.status not in ACTIVE:
        return None
    if record.comm.content_hash == comm.content_hash:
        return None  # the file now says what the console says: it is the file's again
    reason = message("comms_file_conflict", id=record.id, who=record.edited_by)
    return FileRefused(rel, (_problem(reason),))


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
