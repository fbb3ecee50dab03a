"""Tier-specific questions answered for the readers' tier.

"What do I need to renew?" asked where every reader holds one tier (a partner's DM, an
Elite channel) and naming no tier itself is answered for that tier: the passages found
for the question stay, the passage of the same documents that speaks of that tier is
added (a section for the tier first), sentences that speak only of other tiers are left
out, and the reply says which tier it answered for. Tier names are the deployment's
(routes.yml tags, the partners file), never a list fitted to one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from knowledge.audience import TIERS, Viewer
from knowledge.documents import Passage

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def names(text: str, name: str) -> bool:
    """Does the text name this (a tier) as a word of its own, in any case?"""
    name = name.strip()
    if not name:
        return False
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE) is not None


def readers_tier(viewer: Viewer, question: str, tier_names: Iterable[str]) -> str | None:
    """The one tier every reader holds, when the question names no tier (neither theirs
    nor another of the program's)."""
    tier = viewer.known(TIERS)
    if tier is None or any(names(question, n) for n in {tier, *tier_names}):
        return None
    return tier


def speaks_of(passage: Passage, tier: str, tiers: Iterable[str]) -> bool:
    """Is this a program passage for the tier: its title or a heading names it, or it
    names it beside other tiers (a table or list of what each tier gets)? (A communication
    naming tiers says whom a vendor writes to, not what a tier gets.)"""
    if passage.chunk.kind != "document":
        return False
    if any(names(h, tier) for h in (passage.title, *passage.chunk.section)):
        return True
    text = passage.text
    return names(text, tier) and any(
        names(text, t) for t in tiers if t.casefold() != tier.casefold()
    )


def tier_passage(
    found: Sequence[Passage], tiered: Sequence[Passage], tier: str, tiers: Iterable[str]
) -> Passage | None:
    """The best passage found for "question + tier" that speaks of the tier and comes
    from the document that best answers the question itself."""
    top = found[0].doc_path if found else None
    listed = tuple(tiers)
    return next((p for p in tiered if p.doc_path == top and speaks_of(p, tier, listed)), None)


def with_passage(found: Sequence[Passage], pick: Passage, tier: str, *, head: int) -> list[Passage]:
    """The passages found, with the tier's passage among the first `head`: first when its
    section is the tier's own (a heading naming it), else second."""
    if any(p.chunk.id == pick.chunk.id for p in found[:head]):
        return list(found)
    rest = [p for p in found if p.chunk.id != pick.chunk.id]
    at = 0 if any(names(s, tier) for s in pick.chunk.section) else 1
    return [*rest[:at], pick, *rest[at:]]


def only_for(passages: Sequence[Passage], tier: str, others: Iterable[str]) -> list[Passage]:
    """The passages without the lines and sentences that name another tier but not this
    one (a fee table's other rows, "Member partners receive 10 …")."""
    other = [o for o in {*others} if o.strip() and o.casefold() != tier.casefold()]
    if not other:
        return list(passages)

    def elsewhere(text: str) -> bool:
        return not names(text, tier) and any(names(text, o) for o in other)

    kept: list[Passage] = []
    for p in passages:
        lines: list[str] = []
        for line in p.text.split("\n"):
            sentences = _SENTENCE_END.split(line)
            if len(sentences) > 1:
                line = " ".join(s for s in sentences if not elsewhere(s))
            elif elsewhere(line):
                continue
            if line.strip() or not lines or lines[-1].strip():
                lines.append(line)
        text = "\n".join(lines).strip()
        if text:
            kept.append(replace(p, chunk=replace(p.chunk, text=text)) if text != p.text else p)
    return kept
