"""The dispatcher: posts due notices to partner channels, each exactly once.

Each tick (every PARTNERBOT_COMMS_POLL_SECONDS inside `partnerbot serve`):

1. triage, in one transaction: a due notice whose communication's send_at has
   passed becomes *stale* (admins are alerted instead of partners getting stale
   news); of several overdue notices for one channel only the one that matters
   is kept (the first notice, else the latest reminder); an acknowledgement
   reminder to a channel that already acknowledged is skipped;
2. claim, in the same transaction: due deliveries (and claims whose lease ran
   out: their owner died) become `claimed` by this process, with a lease;
3. post each claimed delivery through the platform's poster, then record the
   platform message id. A delivery that may already have been posted (an earlier
   attempt crashed or failed after the platform accepted it) is first looked up
   on the platform by its delivery key (`poster.find`) and recorded, not reposted.

A notice posted more than `late_after` after its lead time is marked late.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from sqlite3 import Connection, Row
from typing import TYPE_CHECKING, Any

from bot.comms.model import Communication, format_day, format_when
from bot.comms.notices import render_notice
from bot.comms.planning import notice_label
from bot.comms.store import TELLING_KINDS, button_value, from_iso, iso
from bot.platform import ChannelPoster
from bot.prompts import render

if TYPE_CHECKING:
    from bot.comms.registry import Communications

logger = logging.getLogger(__name__)

Posters = Mapping[str, ChannelPoster]
# Kinds that are news about an upcoming send: pointless (stale) once send_at has passed.
STALE_KINDS = ("first", "reminder", "updated", "ack_reminder")


@dataclass
class TickReport:
    posted: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting_for_platform: list[str] = field(default_factory=list)


class Dispatcher:
    """Posts due deliveries; safe to run in several processes against one database."""

    def __init__(
        self,
        *,
        comms: Communications,
        posters: Posters | Callable[[], Posters],
        lease: timedelta = timedelta(minutes=2),
        late_after: timedelta = timedelta(minutes=15),
        max_attempts: int = 6,
        sync_folder: bool = False,
        owner: str | None = None,
    ) -> None:
        self.comms = comms
        self._posters = posters
        self.lease = lease
        self.late_after = late_after
        self.max_attempts = max_attempts
        self.sync_folder = sync_folder
        self.owner = owner or f"dispatcher-{uuid.uuid4().hex[:8]}"
        self._reported: set[str] = set()

    @property
    def posters(self) -> Posters:
        return self._posters() if callable(self._posters) else self._posters

    def run_once(self) -> TickReport:
        """One pass: sync the folder (if configured), triage, claim, post, record."""
        report = TickReport()
        if self.sync_folder:
            try:
                result = self.comms.sync_folder()
                refused = {str(f) for f in result.failed}
                for failure in sorted(refused - self._reported):  # once per problem, not per tick
                    logger.warning("communication file refused: %s", failure)
                self._reported = refused
            except Exception:
                logger.exception("syncing the communications folder failed")
        self.comms.mark_sent()
        posters = self.posters
        claimed = self._triage_and_claim(posters, report)
        for row in claimed:
            self._deliver(row, posters[row["platform"]], report)
        self.comms.refresh_index()
        if any((report.posted, report.reconciled, report.stale, report.failed)):
            logger.info(
                "dispatcher: %d posted (%d late), %d reconciled, %d stale, %d failed",
                len(report.posted),
                len(report.late),
                len(report.reconciled),
                len(report.stale),
                len(report.failed),
            )
        return report

    # -- 1 + 2: triage and claim ------------------------------------------------------------------
    def _due(self, db: Connection, now: str) -> list[Row]:
        return list(
            db.execute(
                "SELECT d.*, c.data AS comm_data, c.status AS comm_status "
                "FROM comm_deliveries d JOIN comms c ON c.id = d.comm_id "
                "WHERE (d.status = 'planned' AND d.due_at <= ? "
                "       AND (d.not_before IS NULL OR d.not_before <= ?)) "
                "   OR (d.status = 'claimed' AND d.claimed_until <= ?) "
                "ORDER BY d.due_at, d.id",
                (now, now, now),
            )
        )

    def _triage_and_claim(self, posters: Posters, report: TickReport) -> list[Row]:
        now_dt = self.comms.now()
        now = iso(now_dt)
        comms: dict[str, Communication] = {}
        with self.comms.db.transaction() as db:
            stale: dict[str, list[Row]] = defaultdict(list)
            groups: dict[tuple[str, int, str, str], list[Row]] = defaultdict(list)
            for row in self._due(db, now):
                if row["status"] != "planned" or row["kind"] not in STALE_KINDS:
                    continue  # reclaims are decided after a lookup; alerts/cancels always go
                comm = comms.setdefault(row["comm_id"], Communication.from_json(row["comm_data"]))
                if row["comm_status"] == "cancelled":
                    self._set(db, row, "superseded", "communication cancelled")
                elif now_dt >= comm.send_at_utc:
                    self._set(db, row, "stale", "send_at passed before it could be posted")
                    stale[row["comm_id"]].append(row)
                    report.stale.append(row["key"])
                elif row["kind"] == "ack_reminder":
                    reason = self._ack_reminder_skip(db, row)
                    if reason:
                        self._set(db, row, "skipped", reason)
                        report.skipped.append(row["key"])
                elif row["kind"] in ("first", "reminder"):
                    key = (row["comm_id"], row["revision"], row["platform"], row["channel"])
                    groups[key].append(row)
            for rows in groups.values():
                if len(rows) < 2:
                    continue
                firsts = [r for r in rows if r["kind"] == "first"]
                keep = firsts[0] if firsts else max(rows, key=lambda r: (r["due_at"], r["id"]))
                for r in rows:
                    if r is not keep:
                        self._set(db, r, "skipped", "overdue; a later notice covers it")
                        report.skipped.append(r["key"])
            for comm_id, rows in stale.items():
                self._alert_stale(db, comms[comm_id], rows)

            claimed: list[Row] = []
            until = iso(now_dt + self.lease)
            for row in self._due(db, now):
                if row["platform"] not in posters:
                    report.waiting_for_platform.append(row["key"])
                    continue
                cur = db.execute(
                    "UPDATE comm_deliveries SET status = 'claimed', claimed_by = ?, "
                    "claimed_until = ?, attempts = attempts + 1 WHERE id = ? AND "
                    "(status = 'planned' OR (status = 'claimed' AND claimed_until <= ?))",
                    (self.owner, until, row["id"], now),
                )
                if cur.rowcount == 1:
                    claimed.append(
                        db.execute(
                            "SELECT d.*, c.data AS comm_data, c.status AS comm_status "
                            "FROM comm_deliveries d JOIN comms c ON c.id = d.comm_id "
                            "WHERE d.id = ?",
                            (row["id"],),
                        ).fetchone()
                    )
        if report.waiting_for_platform:
            logger.debug("no poster yet for %d due notice(s)", len(report.waiting_for_platform))
        return claimed

    def _set(self, db: Connection, row: Row, status: str, note: str) -> None:
        db.execute(
            "UPDATE comm_deliveries SET status = ?, note = ? WHERE id = ?",
            (status, note, row["id"]),
        )

    def _ack_reminder_skip(self, db: Connection, row: Row) -> str | None:
        acked = db.execute(
            "SELECT 1 FROM comm_acks WHERE comm_id = ? AND platform = ? AND channel = ?",
            (row["comm_id"], row["platform"], row["channel"]),
        ).fetchone()
        if acked:
            return "acknowledged already"
        told = db.execute(
            f"SELECT 1 FROM comm_deliveries WHERE comm_id = ? AND platform = ? AND channel = ? "
            f"AND status = 'posted' AND kind IN ({','.join('?' * len(TELLING_KINDS))})",
            (row["comm_id"], row["platform"], row["channel"], *TELLING_KINDS),
        ).fetchone()
        return None if told else "the channel was never told"

    def _alert_stale(self, db: Connection, comm: Communication, rows: Sequence[Row]) -> None:
        missed = [
            f"{notice_label(r['kind'], r['lead_days'])} to {r['platform']} {r['channel']}"
            for r in rows
        ]
        channels = sorted({f"{r['platform']} {r['channel']}" for r in rows})
        text = render(
            "comms_alert_stale",
            title=comm.title,
            id=comm.id,
            send_when=format_when(comm.send_at),
            missed="; ".join(missed),
            channels=", ".join(channels),
        )
        self.comms.alert_admins(db, comm, int(rows[0]["revision"]), "stale", text)

    # -- 3: post and record -----------------------------------------------------------------------
    def _deliver(self, row: Row, poster: ChannelPoster, report: TickReport) -> None:
        key, channel = row["key"], row["channel"]
        comm = Communication.from_json(row["comm_data"])
        now = self.comms.now()
        due = from_iso(row["due_at"])
        late = (
            row["kind"] in ("first", "reminder")
            and row["lead_days"] is not None
            and now - due > self.late_after
        )
        try:
            if row["attempts"] > 1:
                # An earlier attempt may have reached the platform: look before posting.
                existing = poster.find(channel, key)
                if existing:
                    self.record_posted(row, existing, late=late, reconciled=True)
                    report.reconciled.append(key)
                    return
            if row["kind"] in STALE_KINDS and now >= comm.send_at_utc:
                with self.comms.db.transaction() as db:
                    self._set(db, row, "stale", "send_at passed before it could be posted")
                    self._alert_stale(db, comm, [row])
                report.stale.append(key)
                return
            notice = render_notice(
                comm=comm,
                kind=row["kind"],
                key=key,
                now=now,
                lead_days=row["lead_days"],
                due_at=due,
                late=late,
                detail=json.loads(row["detail"] or "{}"),
                first_ref=self._first_ref(row, poster),
                button_value=button_value(int(row["id"])),
            )
            message_id = poster.post(channel, notice)
        except Exception as e:
            self._failed(row, e, report)
            return
        # Not inside the try: if recording fails (or the process dies here) the claim stays,
        # its lease runs out, and the next claim finds the post by its key.
        self.record_posted(row, message_id, late=late, reconciled=False)
        report.posted.append(key)
        if late:
            report.late.append(key)

    def record_posted(self, row: Row, message_id: str, *, late: bool, reconciled: bool) -> None:
        now = iso(self.comms.now())
        cur = self.comms.db.execute(
            "UPDATE comm_deliveries SET status = 'posted', message_id = ?, posted_at = ?, "
            "late = ?, reconciled = ?, claimed_until = NULL, note = NULL "
            "WHERE id = ? AND status = 'claimed' AND claimed_by = ?",
            (str(message_id), now, int(late), int(reconciled), row["id"], self.owner),
        )
        if cur.rowcount != 1:
            logger.warning(
                "delivery %s: lease lost before recording; its next claim reconciles", row["key"]
            )

    def _failed(self, row: Row, error: Exception, report: TickReport) -> None:
        attempts = int(row["attempts"])
        note = f"{type(error).__name__}: {error}"[:500]
        now = self.comms.now()
        if attempts >= self.max_attempts:
            logger.error(
                "delivery %s failed for good after %d attempts: %s", row["key"], attempts, note
            )
            comm = Communication.from_json(row["comm_data"])
            with self.comms.db.transaction() as db:
                db.execute(
                    "UPDATE comm_deliveries SET status = 'failed', note = ?, claimed_until = NULL "
                    "WHERE id = ? AND claimed_by = ?",
                    (note, row["id"], self.owner),
                )
                self.comms.alert_admins(
                    db,
                    comm,
                    int(row["revision"]),
                    f"failed-{row['id']}",
                    render(
                        "comms_alert_failed",
                        title=comm.title,
                        id=comm.id,
                        notice=notice_label(row["kind"], row["lead_days"]),
                        platform=row["platform"],
                        channel=row["channel"],
                        attempts=attempts,
                        error=note,
                    ),
                )
            report.failed.append(row["key"])
            return
        backoff = min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))
        logger.warning("delivery %s failed (attempt %d), retrying: %s", row["key"], attempts, note)
        self.comms.db.execute(
            "UPDATE comm_deliveries SET status = 'planned', note = ?, not_before = ?, "
            "claimed_until = NULL WHERE id = ? AND claimed_by = ?",
            (note, iso(now + backoff), row["id"], self.owner),
        )
        report.retried.append(row["key"])

    def _first_ref(self, row: Row, poster: ChannelPoster) -> str | None:
        """Where the full details are: a link to the first notice in this channel, if any."""
        if row["kind"] not in ("reminder", "ack_reminder"):
            return None
        rows = self.comms.db.query(
            "SELECT message_id, posted_at FROM comm_deliveries WHERE comm_id = ? AND "
            "platform = ? AND channel = ? AND status = 'posted' AND kind IN ('first', 'updated') "
            "ORDER BY posted_at DESC LIMIT 1",
            (row["comm_id"], row["platform"], row["channel"]),
        )
        if not rows:
            return None
        day = format_day(from_iso(rows[0]["posted_at"]))
        permalink = getattr(poster, "permalink", None)
        link: Any = None
        if callable(permalink):
            try:
                link = permalink(row["channel"], rows[0]["message_id"])
            except Exception:
                logger.debug("permalink lookup failed", exc_info=True)
        return f"[the first notice of {day}]({link})" if link else f"the first notice of {day} here"


class DispatcherService:
    """Runs `Dispatcher.run_once` every `interval` seconds inside `partnerbot serve`."""

    name = "comms-dispatcher"

    def __init__(self, *, dispatcher: Dispatcher, interval: float = 30.0) -> None:
        self.dispatcher = dispatcher
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.to_thread(self.dispatcher.run_once)
            except Exception:
                logger.exception("dispatcher tick failed; retrying next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


def build_dispatcher_service(
    comms: Communications, posters: Posters | Callable[[], Posters]
) -> DispatcherService:
    """The dispatcher job of `partnerbot serve`; posters are looked up on each tick."""
    settings = comms.settings
    dispatcher = Dispatcher(
        comms=comms, posters=posters, sync_folder=settings.comms_dir is not None
    )
    return DispatcherService(dispatcher=dispatcher, interval=settings.comms_poll_seconds)
