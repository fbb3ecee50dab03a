"""A notice as Discord will show it (the console's preview), from the embed the poster sends."""

from __future__ import annotations

import json
from typing import Any

from adapters.discord.render import render_notice
from bot.models import Notice
from bot.platform import MessagePreview, PreviewPart
from bot.platform import markdown_runs as runs


def preview_notice(notice: Notice) -> MessagePreview:
    sent: dict[str, Any] = render_notice(notice, footer=notice.key)
    embed = sent["embed"].to_dict()
    parts = [PreviewPart("heading", ((embed.get("title", ""), "", embed.get("url")),))]
    parts.append(PreviewPart("text", runs(embed.get("description", ""))))
    for f in embed.get("fields", []):
        parts.append(PreviewPart("field", runs(f["value"]), label=f["name"]))
    if footer := embed.get("footer", {}).get("text"):
        parts.append(PreviewPart("small", ((footer, "", None),)))
    view = sent.get("view")
    for item in view.children if view is not None else []:
        parts.append(
            PreviewPart(
                "button", label=str(getattr(getattr(item, "item", item), "label", "") or "")
            )
        )
    payload = {"embed": embed, "buttons": [p.label for p in parts if p.kind == "button"]}
    return MessagePreview(
        "discord", tuple(parts), json.dumps(payload, indent=2, ensure_ascii=False)
    )
