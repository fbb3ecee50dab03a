"""Teams messages: an answer or a notice as an Adaptive Card (adapters/teams/cards.py), other
replies as text. Within Teams' message size (about 28 KB); text replies are HTML-escaped, so
nothing in them mentions anyone."""

from __future__ import annotations

import html

from microsoft_teams.api.activities.message.message import MessageActivityInput
from microsoft_teams.api.models.attachment.attachment import Attachment

from adapters.teams.cards import CARD, TEXT_LIMIT, card
from bot.layout import Layout, answer_layout, notice_layout
from bot.models import Notice, Reply
from bot.text import clip


def render_card(layout: Layout) -> MessageActivityInput:
    return MessageActivityInput(attachments=[Attachment(content_type=CARD, content=card(layout))])


def render_reply(reply: Reply) -> MessageActivityInput:
    """An answer as a card with its sources and 👍/👎; anything else as Markdown text."""
    if (answer := reply.answer) is not None and answer.kind == "answer":
        return render_card(answer_layout(answer))
    said = clip(answer.text if answer is not None else reply.text, TEXT_LIMIT)
    return MessageActivityInput(text=html.escape(said, quote=False), text_format="markdown")


def render_notice(notice: Notice) -> MessageActivityInput:
    return render_card(notice_layout(notice))
