"""What kind of answer a question expects, and whether a sentence holds one.

"How much…", "what %…", "how long…", "when…", "what's the phone number…" ask for a
figure of a kind. When no sentence about the question's subject holds a figure of
that kind, the documents most likely talk *around* the question without answering
it (the MDF program is described, its amount is not). These are patterns of
English questions, not of any vendor's documents.
"""

from __future__ import annotations

import re

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|"
    r"thirty|forty|fifty|sixty|ninety|hundred|thousand|million|half|a few|several|once|"
    r"twice|single|double"
)
_NUMBER = rf"(?:\d[\d,.]*|\b(?:{_NUMBER_WORDS})\b)"
_UNIT_OF_TIME = r"(?:second|minute|hour|day|week|month|quarter|year)s?"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"  # names or short

# (kind, what a question asking for it looks like)
_EXPECTED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("percent", re.compile(r"%|\b(percent|percentage|revenue share|rev share)\b", re.I)),
    (
        "money",
        re.compile(
            r"\bhow much (does|do|is|are|will|would|did)\b|\b(cost|costs|fee|fees|price of|"
            r"price for|prices for|charge for|charges for)\b|[$€£]",
            re.I,
        ),
    ),
    (
        "duration",
        re.compile(
            rf"\bhow long\b|\bhow (many|much) {_UNIT_OF_TIME}\b|"
            r"\b(sla|turnaround|lead time|how fast|how quickly|how soon)\b",
            re.I,
        ),
    ),
    ("date", re.compile(r"\b(when|when's|whens|what date|deadline|due date|by when)\b", re.I)),
    (
        "count",
        re.compile(
            r"\b(how many|how much|number of|minimum|maximum|min|max|limit|cap|quota)\b", re.I
        ),
    ),
    ("phone", re.compile(r"\b(phone|telephone|hotline)\b", re.I)),
    ("email", re.compile(r"\b(email address|e-mail address|mail address|mailbox)\b", re.I)),
)

_HAS: dict[str, re.Pattern[str]] = {
    "percent": re.compile(rf"\d\s?%|{_NUMBER}\s?(percent|per cent)\b", re.I),
    "money": re.compile(
        r"[$€£¥]\s?\d|\b(usd|eur|gbp|aud|cad|jpy|inr|dollars?|euros?|cents?)\b|\b(free|no cost|"
        r"no charge|no additional|at no|without charge|unlimited)\b|\d\s?%",
        re.I,
    ),
    "duration": re.compile(
        rf"{_NUMBER}[\s-]*(?:business |calendar |working )?{_UNIT_OF_TIME}\b|\b(daily|weekly|"
        r"monthly|quarterly|annually|yearly|immediately|same day|within|until|expires? )\b|"
        rf"\b(19|20)\d\d\b|\b{_MONTH}\s+\d{{1,2}}\b",
        re.I,
    ),
    "date": re.compile(
        rf"\b(19|20)\d\d\b|\b{_MONTH}\s+\d{{1,2}}\b|\b\d{{1,2}}\s+{_MONTH}|\b(q[1-4]|quarter|"
        rf"annually|monthly|weekly|daily|every|each|before|after|within|until|by|once|when)\b|"
        rf"{_NUMBER}[\s-]*{_UNIT_OF_TIME}",
        re.I,
    ),
    "count": re.compile(rf"{_NUMBER}|\b(no limit|unlimited|any number)\b", re.I),
    "phone": re.compile(r"\+?\d[\d ()./-]{7,}\d"),
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
}


def expected_kinds(question: str) -> tuple[str, ...]:
    """The kinds of figure the question asks for (empty: it asks for none in particular)."""
    return tuple(kind for kind, pattern in _EXPECTED if pattern.search(question))


def holds(sentence: str, kinds: tuple[str, ...]) -> bool:
    """Does the sentence hold a figure of one of these kinds?"""
    return any(_HAS[kind].search(sentence) for kind in kinds)
