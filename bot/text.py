"""Text rules every platform shares: splitting long text, clipping, the closest documents.

Platforms differ only in their limits (Slack: 3,000 characters a section, Discord:
4,096 an embed description); how text is cut is decided once, here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.models import Answer, Citation

CLOSEST_DOCUMENTS = 3

# Spans a cut must never fall inside: citation markers "[1]" / "[1, 2]", Markdown links,
# <…> links and mentions (Slack), inline code and bare URLs.
_PROTECTED = re.compile(
    r"\[\d+(?:\s*,\s*\d+)*\]"
    r"|\[[^\]\n]*\]\([^)\s]*\)"
    r"|<[^<>\s][^<>\n]*>"
    r"|`[^`\n]*`"
    r"|https?://\S+"
)
_CITATION_AHEAD = re.compile(r"\s*\[\d")


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters at the cleanest boundary:
    paragraph, line, sentence (a citation stays with its sentence), then word; never
    inside a citation, a link or inline code."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            pieces.append(head)
    if rest:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text[: limit + 1]`: the index of a whitespace character, or a hard cut."""
    protected = [m.span() for m in _PROTECTED.finditer(text)]

    def allowed(i: int) -> bool:
        return not any(start < i < end for start, end in protected)

    window = text[: limit + 1]
    spaces = [m.start() for m in re.finditer(r"\s", window) if m.start() > 0 and allowed(m.start())]
    if not spaces:
        # One "word" longer than the limit: cut it, but before a protected span it would split.
        cut = limit
        for start, end in protected:
            if start < cut < end:
                cut = start
        return cut if cut > 0 else limit

    def last(test: Callable[[int], bool]) -> int | None:
        for i in reversed(spaces):
            if i < limit // 2:  # only the second half: no piece comes out tiny
                break
            if test(i):
                return i
        return None

    def paragraph(i: int) -> bool:
        return window[i] == "\n" and window[i - 1] == "\n"

    def line(i: int) -> bool:
        return window[i] == "\n"

    def sentence(i: int) -> bool:
        # After ".", "!", "?" or a closing citation, unless a citation follows: it belongs
        # to the sentence before it ("… by March. [2] Next …").
        return window[i - 1] in ".!?]" and not _CITATION_AHEAD.match(text, i)

    for test in (paragraph, line, sentence):
        found = last(test)
        if found is not None:
            return found
    return spaces[-1]


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters at a word boundary, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + "…"


def closest_documents(answer: Answer, limit: int = CLOSEST_DOCUMENTS) -> list[Citation]:
    """For an abstention: the best-ranked passage of each of the first `limit` documents."""
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


def one_line(text: str, limit: int) -> str:
    """A title from free text (a question, a notice title): one line, clipped."""
    return clip(" ".join(text.split()), limit)
