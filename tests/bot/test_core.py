"""PartnerBot: ask and re-index, consulting the features it is given (none it imports)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from bot.core import PartnerBot
from bot.features import Feature
from bot.models import Actor, Answer, Question
from bot.prompts import message
from knowledge.index import SyncReport

GOLD = "whats the new CSAT rule for gold?? deadline?"


class Special(Feature):
    def __init__(self, name: str, *, answers: str | None = None, fails: bool = False) -> None:
        self.name, self.answers, self.fails = name, answers, fails
        self.reports: list[SyncReport] = []

    def answer(self, question: Question) -> Answer | None:
        if self.fails:
            raise RuntimeError(f"{self.name} broke")
        if self.answers and self.answers in question.text:
            return Answer(f"{self.name} knows", confidence=1.0)
        return None

    def annotate(self, question: Question, answer: Answer) -> Answer:
        if self.fails:
            raise RuntimeError(f"{self.name} broke")
        return Answer(f"{answer.text} (noted by {self.name})", citations=answer.citations)

    def on_reindex(self, report: SyncReport) -> None:
        if self.fails:
            raise RuntimeError(f"{self.name} broke")
        self.reports.append(report)


def test_the_first_feature_with_an_answer_wins_and_failures_are_skipped(
    make_bot: Callable[..., PartnerBot], caplog: pytest.LogCaptureFixture
) -> None:
    broken, first = Special("broken", fails=True), Special("first", answers="calendar")
    second = Special("second", answers="calendar")
    bot = make_bot()
    bot.features.extend([broken, first, second])
    with caplog.at_level(logging.ERROR):
        special = bot.ask(Question("what is on the calendar?"))
    assert special.text == "first knows"  # not annotated: annotations are for document answers
    assert special.interaction_id is not None
    assert "feature broken failed to answer" in caplog.text
    documents = bot.ask(Question(GOLD))
    assert "2027-03-31" in documents.text
    assert documents.text.endswith(
        "(noted by first) (noted by second)"
    )  # in order, skipping broken
    row = bot.store.interactions.get(documents.interaction_id or 0)
    assert row is not None and row.question == GOLD


def test_reindex_tells_every_feature_and_one_failing_does_not_stop_the_others(
    make_bot: Callable[..., PartnerBot], caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    broken, seen = Special("broken", fails=True), Special("seen")
    bot.features.extend([broken, seen])
    with caplog.at_level(logging.ERROR):
        report = bot.reindex()
    assert seen.reports == [report] and report.counts()["unchanged"] > 0
    assert "feature broken failed after a re-index" in caplog.text


def test_ask_never_raises_and_limits_each_person_per_platform(
    make_bot: Callable[..., PartnerBot], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = make_bot(PARTNERBOT_RATE_LIMIT_PER_MINUTE="1")
    slack, discord = Actor("slack", "U1"), Actor("discord", "U1")
    assert bot.ask(Question(GOLD, actor=slack)).kind == "answer"
    limited = bot.ask(Question(GOLD, actor=slack))
    assert limited.kind == "rate_limited" and limited.text.startswith("You're asking faster")
    assert bot.ask(Question(GOLD, actor=discord)).kind == "answer"  # another person
    assert bot.ask(Question("   ")).text == message("empty_question")

    def boom(question: Question) -> Answer:
        raise RuntimeError("index gone")

    monkeypatch.setattr(bot.answerer, "answer", boom)
    failed = bot.ask(Question(GOLD, actor=Actor("cli", "other")))
    assert (failed.kind, failed.text) == ("error", message("apology"))


def test_ensure_indexed_indexes_the_samples_only_when_empty(
    make_bot: Callable[..., PartnerBot], tmp_path: object
) -> None:
    bot = make_bot()
    told: list[str] = []
    assert bot.ensure_indexed(notify=told.append) is None and told == []
