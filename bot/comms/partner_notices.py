"""Private notices to each affected partner, listing its own customers and nobody else's.

A communication with a recipient list (bot/comms/recipients.py) affects every partner of
record on it that the partners file (bot/partners.py) knows. Each one is told privately —
in its private place(s), else by a direct message to each of its contacts — at the usual
lead times, again on change ("Updated", with its current customers) or cancellation, and
reminded to acknowledge if it has not. A partner whose customers all left the list is
told that it no longer concerns them.

Every notice is an outbox delivery (bot/delivery.py, feature `comms-partner`), so it is
posted exactly once across restarts and replicas. A delivery holds the partner's id, a
count and a short hash of its list; the customers are read for that one partner right
before posting, so no notice, log line or outbox row can carry another partner's.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.answering.mentions import neutralise_mentions
from bot.comms.keys import (
    PARTNER_FEATURE,
    TELLING_KINDS,
    first_told,
    notice_name,
    partner_delivery_key,
    posted_as_json,
)
from bot.comms.model import Communication
from bot.comms.notices import notice_values, tidy
from bot.comms.planning import notice_label, plan_notices
from bot.comms.recipients import Split, split
from bot.comms.settings import CommsSettings
from bot.models import ChannelRef, Notice, NoticeButton
from bot.partners import Partner, Partners, PartnersFile
from bot.prompts import message, render
from bot.store import Delivery, NewDelivery, Recipient, Repositories, Store

logger = logging.getLogger(__name__)

DIRECT = "@"  # a target `@<user id>`: a direct message to one contact
MAX_LISTED = 100  # customers listed in one notice; the rest are counted
# A delivery that told (or may have told: a claim in flight, a failed try) its target.
_TOLD = ("posted", "claimed")


def targets(partner: Partner, platforms: Collection[str] | None = None) -> list[ChannelRef]:
    """Where a partner is told: its private places; without one, each contact directly."""
    known = [p for p in partner.presence if platforms is None or p.platform in platforms]
    places = [ChannelRef(p.platform, p.place) for p in known if p.place]
    return places or [ChannelRef(p.platform, f"{DIRECT}{u}") for p in known for u in p.contacts]


def shown_target(ref: ChannelRef) -> str:
    """'slack C0HARBOUR', 'slack DM to U0FJORD1'."""
    if ref.channel.startswith(DIRECT):
        return f"{ref.platform} DM to {ref.channel[1:]}"
    return f"{ref.platform} {ref.channel}"


def list_hash(customers: Iterable[Recipient]) -> str:
    """A short fingerprint of one partner's list (to tell whether *its* customers changed)."""
    ids = sorted(f"{c.customer_id}\0{c.customer_name}" for c in customers)
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _plain(text: str) -> str:
    """A name from a file, inert in every platform's markup: no mentions, links or emphasis."""
    inert = re.sub(r"[*_`<>\[\]~|]", " ", neutralise_mentions(text))
    return " ".join(inert.split())


# -- what a partner was told ----------------------------------------------------------------------
@dataclass(frozen=True)
class Told:
    """A target told in this life of the communication, and what it was told last."""

    partner_id: str
    customers: int
    list: str


def told_targets(deliveries: Iterable[Delivery], epoch: int) -> dict[ChannelRef, Told]:
    """Targets told (or maybe told: a claim in flight, a failed try) in this life and not
    told since that it no longer concerns them, with what they were told last."""
    told: dict[ChannelRef, Told] = {}
    for d in sorted(deliveries, key=lambda d: d.id):
        reached = d.status in _TOLD or (d.status == "planned" and d.attempts > 0)
        if d.revision < epoch or not reached:
            continue
        ref, detail = ChannelRef(d.platform, d.channel), d.detail
        if d.kind in TELLING_KINDS:
            partner, customers = str(detail.get("partner", "")), int(detail.get("customers", 0))
            told[ref] = Told(partner, customers, str(detail.get("list", "")))
        elif detail.get("withdrawn"):
            told.pop(ref, None)
    return told


# -- status ---------------------------------------------------------------------------------------
@dataclass
class PartnerStatus:
    """One affected partner: its customers on the list, where it is told, what it was told,
    who acknowledged for it, and what comes next."""

    partner_id: str
    name: str
    tier: str = ""
    customers: int | None = None  # None: the list is deleted (or the partner left it)
    targets: list[str] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, str]] = field(default_factory=list)
    next_notice: str | None = None
    next_at: datetime | None = None

    @property
    def told_at(self) -> datetime | None:
        return first_told(self.notices)

    @property
    def reachable(self) -> bool:
        return bool(self.targets)

    def as_json(self) -> dict[str, Any]:
        told_at, next_at = self.told_at, self.next_at
        return {
            "partner": self.partner_id,
            "name": self.name,
            "tier": self.tier,
            "customers": self.customers,
            "told_in": self.targets,
            "told_at": told_at.isoformat() if told_at else None,
            "notices": posted_as_json(self.notices),
            "acknowledged_by": self.acks,
            "next_notice": self.next_notice,
            "next_at": next_at.isoformat() if next_at else None,
        }


@dataclass(frozen=True)
class RecipientSummary:
    """The admin's view of a recipient list: counted per partner, the unknown ones included."""

    source: str
    split: Split
    deleted: bool  # deleted after the send date plus retention (or on cancellation)
    keep_until: datetime

    def as_json(self) -> dict[str, Any]:
        """Counts only: customer names are never shown here."""
        split = self.split
        return {
            "source": self.source,
            "deleted": self.deleted,
            "keep_until": self.keep_until.astimezone(UTC).isoformat(timespec="seconds"),
            "customers": None if self.deleted else split.total,
            "by_partner": split.partners,
            "unknown_partner": {
                "total": split.unknown,
                "blank": split.blank,
                "not_in_partners_file": split.unlisted,
            },
        }


@dataclass(frozen=True)
class PartnerPlanRow:
    """One line of a preview: a private notice to a partner, where, when, and its state."""

    partner_id: str
    partner: str
    customers: int
    target: str
    notice: str
    when: datetime | None
    status: str

    def as_json(self) -> dict[str, Any]:
        return {
            "partner": self.partner_id,
            "name": self.partner,
            "customers": self.customers,
            "target": self.target,
            "notice": self.notice,
            "when": self.when.isoformat() if self.when else None,
            "status": self.status,
        }


class PartnerNotices:
    """Plans, renders and reports the private notices to partners of one registry."""

    def __init__(
        self,
        *,
        store: Store,
        partners: PartnersFile,
        settings: CommsSettings,
        now: Callable[[], datetime],
        platforms: Collection[str] | None = None,
    ) -> None:
        self.store = store
        self.partners_file = partners
        self.settings = settings
        self.now = now
        self.platforms = platforms

    @property
    def partners(self) -> Partners:
        """The partners file; a broken one counts as no partners here (it is warned about, and
        `serve` refuses to start with one), so channel notices never wait for it."""
        return self.partners_file.get_or_none()

    def keep_until(self, comm: Communication) -> datetime:
        return comm.send_at_utc + timedelta(days=self.settings.retention_days)

    # -- planning (inside the registry's transactions) ------------------------------------------
    def told(self, tx: Repositories, comm_id: str, epoch: int) -> dict[ChannelRef, Told]:
        """Partner targets told in this life (read before the planned notices are superseded:
        a failed try waiting for its retry may have reached the platform)."""
        return told_targets(tx.deliveries.for_subject(PARTNER_FEATURE, comm_id), epoch)

    def plan(
        self,
        tx: Repositories,
        comm: Communication,
        revision: int,
        *,
        told: dict[ChannelRef, Told],
        changes: list[str],
        previous_send_at: str | None,
    ) -> int:
        """This revision's notices: "Updated" (or "no longer yours") where a partner was told in
        this life (`told`), then the first notice, reminders and the acknowledgement reminder.
        Planned notices of earlier revisions were superseded by the caller. Returns how many."""
        partners = self.partners
        lists = {pid: tx.recipients.for_partner(comm.id, pid) for pid in self._affected(tx, comm)}
        now = self.now()
        planned = 0
        for ref, before in sorted(told.items()):
            customers = lists.get(before.partner_id)
            detail = self._detail(before.partner_id, customers or [])
            if not customers:
                detail["withdrawn"] = True
                planned += self._plan(tx, comm.id, revision, "cancelled", None, ref, now, detail)
                continue
            mine = [c for c in changes if c != "recipient list"]
            if detail["list"] != before.list:
                mine.append("your customers on the list")
            if mine:
                detail.update(changes=mine, previous_send_at=previous_send_at)
                detail["previous_customers"] = before.customers
                planned += self._plan(tx, comm.id, revision, "updated", None, ref, now, detail)
        for pid, customers in lists.items():
            partner = partners.get(pid)
            refs = targets(partner, self.platforms) if partner else []
            planned += self._plan_schedule(tx, comm, revision, pid, customers, refs, told.keys())
        return planned

    def _plan_schedule(
        self,
        tx: Repositories,
        comm: Communication,
        revision: int,
        partner_id: str,
        customers: list[Recipient],
        refs: list[ChannelRef],
        told: Collection[ChannelRef] = (),
    ) -> int:
        """The first notice (where not `told`), reminders and the acknowledgement reminder."""
        detail = self._detail(partner_id, customers)
        return sum(
            self._plan(tx, comm.id, revision, n.kind, n.lead_days, n.ref, n.due_at, dict(detail))
            for n in plan_notices(
                send_at=comm.send_at_utc,
                channels=refs,
                lead_days=comm.effective_lead_days(self.settings.lead_days),
                now=self.now(),
                told=told,
                ack_reminder_days=self.settings.partner_ack_reminder_days,
            )
        )

    def plan_cancelled(
        self, tx: Repositories, comm_id: str, revision: int, told: dict[ChannelRef, Told]
    ) -> int:
        """Every partner target told in this life (`told`) hears that it is cancelled; the
        recipient list is deleted at once (nothing needs it any more)."""
        now = self.now()
        planned = sum(
            self._plan(
                tx, comm_id, revision, "cancelled", None, ref, now, self._detail(t.partner_id, [])
            )
            for ref, t in sorted(told.items())
        )
        tx.recipients.delete(comm_id)
        return planned

    def refresh(self, comm: Communication, revision: int, epoch: int) -> int:
        """After the partners file changed: partners now known (or with new places or contacts)
        are told from now on; planned notices to targets no partner has any more are dropped.
        A target told in this life, or with notices of this revision, is left as it is."""
        now = self.now()
        if comm.send_at_utc <= now:
            return 0
        with self.store.transaction() as tx:
            partners = self.partners
            every = tx.deliveries.for_subject(PARTNER_FEATURE, comm.id)
            current = [
                d
                for d in every
                if d.revision == revision and d.status not in ("superseded", "skipped")
            ]
            live = {ChannelRef(d.platform, d.channel) for d in current}
            live |= set(told_targets(every, epoch))
            wanted: dict[ChannelRef, str] = {}
            planned = 0
            for pid in self._affected(tx, comm):
                partner = partners.get(pid)
                refs = targets(partner, self.platforms) if partner else []
                wanted.update({ref: pid for ref in refs})
                new = [ref for ref in refs if ref not in live]
                if not new:
                    continue
                customers = tx.recipients.for_partner(comm.id, pid)
                planned += self._plan_schedule(tx, comm, revision, pid, customers, new)
            for d in current:  # (a cancellation or "no longer yours" still goes out)
                ref = ChannelRef(d.platform, d.channel)
                if (
                    d.status == "planned"
                    and d.attempts == 0
                    and d.kind in (*TELLING_KINDS, "ack_reminder")
                    and wanted.get(ref) != d.detail.get("partner")
                ):
                    tx.deliveries.set_status(d.id, "superseded", note="partners file changed")
        if planned:
            logger.info(
                "%s: %d private notice(s) planned after the partners file changed", comm.id, planned
            )
        return planned

    def purge(self) -> list[str]:
        """Delete the recipient lists whose send date plus retention has passed."""
        cutoff = self.now() - timedelta(days=self.settings.retention_days)
        expired = self.store.recipients.expired(cutoff)
        for comm_id in expired:
            deleted = self.store.recipients.delete(comm_id)
            logger.info(
                "%s: recipient list deleted (%d customers; retention passed)", comm_id, deleted
            )
        return expired

    def _affected(self, tx: Repositories, comm: Communication) -> list[str]:
        """Partners of record on the list that the partners file knows."""
        counts = tx.recipients.counts(comm.id)
        return sorted(split(counts, self.partners).partners)

    def _detail(self, partner_id: str, customers: list[Recipient]) -> dict[str, Any]:
        return {"partner": partner_id, "customers": len(customers), "list": list_hash(customers)}

    def _plan(
        self,
        tx: Repositories,
        comm_id: str,
        revision: int,
        kind: str,
        lead_days: int | None,
        ref: ChannelRef,
        due_at: datetime,
        detail: dict[str, Any],
    ) -> int:
        what = "withdrawn" if detail.get("withdrawn") else ""
        key = partner_delivery_key(
            comm_id,
            revision,
            notice_name(kind, lead_days, what),
            str(detail["partner"]),
            ref.platform,
            ref.channel,
        )
        new = NewDelivery(
            key=key,
            feature=PARTNER_FEATURE,
            subject=comm_id,
            kind=kind,
            platform=ref.platform,
            channel=ref.channel,
            due_at=due_at,
            revision=revision,
            lead_days=lead_days,
            detail=detail,
        )
        return int(tx.deliveries.plan(new, now=self.now()))

    # -- rendering (right before posting) -------------------------------------------------------
    def render(
        self,
        *,
        comm: Communication,
        delivery: Delivery,
        late: bool,
        first_ref: str | None,
        button_value: str,
    ) -> Notice | None:
        """The private notice of one delivery with this partner's customers, read now; None
        when the partner has none on the list any more (the caller settles the delivery)."""
        pid = str(delivery.detail.get("partner", ""))
        partner = self.partners.get(pid)
        name = _plain(partner.name if partner else pid)
        withdrawn = bool(delivery.detail.get("withdrawn"))
        customers = (
            [] if delivery.kind == "cancelled" else self.store.recipients.for_partner(comm.id, pid)
        )
        if delivery.kind != "cancelled" and not customers:
            return None
        kind = delivery.kind
        values = notice_values(
            comm,
            self.now(),
            kind=kind,
            detail=delivery.detail,
            late=late and bool(delivery.lead_days),
            lead_days=delivery.lead_days,
            due_at=delivery.due_at,
        )
        values.update(
            partner=name,
            count=_count(len(customers)),
            customers=_listed(customers),
            first_ref=first_ref or message("comms_partner_first_ref"),
        )
        template = "withdrawn" if withdrawn else kind
        text = render(f"comms_partner_{template}", **values)
        title = message(
            f"comms_partner_title_{template}",
            partner=name,
            title=comm.title,
            count=values["count"],
            send_day=values["send_day"],
            channel_phrase=values["channel_phrase"],
        )
        buttons: tuple[NoticeButton, ...] = ()
        if kind in ("first", "reminder", "updated", "ack_reminder"):
            buttons = (
                NoticeButton("acknowledge", message("comms_button_acknowledge"), button_value),
                NoticeButton("ask", message("comms_button_ask"), button_value),
            )
        return Notice(
            key=delivery.key,
            title=title[:250],
            text=tidy(text),
            buttons=buttons,
            link=comm.full_text_url if kind != "cancelled" else None,
            fields=((message("comms_partner_field"), str(len(customers))),) if customers else (),
        )

    # -- the admin's view -----------------------------------------------------------------------
    def summary(self, comm: Communication) -> RecipientSummary | None:
        if not comm.recipients_file:
            return None
        counts = self.store.recipients.counts(comm.id)
        return RecipientSummary(
            comm.recipients_file, split(counts, self.partners), not counts, self.keep_until(comm)
        )

    def status(self, comm: Communication, epoch: int) -> list[PartnerStatus]:
        """Per partner: affected (customers now on the list), told where and when, acknowledged
        by whom, what comes next. Partners only in past notices or acknowledgements too."""
        partners = self.partners
        counts = split(self.store.recipients.counts(comm.id), partners).partners
        rows: dict[str, PartnerStatus] = {}

        def row(pid: str) -> PartnerStatus:
            if pid not in rows:
                partner = partners.get(pid)
                rows[pid] = PartnerStatus(
                    pid,
                    partner.name if partner else pid,
                    partner.tier if partner else "",
                    counts.get(pid),
                    [shown_target(r) for r in targets(partner, self.platforms)] if partner else [],
                )
            return rows[pid]

        for pid in counts:
            row(pid)
        for d in self.store.deliveries.for_subject(PARTNER_FEATURE, comm.id):
            if d.revision < epoch or d.status == "superseded":
                continue
            entry = row(str(d.detail.get("partner", "")))
            label = notice_label(d.kind, d.lead_days)
            if d.detail.get("withdrawn"):
                label = "no longer concerns them"
            if d.status == "posted":
                entry.notices.append(
                    {
                        "kind": d.kind,
                        "notice": label,
                        "target": shown_target(ChannelRef(d.platform, d.channel)),
                        "posted_at": d.posted_at,
                        "late": d.late,
                    }
                )
            elif d.status in ("planned", "claimed") and (
                entry.next_at is None or d.due_at < entry.next_at
            ):
                entry.next_notice, entry.next_at = label, d.due_at
        for ack in self.store.comms.partner_acks(comm.id):
            row(ack.partner_id).acks.append(
                {"user": ack.user, "platform": ack.platform, "at": ack.at}
            )
        for entry in rows.values():
            entry.notices.sort(key=lambda n: n["posted_at"])
        return sorted(rows.values(), key=lambda r: r.name.casefold())

    def preview_rows(self, comm: Communication, epoch: int | None) -> list[PartnerPlanRow]:
        """Registered (`epoch` given): the private notices planned or posted; else what would
        be planned now for the recipient list in the store."""
        partners = self.partners
        counts = split(self.store.recipients.counts(comm.id), partners).partners
        return self._rows(comm, epoch, counts, partners)

    def dry_run_rows(self, comm: Communication, counts: dict[str, int]) -> list[PartnerPlanRow]:
        partners = self.partners
        return self._rows(comm, None, split(counts, partners).partners, partners)

    def _rows(
        self, comm: Communication, epoch: int | None, counts: dict[str, int], partners: Partners
    ) -> list[PartnerPlanRow]:
        rows: list[PartnerPlanRow] = []
        by_partner: dict[str, list[Delivery]] = defaultdict(list)
        if epoch is not None:
            for d in self.store.deliveries.for_subject(PARTNER_FEATURE, comm.id):
                if d.revision >= epoch and d.status != "superseded":
                    by_partner[str(d.detail.get("partner", ""))].append(d)
        for pid in sorted({*counts, *by_partner}):
            partner = partners.get(pid)
            name, n = partner.name if partner else pid, counts.get(pid, 0)
            refs = targets(partner, self.platforms) if partner else []
            if epoch is not None:
                rows.extend(
                    PartnerPlanRow(
                        pid,
                        name,
                        n,
                        shown_target(ChannelRef(d.platform, d.channel)),
                        notice_label(d.kind, d.lead_days),
                        d.posted_at or d.due_at,
                        "posted (late)" if d.status == "posted" and d.late else d.status,
                    )
                    for d in by_partner.get(pid, [])
                )
            else:
                rows.extend(
                    PartnerPlanRow(
                        pid, name, n, shown_target(p.ref), p.label, p.due_at, "would be planned"
                    )
                    for p in plan_notices(
                        send_at=comm.send_at_utc,
                        channels=refs,
                        lead_days=comm.effective_lead_days(self.settings.lead_days),
                        now=self.now(),
                        ack_reminder_days=self.settings.partner_ack_reminder_days,
                    )
                )
            if not refs and not by_partner.get(pid):
                rows.append(PartnerPlanRow(pid, name, n, "—", "—", None, "no place or contact"))
        return rows


def _count(n: int) -> str:
    return f"{n} customer{'s' if n != 1 else ''}"


def _listed(customers: list[Recipient]) -> str:
    lines = [
        f"• {_plain(c.customer_name) or _plain(c.customer_id)} ({_plain(c.customer_id)})"
        for c in customers[:MAX_LISTED]
    ]
    if len(customers) > MAX_LISTED:
        lines.append(message("comms_partner_more", more=len(customers) - MAX_LISTED))
    return "\n".join(lines)
