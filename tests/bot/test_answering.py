from __future__ import annotations

from bot.core import PartnerBot
from bot.models import Question, Turn


def ask(bot: PartnerBot, text: str, *previous: str) -> object:
    return bot.ask(Question(text, history=tuple(Turn("user", p) for p in previous)))


def test_answers_with_numbered_citations(bot: PartnerBot) -> None:
    answer = bot.ask(Question("whats the new CSAT rule for gold?? deadline?"))
    assert not answer.abstained
    assert "2027-03-31" in answer.text
    assert "[1]" in answer.text
    assert answer.citations[0].path == "csat-requirement.md"
    assert answer.citations[0].number == 1


def test_abstains_on_question_the_documents_do_not_answer(bot: PartnerBot) -> None:
    answer = bot.ask(Question("how do i reset my laptop password"))
    assert answer.abstained
    assert "couldn't find" in answer.text
    assert not answer.citations
    assert answer.sources  # the closest documents are still named
