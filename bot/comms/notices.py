"""Render a planned delivery as a platform-neutral `Notice` (templates in prompts/comms_*.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.comms.indexing import article
from bot.comms.model import Communication, format_day, format_when, in_days
from bot.models import Notice, NoticeButton
from bot.prompts import message, render

BUTTON_KINDS = ("first", "reminder", "updated", "ack_reminder")


def _bullets(items: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"• {item}" for item in items) if items else "• (none given)"


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def common_values(comm: Communication, now: datetime) -> dict[str, str]:
    """The placeholders every communication template may use."""
    return {
        "title": comm.title,
        "sender": comm.sender,
        "channel": comm.channel,
        "channel_phrase": article(comm.channel),
        "send_when": format_when(comm.send_at),
        "send_day": format_day(comm.send_at),
        "in_days": in_days(comm.send_at_utc, now),
        "audience": comm.audience.describe(),
        "summary": comm.customer_summary,
        "full_text_link": f" Full text: {comm.full_text_url}" if comm.full_text_url else "",
        "aims": comm.aims,
        "pointed_to": comm.customer_pointed_to or "no contact is named",
        "talking_points": _bullets(comm.talking_points),
        "ref": comm.doc_path,
        "id": comm.id,
    }


def render_notice(
    *,
    comm: Communication,
    kind: str,
    key: str,
    now: datetime,
    lead_days: int | None = None,
    due_at: datetime | None = None,
    late: bool = False,
    detail: dict[str, Any] | None = None,
    first_ref: str | None = None,
    button_value: str | None = None,
) -> Notice:
    """The notice for one delivery, rendered at posting time (so "in N days" is current)."""
    detail = detail or {}
    values = common_values(comm, now)
    values["late"] = ""
    if late and due_at is not None:
        lead = f"{lead_days} day{'s' if lead_days != 1 else ''}" if lead_days else "at once"
        values["late"] = render("comms_late", due_when=format_when(due_at, comm.send_at), lead=lead)
        values["late"] += "\n\n"
    values["first_ref"] = first_ref or "the first notice about it in this channel"
    if kind == "first":
        values["faq_questions"] = (
            "\n**Partners will likely be asked** (press *Ask about this* for the answers)\n"
            + _bullets([f.q for f in comm.faq])
            + "\n"
            if comm.faq
            else ""
        )
        text = render("comms_first", **values)
        title = message(
            "comms_title_first", channel=comm.channel, send_day=values["send_day"], title=comm.title
        )
    elif kind == "reminder":
        text = render("comms_reminder", **values)
        title = message(
            "comms_title_reminder",
            channel=comm.channel,
            send_day=values["send_day"],
            title=comm.title,
        )
    elif kind == "updated":
        previous = detail.get("previous_send_at")
        values["changes"] = ", ".join(detail.get("changes") or ["details"])
        values["schedule_change"] = ""
        if previous and datetime.fromisoformat(previous) != comm.send_at_utc:
            values["schedule_change"] = message(
                "comms_schedule_moved",
                previous=format_when(datetime.fromisoformat(previous), comm.send_at),
                new=values["send_when"],
            )
        text = render("comms_updated", **values)
        title = message("comms_title_updated", title=comm.title)
    elif kind == "cancelled":
        text = render("comms_cancelled", **values)
        title = message("comms_title_cancelled", title=comm.title)
    elif kind == "ack_reminder":
        text = render("comms_ack_reminder", **values)
        title = message("comms_title_ack_reminder", title=comm.title)
    elif kind == "alert":
        text = str(detail.get("text") or comm.title)
        title = message("comms_title_alert", title=comm.title)
    else:
        raise ValueError(f"unknown notice kind {kind!r}")
    buttons: tuple[NoticeButton, ...] = ()
    if kind in BUTTON_KINDS:
        buttons = (
            NoticeButton("acknowledge", message("comms_button_acknowledge"), button_value or key),
            NoticeButton("ask", message("comms_button_ask"), button_value or key),
        )
    return Notice(
        key=key,
        title=title[:250],
        text=_tidy(text),
        buttons=buttons,
        link=comm.full_text_url if kind != "alert" else None,
    )
