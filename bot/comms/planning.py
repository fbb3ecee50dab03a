"""When each partner channel hears about a communication: the notice plan.

Pure functions over times, so the rules are easy to test and to explain:

* one notice per lead time (default 14, 3 and 1 days before `send_at`); the
  earliest is the full "first" notice, the others are short reminders;
* registered inside the window (a lead time already passed): the first notice
  goes at once, and only the lead times still ahead become reminders;
* a channel already told (before a reschedule or an edit) gets an "Updated"
  notice from the registry and then reminders only;
* optionally, an acknowledgement reminder N days before `send_at` (sent only to
  channels where nobody acknowledged).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.comms.routing import ChannelRef

# A reminder this close after the first notice adds nothing: it is left out.
MIN_GAP_AFTER_FIRST = timedelta(hours=12)

# Notice kinds, in the order they are shown.
KINDS = ("first", "reminder", "updated", "cancelled", "ack_reminder", "alert")
KIND_LABELS = {
    "first": "first notice",
    "reminder": "reminder",
    "updated": "updated",
    "cancelled": "cancelled",
    "ack_reminder": "acknowledgement reminder",
    "alert": "admin alert",
}


@dataclass(frozen=True)
class PlannedNotice:
    ref: ChannelRef
    kind: str  # first | reminder | ack_reminder
    lead_days: int | None  # the lead time it stands for; None: "at once"
    due_at: datetime  # UTC

    @property
    def label(self) -> str:
        return notice_label(self.kind, self.lead_days)


def notice_label(kind: str, lead_days: int | None) -> str:
    label = KIND_LABELS.get(kind, kind)
    if kind in ("first", "reminder", "ack_reminder"):
        if lead_days is None:
            return f"{label} (at once)"
        return f"{label} ({lead_days} day{'s' if lead_days != 1 else ''} before)"
    return label


def plan_notices(
    *,
    send_at: datetime,
    channels: Iterable[ChannelRef],
    lead_days: tuple[int, ...],
    now: datetime,
    told: Collection[ChannelRef] = (),
    ack_reminder_days: int = 0,
) -> list[PlannedNotice]:
    """The notices to plan for each channel, given what has happened up to `now`."""
    if send_at <= now:
        return []
    days = sorted({d for d in lead_days if d > 0}, reverse=True)
    planned: list[PlannedNotice] = []
    for ref in channels:
        dues = [(d, send_at - timedelta(days=d)) for d in days]
        ahead = [(d, t) for d, t in dues if t > now]
        window_open = len(ahead) < len(dues) or not dues
        if ref in told:
            planned.extend(PlannedNotice(ref, "reminder", d, t) for d, t in ahead)
        else:
            if window_open:
                first_at = now
                planned.append(PlannedNotice(ref, "first", None, now))
            else:
                (d0, first_at), ahead = ahead[0], ahead[1:]
                planned.append(PlannedNotice(ref, "first", d0, first_at))
            planned.extend(
                PlannedNotice(ref, "reminder", d, t)
                for d, t in ahead
                if t - first_at >= MIN_GAP_AFTER_FIRST
            )
        if ack_reminder_days > 0:
            at = send_at - timedelta(days=ack_reminder_days)
            if at > now:
                planned.append(PlannedNotice(ref, "ack_reminder", ack_reminder_days, at))
    return planned
