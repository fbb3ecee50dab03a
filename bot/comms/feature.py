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
from bot.comms.model import format_day, format_when, in_days
from bot.comms.planning import notice_label
from bot.comms.registry import Communications
from bot.features import Feature, Service
from bot.models import Answer, ButtonClick, ButtonReply, CommandCall, Question, Reply
from bot.posting import ChannelPoster
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
                "comms status",
                "Admins: who was told about a communication, and who acknowledged",
                self.status_command,
                params=(
                    Param("id", "The communication id, as `comms list` shows it", "word", True),
                ),
                admin_only=True,
                action="see communication status",
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

    def status_command(self, call: CommandCall) -> Reply:
        """Channels and partners told and acknowledged, in counts and partner names: a status
        shown in chat never names a customer."""
        report = self.comms.status(call.text("id"))
        comm, now = report.record.comm, self.comms.now()
        channels = report.channels
        lines = [
            message(
                "comms_status_heading",
                title=comm.title,
                id=comm.id,
                status=report.record.status,
                send_when=format_when(comm.send_at),
                in_days=in_days(comm.send_at_utc, now),
            ),
            message(
                "comms_status_channels",
                told=sum(1 for c in channels if c.told_at),
                total=len(channels),
                acked=sum(1 for c in channels if c.acks),
            ),
        ]
        partners = report.partners
        if partners:
            lines.append(
                message(
                    "comms_status_partners",
                    affected=sum(1 for p in partners if p.customers),
                    told=sum(1 for p in partners if p.told_at),
                    acked=sum(1 for p in partners if p.acks),
                )
            )
        for p in partners:
            told = f"told {format_day(p.told_at)}" if p.told_at else "not told yet"
            acked = f"acknowledged by {len(p.acks)}" if p.acks else "not acknowledged"
            count = "list deleted" if p.customers is None else f"{p.customers} customer(s)"
            lines.append(
                f"• {p.name}{f' ({p.tier})' if p.tier else ''} — {count} — {told}, {acked}"
            )
        summary = report.recipients
        if summary is not None and not summary.deleted and summary.split.unknown:
            split = summary.split
            lines.append(
                message(
                    "comms_status_unknown",
                    unknown=split.unknown,
                    blank=split.blank,
                    unlisted=split.unknown - split.blank,
                )
            )
        return Reply(text="\n".join(lines), private=True)

    def cancel_command(self, call: CommandCall) -> Reply:
        """Cancel on behalf of a chat admin; channels already told get a "Cancelled" notice."""
        record, told = self.comms.cancel(call.text("id"), who=call.actor.who)
        text = message("comms_cancel_done", title=record.comm.title, id=record.id, told=len(told))
        return Reply(text=text, private=True)
