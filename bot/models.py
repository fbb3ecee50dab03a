"""The contract between adapters and the core: Question in, Answer out.

Adapters build a Question from a platform event and render an Answer; they never
see Chroma, SQL or prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Platform = Literal["slack", "discord", "console", "cli"]


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
    # "answer": from the documents; "notice": a message about the request itself
    # (too long, rate limited, refused); "error": the short apology after a failure.
    kind: Literal["answer", "notice", "error"] = "answer"
    interaction_id: int | None = None
    standalone_query: str = ""

    @property
    def cited(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if c.cited)
