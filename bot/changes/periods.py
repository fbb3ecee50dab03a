"""Time periods: `--since` values, and "this quarter" / "last 30 days" in questions.

Change records carry their detection time as ISO 8601 UTC text, so a period becomes
a pair of ISO dates that compare correctly as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.errors import UserError
from bot.prompts import message


def parse_since(value: str) -> str:
    """An ISO date or datetime for `--since`; a UserError that says the format otherwise."""
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise UserError(message("changes_bad_since", value=value)) from None


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in dates; None means open. `label` reads well after "detected"."""

    start: date | None
    end: date | None
    label: str

    @property
    def since(self) -> str | None:
        return self.start.isoformat() if self.start else None

    @property
    def until(self) -> str | None:
        return self.end.isoformat() if self.end else None


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _shift_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


_UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
_SINCE = re.compile(r"\bsince (\d{4}-\d{2}-\d{2})\b")
_LAST_N = re.compile(r"\b(?:last|past) (\d{1,3}) (day|week|month|year)s?\b")
_RECENT = re.compile(r"\b(recent|recently|lately|latest)\b")


def period_in(text: str, today: date, *, recent_days: int) -> Period | None:
    """The period a question names, if any ("this quarter" → from the quarter's first day)."""
    t = text.casefold()

    def since(start: date, phrase: str) -> Period:
        return Period(start, None, message("changes_period_since", date=start, phrase=phrase))

    def between(start: date, end: date, phrase: str) -> Period:
        return Period(
            start,
            end,
            message("changes_period_between", start=start, end=end - timedelta(1), phrase=phrase),
        )

    if m := _SINCE.search(t):
        try:
            start = date.fromisoformat(m.group(1))
        except ValueError:
            return None
        return Period(start, None, message("changes_window_since", date=start))
    if m := _LAST_N.search(t):
        days = int(m.group(1)) * _UNITS[m.group(2)]
        return since(today - timedelta(days=days), m.group(0))
    quarter, month = _quarter_start(today), _month_start(today)
    week = today - timedelta(days=today.weekday())
    table: list[tuple[str, Period]] = [
        (r"\b(this|current) quarter\b", since(quarter, "this quarter")),
        (
            r"\b(last|previous|past) quarter\b",
            between(_shift_months(quarter, -3), quarter, "last quarter"),
        ),
        (r"\b(this|current) month\b", since(month, "this month")),
        (
            r"\b(last|previous|past) month\b",
            between(_shift_months(month, -1), month, "last month"),
        ),
        (r"\b(this|current) week\b", since(week, "this week")),
        (r"\b(last|previous|past) week\b", between(week - timedelta(7), week, "last week")),
        (r"\b(this|current) year\b|\bso far\b", since(date(today.year, 1, 1), "this year")),
        (
            r"\b(last|previous|past) year\b",
            between(date(today.year - 1, 1, 1), date(today.year, 1, 1), "last year"),
        ),
        (r"\btoday\b", since(today, "today")),
        (r"\byesterday\b", between(today - timedelta(1), today, "yesterday")),
    ]
    for pattern, period in table:
        if re.search(pattern, t):
            return period
    if _RECENT.search(t):
        return since(today - timedelta(days=recent_days), f"the last {recent_days} days")
    return None
