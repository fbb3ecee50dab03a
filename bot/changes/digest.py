"""The change digest: one concise, cited line per program change, for partner channels.

Pure functions from change records to a `Digest` (summary + lines); publishing it —
once per channel, through the outbox — is `ProgramChanges.publish` (bot/changes/service.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from bot.errors import ConfigError, LLMError
from bot.models import ChannelRef
from bot.prompts import message, render
from bot.store import ChangeRecord

if TYPE_CHECKING:
    from bot.answering.llm import LLMClient

logger = logging.getLogger(__name__)

EXCERPT_CHARS = 110
CONTEXT_WORDS = 5
SUMMARY_MAX_CHARS = 700
MAX_LINES = 25  # a chat message stays readable; `partnerbot changes` lists the rest
CHANNELS_VARIABLE = "PARTNERBOT_CHANGES_CHANNELS"


# -- channels ------------------------------------------------------------------------------
def parse_channels(specs: Sequence[str]) -> list[tuple[str, str]]:
    """`["slack:#partners", "discord:123"]` → `[("slack", "#partners"), ("discord", "123")]`
    (by the one parser; unknown platforms are refused when the app is composed)."""
    out = []
    for spec in specs:
        try:
            ref = ChannelRef.parse(spec)
        except ConfigError as e:
            raise ConfigError(f"{CHANNELS_VARIABLE}: {e}") from None
        out.append((ref.platform, ref.channel))
    return out


# -- excerpts ------------------------------------------------------------------------------
def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    """Cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _row_cells(text: str) -> list[str] | None:
    """A table row as chunking writes it ("Header: value; Header: value."), else None."""
    cells = text.rstrip(".").split("; ")
    return cells if len(cells) >= 3 and all(": " in c for c in cells) else None


def _focus_rows(before: list[str], after: list[str]) -> tuple[str, str] | None:
    """The row's first cell (which names it) and the cells that changed."""
    if len(before) != len(after) or before[0] != after[0]:
        return None
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if not changed:
        return None

    def pick(cells: list[str]) -> str:
        parts, last = [cells[0]], 0
        for i in changed:
            parts.append(("… " if i > last + 1 else "") + cells[i])
            last = i
        return "; ".join(parts) + (" …" if changed[-1] < len(cells) - 1 else "")

    return pick(before), pick(after)


def focus(before: str, after: str, *, limit: int = EXCERPT_CHARS) -> tuple[str, str]:
    """The part of two long sentences around what changed, with a few words of context."""
    rows = _row_cells(before), _row_cells(after)
    if rows[0] and rows[1] and (shown := _focus_rows(rows[0], rows[1])):
        return shown
    if len(before) <= limit and len(after) <= limit:
        return before, after
    a, b = before.split(), after.split()
    opcodes = [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()]
    diffs = [op for op in opcodes if op[0] != "equal"]
    if not diffs:
        return shorten(before, limit), shorten(after, limit)
    a_lo, a_hi = diffs[0][1], diffs[-1][2]
    b_lo, b_hi = diffs[0][3], diffs[-1][4]

    def window(words: list[str], lo: int, hi: int) -> str:
        start, end = max(0, lo - CONTEXT_WORDS), min(len(words), hi + CONTEXT_WORDS)
        text = " ".join(words[start:end])
        text = shorten(text, limit * 2)
        return ("…" if start > 0 else "") + text + ("…" if end < len(words) else "")

    return window(a, a_lo, a_hi), window(b, b_lo, b_hi)


def excerpt(record: ChangeRecord) -> str:
    """What changed, in a few words: "before" → "after", a new sentence, or what was there."""
    if not record.edits:
        return ""
    first = record.edits[0]
    if record.kind == "added":
        text = message("changes_excerpt_added", text=shorten(first.after or ""))
    elif record.kind == "removed":
        text = message("changes_excerpt_removed", text=shorten(first.before or ""))
    elif first.before and first.after:
        before, after = focus(first.before, first.after)
        text = message("changes_excerpt_changed", before=before, after=after)
    elif first.after:
        text = message("changes_excerpt_new_sentence", text=shorten(first.after))
    else:
        text = message("changes_excerpt_dropped_sentence", text=shorten(first.before or ""))
    more = len(record.edits) - 1
    if more and record.kind == "changed":
        text += " " + message("changes_more_edits", count=more)
    return text


def kind_label(record: ChangeRecord) -> str:
    if not record.section:
        return message(f"changes_document_{record.kind}")
    return message(f"changes_kind_{record.kind}")


def source_note(record: ChangeRecord) -> str:
    """The cited source: "competency-requirements.md, effective 2026-10-01" (date if known)."""
    if record.effective_date:
        return message(
            "changes_source_effective",
            path=record.doc_path,
            date=record.effective_date.isoformat(),
        )
    return record.doc_path


def change_line(record: ChangeRecord, number: int) -> str:
    """One concise digest line, citing the document and section."""
    return message(
        "changes_digest_line",
        number=number,
        kind=kind_label(record),
        where=record.label,
        excerpt=excerpt(record),
        source=source_note(record),
    )


# -- the digest ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Digest:
    key: str
    title: str
    summary: str
    lines: tuple[str, ...]
    records: tuple[ChangeRecord, ...]

    @property
    def text(self) -> str:
        return "\n".join([self.summary, "", *self.lines, "", message("changes_digest_footer")])


def digest_key(records: Sequence[ChangeRecord]) -> str:
    ids = ",".join(str(r.id) for r in sorted(records, key=lambda r: r.id))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def count_text(n: int) -> str:
    return message("changes_count_one") if n == 1 else message("changes_count", n=n)


def extractive_summary(records: Sequence[ChangeRecord], since: str | None) -> str:
    per_doc: dict[str, int] = {}
    for r in records:
        per_doc[r.doc_title] = per_doc.get(r.doc_title, 0) + 1
    docs = ", ".join(f"{title} ({n})" for title, n in per_doc.items())
    window = message("changes_window_since", date=since[:10]) if since else ""
    return message(
        "changes_digest_summary", changes=count_text(len(records)), window=window, documents=docs
    ).replace("  ", " ")


def llm_summary(client: LLMClient, lines: Sequence[str]) -> str:
    """A short summary that refers to digest lines as [n]; LLMError when unusable."""
    reply = client.complete(
        [
            {"role": "system", "content": render("changes_digest")},
            {"role": "user", "content": render("changes_digest_user", lines="\n".join(lines))},
        ],
        purpose="changes-digest",
        max_tokens=250,
    )
    text = " ".join(reply.split())
    refs = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
    if not refs or any(not 1 <= n <= len(lines) for n in refs):
        raise LLMError("the change summary did not cite the digest lines")
    return shorten(text, SUMMARY_MAX_CHARS)


def build_digest(
    records: Sequence[ChangeRecord], *, llm: LLMClient | None = None, since: str | None = None
) -> Digest:
    """The digest of these records: a summary (LLM when configured) and one line each."""
    lines = tuple(change_line(r, n) for n, r in enumerate(records[:MAX_LINES], start=1))
    if len(records) > MAX_LINES:
        lines += (message("changes_digest_more", count=len(records) - MAX_LINES),)
    summary = extractive_summary(records, since)
    if llm is not None:
        try:
            summary = f"{summary}\n{llm_summary(llm, lines)}"
        except LLMError as e:
            logger.warning("change digest summary from the LLM failed, extractive only: %s", e)
    return Digest(
        key=digest_key(records),
        title=message("changes_digest_title", changes=count_text(len(records))),
        summary=summary,
        lines=lines,
        records=tuple(records),
    )


# -- publishing ----------------------------------------------------------------------------
@dataclass
class DigestResult:
    """What a publish did: the digest, and per channel posted / already there / failed."""

    digest: Digest | None
    posted: list[tuple[str, str]] = field(default_factory=list)  # (platform:channel, id)
    already: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (platform:channel, why)
    # Another process holds the claim (it is posting right now): not failed, not confirmed.
    in_flight: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.digest.records) if self.digest else 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.in_flight

    def summary(self) -> str:
        """A one-line report for the admin who asked (CLI or chat)."""
        if self.digest is None:
            return message("changes_nothing_to_publish")
        channels = ", ".join(c for c, _ in [*self.posted, *self.already]) or "-"
        text = message("changes_published", changes=count_text(self.count), channels=channels)
        if self.failed or self.in_flight:
            text += " " + message(
                "changes_publish_failed",
                channels="; ".join(f"{c} ({why})" for c, why in [*self.failed, *self.in_flight]),
            )
        return text
