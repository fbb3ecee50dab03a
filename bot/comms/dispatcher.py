"""The dispatcher: posts due notices to partner channels, each exactly once.

Each tick (every PARTNERBOT_COMMS_POLL_SECONDS inside `partnerbot serve`):

1. triage, in one transaction: a due notice whose communication's send_at has
   passed becomes *stale* (admins are alerted instead of partners getting stale
   news); of several overdue notices for one channel only the one that matters
   is kept (the first notice, else the latest reminder); an acknowledgement
   reminder to a channel that already acknowledged is skipped;
2. then, one delivery at a time, through the outbox (bot/delivery.py): claim it
   with a lease, re-check the claim right before posting, post through the
   platform's poster, record the platform message id. A delivery another
   dispatcher had claimed (its lease ran out) is first looked up on the platform by
   its delivery key and recorded, not reposted.

Claiming one delivery at a time keeps every claim's lease far longer than its one
post, so several dispatchers on one store (threads, processes, replicas) never post
a notice twice however slow the platform is. `stop()` ends a tick between two
deliveries and the service releases what it still holds; a post still in flight after
a short grace (a slow platform) is given up first, and whoever claims that delivery
next looks it up on the platform before posting.

A platform that cannot be reached (no connection, no answer in time) is not claimed
for by this dispatcher until it answers again (asked every RECHECK_SECONDS): the
delivery that found it so is handed back at once, so a replica that reaches the platform
posts it on its next poll, and the others after it on time.

A notice posted more than `late_after` after its lead time is marked late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.comms.keys import FEATURE, PARTNER_FEATURE, TELLING_KINDS, button_value
from bot.comms.model import Communication, format_day, format_when
from bot.comms.notices import render_notice
from bot.comms.partner_notices import DIRECT
from bot.comms.planning import notice_label
from bot.comms.registry import Communications
from bot.delivery import Outbox
from bot.errors import Conflict, Undeliverable
from bot.models import Notice
from bot.posting import ChannelPoster, Unreachable, abandon_calls, platform_answers
from bot.prompts import render
from bot.store import Delivery, Repositories, Store

logger = logging.getLogger(__name__)

Posters = Mapping[str, ChannelPoster]
# Kinds that are news about an upcoming send: pointless (stale) once send_at has passed.
STALE_KINDS = ("first", "reminder", "updated", "ack_reminder")
STALE_NOTE = "send_at passed before it could be posted"
# Partner-channel notices, and the private notices to partners (bot/comms/partner_notices.py).
FEATURES = (FEATURE, PARTNER_FEATURE)
RECHECK_SECONDS = 30.0  # how often a platform that could not be reached is asked again


@dataclass
class TickReport:
    posted: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # private notices kept from a shared place
    waiting_for_platform: list[str] = field(default_factory=list)


class Dispatcher:
    """Posts due deliveries; safe to run in several threads or processes on one store."""

    def __init__(
        self,
        *,
        comms: Communications,
        store: Store,
        posters: Posters | Callable[[], Posters],
        outbox: Outbox | None = None,
        lease: timedelta = timedelta(minutes=2),
        late_after: timedelta = timedelta(minutes=15),
        max_attempts: int = 6,
        held_for: timedelta = timedelta(minutes=1),
        sync_folder: bool = False,
        owner: str | None = None,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        """`store`: the state store the registry uses (its deliveries and acknowledgements,
        and transactions over them); `outbox`: this worker's outbox (None: one of its own
        on `store`'s deliveries, with this `lease` and `owner`, on the registry's clock)."""
        self.comms = comms
        self.store = store
        self._posters = posters
        self.late_after = late_after
        self.max_attempts = max_attempts
        self.sync_folder = sync_folder
        self.recheck_seconds = recheck_seconds
        # Platforms this dispatcher cannot reach → when to ask them again (monotonic).
        self.unreachable: dict[str, float] = {}
        self.outbox = outbox or Outbox(
            deliveries=store.deliveries,
            owner=owner or f"dispatcher-{uuid.uuid4().hex[:8]}",
            lease=lease,
            clock=comms.now,
        )
        self.stopping = threading.Event()
        self.held_for = held_for
        self._reported: set[str] = set()
        self._partners_version: Hashable | None = None

    @property
    def owner(self) -> str:
        return self.outbox.owner

    @property
    def posters(self) -> Posters:
        return self._posters() if callable(self._posters) else self._posters

    def run_once(self) -> TickReport:
        """One pass: sync the folder (if configured), triage, then claim-post-record each."""
        report = TickReport()
        if self.sync_folder:
            try:
                result = self.comms.sync_folder()
                refused = {str(f) for f in result.failed}
                for failure in sorted(refused - self._reported):  # once per problem, not per tick
                    logger.warning("communication file refused: %s", failure)
                self._reported = refused
            except Conflict as e:  # replicas starting together: one wins, the next tick sees it
                logger.info("the communications folder was synced by another replica: %s", e)
            except Exception:
                logger.exception("syncing the communications folder failed")
        self.comms.mark_sent()
        self._partners_changed()
        self.comms.partner_notices.purge()
        posters = self._reachable(self.posters)
        self._triage(posters, report)
        while not self.stopping.is_set():
            claimable = sorted(p for p in posters if p not in self.unreachable)
            delivery = next(
                (d for f in FEATURES if (d := self.outbox.claim_next(f, platforms=claimable))),
                None,
            )
            if delivery is None:
                break
            self._deliver(delivery, posters[delivery.platform], report)
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

    def _reachable(self, posters: Posters) -> Posters:
        """The posters, with each platform this dispatcher could not reach asked again when
        its time comes (it is claimed for again once it answers)."""
        now = time.monotonic()
        for name, when in list(self.unreachable.items()):
            if name not in posters or now < when:
                continue
            if platform_answers(posters[name]):
                del self.unreachable[name]
                logger.info("%s answers again: its notices are posted from here again", name)
            else:
                self.unreachable[name] = now + self.recheck_seconds
        return posters

    def _partners_changed(self) -> None:
        """A new version of the partners file (or a fresh dispatcher): partners it now knows
        are told from now on. Planning is by delivery key, so this is safe to repeat."""
        version = self.comms.partners.version
        if version is None or version == self._partners_version:
            return
        try:
            self.comms.refresh_partner_notices()
            self._partners_version = version
        except Exception:
            logger.exception("planning private notices after a partners file change failed")

    # -- 1: triage --------------------------------------------------------------------------------
    def _triage(self, posters: Posters, report: TickReport) -> None:
        now = self.comms.now()
        if not any(self.store.deliveries.due(f, now) for f in FEATURES):
            return  # the usual tick: no write lock taken
        comms: dict[str, Communication] = {}
        with self.store.transaction() as tx:
            stale: dict[str, list[Delivery]] = defaultdict(list)
            groups: dict[tuple[str, str, int, str, str], list[Delivery]] = defaultdict(list)
            statuses: dict[str, str] = {}
            due = [d for f in FEATURES for d in tx.deliveries.due(f, now)]
            for d in due:
                if d.status != "planned" or d.kind not in STALE_KINDS:
                    continue  # reclaims are decided after a lookup; alerts/cancels always go
                if d.subject not in statuses:
                    stored = tx.comms.get(d.subject)
                    if stored is None:
                        continue
                    statuses[d.subject] = stored.status
                    comms[d.subject] = Communication.from_json(stored.data)
                comm = comms[d.subject]
                if statuses[d.subject] == "cancelled":
                    tx.deliveries.set_status(d.id, "superseded", note="communication cancelled")
                elif now >= comm.send_at_utc:
                    tx.deliveries.set_status(d.id, "stale", note=STALE_NOTE)
                    stale[d.subject].append(d)
                    report.stale.append(d.key)
                elif d.kind == "ack_reminder":
                    reason = self._ack_reminder_skip(tx, d)
                    if reason:
                        tx.deliveries.set_status(d.id, "skipped", note=reason)
                        report.skipped.append(d.key)
                elif d.kind in ("first", "reminder"):
                    groups[(d.feature, d.subject, d.revision, d.platform, d.channel)].append(d)
            for rows in groups.values():
                if len(rows) < 2:
                    continue
                firsts = [r for r in rows if r.kind == "first"]
                keep = firsts[0] if firsts else max(rows, key=lambda r: (r.due_at, r.id))
                for r in rows:
                    if r is not keep:
                        tx.deliveries.set_status(
                            r.id, "skipped", note="overdue; a later notice covers it"
                        )
                        report.skipped.append(r.key)
            for comm_id, rows in stale.items():
                self._alert_stale(tx, comms[comm_id], rows)
            report.waiting_for_platform = [
                d.key
                for f in FEATURES
                for d in tx.deliveries.due(f, now)
                if d.platform not in posters
            ]
        if report.waiting_for_platform:
            logger.debug("no poster yet for %d due notice(s)", len(report.waiting_for_platform))

    def _ack_reminder_skip(self, tx: Repositories, d: Delivery) -> str | None:
        if d.feature == PARTNER_FEATURE:
            partner = str(d.detail.get("partner", ""))
            acknowledged = tx.comms.partner_acknowledged(d.subject, partner)
        else:
            acknowledged = tx.comms.acknowledged(d.subject, d.platform, d.channel)
        if acknowledged:
            return "acknowledged already"
        told = tx.deliveries.last_posted(d.feature, d.subject, d.platform, d.channel, TELLING_KINDS)
        return None if told else "the channel was never told"

    def _alert_stale(self, tx: Repositories, comm: Communication, rows: Sequence[Delivery]) -> None:
        missed = [f"{notice_label(r.kind, r.lead_days)} to {r.platform} {r.channel}" for r in rows]
        channels = sorted({f"{r.platform} {r.channel}" for r in rows})
        text = render(
            "comms_alert_stale",
            title=comm.title,
            id=comm.id,
            send_when=format_when(comm.send_at),
            missed="; ".join(missed),
            channels=", ".join(channels),
        )
        self.comms.planner.alert_admins(tx, comm, rows[0].revision, "stale", text)

    # -- 2: claim, post and record ----------------------------------------------------------------
    def _deliver(self, delivery: Delivery, poster: ChannelPoster, report: TickReport) -> None:
        key = delivery.key
        record = self.comms.get(delivery.subject)
        if record is None:  # cannot happen: deliveries are planned with their communication
            self.outbox.fail(delivery, "communication not found")
            report.failed.append(key)
            return
        comm = record.comm
        now = self.comms.now()
        late = (
            delivery.kind in ("first", "reminder")
            and delivery.lead_days is not None
            and now - delivery.due_at > self.late_after
        )

        def compose(d: Delivery) -> Notice | None:
            if d.kind in STALE_KINDS and self.comms.now() >= comm.send_at_utc:
                with self.store.transaction() as tx:
                    tx.deliveries.set_status(d.id, "stale", note=STALE_NOTE)
                    self._alert_stale(tx, comm, [d])
                report.stale.append(key)
                return None
            if d.feature == PARTNER_FEATURE:
                return self._partner_notice(d, comm, poster, late=late, report=report)
            return render_notice(
                comm=comm,
                kind=d.kind,
                key=key,
                now=self.comms.now(),
                lead_days=d.lead_days,
                due_at=d.due_at,
                late=late,
                detail=d.detail,
                first_ref=self._first_ref(d, poster),
                button_value=button_value(d.id),
            )

        try:
            outcome = self.outbox.deliver(delivery, poster, compose, late=late)
        except Unreachable as e:
            # It may have arrived: handed back at once (the next claim looks it up first),
            # for a dispatcher that reaches the platform to post on its next poll.
            self.unreachable[delivery.platform] = time.monotonic() + self.recheck_seconds
            logger.warning(
                "%s cannot be reached (%s): its notices are left to replicas that reach it, "
                "asked again in %g s",
                delivery.platform,
                e,
                self.recheck_seconds,
            )
            self.outbox.retry_later(
                delivery, f"{delivery.platform} unreachable: {e}", after=timedelta()
            )
            report.retried.append(key)
            return
        except Exception as e:
            if self.stopping.is_set():
                # Given up on shutdown: it may have reached the platform, so the attempt
                # counts and the next claim looks the key up before posting.
                logger.info("delivery %s: stopped while posting (%s); handed back", key, e)
                self.outbox.retry_later(delivery, f"stopped while posting: {e}", after=timedelta())
                report.retried.append(key)
                return
            self._failed(delivery, e, report)
            return
        if outcome.status == "posted":
            report.posted.append(key)
            if late:
                report.late.append(key)
        elif outcome.status == "reconciled":
            report.reconciled.append(key)
        elif outcome.status == "lost":
            report.lost.append(key)

    def _partner_notice(
        self,
        d: Delivery,
        comm: Communication,
        poster: ChannelPoster,
        *,
        late: bool,
        report: TickReport,
    ) -> Notice | None:
        """A private notice with this partner's customers, read now; withheld (and settled)
        when none of its customers are on the list any more; held back (and the admins told)
        while its place is read by anyone else."""
        partner = str(d.detail.get("partner", ""))
        if not d.channel.startswith(DIRECT):
            shared = self.comms.shared_place(d.platform, d.channel, partner)
            if shared:
                self._hold(d, comm, partner, shared)
                report.held.append(d.key)
                return None
        notice = self.comms.partner_notices.render(
            comm=comm,
            delivery=d,
            late=late,
            first_ref=self._first_ref(d, poster),
            button_value=button_value(d.id),
        )
        if notice is None:
            self.store.deliveries.set_status(
                d.id, "skipped", note="none of the partner's customers are on the list"
            )
        return notice

    def _hold(self, d: Delivery, comm: Communication, partner: str, why: str) -> None:
        """Keep a private notice back while its place is shared; the admins are told once per
        place and revision, and it is tried again each `held_for`."""
        note = f"held back: {why}"
        logger.warning("delivery %s: %s", d.key, note)
        self.outbox.hold(d, note, after=self.held_for)
        text = render(
            "comms_alert_place_shared",
            title=comm.title,
            id=comm.id,
            partner=partner,
            notice=notice_label(d.kind, d.lead_days),
            platform=d.platform,
            channel=d.channel,
            why=why,
        )
        with self.store.transaction() as tx:
            what = f"held-{d.platform}-{d.channel}"
            self.comms.planner.alert_admins(tx, comm, d.revision, what, text)

    def abandon(self) -> int:
        """Give up the posts in flight (shutdown with a slow platform); how many there were."""
        return sum(abandon_calls(poster) for poster in self.posters.values())

    def _failed(self, delivery: Delivery, error: Exception, report: TickReport) -> None:
        attempts = delivery.attempts
        note = f"{type(error).__name__}: {error}"[:500]
        # The bot was removed from the place: trying again cannot help.
        if attempts >= self.max_attempts or isinstance(error, Undeliverable):
            logger.error(
                "delivery %s failed for good after %d attempts: %s", delivery.key, attempts, note
            )
            record = self.comms.get(delivery.subject)
            with self.store.transaction() as tx:
                tx.deliveries.mark_failed(delivery.id, owner=self.owner, note=note)
                if record is not None:
                    self.comms.planner.alert_admins(
                        tx,
                        record.comm,
                        delivery.revision,
                        f"failed-{delivery.id}",
                        render(
                            "comms_alert_failed",
                            title=record.comm.title,
                            id=record.comm.id,
                            notice=notice_label(delivery.kind, delivery.lead_days),
                            platform=delivery.platform,
                            channel=delivery.channel,
                            attempts=attempts,
                            error=note,
                        ),
                    )
            report.failed.append(delivery.key)
            return
        backoff = min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))
        logger.warning(
            "delivery %s failed (attempt %d), retrying: %s", delivery.key, attempts, note
        )
        self.outbox.retry_later(delivery, note, after=backoff)
        report.retried.append(delivery.key)

    def _first_ref(self, d: Delivery, poster: ChannelPoster) -> str | None:
        """Where the full details are: a link to the first notice in this channel, if any."""
        if d.kind not in ("reminder", "ack_reminder"):
            return None
        first = self.store.deliveries.last_posted(
            d.feature, d.subject, d.platform, d.channel, ("first", "updated")
        )
        if first is None or first.posted_at is None:
            return None
        day = format_day(first.posted_at)
        permalink = getattr(poster, "permalink", None)
        link: object = None
        if callable(permalink):
            try:
                link = permalink(d.channel, first.message_id)
            except Exception:
                logger.debug("permalink lookup failed", exc_info=True)
        return f"[the first notice of {day}]({link})" if link else f"the first notice of {day} here"


class DispatcherService:
    """Runs `Dispatcher.run_once` every `interval` seconds inside `partnerbot serve`."""

    name = "comms-dispatcher"

    def __init__(
        self, *, dispatcher: Dispatcher, interval: float = 30.0, grace: float = 2.0
    ) -> None:
        self.dispatcher = dispatcher
        self.interval = interval
        self.grace = grace  # seconds a post in flight may take to finish when stopping
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.dispatcher.stopping.clear()
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
        """Stop between two deliveries, and give back any claim still held. A post still in
        flight after `grace` seconds is given up (its delivery handed back to be looked up
        before it is posted again)."""
        self._stop.set()
        self.dispatcher.stopping.set()
        task, self._task = self._task, None
        if task is not None and not await _finished(task, self.grace):
            given_up = self.dispatcher.abandon()
            logger.warning("dispatcher: a post is still in flight; gave up %d call(s)", given_up)
            if not await _finished(task, self.grace):
                # Still posting (a poster that cannot give up): releasing now could post it
                # twice. Its lease runs out instead, and the next claim reconciles it.
                logger.warning("dispatcher: still posting; its claim is left to run out")
                return
        await asyncio.to_thread(self.dispatcher.outbox.release)


async def _finished(task: asyncio.Task[None], seconds: float) -> bool:
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)


def build_dispatcher_service(
    comms: Communications,
    store: Store,
    posters: Posters | Callable[[], Posters],
    *,
    interval: float | None = None,
) -> DispatcherService:
    """The dispatcher job of `partnerbot serve`; posters are looked up on each tick."""
    dispatcher = Dispatcher(
        comms=comms, store=store, posters=posters, sync_folder=comms.settings.sync_folder
    )
    return DispatcherService(
        dispatcher=dispatcher,
        interval=comms.settings.poll_seconds if interval is None else interval,
    )
