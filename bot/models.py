"""The contract between adapters and the core: Question in, Answer out.

Adapters build a Question from a platform event and render an Answer; they never
see Chroma, SQL or prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Platform = Literal["slack", "discord", "console", "cli"]
AnswerKind = Literal[
    "answer", "acknowledgement", "empty", "too_long", "rate_limited", "notice", "error"
]


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message in the conversation (thread history)."""

    role: Literal["user", "bot"]
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    asker: str = "anonymous"
    place: str = ""  # channel / thread / DM id, platform specific
    history: tuple[Turn, ...] = ()
    platform: Platform = "cli"
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source the answer rests on."""

    number: int
    title: str
    section: str
    path: str
    url: str | None = None
    effective_date: date | None = None
    score: float = 0.0
    cited: bool = True
    text: str = ""  # the passage text given to the composer

    @property
    def label(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    confidence: float = 0.0
    as_of: date | None = None
    # Every retrieved passage in rank order (cited or not), for --json and reports.
    sources: tuple[Citation, ...] = field(default=())
    question: str = ""
    # What the reply is (`ask --json` prints it as "kind"): "answer" from the documents
    # (abstaining or not); "acknowledgement", the short reply to "thanks!"; a refusal of
    # the request itself: "empty", "too_long", "rate_limited", or "notice" (any other);
    # "error", the short apology after a failure.
    kind: AnswerKind = "answer"
    interaction_id: int | None = None
    standalone_query: str = ""

    @property
    def cited(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if c.cited)
