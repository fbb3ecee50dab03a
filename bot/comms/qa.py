"""Questions the communications registry answers better than plain retrieval.

* In a thread opened from a notice ("Ask about this") the questions carry the thread's
  topic, the communication; they are answered with it in the query, and the reply
  names it.
* "Is the vendor emailing my customers this month?" needs the calendar, which
  retrieval does not have: the registry lists what is sent in that period (or
  the next one after it), each item citing the indexed communication.

Everything else returns None and is answered from the index as usual (the
communications are indexed, so "what will customers in ANZ be told about the
price change?" finds and cites them there).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.comms.indexing import document_title
from bot.comms.model import Record, format_day, in_days
from bot.models import Answer, Citation, Question
from bot.prompts import message

# Answer a question from the documents (the core's answerer), as the composition root gives it.
AnswerDocuments = Callable[[Question], Answer]


class Registry(Protocol):
    """What answering needs of the registry (bot/comms/registry.py `Communications`)."""

    def get(self, comm_id: str) -> Record | None: ...

    def now(self) -> datetime: ...

    def indexed_records(self) -> list[Record]: ...


_INTENT = re.compile(
    r"\b(e-?mail\w*|letters?|writ(?:e|es|ing) to|contact\w*|messag\w*|communicat\w*|"
    r"notif\w*|mail(?:ing|s)?|campaigns?|send(?:ing|s)?|sent|reach(?:ing)? out)\b",
    re.IGNORECASE,
)
_CUSTOMERS = re.compile(r"\b(customers?|clients?|end[- ]?users?)\b", re.IGNORECASE)
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})


def answer_question(
    comms: Registry, question: Question, answer_documents: AnswerDocuments | None
) -> Answer | None:
    return _thread_answer(comms, question, answer_documents) or _calendar_answer(comms, question)


# -- "Ask about this" threads ---------------------------------------------------------------------
def _thread_answer(
    comms: Registry, question: Question, answer_documents: AnswerDocuments | None
) -> Answer | None:
    """In a thread opened from a notice, the thread's topic names the communication: the
    question is asked with its title, and with everything else it carries (who asks, where,
    the thread so far, who reads the reply)."""
    topic = question.topic
    if topic is None or topic.kind != "comms" or answer_documents is None:
        return None
    record = comms.get(topic.id)
    if record is None:
        return None
    answer = answer_documents(replace(question, text=f"{question.text} ({record.comm.title})"))
    if answer.abstained:
        return None
    prefix = message("comms_answer_prefix", title=record.comm.title, ref=record.comm.doc_path)
    return replace(answer, text=f"{prefix}\n{answer.text}", question=question.text)


# -- "this month", "next week", "in January" -----------------------------------------------------
def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def window(text: str, now: datetime) -> tuple[datetime, datetime, str] | None:
    """The period a question asks about, as (start, end, label); None if it names none."""
    t = text.lower()
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    week = today - timedelta(days=today.weekday())
    quarter = _month_start(now.year, (now.month - 1) // 3 * 3 + 1)
    fixed = [
        ("today", today, today + timedelta(days=1)),
        ("tomorrow", today + timedelta(days=1), today + timedelta(days=2)),
        ("this week", week, week + timedelta(days=7)),
        ("next week", week + timedelta(days=7), week + timedelta(days=14)),
        ("this month", _month_start(now.year, now.month), _month_start(now.year, now.month + 1)),
        (
            "next month",
            _month_start(now.year, now.month + 1),
            _month_start(now.year, now.month + 2),
        ),
        ("this quarter", quarter, _month_start(quarter.year, quarter.month + 3)),
        (
            "next quarter",
            _month_start(quarter.year, quarter.month + 3),
            _month_start(quarter.year, quarter.month + 6),
        ),
        ("this year", _month_start(now.year, 1), _month_start(now.year + 1, 1)),
        ("next year", _month_start(now.year + 1, 1), _month_start(now.year + 2, 1)),
    ]
    for phrase, start, end in fixed:
        if phrase in t:
            return start, end, _label(phrase, start, end)
    m = re.search(r"\bnext (\d{1,3}) (day|week)s?\b", t)
    if m:
        days = int(m.group(1)) * (7 if m.group(2) == "week" else 1)
        return now, now + timedelta(days=days), f"in the next {m.group(1)} {m.group(2)}s"
    m = re.search(r"\b(?:in|during|for|on) (" + "|".join(_MONTHS) + r")\b\.?(?: (\d{4}))?", t)
    if m:
        month = _MONTHS[m.group(1)]
        year = int(m.group(2)) if m.group(2) else now.year + (1 if month < now.month else 0)
        start = _month_start(year, month)
        end = _month_start(year, month + 1)
        return start, end, f"in {start:%B %Y}"
    if re.search(r"\b(soon|upcoming|coming (?:days|weeks)|anytime soon|any time soon)\b", t):
        return now, now + timedelta(days=60), "in the next 60 days"
    return None


def _label(phrase: str, start: datetime, end: datetime) -> str:
    last = end - timedelta(days=1)
    if last <= start:
        return f"{phrase} ({start:%a %d %b %Y})"
    return f"{phrase} ({start:%d %b} – {last:%d %b %Y})"


def _calendar_answer(comms: Registry, question: Question) -> Answer | None:
    text = question.text
    if not (_INTENT.search(text) and _CUSTOMERS.search(text)):
        return None
    now = comms.now()
    period = window(text, now)
    if period is None:
        return None
    records = comms.indexed_records()
    if not records:
        return None  # nothing registered: let the documents answer
    start, end, label = period
    inside = [r for r in records if start <= r.comm.send_at_utc < end]
    if inside:
        listed = inside
        lines = [message("comms_when_some", count=len(inside), window=label)]
    else:
        upcoming = [r for r in records if r.comm.send_at_utc >= now]
        if not upcoming:
            return None
        listed = upcoming[:1]
        lines = [message("comms_when_none", window=label), message("comms_when_next")]
    citations: list[Citation] = []
    for number, record in enumerate(listed, start=1):
        lines.append(f"• {_describe(record, now)} [{number}]")
        citations.append(
            Citation(
                number=number,
                title=document_title(record.comm),
                section="When and to whom",
                path=record.comm.doc_path,
                url=record.comm.full_text_url,
                effective_date=record.comm.send_at.date(),
                score=1.0,
            )
        )
    return Answer(
        text="\n".join(lines),
        citations=tuple(citations),
        confidence=1.0,
        as_of=now.date(),
        sources=tuple(citations),
        question=text,
        standalone_query=text,
    )


def _describe(record: Record, now: datetime) -> str:
    comm = record.comm
    when = format_day(comm.send_at)
    tense = "sent" if comm.send_at_utc <= now else "sends"
    relative = "" if comm.send_at_utc <= now else f" ({in_days(comm.send_at_utc, now)})"
    pointed = (
        f" Customers are pointed to: {comm.customer_pointed_to}" if comm.customer_pointed_to else ""
    )
    return (
        f"{when}{relative}: {comm.sender} {tense} {comm.channel} to "
        f"{comm.audience.describe()} — “{comm.title}”.{pointed}"
    )
