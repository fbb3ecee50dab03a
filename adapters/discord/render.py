"""Layouts (bot/layout.py) → Discord messages, as keyword arguments for `send`: embeds
within Discord's limits with sources as fields, and persistent buttons."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.layout import Button, Item, Layout, answer_layout, notice_layout
from bot.models import Answer, Notice, Reply
from bot.text import clip, split_text

logger = logging.getLogger(__name__)

CONTENT_LIMIT, DESCRIPTION_LIMIT, TITLE_LIMIT = 2000, 4096, 256
FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT, FOOTER_LIMIT = 256, 1024, 2048
FIELDS_PER_EMBED, EMBED_TOTAL_LIMIT, EMBEDS_PER_MESSAGE = 25, 6000, 10
# Button actions ↔ custom ids ("feedback:up:<interaction id>", "notice:ask:<value>").
CUSTOM_IDS = {"feedback_up": "feedback:up", "feedback_down": "feedback:down"}
CUSTOM_IDS |= {"acknowledge": "notice:acknowledge", "ask": "notice:ask"}
Kwargs = dict[str, Any]


def render(reply: Reply) -> list[Kwargs]:
    return render_answer(reply.answer) if reply.answer else render_text(reply.text)


def render_text(text: str) -> list[Kwargs]:
    return [{"content": chunk} for chunk in split_text(text, CONTENT_LIMIT)]


def render_answer(answer: Answer) -> list[Kwargs]:
    """An answer as messages (the last has the buttons); a refusal or apology as plain text."""
    if answer.kind != "answer":
        return render_text(answer.text)
    layout = answer_layout(answer)
    colour = discord.Colour.light_grey() if layout.abstained else discord.Colour.blurple()
    budget = EMBED_TOTAL_LIMIT - len(layout.note or "")
    chunks = split_text(layout.body, DESCRIPTION_LIMIT) or [""]
    embeds = [discord.Embed(description=chunk or None, colour=colour) for chunk in chunks]
    for name, value in _fields(layout):
        last = embeds[-1]
        if len(last.fields) >= FIELDS_PER_EMBED or len(last) + len(name) + len(value) > budget:
            embeds.append(last := discord.Embed(colour=colour))
        last.add_field(name=name, value=value, inline=False)
    if layout.note:
        embeds[-1].set_footer(text=layout.note)
    messages: list[Kwargs] = [{"embeds": group} for group in pack(embeds)]
    if view := view_for(layout.buttons):
        messages[-1]["view"] = view
    return messages


def _fields(layout: Layout) -> list[tuple[str, str]]:
    """A field per source ("[n] Title", the section linked); for an abstention one field
    listing the closest documents."""
    if not layout.abstained:
        name = lambda i: clip(f"[{i.number}] {i.title}", FIELD_NAME_LIMIT)  # noqa: E731
        return [(name(i), _line(i, i.section or i.path)) for i in layout.items]
    room = FIELD_VALUE_LIMIT // max(len(layout.items), 1) - 3
    lines = [f"• {_line(i, i.title, room)}" for i in layout.items]
    return [(layout.items_heading or "", "\n".join(lines))] if lines else []


def _line(item: Item, text: str, limit: int = FIELD_VALUE_LIMIT) -> str:
    """`[text](url) · date` within `limit`: the text is shortened, never the link."""
    dated = f" · {item.date.isoformat()}" if item.date else ""
    room = limit - len(dated) - len(item.url or "") - 4
    if item.url and room >= 10:
        return f"[{clip(text.replace('[', '(').replace(']', ')'), room)}]({item.url}){dated}"
    return clip(discord.utils.escape_markdown(text), limit - len(dated)) + dated


def pack(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Embeds into messages: at most 10 per message and 6,000 characters in total."""
    groups: list[list[discord.Embed]] = []
    for embed in embeds:
        size = sum(len(e) for e in groups[-1]) if groups else EMBED_TOTAL_LIMIT
        if size + len(embed) > EMBED_TOTAL_LIMIT or len(groups[-1]) >= EMBEDS_PER_MESSAGE:
            groups.append([])
        groups[-1].append(embed)
    return groups


def render_notice(notice: Notice, *, footer: str) -> Kwargs:
    """A notice as one embed (`footer` carries the delivery key) and its buttons."""
    layout = notice_layout(notice)
    title, gold = clip(notice.title, TITLE_LIMIT), discord.Colour.gold()
    embed = discord.Embed(title=title, url=notice.link, colour=gold)
    embed.set_footer(text=clip(footer, FOOTER_LIMIT))
    shown = layout.fields[:FIELDS_PER_EMBED]
    fields = [(clip(n, FIELD_NAME_LIMIT), clip(v or "—", FIELD_VALUE_LIMIT)) for n, v in shown]
    room = EMBED_TOTAL_LIMIT - len(embed) - sum(len(n) + len(v) for n, v in fields)
    embed.description = clip(notice.text, max(0, min(DESCRIPTION_LIMIT, room)))
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    view = view_for(layout.buttons)
    return {"embed": embed, **({"view": view} if view else {})}


class PersistentButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"(?P<kind>feedback:up|feedback:down|notice:acknowledge|notice:ask):(?P<value>.+)",
):
    """The state is in the custom id, so a click on a message sent before a restart works."""

    def __init__(self, kind: str, value: str, label: str = "") -> None:
        emoji = {"feedback:up": "👍", "feedback:down": "👎"}.get(kind)
        style = {"notice:acknowledge": "success", "notice:ask": "primary"}.get(kind, "secondary")
        shown: dict[str, Any] = {"emoji": emoji} if emoji else {"label": label}
        custom, kind_style = f"{kind}:{value}", discord.ButtonStyle[style]
        item: Any = discord.ui.Button(style=kind_style, custom_id=custom, **shown)
        super().__init__(item)
        self.action = next(a for a, k in CUSTOM_IDS.items() if k == kind)
        self.value = value

    @classmethod
    async def from_custom_id(cls, _: Any, item: Any, match: re.Match[str], /) -> PersistentButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["kind"], match["value"], label or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.client.platform.on_button(interaction, self.action, self.value)


def view_for(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """The buttons as a persistent view (one whose custom id would not fit is left out)."""
    view = discord.ui.View(timeout=None)
    for b in buttons[:25]:
        custom = f"{CUSTOM_IDS.get(b.action)}:{b.value}"
        if b.action not in CUSTOM_IDS or not b.value or len(custom) > 100:
            logger.warning("button %r left out: not a Discord button, or too long a value", b)
        else:
            view.add_item(PersistentButton(CUSTOM_IDS[b.action], b.value, b.label[:80]))
    return view if view.children else None


def thread_name(text: str) -> str:
    """A thread title from a question or notice title: no mentions, one line, ≤ 100 chars."""
    return clip(" ".join(re.sub(r"<[@#][!&]?\d+>", " ", text).split()) or "partnerbot", 100)
