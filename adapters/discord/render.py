"""Answer → Discord messages: embeds within Discord's limits, sources as fields.

Pure functions (no network), so the limits can be tested directly. A long answer
is split across several messages at paragraph, sentence or word boundaries, never
inside a word, a citation marker like ``[1, 2]`` or a Markdown link.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import discord

from bot.models import Answer, Citation
from bot.notify import Notice
from bot.prompts import message

# Discord's documented limits.
CONTENT_LIMIT = 2000
DESCRIPTION_LIMIT = 4096
TITLE_LIMIT = 256
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
FIELDS_PER_EMBED = 25
EMBED_TOTAL_LIMIT = 6000  # per message, summed over all of its embeds
EMBEDS_PER_MESSAGE = 10
THREAD_NAME_LIMIT = 100

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAINED_COLOUR = discord.Colour.light_grey()
NOTICE_COLOUR = discord.Colour.gold()
CLOSEST_SHOWN = 3

# Spans a split must never fall inside: citation markers, Markdown links, inline code.
_PROTECTED = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]|\[[^\]\n]*\]\([^)\s]*\)|`[^`\n]*`")
_CITATION_AHEAD = re.compile(r"\s*\[\d")


@dataclass(frozen=True)
class Reply:
    """One Discord message: plain content and/or embeds, optionally with 👍/👎 buttons."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()
    feedback_for: int | None = None  # the core's interaction id, when buttons are attached


def render_answer(answer: Answer) -> list[Reply]:
    """Render an Answer as one or more messages (the last one carries the buttons)."""
    if answer.kind != "answer":
        # Notices and apologies are about the request, not the documents: plain text.
        return [Reply(content=chunk) for chunk in split_text(answer.text, CONTENT_LIMIT)]
    colour = ABSTAINED_COLOUR if answer.abstained else ANSWER_COLOUR
    footer = message("as_of", date=answer.as_of.isoformat()) if answer.as_of else None
    budget = EMBED_TOTAL_LIMIT - len(footer or "")
    embeds = [
        discord.Embed(description=chunk, colour=colour)
        for chunk in split_text(answer.text, DESCRIPTION_LIMIT)
    ] or [discord.Embed(colour=colour)]
    fields = closest_fields(answer) if answer.abstained else source_fields(answer)
    for name, value in fields:
        last = embeds[-1]
        if len(last.fields) >= FIELDS_PER_EMBED or len(last) + len(name) + len(value) > budget:
            last = discord.Embed(colour=colour)
            embeds.append(last)
        last.add_field(name=name, value=value, inline=False)
    if footer:
        embeds[-1].set_footer(text=footer)
    replies = [Reply(embeds=group) for group in pack_embeds(embeds)]
    if answer.interaction_id is not None:
        replies[-1] = Reply(embeds=replies[-1].embeds, feedback_for=answer.interaction_id)
    return replies


def source_fields(answer: Answer) -> list[tuple[str, str]]:
    """One field per cited source: ``[n] Title`` and the section, linked when there is a URL."""
    return [
        (_clip(f"[{c.number}] {c.title}", FIELD_NAME_LIMIT), _source_line(c, c.section or c.path))
        for c in sorted(answer.cited, key=lambda c: c.number)
    ]


def closest_fields(answer: Answer) -> list[tuple[str, str]]:
    """For an abstention: the closest documents (one line each), in a single field."""
    seen: dict[str, Citation] = {}
    for c in answer.sources:
        seen.setdefault(c.title, c)
        if len(seen) == CLOSEST_SHOWN:
            break
    if not seen:
        return []
    per_line = FIELD_VALUE_LIMIT // CLOSEST_SHOWN - 3
    lines = [f"• {_source_line(c, c.title, per_line)}" for c in seen.values()]
    return [(message("closest_heading"), "\n".join(lines))]


def _source_line(c: Citation, text: str, limit: int = FIELD_VALUE_LIMIT) -> str:
    """``[text](url) · date`` within ``limit``: the text is shortened, never the link."""
    dated = f" · {c.effective_date.isoformat()}" if c.effective_date else ""
    room = limit - len(dated)
    if c.url and room - len(c.url) - 4 >= 10:
        shown = _clip(_escape_link_text(text), room - len(c.url) - 4)
        return f"[{shown}]({c.url}){dated}"
    return _clip(discord.utils.escape_markdown(text), room) + dated


def _escape_link_text(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


def notice_embed(notice: Notice, *, footer: str) -> discord.Embed:
    """A partner-channel notice as one embed; ``footer`` carries the delivery key."""
    embed = discord.Embed(
        title=_clip(notice.title, TITLE_LIMIT),
        url=notice.link,
        colour=NOTICE_COLOUR,
    )
    footer = _clip(footer, FOOTER_LIMIT)
    embed.set_footer(text=footer)
    fields = [
        (_clip(name, FIELD_NAME_LIMIT), _clip(value or "—", FIELD_VALUE_LIMIT))
        for name, value in notice.fields[:FIELDS_PER_EMBED]
    ]
    room = EMBED_TOTAL_LIMIT - len(embed) - sum(len(n) + len(v) for n, v in fields)
    embed.description = _clip(notice.text, max(0, min(DESCRIPTION_LIMIT, room)))
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    return embed


def pack_embeds(embeds: list[discord.Embed]) -> list[tuple[discord.Embed, ...]]:
    """Group embeds into messages: at most 10 per message and 6,000 characters in total."""
    groups: list[list[discord.Embed]] = []
    size = 0
    for embed in embeds:
        if (
            not groups
            or len(groups[-1]) >= EMBEDS_PER_MESSAGE
            or size + len(embed) > EMBED_TOTAL_LIMIT
        ):
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += len(embed)
    return [tuple(g) for g in groups]


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters at clean boundaries."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            chunks.append(head)
    if rest:
        chunks.append(rest)
    return chunks


def _cut_point(text: str, limit: int) -> int:
    """The best place to split ``text[: limit + 1]``: an index of whitespace, or ``limit``."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]

    def allowed(i: int) -> bool:
        return not any(start < i < end for start, end in protected)

    window = text[: limit + 1]
    spaces = [m.start() for m in re.finditer(r"\s", window) if m.start() > 0 and allowed(m.start())]
    if not spaces:
        # A single "word" longer than the limit: cut it, but not inside a protected span.
        cut = limit
        for start, end in protected:
            if start < cut < end:
                cut = start
        return cut if cut > 0 else limit

    def last(pred: Callable[[int], bool]) -> int | None:
        # Only boundaries in the second half count, so no chunk comes out tiny.
        for i in reversed(spaces):
            if i < limit // 2:
                break
            if pred(i):
                return i
        return None

    def paragraph(i: int) -> bool:
        return window[i] == "\n" and window[i - 1] == "\n"

    def line(i: int) -> bool:
        return window[i] == "\n"

    def sentence(i: int) -> bool:
        # After ".", "!", "?" or a closing citation, unless a citation follows (it belongs
        # to the sentence before it: "... by March. [2] Next ...").
        return window[i - 1] in ".!?]" and not _CITATION_AHEAD.match(text, i)

    for pred in (paragraph, line, sentence):
        found = last(pred)
        if found is not None:
            return found
    return spaces[-1]


def _clip(text: str, limit: int) -> str:
    """Shorten to ``limit`` characters at a word boundary, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + "…"


def thread_name(text: str) -> str:
    """A thread title from a question or notice title: mentions removed, one line, ≤ 100 chars."""
    text = re.sub(r"<[@#][!&]?\d+>", " ", text)
    text = " ".join(text.split()) or "partnerbot"
    if len(text) <= THREAD_NAME_LIMIT:
        return text
    return text[: THREAD_NAME_LIMIT - 1].rsplit(" ", 1)[0] + "…"
