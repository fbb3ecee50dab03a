"""Delivery keys and button values of communication notices.

Every notice is a delivery in the outbox (bot/delivery.py) under a key unique per
(communication revision, notice, channel); the key travels with the posted message
so that a crash between posting and recording never posts twice. Notice buttons
carry the delivery's id instead (Discord custom ids hold 100 characters).

Delivery lifecycle, as communications use it:

    planned ──claim──▶ claimed ──post+record──▶ posted
       │                  │ (lease expires: reclaimed; the key is looked up
       │                  │  on the platform before posting again)
       │                  └──error──▶ planned (retry later) … ▶ failed
       ├──▶ superseded   (rescheduled, edited or cancelled before it went out)
       ├──▶ skipped      (overdue behind a later notice; acknowledged already)
       └──▶ stale        (send_at passed before it could go out: admins alerted)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

FEATURE = "comms"  # the outbox rows of communications
PARTNER_FEATURE = "comms-partner"  # … and of their private notices to partners

# Deliveries that tell a channel about the communication (vs. cancel it or alert admins).
TELLING_KINDS = ("first", "reminder", "updated")


def first_told(notices: Sequence[Mapping[str, Any]]) -> datetime | None:
    """When the first notice that told of the communication was posted (notices in order)."""
    telling = [n for n in notices if n["kind"] in TELLING_KINDS]
    return telling[0]["posted_at"] if telling else None


def posted_as_json(notices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Notices posted to a channel or a partner, as reports print them in JSON."""
    return [{**n, "posted_at": n["posted_at"].isoformat()} for n in notices]


def notice_name(kind: str, lead_days: int | None = None, what: str = "") -> str:
    """'first-14d', 'reminder-3d', 'updated', 'alert-stale', …: the notice part of a key."""
    name = kind if not what else f"{kind}-{what}"
    return name if lead_days is None else f"{name}-{lead_days}d"


def delivery_key(comm_id: str, revision: int, notice: str, platform: str, channel: str) -> str:
    """Unique per (communication revision, notice, channel); stored with the post."""
    return f"pb-comm:{comm_id}:r{revision}:{notice}:{platform}:{channel}"


def partner_delivery_key(
    comm_id: str, revision: int, notice: str, partner_id: str, platform: str, target: str
) -> str:
    """A private notice to one partner: unique per (revision, notice, partner, target), where
    the target is its private place or `@user` for a direct message to one contact."""
    return f"pb-partner:{comm_id}:r{revision}:{notice}:{partner_id}:{platform}:{target}"


def button_value(delivery_id: int) -> str:
    """What a notice's buttons carry: short (Discord custom ids hold 100 characters)."""
    return f"comm:{delivery_id}"


def delivery_id_of(value: str) -> int | None:
    prefix, _, number = value.partition(":")
    return int(number) if prefix == "comm" and number.isdigit() else None
