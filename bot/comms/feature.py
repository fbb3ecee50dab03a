"""Communications as a feature of the bot: its answers, commands, buttons and dispatcher.

Built by the composition root (bot/app.py) around the registry, with the state store
(acknowledgements, the outbox the dispatcher works), a way to answer from the documents
and a way to reach the running platforms' posters; the core and the chat service see
only the Feature hooks (bot/features.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC

from bot.commands import Command, Param
from bot.comms.dispatcher import build_dispatcher_service
from bot.comms.keys import FEATURE, PARTNER_FEATURE, delivery_id_of
from bot.comms.model import Communication, format_day, format_when, in_days
from bot.comms.qa import AnswerDocuments, answer_question
from bot.comms.registry import TOPIC_KIND, Communications
from bot.features import Feature, Service
from bot.models import (
    Answer,
    ButtonClick,
    ButtonReply,
    CommandCall,
    Question,
    Reply,
    Topic,
)
from bot.posting import ChannelPoster
from bot.prompts import message
from bot.store import Ack, Delivery, PartnerAck, Store
from knowledge.index import SyncReport

logger = logging.getLogger(__name__)

Posters = Callable[[], Mapping[str, ChannelPoster]]


class CommsFeature(Feature):
    name = "comms"

    def __init__(
        self,
        comms: Communications,
        *,
        store: Store,
        posters: Posters,
        answer_documents: AnswerDocuments | None = None,
    ) -> None:
        self.comms = comms
        self.store = store  # the registry's: acknowledgements, and the dispatcher's outbox
        self.posters = posters
        self.answer_documents = answer_documents

    def answer(self, question: Question) -> Answer | None:
        """Answers only this feature gives well (see bot/comms/qa.py); None otherwise."""
        try:
            return answer_question(self.comms, question, self.answer_documents)
        except Exception:
            logger.exception("answering from communications failed; using the documents")
            return None

    def on_reindex(self, report: SyncReport) -> None:
        self.comms.refresh_index()  # a re-index keeps the communications (a rebuild drops them)

    def jobs(self) -> Sequence[Service]:
        return [build_dispatcher_service(self.comms, self.store, self.posters)]

    # -- buttons ----------------------------------------------------------------------------------
    def on_button(self, click: ButtonClick) -> ButtonReply | None:
        """Acknowledge (recorded per user and channel) or Ask about this: a thread on the
        notice whose topic is the communication."""
        if click.action not in ("acknowledge", "ask"):
            return None
        delivery_id = delivery_id_of(click.value)
        deliveries = self.store.deliveries
        if delivery_id is not None:
            delivery = deliveries.get(delivery_id)
        else:
            delivery = deliveries.by_key(click.value)
        mine = delivery is not None and delivery.feature in (FEATURE, PARTNER_FEATURE)
        record = self.comms.get(delivery.subject) if delivery and mine else None
        if delivery is None or record is None:
            return ButtonReply(message("comms_button_unknown"))
        comm = record.comm
        if click.action == "ask":
            intro = message(
                "comms_ask_intro",
                title=comm.title,
                send_day=format_day(comm.send_at),
                ref=comm.doc_path,
            )
            return ButtonReply(intro, open_thread=True, topic=Topic(TOPIC_KIND, comm.id))
        if delivery.feature == PARTNER_FEATURE:
            return self._partner_ack(comm, delivery, click)
        return self._channel_ack(comm, delivery, click)

    def _channel_ack(
        self, comm: Communication, delivery: Delivery, click: ButtonClick
    ) -> ButtonReply:
        """Acknowledged in the channel the notice was posted to (whoever clicks)."""
        first = self.store.comms.add_ack(
            Ack(
                comm_id=comm.id,
                platform=delivery.platform,
                channel=delivery.channel,
                user=click.actor.id,
                at=self._at(),
                delivery_key=delivery.key,
            )
        )
        logger.info(
            "acknowledged %s by %s in %s:%s (clicked in %s:%s)",
            comm.id,
            click.actor.id,
            delivery.platform,
            delivery.channel,
            click.actor.platform,
            click.channel,
        )
        key = "comms_ack_thanks" if first else "comms_ack_again"
        return ButtonReply(message(key, title=comm.title, send_day=format_day(comm.send_at)))

    def _partner_ack(
        self, comm: Communication, delivery: Delivery, click: ButtonClick
    ) -> ButtonReply:
        """Acknowledged for the partner the private notice was for (whoever of it clicks)."""
        partner_id = str(delivery.detail.get("partner", ""))
        user, platform = click.actor.id, click.actor.platform
        first = self.store.comms.add_partner_ack(
            PartnerAck(
                comm_id=comm.id,
                partner_id=partner_id,
                platform=platform,
                user=user,
                at=self._at(),
                delivery_key=delivery.key,
            )
        )
        logger.info("acknowledged %s for partner %s by %s:%s", comm.id, partner_id, platform, user)
        partner = self.comms.partner_notices.partners.get(partner_id)
        key = "comms_partner_ack_thanks" if first else "comms_ack_again"
        text = message(
            key,
            title=comm.title,
            send_day=format_day(comm.send_at),
            partner=partner.name if partner else partner_id,
        )
        return ButtonReply(text)

    def _at(self) -> str:
        return self.comms.now().astimezone(UTC).isoformat(timespec="seconds")

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
        now = self.comms.now()
        listed = [
            row
            for row in self.comms.reports.listing()
            if row.record.status in ("scheduled", "updated")
        ]
        if not listed:
            return Reply(text=message("comms_none"), private=True)
        lines = [message("comms_list_heading")]
        for row in listed:
            r, c = row.record, row.record.comm
            next_part = f" · next: {row.next_notice}" if row.next_notice else ""
            lines.append(
                f"• `{c.id}` — “{c.title}” — {c.channel}, {format_when(c.send_at)} "
                f"({in_days(c.send_at_utc, now)}) · {r.status}{next_part}"
            )
        return Reply(text="\n".join(lines), private=True)

    def status_command(self, call: CommandCall) -> Reply:
        """Channels and partners told and acknowledged, in counts and partner names: a status
        shown in chat never names a customer."""
        report = self.comms.reports.status(call.text("id"))
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
