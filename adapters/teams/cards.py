"""Layouts (bot/layout.py) → Adaptive Cards (1.5) whose buttons are `Action.Execute`, so a
click comes back to the bot as an invoke. Plain dictionaries: the SDK is not needed to build
one (the console previews a notice from them). A card shows text as Markdown, never as HTML,
and nothing in it mentions anyone (that takes an entity the card does not carry)."""

from __future__ import annotations

from typing import Any

from bot.layout import Item, Layout
from bot.text import clip

CARD = "application/vnd.microsoft.card.adaptive"
BODY_LIMIT, ITEMS_LIMIT, TEXT_LIMIT = 12_000, 25, 20_000  # characters, sources, characters


def text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def _item(item: Item) -> str:
    label = item.label.replace("[", "(").replace("]", ")")
    shown = f"[{label}]({item.url})" if item.url else label
    dated = f" · {item.date.isoformat()}" if item.date else ""
    return f"[{item.number}] {shown}{dated}" if item.number is not None else f"- {shown}{dated}"


def card(layout: Layout) -> dict[str, Any]:
    """Heading, body, sources (or closest documents), facts, small print, buttons."""
    head = layout.heading
    body = [text(clip(head, 200), weight="Bolder", size="Medium")] if head else []
    body.append(text(clip(layout.body, BODY_LIMIT)))
    if layout.items:
        lines = "\n\n".join(_item(i) for i in layout.items[:ITEMS_LIMIT])
        body.append(text(f"**{layout.items_heading or ''}**\n\n{lines}", spacing="Medium"))
    if layout.fields:
        facts = [{"title": clip(k, 100), "value": clip(v or "—", 999)} for k, v in layout.fields]
        body.append({"type": "FactSet", "facts": facts})
    if small := [s for s in (layout.note, layout.link) if s]:
        body.append(text(" · ".join(small), isSubtle=True, size="Small"))
    actions = [
        {"type": "Action.Execute", "title": b.label[:80], "verb": b.action}
        | {"data": {"action": b.action, "value": b.value}}
        | ({"style": "positive"} if b.primary else {})
        for b in layout.buttons
    ]
    shape = {"type": "AdaptiveCard", "version": "1.5", "msteams": {"width": "Full"}}
    return shape | {"body": body, "actions": actions}
