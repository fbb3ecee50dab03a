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


def test_no_false_supersession_between_documents_about_different_things(bot: PartnerBot) -> None:
    # The CSAT requirement (2026-08-15) and the partner locator (2026-07-01) both count
    # survey responses, with different numbers; neither replaces the other.
    answer = bot.ask(Question("@here what is the CSAT rule for gold?"))
    assert not answer.abstained
    assert "4.2" in answer.text and "2027-03-31" in answer.text
    assert "replaces" not in answer.text


def test_a_newer_document_replaces_an_older_figure_and_says_so(bot: PartnerBot) -> None:
    answer = bot.ask(Question("gold partner MDF still 3%?"))
    assert "2%" in answer.text
    assert answer.citations[0].path == "2026-benefits-update.md"


def test_sources_carry_the_passage_text_the_answer_quotes(bot: PartnerBot) -> None:
    answer = bot.ask(Question("what do we need to be an advanced partner?"))
    assert not answer.abstained
    cited_text = " ".join(s.text for s in answer.sources if s.cited)
    # The list an introducing sentence announces comes with it, whole.
    assert "To be an Advanced partner, a company must:" in answer.text
    assert "have at least 6 certified individuals" in answer.text
    assert "have at least 6 certified individuals" in cited_text


def test_words_no_document_uses_count_as_far_as_they_pull_the_question_away(
    bot: PartnerBot,
) -> None:
    retriever = bot.answerer.retriever
    # "dress code": a subject the documents do not cover; without it the question sits
    # much closer to the bootcamp passages.
    off = retriever.search("whats the dress code for the in-person bootcamp in london", k=5)
    assert off.signals["unknown"] > 0 and off.signals["foreign"] > 0
    # Every word is one the documents use: nothing is foreign.
    plain = retriever.search("how much do member partners pay for an in-person bootcamp", k=5)
    assert plain.signals["foreign"] == 0.0
    dressed = bot.ask(Question("whats the dress code for the in-person bootcamp in london"))
    assert dressed.abstained
