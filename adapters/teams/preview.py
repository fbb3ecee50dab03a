"""A notice as Teams will show it (the console's preview), from the card the poster sends."""

from __future__ import annotations

import json
from typing import Any

from adapters.teams.cards import card
from bot.layout import notice_layout
from bot.models import Notice
from bot.platform import MessagePreview, PreviewPart, markdown_runs


def _parts(block: dict[str, Any]) -> list[PreviewPart]:
    if block["type"] == "FactSet":
        return [
            PreviewPart("field", markdown_runs(f["value"]), label=f["title"])
            for f in block["facts"]
        ]
    if block.get("weight") == "Bolder":
        return [PreviewPart("heading", ((block["text"], "", None),))]
    if block.get("isSubtle"):
        return [PreviewPart("small", markdown_runs(block["text"]))]
    return [PreviewPart("text", markdown_runs(block["text"]))]


def preview_notice(notice: Notice) -> MessagePreview:
    sent = card(notice_layout(notice))
    parts = [part for block in sent["body"] for part in _parts(block)]
    parts += [PreviewPart("button", label=action["title"]) for action in sent["actions"]]
    payload = json.dumps(sent, indent=2, ensure_ascii=False)
    return MessagePreview("teams", tuple(parts), payload)
