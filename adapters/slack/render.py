"""Layouts (bot/layout.py) → Slack messages: Block Kit blocks plus the `text` fallback,
both escaped, so nothing in an answer can ping a channel or a person."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.layout import Item, Layout, answer_layout, notice_layout
from bot.models import Answer, Notice
from bot.prompts import message
from bot.text import clip, split_text

SECTION_LIMIT, MAX_BLOCKS, FALLBACK_LIMIT = 3000, 50, 3900
# The chat service's button actions → Slack action ids.
ACTION_IDS = {"feedback_up": "feedback_up", "feedback_down": "feedback_down"}
ACTION_IDS |= {"share": "share_answer", "acknowledge": "notice_acknowledge", "ask": "notice_ask"}
BUTTON_ACTIONS = {action_id: action for action, action_id in ACTION_IDS.items()}
BUTTON_GROUPS = {"share": "share", "acknowledge": "partnerbot_notice", "ask": "partnerbot_notice"}
Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self, *, plain: bool = False) -> dict[str, Any]:
        """Arguments for chat.postMessage / respond(); `plain`: the text alone."""
        blocks = {} if plain or not self.blocks else {"blocks": self.blocks}
        return {"text": self.text, **blocks}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Core Markdown as mrkdwn: escaped; **bold**, # headings, [text](url) links."""
    text = re.sub(r"^#{1,6}\s+(.+)$", r"*\1*", escape(text), flags=re.MULTILINE)
    text = re.sub(r"\*\*(.+?)\*\*", r"*\1*", text)
    return re.sub(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)", r"<\2|\1>", text)


def _block(kind: str, block_id: str | None = None, **fields: Any) -> Block:
    return {"type": kind, **({"block_id": block_id} if block_id else {}), **fields}


def _sections(text: str, name: str | None = None) -> list[Block]:
    """Sections of at most 3,000 characters: `name`, `name-1`, … (`answer-0`, `answer-1`, …)."""
    parts = split_text(text, SECTION_LIMIT)
    ids = [f"{name}-{i}" if name and (i or name == "answer") else name for i in range(len(parts))]
    texts = [{"type": "mrkdwn", "text": p} for p in parts]
    return [_block("section", i, text=t) for i, t in zip(ids, texts, strict=True)]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _item(item: Item) -> str:
    label = escape(item.label)  # (in <url|label> a "|" would end the URL part)
    shown = f"<{item.url}|{label.replace('|', '/')}>" if item.url else label
    return f"`[{item.number}]` {shown}" if item.number is not None else f"• {shown}"


def render(
    layout: Layout, *, body_id: str | None = None, note: str | None = None, short: bool = False
) -> SlackMessage:
    """Heading, body, the source list, fields, small print, buttons. `short`: a message
    that fits one section is plain text."""
    body = mrkdwn(layout.body)
    head = f"{escape(layout.heading)}\n" if layout.heading else ""
    blocks: list[Block] = []
    if layout.heading:
        block_id = "abstained" if layout.abstained else None
        blocks.append(_block("header", block_id, text=_plain(clip(layout.heading, 150))))
    blocks += _sections(body, body_id)
    if layout.items:
        lines = "\n".join(_item(i) for i in layout.items)
        listing = f"*{escape(layout.items_heading or '')}*\n{lines}"
        blocks += _sections(listing, "closest" if layout.abstained else "sources")
    if layout.fields:
        fields = [f"*{mrkdwn(k)}*\n{mrkdwn(v)}"[:2000] for k, v in layout.fields[:10]]
        blocks.append(_block("section", fields=[{"type": "mrkdwn", "text": f} for f in fields]))
    small = [escape(layout.note)] if layout.note else []
    small += [note] if note else []
    small += [f"<{layout.link}>"] if layout.link else []
    if small:
        element = {"type": "mrkdwn", "text": " · ".join(small)}
        blocks.append(_block("context", "context", elements=[element]))
    groups: dict[str, list[Block]] = {}
    for b in layout.buttons:
        button = _block("button", action_id=ACTION_IDS[b.action], text=_plain(b.label[:75]))
        button = {**button, "value": b.value[:2000], **({"style": "primary"} if b.primary else {})}
        groups.setdefault(BUTTON_GROUPS.get(b.action, "feedback"), []).append(button)
    blocks += [_block("actions", group, elements=items) for group, items in groups.items()]
    if len(blocks) > MAX_BLOCKS:  # keep the head (the answer) and the tail (the buttons)
        tail = [b for b in blocks if b["type"] in ("actions", "context")]
        blocks = blocks[: MAX_BLOCKS - len(tail)] + tail
    plain = short and len(blocks) == 1
    return SlackMessage(text=clip(head + body, FALLBACK_LIMIT), blocks=[] if plain else blocks)


def render_answer(
    answer: Answer, *, shareable: bool = False, shared_by: str | None = None
) -> SlackMessage:
    """An answer or abstention as blocks; a notice about the request or an error: plain text."""
    if answer.kind != "answer":
        return SlackMessage(text=clip(escape(answer.text), FALLBACK_LIMIT))
    shared = message("slack_shared_by", user=f"<@{shared_by}>") if shared_by else None
    return render(answer_layout(answer, shareable=shareable), body_id="answer", note=shared)


def render_markdown(text: str) -> SlackMessage:
    """A core reply in Markdown (help, command output, a thread intro): plain mrkdwn, or
    sections when long (clients cut a message's text after about 4,000 characters)."""
    return render(Layout(body=text), short=True)


def render_notice(notice: Notice) -> SlackMessage:
    return render(notice_layout(notice))
