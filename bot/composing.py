"""Composers turn retrieved passages into a cited answer.

The extractive composer (default, no key; bot/extractive.py) quotes the block of
the documents that best answers; LLMComposer asks an OpenAI-compatible model and
accepts its reply only if every claim cites a passage that was actually given.
Either way: no citation, no claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import LLMError
from bot.llm import LLMClient
from bot.prompts import render
from knowledge.documents import Passage

logger = logging.getLogger(__name__)

MAX_SENTENCES = 4  # asked of the LLM
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions|prompt|rules)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bact as\b.{0,30}\b(assistant|bot|ai)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Composition:
    """A composed answer: text with [n] markers, n = 1-based index into the passages given."""

    text: str
    cited: tuple[int, ...]  # passage indexes (1-based) the text cites, in order of appearance
    superseded: tuple[tuple[int, int], ...] = ()  # (newer, older) passage indexes


def looks_like_injection(text: str) -> bool:
    """Text that addresses the model rather than partners is never quoted as an answer."""
    return bool(_INJECTION.search(text))


_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class LLMComposer:
    """A grounded answer from an OpenAI-compatible model, validated before it is used."""

    def __init__(self, client: LLMClient, *, vendor: str = "Northwind") -> None:
        self.client = client
        self.vendor = vendor

    def messages(self, question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
        blocks = []
        for i, p in enumerate(passages, start=1):
            dated = p.effective_date.isoformat() if p.effective_date else "undated"
            body = p.text.replace("<", "‹").replace(">", "›")  # passages cannot close their tag
            blocks.append(
                f'<passage number="{i}" title="{_attr(p.title)}" section="{_attr(p.section_label)}"'
                f' date="{dated}">\n{body}\n</passage>'
            )
        return [
            {
                "role": "system",
                "content": render("answer", vendor=self.vendor, max_sentences=MAX_SENTENCES),
            },
            {
                "role": "user",
                "content": render("answer_user", question=question, passages="\n".join(blocks)),
            },
        ]

    def compose(self, question: str, passages: Sequence[Passage]) -> Composition | None:
        """The model's answer; None if it says the passages don't answer. Raises LLMError
        when the reply is unusable (no citation, or a citation of a passage not given)."""
        reply = self.client.complete(self.messages(question, passages), purpose="answer")
        if reply.strip().upper().startswith("NOT_FOUND"):
            return None
        cited: list[int] = []
        for m in _CITE.finditer(reply):
            for part in m.group(1).split(","):
                cited.append(int(part))
        if not cited:
            raise LLMError("the model's reply cites no passage")
        bad = [n for n in cited if not 1 <= n <= len(passages)]
        if bad:
            raise LLMError(f"the model cited passage {bad[0]} but only {len(passages)} were given")
        return Composition(reply.strip(), tuple(dict.fromkeys(cited)))


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("<", "‹").replace(">", "›")
