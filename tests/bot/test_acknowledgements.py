"""Acknowledgements ("thanks!", "👍") get a short reply, not an answer from the documents."""

from __future__ import annotations

import pytest

from bot.answering.acknowledgements import is_acknowledgement
from bot.core import PartnerBot
from bot.models import Question, Turn
from bot.prompts import message

ACKS = [
    "thanks!",
    "ok great",
    "👍",
    "ty",
    "cool",
    "Thank you so much!",
    "thx 🙏",
    "perfect, thanks",
    "got it, cheers",
    ":+1:",
    "👍🏽",
    "ok 👌",
    "awesome, that helps",
]
QUESTIONS = [
    "thanks, and for elite?",
    "ok what about member tier",
    "cool, how many licenses do we get?",
    "great tier?",
    "gold",
    "deadline?",
    "thanks 2027",
    "ok great, what's the deadline for that",
    "",
]


@pytest.mark.parametrize("text", ACKS)
def test_acknowledgements_are_recognised(text: str) -> None:
    assert is_acknowledgement(text)


@pytest.mark.parametrize("text", QUESTIONS)
def test_questions_are_not_acknowledgements(text: str) -> None:
    assert not is_acknowledgement(text)


@pytest.mark.parametrize("text", ["thanks!", "ok great", "👍", "ty", "cool"])
def test_acknowledgement_is_answered_briefly_and_not_logged(bot: PartnerBot, text: str) -> None:
    history = (Turn("user", "whats the new CSAT rule for gold?? deadline?"),)
    answer = bot.ask(Question(text, history=history, platform="slack", asker="U1"))
    assert answer.kind == "acknowledgement"
    assert answer.text == message("acknowledgement")
    assert not answer.abstained and not answer.citations and not answer.sources
    assert answer.interaction_id is None  # no 👍/👎 for it, nothing stored
    assert bot.store.interactions.gap_report().abstentions == ()
    assert bot.store.interactions.get(1) is None  # nothing was stored


def test_a_question_after_thanks_still_follows_the_conversation(bot: PartnerBot) -> None:
    history = (
        Turn("user", "whats the new CSAT rule for gold?? deadline?"),
        Turn("bot", "Advanced partners must have at least 10 CSAT survey responses [1]."),
        Turn("user", "thanks!"),
        Turn("bot", message("acknowledgement")),
    )
    answer = bot.ask(Question("and for member tier?", history=history))
    assert answer.kind == "answer" and "2027-06-30" in answer.text
