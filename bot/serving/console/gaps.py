"""Knowledge gaps: questions the documents did not answer (abstained) and answers rated 👎,
grouped by the closest document and by topic (the closest section), filterable by platform,
partner and tier (who read the reply, as the chat service's one audience function decided
when it was asked), counted per week, exportable as CSV, and markable as answered."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.store import AskedQuestion, GapMark

UNKNOWN_DOC = "(no close document)"


def question_key(text: str) -> str:
    """A question as gaps count it: case and spacing ignored (as `partnerbot report` does)."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Filters:
    platform: str = ""
    partner: str = ""
    tier: str = ""
    days: int = 90

    def keep(self, q: AskedQuestion) -> bool:
        if self.platform and q.platform != self.platform:
            return False
        if self.partner and self.partner not in q.audience.get("partners", ()):
            return False
        return not (self.tier and self.tier not in q.audience.get("tiers", ()))


@dataclass
class Gap:
    """One question (case and spacing ignored), how often, when last, and what was closest."""

    key: str
    question: str
    abstained: int = 0
    downvoted: int = 0
    last: str = ""
    doc_path: str = ""
    doc_title: str = UNKNOWN_DOC
    topic: str = UNKNOWN_DOC
    platforms: set[str] = field(default_factory=set)
    partners: set[str] = field(default_factory=set)
    tiers: set[str] = field(default_factory=set)
    mark: GapMark | None = None
    asked_since_mark: int = 0

    @property
    def count(self) -> int:
        return self.abstained + self.downvoted

    @property
    def open(self) -> bool:
        return self.mark is None or self.asked_since_mark > 0


@dataclass
class GapGroup:
    name: str
    path: str
    gaps: list[Gap]

    @property
    def count(self) -> int:
        return sum(g.count for g in self.gaps)


@dataclass
class GapReportView:
    gaps: list[Gap]
    by_document: list[GapGroup]
    by_topic: list[GapGroup]
    weeks: list[tuple[str, int, int]]  # (week starting, abstained, downvoted)
    platforms: list[str]
    partners: list[str]
    tiers: list[str]


def _closest(q: AskedQuestion) -> tuple[str, str, str]:
    """(path, title, "title › section") of the document closest to the question."""
    if not q.sources:
        return "", UNKNOWN_DOC, UNKNOWN_DOC
    best = max(q.sources, key=lambda s: float(s.get("score") or 0.0))
    title = str(best.get("title") or best.get("path") or UNKNOWN_DOC)
    section = str(best.get("section") or "")
    return str(best.get("path") or ""), title, f"{title} › {section}" if section else title


def _week(at: str) -> str:
    day = datetime.fromisoformat(at).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def build(
    asked: list[AskedQuestion], marks: dict[str, GapMark], filters: Filters, *, today: date
) -> GapReportView:
    kept = [q for q in asked if filters.keep(q)]
    gaps: dict[str, Gap] = {}
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    for q in kept:  # newest first
        key = question_key(q.question)
        gap = gaps.get(key)
        if gap is None:
            path, title, topic = _closest(q)
            gap = gaps[key] = Gap(key, q.question, last=q.at, doc_path=path, doc_title=title)
            gap.topic = topic
            gap.mark = marks.get(key)
        gap.abstained += int(q.abstained)
        gap.downvoted += int(q.downvoted)
        gap.platforms.add(q.platform)
        gap.partners.update(q.audience.get("partners", ()))
        gap.tiers.update(q.audience.get("tiers", ()))
        if gap.mark is not None and datetime.fromisoformat(q.at) > gap.mark.marked_at:
            gap.asked_since_mark += 1
        weeks[_week(q.at)]["abstained" if q.abstained else "downvoted"] += 1
    ordered = sorted(gaps.values(), key=lambda g: (not g.open, -g.count, g.question.casefold()))
    start = today - timedelta(days=filters.days)
    week_rows = []
    monday = start - timedelta(days=start.weekday())
    while monday <= today:
        c = weeks.get(monday.isoformat(), Counter())
        week_rows.append((monday.isoformat(), c["abstained"], c["downvoted"]))
        monday += timedelta(days=7)
    return GapReportView(
        gaps=ordered,
        by_document=_groups(ordered, lambda g: (g.doc_title, g.doc_path)),
        by_topic=_groups(ordered, lambda g: (g.topic, g.doc_path)),
        weeks=week_rows,
        platforms=sorted({q.platform for q in asked}),
        partners=sorted({p for q in asked for p in q.audience.get("partners", ())}),
        tiers=sorted({t for q in asked for t in q.audience.get("tiers", ())}),
    )


def _groups(gaps: list[Gap], key: object) -> list[GapGroup]:
    grouped: dict[tuple[str, str], list[Gap]] = defaultdict(list)
    for g in gaps:
        if g.open:
            grouped[key(g)].append(g)  # type: ignore[operator]
    groups = [GapGroup(name, path, items) for (name, path), items in grouped.items()]
    return sorted(groups, key=lambda g: (-g.count, g.name.casefold()))


_FORMULA = re.compile(r"^[=+\-@\t\r]")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if _FORMULA.match(text) else text


def as_csv(view: GapReportView) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "question",
            "times",
            "unanswered",
            "rated down",
            "last asked",
            "closest document",
            "topic",
            "platforms",
            "partners",
            "tiers",
            "answered by",
        ]
    )
    for g in view.gaps:
        writer.writerow(
            _cell(v)
            for v in (
                g.question,
                g.count,
                g.abstained,
                g.downvoted,
                g.last,
                g.doc_path or g.doc_title,
                g.topic,
                " ".join(sorted(g.platforms)),
                " ".join(sorted(g.partners)),
                " ".join(sorted(g.tiers)),
                g.mark.doc_path if g.mark else "",
            )
        )
    return out.getvalue()
