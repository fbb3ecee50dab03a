"""ChatService: the conversation rules every platform shares, over a real core."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.answering.acknowledgements import is_acknowledgement
from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.commands import Command
from bot.core import PartnerBot
from bot.errors import UserError
from bot.features import Feature
from bot.models import (
    Actor,
    Answer,
    ButtonClick,
    ButtonReply,
    ChatMessage,
    CommandCall,
    Conversation,
    Place,
    Question,
    Reply,
    Topic,
    Turn,
)
from bot.prompts import message

GOLD = "whats the new CSAT rule for gold?? deadline?"
PARTNER, ADMIN = Actor("memory", "U-partner"), Actor("memory", "U-admin", is_admin=True)


class Recorder(Feature):
    """A feature that sees every question and owns the "ping" button and command."""

    name = "recorder"

    def __init__(self) -> None:
        self.questions: list[Question] = []

    def answer(self, question: Question) -> Answer | None:
        self.questions.append(question)
        if question.topic is not None:
            return Answer(f"about {question.topic}: {question.text}")
        return None

    def on_button(self, click: ButtonClick) -> ButtonReply | None:
        if click.action == "boom":
            raise RuntimeError("feature failure")
        if click.action == "refuse":
            raise UserError("not now")
        if click.action == "ask":
            return ButtonReply("Ask me here", open_thread=True, topic=Topic("demo", click.value))
        return ButtonReply(f"pong {click.value}") if click.action == "ping" else None

    def commands(self) -> Sequence[Command]:
        def fail(call: CommandCall) -> Reply:
            raise UserError("that did not work")

        def crash(call: CommandCall) -> Reply:
            raise RuntimeError("bug")

        return [Command("fail", "fails", fail), Command("crash", "crashes", crash)]


async def test_an_admin_command_stopped_by_the_documents_says_why(
    make_bot: Callable[..., PartnerBot], tmp_path: Path
) -> None:
    """A re-index that cannot run (here: the documents folder is gone) tells the admin
    what is wrong and what to do, not the generic apology."""
    docs = tmp_path / "docs"
    docs.mkdir()
    chat = ChatService(make_bot(PARTNERBOT_DOCS_DIR=docs), history_turns=4)
    docs.rmdir()
    reply = await chat.run_words("reindex", actor=ADMIN)
    assert reply.text != message("apology") and str(docs) in reply.text, reply.text


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def chat(make_bot: Callable[..., PartnerBot], recorder: Recorder) -> ChatService:
    core = make_bot()
    core.features.append(recorder)
    return ChatService(core, history_turns=4)


def msg(text: str, *, id: str = "m1", actor: Actor = PARTNER, **kw: Any) -> ChatMessage:
    return ChatMessage(text, actor, kw.pop("place", Place("C1", "t1")), id, **kw)


def reading(*turns: Turn, present: bool = True) -> Callable[[], Any]:
    async def earlier() -> Conversation:
        return Conversation(turns, bot_present=present)

    return earlier


async def failing_read() -> Conversation:
    raise ConnectionError("history unavailable")


# -- messages ------------------------------------------------------------------------------------
async def test_a_message_is_answered_once_per_delivery_and_per_message(chat: ChatService) -> None:
    first = await chat.handle(msg(GOLD, delivery_id="Ev1"))
    assert first is not None and first.answer is not None and "2027-03-31" in first.answer.text
    assert await chat.handle(msg(GOLD, delivery_id="Ev1")) is None  # the platform's retry
    assert await chat.handle(msg(GOLD, delivery_id="Ev2")) is None  # the same message again
    assert await chat.handle(msg(GOLD, id="m2", delivery_id="Ev3")) is not None


async def test_overheard_acknowledgements_are_not_answered(chat: ChatService) -> None:
    for i, text in enumerate(["thanks!", "Thank you so much", "ok", "👍", "great, thanks all"]):
        assert is_acknowledgement(text)
        assert await chat.handle(msg(text, id=f"a{i}", addressed=False), earlier=reading()) is None
    assert not is_acknowledgement("thanks, and what about member tier?")
    assert not is_acknowledgement("all good partners?")
    assert chat.core.store.interactions.get(1) is None  # nothing reached the core


async def test_overheard_follow_ups_are_answered_only_where_the_bot_takes_part(
    chat: ChatService,
) -> None:
    history = (Turn("user", GOLD), Turn("bot", "Gold partners need … by 2027-03-31. [1]"))
    outside = msg("and for member tier?", id="o1", addressed=False)
    assert await chat.handle(outside, earlier=reading(*history, present=False)) is None
    inside = msg("and for member tier?", id="o2", addressed=False)
    reply = await chat.handle(inside, earlier=reading(*history))
    assert reply is not None and reply.answer is not None and "2027-06-30" in reply.answer.text


async def test_a_failed_read_still_answers_where_the_bot_replied_before(
    chat: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    place = Place("C1", "t9")
    overheard = msg(
        "what is the annual fee for member partners", id="f1", place=place, addressed=False
    )
    assert await chat.handle(overheard, earlier=failing_read) is None  # unknown thread: quiet
    await chat.replied_in_thread("memory", place)
    again = msg("what is the annual fee for member partners", id="f2", place=place, addressed=False)
    with caplog.at_level(logging.WARNING):
        reply = await chat.handle(again, earlier=failing_read)
    assert reply is not None and reply.answer is not None and not reply.answer.abstained
    assert "could not read the conversation" in caplog.text
    mentioned = await chat.handle(msg(GOLD, id="f3"), earlier=failing_read)
    assert mentioned is not None and mentioned.answer is not None  # a mention: always answered


async def test_respond_sends_the_apology_when_sending_fails(chat: ChatService) -> None:
    sent: list[Reply] = []

    async def send(reply: Reply) -> Place | None:
        sent.append(reply)
        if reply.answer is not None:
            raise ConnectionError("the platform is down")
        return None

    await chat.respond(msg(GOLD, id="r1"), send=send)
    assert [r.text for r in sent[1:]] == [message("apology")]


def test_the_one_history_policy(chat: ChatService) -> None:
    turns = [
        Turn("user", "what is the fee?"),
        Turn("user", "for members"),
        Turn("bot", ""),
        Turn("bot", "c"),
        Turn("user", "lol same here"),  # people talking to each other: not answered
        Turn("user", "and the deadline?"),
        Turn("bot", "e"),
        Turn("user", "what about elite?"),  # a question being answered elsewhere: kept
        Turn("user", "I'll ask Amy tomorrow"),
    ]
    assert chat.history(turns) == (
        Turn("bot", "c"),
        Turn("user", "and the deadline?"),
        Turn("bot", "e"),
        Turn("user", "what about elite?"),
    )
    assert chat.history(turns[:2]) == (Turn("user", "what is the fee?"),)
    assert chat.history([*turns[:2], Turn("bot", "c")])[0] == Turn(
        "user", "what is the fee?\n\nfor members"
    )


async def test_help_words_get_the_help_of_the_platform(chat: ChatService) -> None:
    chat.add_platform(
        "memory", PlatformTraits(usage=lambda c: f"!{c.name}", hears_unmentioned=False)
    )
    reply = await chat.handle(msg("help", id="h1"))
    assert reply is not None and reply.answer is None
    assert reply.text.startswith(message("help_intro"))
    assert message("help_follow_up_mention") in reply.text
    assert "• !reindex — Admins: re-index the program documents" in reply.text
    assert "• !fail — fails" in reply.text  # features' commands are listed too


# -- thread topics and buttons -------------------------------------------------------------------
async def test_ask_about_this_opens_a_thread_once_and_its_questions_carry_the_topic(
    chat: ChatService, recorder: Recorder
) -> None:
    chat.add_platform("memory", PlatformTraits(hears_unmentioned=False))
    reply = await chat.click(ButtonClick("ask", "x-1", PARTNER, "C1", "n1"))
    place = Place("C1", "n1")
    intro = await chat.open_thread("memory", place, reply)
    assert intro == f"Ask me here\n\n{message('thread_mention_hint')}"
    assert await chat.open_thread("memory", place, reply) is None  # once per thread
    answered = await chat.handle(msg("when is it sent?", id="q1", place=place))
    assert answered is not None and answered.answer is not None
    assert answered.answer.text == "about demo:x-1: when is it sent?"
    assert recorder.questions[-1].topic == Topic("demo", "x-1")
    elsewhere = await chat.handle(msg(GOLD, id="q2", place=Place("C1", "other")))
    assert elsewhere is not None and recorder.questions[-1].topic is None


async def test_feedback_clicks_are_recorded(chat: ChatService) -> None:
    answered = await chat.handle(msg(GOLD, id="fb"))
    assert answered is not None and answered.answer is not None
    interaction = str(answered.answer.interaction_id)
    up = await chat.click(ButtonClick("feedback_up", interaction, PARTNER, "C1"))
    assert up.text == message("feedback_thanks_up")
    down = await chat.click(ButtonClick("feedback_down", interaction, PARTNER, "C1"))
    assert down.text == message("feedback_thanks_down")
    [row] = chat.core.store.interactions.feedback()  # the second click replaced the first
    assert (row.rating, row.user, row.platform) == (-1, "U-partner", "memory")
    for value in ("999999", "not-a-number"):
        unknown = await chat.click(ButtonClick("feedback_up", value, PARTNER, "C1"))
        assert unknown.text == message("feedback_unknown")


async def test_other_buttons_go_to_the_feature_that_owns_them(
    chat: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await chat.click(ButtonClick("ping", "7", PARTNER, "C1"))).text == "pong 7"
    assert (await chat.click(ButtonClick("refuse", "7", PARTNER, "C1"))).text == "not now"
    unknown = await chat.click(ButtonClick("nobody", "7", PARTNER, "C1"))
    assert unknown.text == message("button_unavailable")
    with caplog.at_level(logging.ERROR):
        failed = await chat.click(ButtonClick("boom", "7", PARTNER, "C1"))
    assert failed.text == message("apology") and "feature failure" in caplog.text


class UI:
    """A ButtonUI that records what the chat service asked for."""

    def __init__(self, *, fail_posts: bool = False) -> None:
        self.shown: list[tuple[str, Any]] = []
        self.fail_posts = fail_posts

    def ui(self) -> ButtonUI:
        async def private(text: str) -> None:
            self.shown.append(("private", text))

        async def share(answer: Answer) -> None:
            if self.fail_posts:
                raise PermissionError("not in the channel")
            self.shown.append(("share", answer.interaction_id))

        async def thread() -> Place | None:
            return Place("C1", "n5")

        async def post(place: Place, text: str) -> None:
            if self.fail_posts:
                raise PermissionError("not in the channel")
            self.shown.append(("post", text))

        async def pointed(place: Place, first: bool) -> None:
            self.shown.append(("pointed", first))

        return ButtonUI(private, share, thread, post, pointed)


async def test_press_shares_opens_threads_and_reports_a_refused_post(chat: ChatService) -> None:
    ask = chat.commands.get("ask")
    assert ask is not None
    reply = await chat.run(ask, CommandCall("ask", PARTNER, {"question": GOLD}, Place("C1")))
    assert reply.answer is not None
    shared = str(reply.answer.interaction_id)
    ui = UI()
    # Only the asker may post it, and only where it was asked.
    someone = Actor("memory", "U-someone")
    await chat.press(ButtonClick("share", shared, someone, "C1"), ui.ui())
    await chat.press(ButtonClick("share", shared, PARTNER, "C2"), ui.ui())
    assert ui.shown == [("private", message("share_elsewhere"))] * 2
    ui.shown.clear()
    await chat.press(ButtonClick("share", shared, PARTNER, "C1"), ui.ui())
    await chat.press(ButtonClick("share", shared, PARTNER, "C1"), ui.ui())  # gone: expired
    await chat.press(ButtonClick("ask", "x-2", PARTNER, "C1", "n5"), ui.ui())
    await chat.press(ButtonClick("ask", "x-2", PARTNER, "C1", "n5"), ui.ui())
    await chat.press(ButtonClick("ping", "1", PARTNER, "C1"), ui.ui())
    assert ui.shown == [
        ("share", reply.answer.interaction_id),
        ("private", message("share_expired")),
        ("post", "Ask me here"),
        ("pointed", True),
        ("pointed", False),
        ("private", "pong 1"),
    ]
    refused = UI(fail_posts=True)
    reply = await chat.run(ask, CommandCall("ask", PARTNER, {"question": GOLD}, Place("C1")))
    assert reply.answer is not None
    await chat.press(
        ButtonClick("share", str(reply.answer.interaction_id), PARTNER, "C1"), refused.ui()
    )
    assert refused.shown == [("private", message("could_not_post"))]
    again = UI()  # a refused post stays shareable
    await chat.press(
        ButtonClick("share", str(reply.answer.interaction_id), PARTNER, "C1"), again.ui()
    )
    assert again.shown == [("share", reply.answer.interaction_id)]


# -- commands ------------------------------------------------------------------------------------
async def test_commands_admin_only_errors_and_unknown_words(
    chat: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    refused = await chat.run_words("reindex", actor=PARTNER)
    assert refused.text == message("not_admin", action="re-index the documents") and refused.private
    assert "refused admin action 're-index the documents' for memory:U-partner" in caplog.text
    said: list[str] = []

    async def working(text: str) -> None:
        said.append(text)

    done = await chat.run_words("reindex", actor=ADMIN, working=working)
    assert said == [message("reindex_started")]
    assert done.text.startswith("Re-index finished: 0 added, 0 updated, 0 removed")
    assert "re-index requested by memory:U-admin" in caplog.text
    assert (await chat.run_words("fail", actor=PARTNER)).text == "that did not work"
    assert (await chat.run_words("crash", actor=PARTNER)).text == message("apology")
    unknown = await chat.run_words("frobnicate now", actor=PARTNER)
    assert unknown.text.startswith(message("unknown_command", name="frobnicate"))
    assert (await chat.run_words("", actor=PARTNER)).text == chat.help_text("memory")
    asked = await chat.run_words(f"ask {GOLD}", actor=PARTNER)
    assert asked.answer is not None and not asked.private and "2027-03-31" in asked.answer.text
