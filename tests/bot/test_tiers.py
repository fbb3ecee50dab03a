"""Tier-specific questions answered for the readers' tier (bot/answering/tiers.py), and through the
answerer on the samples: a partner's question naming no tier gets its tier's rule and
says so; the public's answer and a question naming a tier are left as they were."""

from __future__ import annotations

from collections.abc import Callable

from bot.answering.tiers import names, only_for, readers_tier, speaks_of
from bot.app import App
from bot.chat.audiences import partner_viewer
from bot.models import Question
from knowledge.audience import PUBLIC, Viewer
from knowledge.documents import Chunk, Passage

TIERS = ("Member", "Advanced", "Elite")
ELITE = Viewer.holding({"tiers": ["Elite"]}, name="Elite")


def passage(text: str, *, section: tuple[str, ...] = ("Fees",), title: str = "Fees") -> Passage:
    return Passage(Chunk("c1", "fees.md", title, section, text, 0), score=1.0)


def test_the_readers_tier_is_taken_only_when_the_question_names_none() -> None:
    assert readers_tier(ELITE, "what do we need to renew?", TIERS) == "Elite"
    assert readers_tier(ELITE, "what is the Member fee?", TIERS) is None  # another tier
    assert readers_tier(ELITE, "what do elite partners need?", TIERS) is None
    assert readers_tier(PUBLIC, "what do we need to renew?", TIERS) is None
    both = Viewer.of([("tiers", ["Elite", "Advanced"])])
    assert readers_tier(both, "what do we need to renew?", TIERS) is None  # not one tier
    assert names("Elite-only", "Elite") and not names("Elitest", "Elite")


def test_other_tiers_sentences_and_rows_are_left_out() -> None:
    text = (
        "Each partner pays an annual fee.\n"
        "| Tier | Fee |\n|---|---|\n| Member | USD 495 |\n| Elite | USD 9,500 |\n"
        "The Member fee is USD 495. The Elite fee is USD 9,500. Fees exclude tax."
    )
    [kept] = only_for([passage(text)], "Elite", TIERS)
    assert "Member" not in kept.text and "USD 495" not in kept.text
    assert "| Elite | USD 9,500 |" in kept.text and "The Elite fee is USD 9,500." in kept.text
    assert "Each partner pays an annual fee." in kept.text and "Fees exclude tax." in kept.text
    assert only_for([passage("Member partners only.")], "Elite", TIERS) == []


def test_a_passage_for_a_tier_is_headed_by_it_or_compares_tiers() -> None:
    assert speaks_of(passage("Requirements.", section=("Tiers", "Elite")), "Elite", TIERS)
    assert speaks_of(passage("Member gets 10, Elite gets 150."), "Elite", TIERS)
    assert not speaks_of(passage("Elite partners are welcome."), "Elite", TIERS)


def test_a_partner_gets_its_tier_s_rule_and_the_public_answer_is_unchanged(
    make_app: Callable[..., App],
) -> None:
    app = make_app()
    partners = {p.id: partner_viewer(p) for p in app.partners.get()}
    question = "what are the requirements for our tier?"
    elite = app.core.ask(Question(question, audience=partners["harbour-it"]))
    advanced = app.core.ask(Question(question, audience=partners["fjord-systems"]))
    assert elite.text.startswith("For Elite partners:") and "20 certified individuals" in elite.text
    assert advanced.text.startswith("For Advanced partners:")
    assert "6 certified individuals" in advanced.text and "20 certified" not in advanced.text
    public = app.core.ask(Question(question))
    assert not public.text.startswith("For ")
    named = app.core.ask(Question("what are the requirements for Member partners?"))
    as_elite = app.core.ask(
        Question("what are the requirements for Member partners?", audience=partners["harbour-it"])
    )
    assert as_elite.text == named.text  # a question naming a tier is answered as asked
