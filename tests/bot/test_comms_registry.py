"""The registry's reads never write, and an "Ask about this" question keeps everything it
carries (who asks, where, the thread so far, who reads the reply) when it is answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.comms.feature import CommsFeature
from bot.comms.registry import Communications, RegisterResult
from bot.comms.settings import CommsSettings
from bot.models import Actor, Answer, Question, Topic, Turn
from bot.store.sqlite import SqliteStore
from knowledge.audience import Viewer
from tests.scenarios.test_comms import COMM_ID, SEND_AT, START, Clock, write_comm, write_routes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def registered(store: SqliteStore, clock: Clock, tmp_path: Path) -> Communications:
    folder = tmp_path / "comms"
    folder.mkdir()
    routes = write_routes(folder)
    settings = CommsSettings(folder=folder, routes_path=routes)
    comms = Communications(store=store, settings=settings, clock=clock, platforms=("memory",))
    assert isinstance(comms.add_file(write_comm(folder)), RegisterResult)
    return comms


def test_reading_after_the_send_date_shows_it_sent_and_writes_nothing(
    registered: Communications, store: SqliteStore, clock: Clock
) -> None:
    clock.set(SEND_AT + timedelta(minutes=1))
    history = [h.action for h in store.comms.history(COMM_ID)]

    assert [r.status for r in registered.records(include_all=True)] == ["sent"]
    assert registered.require(COMM_ID).status == "sent"
    assert registered.reports.status(COMM_ID).record.status == "sent"
    assert registered.reports.preview(COMM_ID).status == "sent"
    assert [row.record.status for row in registered.reports.listing()] == ["sent"]
    stored = store.comms.get(COMM_ID)
    assert stored is not None and stored.status == "scheduled"  # nothing was written
    assert [h.action for h in store.comms.history(COMM_ID)] == history

    assert registered.mark_sent() == [COMM_ID]  # the dispatcher's tick records it, once
    assert registered.mark_sent() == []
    assert [h.action for h in store.comms.history(COMM_ID)] == [*history, "sent"]


def test_an_ask_about_this_question_is_answered_with_all_it_carries(
    registered: Communications, store: SqliteStore
) -> None:
    asked: list[Question] = []

    def answer_documents(question: Question) -> Answer:
        asked.append(question)
        return Answer(text="Customers may switch early [1].", confidence=0.9)

    feature = CommsFeature(registered, store=store, posters=dict, answer_documents=answer_documents)
    elite = Viewer.holding({"tiers": ("Elite",)}, name="Fabrikam")
    question = Question(
        "can a customer switch early?",
        actor=Actor("slack", "U0C", team="T0FAB"),
        place="C0ANZ/1700000000.000100",
        history=(Turn("user", "what changes for us?"), Turn("bot", "Per-user licensing.")),
        topic=Topic("comms", COMM_ID),
        audience=elite,
    )

    answer = feature.answer(question)

    assert answer is not None and answer.text.startswith("About “Northwind Books moves")
    [sent] = asked
    title = registered.require(COMM_ID).comm.title
    assert sent.text == f"can a customer switch early? ({title})"
    assert (sent.actor, sent.place, sent.history, sent.topic, sent.audience) == (
        question.actor,
        question.place,
        question.history,
        question.topic,
        elite,
    )
