"""Layouts (bot/layout.py) → Teams messages: an Adaptive Card (1.5) whose buttons are
`Action.Execute`, so a click comes back to the bot as an invoke; plain replies as text.
Within Teams' message size (about 28 KB). A card shows text as Markdown, never as HTML, and
nothing in it can mention anyone (that takes an entity the card does not carry)."""

from __future__ import annotations

from typing import Any

from microsoft_teams.api.activities.message.message import MessageActivityInput
from microsoft_teams.api.models.attachment.attachment import Attachment

from bot.layout import Item, Layout, answer_layout, notice_layout
from bot.models import Notice, Reply
from bot.text import clip

CARD = "application/vnd.microsoft.card.adaptive"
BODY_LIMIT, ITEMS_LIMIT, TEXT_LIMIT, FACT_LIMIT = 12_000, 25, 20_000, 1_000
Block = dict[str, Any]


def text(value: str, **style: Any) -> Block:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def escape(value: str) -> str:
    """A text message as Teams shows it, never as markup (HTML tags, <at> mentions)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _item(item: Item) -> str:
    label = item.label.replace("[", "(").replace("]", ")")
    shown = f"[{label}]({item.url})" if item.url else label
    dated = f" · {item.date.isoformat()}" if item.date else ""
    return f"[{item.number}] {shown}{dated}" if item.number is not None else f"- {shown}{dated}"


def card(layout: Layout) -> Block:
    """Heading, body, sources (or closest documents), facts, small print, buttons."""
    body = (
        [text(clip(layout.heading, 200), weight="Bolder", size="Medium")] if layout.heading else []
    )
    body.append(text(clip(layout.body, BODY_LIMIT)))
    if layout.items:
        lines = "\n\n".join(_item(i) for i in layout.items[:ITEMS_LIMIT])
        body.append(text(f"**{layout.items_heading or ''}**\n\n{lines}", spacing="Medium"))
    if layout.fields:
        facts = [
            {"title": clip(k, 100), "value": clip(v or "—", FACT_LIMIT)} for k, v in layout.fields
        ]
        body.append({"type": "FactSet", "facts": facts})
    small = [s for s in (layout.note, layout.link) if s]
    if small:
        body.append(text(" · ".join(small), isSubtle=True, size="Small"))
    actions = [
        {
            "type": "Action.Execute",
            "title": b.label[:80],
            "verb": b.action,
            "data": {"action": b.action, "value": b.value},
            **({"style": "positive"} if b.primary else {}),
        }
        for b in layout.buttons
    ]
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": body,
        "actions": actions,
        "msteams": {"width": "Full"},
    }


def render_card(layout: Layout) -> MessageActivityInput:
    return MessageActivityInput(attachments=[Attachment(content_type=CARD, content=card(layout))])


def render_reply(reply: Reply) -> MessageActivityInput:
    """An answer as a card with its sources and 👍/👎; anything else as Markdown text."""
    answer = reply.answer
    if answer is not None and answer.kind == "answer":
        return render_card(answer_layout(answer))
    said = answer.text if answer is not None else reply.text
    return MessageActivityInput(text=escape(clip(said, TEXT_LIMIT)), text_format="markdown")


def render_notice(notice: Notice) -> MessageActivityInput:
    return render_card(notice_layout(notice))
