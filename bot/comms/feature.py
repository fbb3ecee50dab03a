"""Communications as a feature of the bot: its answers, commands, buttons and dispatcher.

Built by the composition root (bot/app.py) around the registry, with a way to reach
the running platforms' posters; the core and the chat service see only the Feature
hooks (bot/features.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from bot.commands import Command, Param
from bot.comms.dispatcher import build_dispatcher_service
from bot.comms.model import format_when, in_days
from bot.comms.planning import notice_label
from bot.comms.registry import Communications
from bot.features import Feature, Service
from bot.models import Answer, ButtonClick, ButtonReply, CommandCall, Question, Reply
from bot.platform import ChannelPoster
from bot.prompts import message
from knowledge.index import SyncReport

logger = logging.getLogger(__name__)

Posters = Callable[[], Mapping[str, ChannelPoster]]


class CommsFeature(Feature):
    name = "comms"

    def __init__(self, comms: Communications, *, posters: Posters) -> None:
        self.comms = comms
        self.posters = posters

    def answer(self, question: Question) -> Answer | None:
        return self.comms.answer(question)  # (see bot/comms/qa.py)

    def on_reindex(self, report: SyncReport) -> None:
        self.comms.refresh_index()  # a re-index keeps the communications (a rebuild drops them)

    def on_button(self, click: ButtonClick) -> ButtonReply | None:
        if click.action not in ("acknowledge", "ask"):
            return None
        return self.comms.handle_button(
            kind=click.action,
            value=click.value,
            user=click.actor.id,
            channel=click.channel,
            platform=click.actor.platform,
        )

    def jobs(self) -> Sequence[Service]:
        return [build_dispatcher_service(self.comms, self.posters)]

    def commands(self) -> Sequence[Command]:
        return [
            Command(
                "comms list",
                "Admins: list upcoming vendor-to-customer communications",
                self.list_command,
                admin_only=True,
                action="list communications",
                aliases=("comms",),
            ),
            Command(
                "comms cancel",
                "Admins: cancel a communication (channels already told are told)",
                self.cancel_command,
                params=(
                    Param("id", "The communication id, as `comms list` shows it", "word", True),
                ),
                admin_only=True,
                action="cancel communications",
            ),
        ]

    def list_command(self, call: CommandCall) -> Reply:
        """Upcoming communications, one line each, with the next notice due."""
        comms = self.comms
        now = comms.now()
        records = [r for r in comms.records() if r.status in ("scheduled", "updated")]
        if not records:
            return Reply(text=message("comms_none"), private=True)
        lines = [message("comms_list_heading")]
        for r in records:
            c = r.comm
            deliveries = comms.deliveries(c.id)
            pending = [d for d in deliveries if d.status == "planned" and d.kind != "alert"]
            next_part = ""
            if pending:
                next_part = f" · next: {notice_label(pending[0].kind, pending[0].lead_days)}"
            lines.append(
                f"• `{c.id}` — “{c.title}” — {c.channel}, {format_when(c.send_at)} "
                f"({in_days(c.send_at_utc, now)}) · {r.status}{next_part}"
            )
        return Reply(text="\n".join(lines), private=True)

    def cancel_command(self, call: CommandCall) -> Reply:
        """Cancel on behalf of a chat admin; channels already told get a "Cancelled" notice."""
        record, told = self.comms.cancel(call.text("id"), who=call.actor.who)
        text = message("comms_cancel_done", title=record.comm.title, id=record.id, told=len(told))
        return Reply(text=text, private=True)
