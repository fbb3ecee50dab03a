"""Turn a follow-up ("and for member tier?") into a standalone query for retrieval."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.errors import LLMError
from bot.llm import LLMClient
from bot.models import Turn
from bot.prompts import render
from knowledge.glossary import Glossary, mentions
from knowledge.lexical import STOPWORDS

logger = logging.getLogger(__name__)

_LEADS = re.compile(
    r"^\s*(and|also|or|but|what about|how about|same for|same question for|ok and|ok what about|"
    r"what if|and what about|and how about|then)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|that|this|they|them|those|these|there|its|their)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][\w&'-]*")


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS]


def is_elliptical(text: str) -> bool:
    """Does this message lean on the previous turn for its subject?"""
    words = _content_words(text)
    if _LEADS.match(text):
        return True
    if len(words) <= 2:
        return True
    return bool(_PRONOUN.search(text)) and len(words) <= 6


def previous_question(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        if turn.role == "user" and turn.text.strip():
            return turn.text
    return None


def rewrite_followup(question: str, history: Sequence[Turn], glossary: Glossary) -> str:
    """Deterministic rewrite: carry the previous question's subject into an elliptical one.

    Names of the same kind (a tier for a tier, a competency for a competency, as the
    glossary groups them) are replaced rather than added, so "and for member tier?"
    after a question about Advanced asks about Member only.
    """
    previous = previous_question(history)
    if not previous or not is_elliptical(question):
        return question
    rest = _LEADS.sub("", question).strip(" ?!.,") or question
    replaced = glossary.groups_in(rest)
    carried_text = previous
    for group in replaced:
        members = glossary.groups.get(group, ())
        aliases = set(members) | {k for k, v in glossary.terms.items() if v in members}
        for name in sorted(aliases, key=len, reverse=True):
            if mentions(carried_text, (name,)):
                carried_text = re.sub(
                    rf"(?<![\w-]){re.escape(name)}(?![\w-])", " ", carried_text, flags=re.I
                )
    have = {w.lower() for w in _content_words(rest)}
    carried = [w for w in _content_words(carried_text) if w.lower() not in have]
    return f"{rest} {' '.join(carried)}".strip()


class LLMRewriter:
    """Ask the model for a standalone question; fall back to the deterministic rewrite."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def rewrite(self, question: str, history: Sequence[Turn], glossary: Glossary) -> str:
        if not previous_question(history):
            return question
        convo = "\n".join(f"{t.role}: {t.text}" for t in history[-6:])
        messages = [
            {"role": "system", "content": render("rewrite")},
            {"role": "user", "content": f"{convo}\nuser: {question}"},
        ]
        try:
            text = self.client.complete(messages, purpose="rewrite", max_tokens=80).strip()
        except LLMError as e:
            logger.warning("rewrite fell back to the deterministic rule: %s", e)
            return rewrite_followup(question, history, glossary)
        return text.splitlines()[0] if text else rewrite_followup(question, history, glossary)
