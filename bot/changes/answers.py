"""Questions about program changes, answered from the change records.

"What changed in the program this quarter?" lists the changes detected in that period;
"did the requirements for the Security competency change?" lists the changes to the
matching sections. Each line cites the document and section, with the detection date
and the effective date. A question the records cannot answer goes on to the documents.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from bot.changes.digest import count_text, excerpt, kind_label, shorten
from bot.changes.periods import Period, period_in
from bot.models import Answer, Citation, Question
from bot.prompts import message
from bot.store import ChangeRecord, ChangeRepository
from knowledge.audience import PUBLIC, Viewer

MAX_LINES = 8
MIN_TOPIC_MATCH = 0.5

_CHANGE_QUESTION = (
    re.compile(r"\b(what|which)\b.*\b(changed?|changes|updated|updates|revised|amended)\b"),
    re.compile(
        r"\b(did|does|has|have|had|was|were|is|are)\b.*\b(change|changed|updated|revised|amended)\b"
    ),
    re.compile(r"\b(any|recent|latest|new)\s+(program\s+)?(changes|updates)\b"),
    re.compile(r"\bwhat'?s new\b"),
)
_YES_NO = re.compile(r"^\s*(did|does|has|have|had|was|were|is|are)\b")
_TOKEN = re.compile(r"[a-z][a-z0-9&+-]*")
_STOP_WORDS = """
    a about after all an and any anything are at be been before by can change changed changes
    changing current day days did do document documents does during for from get got had has have
    how i in into is it its last lately latest me month months my new of on or our past please
    previous program programme partner quarter recent recently revised amended section sections
    show since so far tell that the their there these this those to today update updated updates
    was we week weeks were what whats which with year years yesterday you your
"""
_STOP = frozenset(_STOP_WORDS.split())


def is_change_question(text: str) -> bool:
    t = text.casefold().replace("’", "'")
    return any(p.search(t) for p in _CHANGE_QUESTION)


def _stem(token: str) -> str:
    token = token.removesuffix("'s")
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def _tokens(text: str) -> set[str]:
    return {_stem(t) for t in _TOKEN.findall(text.casefold())}


def topic(text: str) -> set[str]:
    """What the question is about, minus question, change and time words."""
    words = _TOKEN.findall(text.casefold().replace("’", "'"))
    return {_stem(w) for w in words if len(w) > 1 and w not in _STOP and _stem(w) not in _STOP}


def _record_tokens(record: ChangeRecord) -> set[str]:
    return _tokens(
        " ".join((record.doc_title, record.doc_path, *record.section, record.before, record.after))
    )


def matching(records: Sequence[ChangeRecord], wanted: set[str]) -> list[ChangeRecord]:
    """The records that best match the topic (at least half of its words)."""
    scored = [(len(wanted & _record_tokens(r)) / len(wanted), r) for r in records]
    best = max((s for s, _ in scored), default=0.0)
    if best < MIN_TOPIC_MATCH:
        return []
    return [r for s, r in scored if s >= best]


def _citations(records: Sequence[ChangeRecord]) -> dict[tuple[str, str], Citation]:
    cites: dict[tuple[str, str], Citation] = {}
    for r in records:
        key = (r.doc_path, r.section_label)
        if key not in cites:
            cites[key] = Citation(
                number=len(cites) + 1,
                title=r.doc_title,
                section=r.section_label,
                path=r.doc_path,
                effective_date=r.effective_date,
                score=1.0,
            )
    return cites


def answer_line(record: ChangeRecord, number: int) -> str:
    effective = (
        message("changes_effective", date=record.effective_date.isoformat())
        if record.effective_date
        else ""
    )
    return message(
        "changes_answer_line",
        kind=kind_label(record),
        where=record.label,
        excerpt=excerpt(record),
        detected=record.detected_on,
        effective=effective,
        number=number,
    )


def answer_from_records(
    question: Question, store: ChangeRepository, *, today: date, recent_days: int
) -> Answer | None:
    """An answer from the change records, or None to let the documents answer."""
    text = question.text
    if not is_change_question(text):
        return None
    if store.latest() is None:
        return None  # nothing recorded yet: the documents may describe the change
    # Only changes every reader of the reply may be told of (both versions' audiences).
    sees = question.audience.sees_all
    latest = next((r for r in reversed(store.list()) if sees(r.audience)), None)
    if latest is None:
        return None
    period = period_in(text, today, recent_days=recent_days)
    records = store.list(
        since=period.since if period else None, until=period.until if period else None
    )
    records = [r for r in records if sees(r.audience)]
    wanted = topic(text)
    if wanted:
        records = matching(records, wanted)
        if not records:
            return None
    elif not records:
        return _none_in(question, period, latest)
    # Newest run first; within a run, in document order.
    newest_first = sorted(records, key=lambda r: (r.detected_at, -r.id), reverse=True)
    shown = newest_first[:MAX_LINES]
    cites = _citations(shown)
    lines = [answer_line(r, cites[(r.doc_path, r.section_label)].number) for r in shown]
    heading = message(
        "changes_answer_topic" if wanted else "changes_answer_heading",
        changes=count_text(len(records)),
        period=period.label if period else message("changes_period_all"),
    )
    if wanted and _YES_NO.search(text.casefold()):
        heading = message("changes_answer_yes", heading=heading)
    parts = [heading, *lines]
    if len(records) > len(shown):
        parts.append(message("changes_answer_more", count=len(records) - len(shown)))
    dates = [c.effective_date for c in cites.values() if c.effective_date]
    return Answer(
        text="\n".join(parts),
        citations=tuple(cites.values()),
        confidence=1.0,
        as_of=max(dates) if dates else None,
        sources=tuple(cites.values()),
        question=text,
        standalone_query=text,
    )


def _none_in(question: Question, period: Period | None, latest: ChangeRecord) -> Answer:
    text = message(
        "changes_answer_none",
        period=period.label if period else message("changes_period_all"),
        date=latest.detected_on,
        where=latest.label,
    )
    return Answer(text=text, confidence=1.0, question=question.text)


def with_change_note(
    answer: Answer, store: ChangeRepository, *, since: str, viewer: Viewer = PUBLIC
) -> Answer:
    """Append "Note: … changed on <date>" when a cited section changed since `since` (a
    change `viewer` may be told of)."""
    if answer.abstained or answer.kind != "answer" or not answer.citations:
        return answer
    notes: list[str] = []
    for c in answer.cited:
        if not c.section:
            continue
        recent = [
            r
            for r in store.list(since=since, doc_path=c.path)
            if r.kind != "removed"
            and viewer.sees_all(r.audience)
            and (r.section_label == c.section or r.section_label.startswith(f"{c.section} › "))
        ]
        if recent:
            notes.append(
                message(
                    "changes_note_item",
                    number=c.number,
                    section=shorten(c.section, 80),
                    date=recent[-1].detected_on,
                )
            )
    if not notes:
        return answer
    note = message("changes_note", items="; ".join(notes))
    return replace(answer, text=f"{answer.text}\n\n{note}")
