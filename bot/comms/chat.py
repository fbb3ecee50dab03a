"""Chat admin commands for communications, as plain functions the adapters call.

Slack `/partner comms list|cancel ID` and Discord `/comms list|cancel` both call
`command` (or `list_text` / `cancel_as` directly) and show the returned text.
Admins only: a non-admin gets the NotAllowed message, not an exception.
"""

from __future__ import annotations

from bot.admin import require_admin
from bot.comms.model import format_when, in_days
from bot.comms.planning import notice_label
from bot.comms.registry import Communications
from bot.errors import UserError
from bot.prompts import message


def list_text(comms: Communications, *, is_admin: bool, who: str) -> str:
    """Upcoming communications, one line each, with the next notice due."""
    try:
        require_admin(is_admin=is_admin, who=who, action="list communications")
    except UserError as e:
        return str(e)
    now = comms.now()
    records = [r for r in comms.records() if r.status in ("scheduled", "updated")]
    if not records:
        return message("comms_none")
    lines = [message("comms_list_heading")]
    for r in records:
        c = r.comm
        pending = [d for d in comms.deliveries(c.id) if d.status == "planned" and d.kind != "alert"]
        next_part = ""
        if pending:
            first = pending[0]
            next_part = f" · next: {notice_label(first.kind, first.lead_days)}"
        lines.append(
            f"• `{c.id}` — “{c.title}” — {c.channel}, {format_when(c.send_at)} "
            f"({in_days(c.send_at_utc, now)}) · {r.status}{next_part}"
        )
    return "\n".join(lines)


def cancel_as(comms: Communications, comm_id: str, *, is_admin: bool, who: str) -> str:
    """Cancel on behalf of a chat admin; channels already told get a "Cancelled" notice."""
    try:
        require_admin(is_admin=is_admin, who=who, action="cancel communications")
        record, told = comms.cancel(comm_id.strip(), who=who)
    except UserError as e:
        return str(e)
    return message("comms_cancel_done", title=record.comm.title, id=record.id, told=len(told))


def command(comms: Communications, text: str, *, is_admin: bool, who: str) -> str:
    """`list` or `cancel ID` (the words after `/partner comms` or `/comms`)."""
    words = text.split()
    if not words or words[0].lower() == "list":
        return list_text(comms, is_admin=is_admin, who=who)
    if words[0].lower() == "cancel" and len(words) == 2:
        return cancel_as(comms, words[1], is_admin=is_admin, who=who)
    return message("comms_chat_usage")
