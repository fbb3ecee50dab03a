"""The outbox rows of a communication: channel notices, private notices and admin alerts.

Planned inside the registry's transactions (bot/comms/registry.py), so a communication
and its deliveries change together. Every row is planned under a key unique per
(revision, notice, channel) (bot/comms/keys.py): planning one twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.comms.keys import FEATURE, PARTNER_FEATURE, TELLING_KINDS, delivery_key, notice_name
from bot.comms.model import Communication, Record
from bot.comms.partner_notices import PartnerNotices, Told
from bot.comms.planning import PlannedNotice, plan_notices
from bot.comms.routing import ChannelRef
from bot.comms.settings import CommsSettings
from bot.prompts import render
from bot.store import NewDelivery, Repositories

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heard:
    """Who was told (or may have been: a claim in flight) of a communication in this life:
    partner channels, and partners' private targets with what each was told last."""

    channels: frozenset[ChannelRef] = frozenset()
    partners: dict[ChannelRef, Told] = field(default_factory=dict)


@dataclass
class Planned:
    """What one revision planned: the schedule per channel, and the channels already told
    that get an "Updated" notice."""

    notices: list[PlannedNotice] = field(default_factory=list)
    updated_channels: list[ChannelRef] = field(default_factory=list)


class NoticePlanner:
    """Plans a communication's deliveries in the outbox, inside the caller's transaction."""

    def __init__(
        self,
        *,
        settings: CommsSettings,
        partner_notices: PartnerNotices,
        admin_channels: Callable[[], Sequence[ChannelRef]],
        now: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.partner_notices = partner_notices
        self._admin_channels = admin_channels
        self.now = now

    def heard(self, tx: Repositories, comm_id: str, epoch: int) -> Heard:
        """Read before the planned notices are superseded: a failed try waiting for its retry
        may have reached the platform."""
        told = tx.deliveries.told_channels(
            FEATURE, comm_id, min_revision=epoch, kinds=TELLING_KINDS
        )
        return Heard(
            frozenset(ChannelRef(platform, channel) for platform, channel in told),
            self.partner_notices.told(tx, comm_id, epoch),
        )

    def supersede(self, tx: Repositories, comm_id: str, note: str) -> None:
        """Notices of earlier revisions not posted yet will not be."""
        for feature in (FEATURE, PARTNER_FEATURE):
            tx.deliveries.supersede_planned(feature, comm_id, note=note)

    def plan_revision(
        self,
        tx: Repositories,
        comm: Communication,
        revision: int,
        *,
        channels: Sequence[ChannelRef],
        heard: Heard,
        changes: list[str],
        previous: Record | None,
        action: str,
    ) -> Planned:
        """This revision's notices: "Updated" where a channel was told and something it
        was shown changed; the first notice (where not told), reminders and the
        acknowledgement reminder; the partners' private notices (the recipient list is in
        the store already); an admin alert when customers are not pointed to their partner."""
        now = self.now()
        # Channels never see the recipient list: a change of it alone is no news to them
        # (each partner it concerns is told privately below).
        channel_changes = [c for c in changes if c != "recipient list"]
        updated_channels = sorted(heard.channels) if channel_changes else []
        previous_send_at = (
            previous.comm.send_at_utc.isoformat(timespec="seconds") if previous else None
        )
        for ref in updated_channels:
            detail = {"changes": channel_changes, "previous_send_at": previous_send_at}
            self._plan(tx, comm.id, revision, "updated", None, ref, now, detail=detail)
        planned = plan_notices(
            send_at=comm.send_at_utc,
            channels=channels,
            lead_days=comm.effective_lead_days(self.settings.lead_days),
            now=now,
            told=heard.channels,
            ack_reminder_days=self.settings.ack_reminder_days,
        )
        for notice in planned:
            self._plan(
                tx, comm.id, revision, notice.kind, notice.lead_days, notice.ref, notice.due_at
            )
        self.partner_notices.plan(
            tx,
            comm,
            revision,
            told=heard.partners,
            changes=changes,
            previous_send_at=previous_send_at,
        )
        if not comm.points_to_partner and (
            previous is None or previous.comm.points_to_partner or action == "revived"
        ):
            text = render(
                "comms_alert_no_partner",
                title=comm.title,
                id=comm.id,
                pointed_to=comm.customer_pointed_to or "no contact is named",
            )
            self.alert_admins(tx, comm, revision, "no-partner", text)
        return Planned(planned, updated_channels)

    def plan_cancelled(
        self, tx: Repositories, comm_id: str, revision: int, heard: Heard
    ) -> tuple[list[ChannelRef], int]:
        """Every channel and partner told in this life hears that it is cancelled. Returns
        the channels, and how many partner places or contacts are told."""
        now = self.now()
        self.supersede(tx, comm_id, "cancelled")
        told = sorted(heard.channels)
        for ref in told:
            self._plan(tx, comm_id, revision, "cancelled", None, ref, now)
        partners = self.partner_notices.plan_cancelled(tx, comm_id, revision, heard.partners)
        return told, partners

    def alert_admins(
        self, tx: Repositories, comm: Communication, revision: int, what: str, text: str
    ) -> None:
        """Log, and post to the admin channels (PARTNERBOT_ADMIN_CHANNELS) once per key."""
        logger.warning("admin alert (%s): %s", comm.id, text)
        detail, now = {"text": text}, self.now()
        for ref in self._admin_channels():
            self._plan(tx, comm.id, revision, "alert", None, ref, now, what=what, detail=detail)

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
