from __future__ import annotations

from knowledge.answer_types import expected_kinds, holds


def test_questions_that_ask_for_a_figure_say_which_kind() -> None:
    assert "percent" in expected_kinds("what discount % do gold resellers get?")
    assert "money" in expected_kinds("how much does the exam cost?")
    assert "duration" in expected_kinds("how long is a registered deal protected?")
    assert "date" in expected_kinds("when's the next partner summit?")
    assert "phone" in expected_kinds("whats the phone number for partner support?")
    assert expected_kinds("what tiers does the program have?") == ()
    # Mentioning a deadline is not asking for a length of time.
    assert expected_kinds("our opportunity expires next week, can we extend it?") == ()


def test_a_sentence_holds_a_figure_of_the_asked_kind_or_not() -> None:
    assert holds("Advanced partners get an 18% discount.", ("percent",))
    assert not holds("Discounts are a percentage of list price.", ("percent",))
    assert holds("The exam costs USD 165 per attempt.", ("money",))
    assert holds("It may take up to one or two business days.", ("duration",))
    assert holds("The window closes on 2026-11-15.", ("date",))
    assert not holds("Open a ticket in the support portal.", ("phone",))
    assert holds("Call +1 (555) 010-2000 for severity A.", ("phone",))
