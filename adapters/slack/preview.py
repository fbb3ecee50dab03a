"""A notice as Slack will show it (the console's preview), from the blocks the poster sends."""

from __future__ import annotations

import json
import re

from adapters.slack.render import render_notice
from bot.models import Notice
from bot.platform import MessagePreview, PreviewPart

# mrkdwn: <url|label>, <url>, *bold*; &amp; &lt; &gt; are Slack's escapes.
_TOKENS = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>|\*([^*\n]+)\*")


def _plain(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def runs(mrkdwn: str) -> tuple[tuple[str, str, str | None], ...]:
    """mrkdwn as (text, "b" when bold, link) runs, as Slack's client draws them."""
    found: list[tuple[str, str, str | None]] = []
    at = 0
    for m in _TOKENS.finditer(mrkdwn):
        if m.start() > at:
            found.append((_plain(mrkdwn[at : m.start()]), "", None))
        if m.group(1):
            found.append((_plain(m.group(2) or m.group(1)), "", _plain(m.group(1))))
        else:
            found.append((_plain(m.group(3)), "b", None))
        at = m.end()
    if at < len(mrkdwn):
        found.append((_plain(mrkdwn[at:]), "", None))
    return tuple(found)


def preview_notice(notice: Notice) -> MessagePreview:
    shown = render_notice(notice)
    parts: list[PreviewPart] = []
    for block in shown.blocks:
        kind = block["type"]
        if kind == "header":
            parts.append(PreviewPart("heading", ((block["text"]["text"], "", None),)))
        elif kind == "section" and "text" in block:
            parts.append(PreviewPart("text", runs(block["text"]["text"])))
        elif kind == "section":
            for f in block.get("fields", []):
                label, _, value = f["text"].partition("\n")
                parts.append(PreviewPart("field", runs(value), label=_plain(label.strip("*"))))
        elif kind == "context":
            for element in block["elements"]:
                parts.append(PreviewPart("small", runs(element["text"])))
        elif kind == "actions":
            for button in block["elements"]:
                parts.append(PreviewPart("button", label=button["text"]["text"]))
    if not shown.blocks:
        parts.append(PreviewPart("text", runs(shown.text)))
    payload = json.dumps(shown.as_kwargs(), indent=2, ensure_ascii=False)
    return MessagePreview("slack", tuple(parts), payload)
