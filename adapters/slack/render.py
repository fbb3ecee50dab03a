"""Render a core `Answer` as a Slack message: Block Kit blocks plus a plain-text fallback.

Pure functions, no SDK imports: the blocks are plain dicts, so they are easy to test
and to reuse for ephemeral, threaded and shared copies of the same answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.models import Answer, Citation
from bot.prompts import message

# Slack limits: a section's text is at most 3,000 characters, a message at most 50 blocks;
# the fallback `text` is shown in notifications and is truncated by clients after ~4,000.
SECTION_LIMIT = 3000
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3900
CLOSEST_LIMIT = 3

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
SHARE_ANSWER = "share_answer"

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackMessage:
    """What gets posted: `text` always (notifications, screen readers), `blocks` when rich."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for chat.postMessage / respond()."""
        if self.blocks:
            return {"text": self.text, "blocks": self.blocks}
        return {"text": self.text}


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MD_BOLD = re.compile(r"\*\*(.+?)\*\*")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def to_mrkdwn(text: str) -> str:
    """Escape, and turn the Markdown an LLM may produce (**bold**, # headings) into mrkdwn."""
    text = escape(text)
    text = _MD_HEADING.sub(r"*\1*", text)
    return _MD_BOLD.sub(r"*\1*", text)


def markdown_to_mrkdwn(text: str) -> str:
    """Core Markdown (notices, digests, command replies) as mrkdwn, [text](url) links too."""
    return _MD_LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", to_mrkdwn(text))


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split into pieces of at most `limit` chars, preferring paragraph, line, sentence breaks."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(sep)
            if cut > limit // 2:
                cut += len(sep)
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _section(text: str, block_id: str) -> Block:
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}}


def _link(citation: Citation) -> str:
    label = escape(citation.label)
    if not citation.url:
        return label
    # Inside <url|label> a "|" would end the URL part early.
    return f"<{citation.url}|{label.replace('|', '/')}>"


def _list_sections(heading: str, lines: list[str], block_id: str) -> list[Block]:
    body = f"*{escape(heading)}*\n" + "\n".join(lines)
    return [
        _section(part, f"{block_id}-{i}" if i else block_id)
        for i, part in enumerate(split_text(body))
    ]


def _feedback(interaction_id: int) -> Block:
    value = str(interaction_id)
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {
                "type": "button",
                "action_id": FEEDBACK_UP,
                "text": {"type": "plain_text", "text": message("slack_helpful"), "emoji": True},
                "value": value,
            },
            {
                "type": "button",
                "action_id": FEEDBACK_DOWN,
                "text": {"type": "plain_text", "text": message("slack_not_helpful"), "emoji": True},
                "value": value,
            },
        ],
    }


def _share(interaction_id: int) -> Block:
    return {
        "type": "actions",
        "block_id": "share",
        "elements": [
            {
                "type": "button",
                "action_id": SHARE_ANSWER,
                "style": "primary",
                "text": {"type": "plain_text", "text": message("slack_share_button")},
                "value": str(interaction_id),
            }
        ],
    }


def closest_documents(answer: Answer, limit: int = CLOSEST_LIMIT) -> list[Citation]:
    """The best-ranked source per document, for an abstention."""
    seen: set[str] = set()
    closest: list[Citation] = []
    for source in answer.sources:
        if source.path in seen:
            continue
        seen.add(source.path)
        closest.append(source)
        if len(closest) == limit:
            break
    return closest


def _fallback(text: str) -> str:
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


def render_answer(
    answer: Answer, *, shareable: bool = False, shared_by: str | None = None
) -> SlackMessage:
    """Blocks for an answer or abstention; notices and errors stay plain text.

    `shareable` adds the "Post to channel" button (ephemeral answers); `shared_by` adds a
    note naming who posted a private answer to the channel.
    """
    if answer.kind != "answer":
        return SlackMessage(text=_fallback(answer.text))

    blocks: list[Block] = []
    if answer.abstained:
        blocks.append(
            {
                "type": "header",
                "block_id": "abstained",
                "text": {"type": "plain_text", "text": message("slack_abstained_heading")},
            }
        )
    for i, part in enumerate(split_text(to_mrkdwn(answer.text))):
        blocks.append(_section(part, f"answer-{i}"))

    if answer.abstained:
        closest = closest_documents(answer)
        if closest:
            lines = [f"• {_link(c)}" for c in closest]
            blocks.extend(_list_sections(message("closest_heading"), lines, "closest"))
    elif answer.citations:
        lines = [f"`[{c.number}]` {_link(c)}" for c in answer.citations]
        blocks.extend(_list_sections(message("sources_heading"), lines, "sources"))

    context: list[str] = []
    if answer.as_of and not answer.abstained:
        context.append(escape(message("as_of", date=answer.as_of.isoformat())))
    if shared_by:
        context.append(message("slack_shared_by", user=f"<@{shared_by}>"))
    if context:
        blocks.append(
            {
                "type": "context",
                "block_id": "context",
                "elements": [{"type": "mrkdwn", "text": " · ".join(context)}],
            }
        )

    if answer.interaction_id is not None:
        blocks.append(_feedback(answer.interaction_id))
        if shareable:
            blocks.append(_share(answer.interaction_id))

    # Never exceed Slack's block limit: keep the head (answer) and the tail (buttons).
    if len(blocks) > MAX_BLOCKS:
        tail = [b for b in blocks if b["type"] in ("actions", "context")]
        blocks = blocks[: MAX_BLOCKS - len(tail)] + tail
    return SlackMessage(text=_fallback(answer.text), blocks=blocks)


def render_text(text: str) -> SlackMessage:
    """A plain message (help, notices, acknowledgements)."""
    return SlackMessage(text=_fallback(text))


def render_markdown(text: str) -> SlackMessage:
    """A core reply in Markdown (command output, a thread intro) as mrkdwn.

    Short replies are plain text; a long one (a digest preview) is split into sections,
    since Slack clients cut a message's text after about 4,000 characters.
    """
    mrkdwn = markdown_to_mrkdwn(text)
    pieces = split_text(mrkdwn)
    if len(pieces) <= 1:
        return SlackMessage(text=_fallback(mrkdwn))
    blocks = [_section(piece, f"text-{i}") for i, piece in enumerate(pieces[:MAX_BLOCKS])]
    return SlackMessage(text=_fallback(mrkdwn), blocks=blocks)
