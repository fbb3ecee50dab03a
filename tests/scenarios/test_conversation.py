"""Conversations on the in-memory platform: questions, follow-ups, commands and buttons
through the real chat service, core and store. (The same paths on Slack and Discord,
through their real SDKs, are tested for translation in tests/adapters/.)"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app as cli
from bot.config import SAMPLES_DIR
from bot.models import Question
from bot.prompts import message
from tests.fakes.memory_platform import MemoryPlatform

GOLD = "whats the new CSAT rule for gold?? deadline?"
CSAT = "csat-requirement.md"
ADMIN = "U-admin"


@pytest.fixture
def chat_app(make_app: Callable[..., App]) -> Callable[..., tuple[App, MemoryPlatform]]:
    def build(**settings: Any) -> tuple[App, MemoryPlatform]:
        options = {"hears_unmentioned": settings.pop("hears_unmentioned", True), "admins": {ADMIN}}
        app = make_app(**settings)
        platform = app.add_platform("memory", **options)
        assert isinstance(platform, MemoryPlatform)
        return app, platform

    return build


@pytest.fixture
def world(chat_app: Callable[..., tuple[App, MemoryPlatform]]) -> tuple[App, MemoryPlatform]:
    return chat_app()


def paths(posted: Any) -> list[str]:
    return [c.path for c in posted.answer.cited]


async def test_a_mention_is_answered_in_its_thread_with_numbered_sources(
    world: tuple[App, MemoryPlatform],
) -> None:
    app, platform = world
    asked = await platform.say(GOLD)
    [reply] = platform.replies(asked)
    assert reply.thread == asked.id and "2027-03-31" in reply.text
    assert paths(reply)[0] == CSAT
    assert re.search(
        r"^\[1\] Customer Satisfaction Survey \(CSAT\) Requirement › ", reply.rendered, re.M
    )
    assert "as of 2026-08-15" in reply.rendered
    assert [a for a, _ in reply.buttons] == ["feedback_up", "feedback_down"]
    stored = app.store.interactions.get(int(reply.buttons[0][1]))
    assert stored is not None
    assert (stored.question, stored.platform, stored.asker) == (GOLD, "memory", "U-alice")


async def test_a_follow_up_in_the_thread_without_a_mention_uses_the_first_turn(
    world: tuple[App, MemoryPlatform],
) -> None:
    app, platform = world
    asked = await platform.say(GOLD)
    follow = await platform.say("and for member tier?", thread=asked.id, mention=False)
    [_, reply] = platform.replies(follow)
    assert "2027-06-30" in reply.text and paths(reply)[0] == CSAT
    alone = app.core.ask(Question("and for member tier?", asker="control"))
    assert "2027-06-30" not in alone.text  # the same words without the thread are about tiers


async def test_a_dm_is_answered_in_the_dm_and_continues_there(
    world: tuple[App, MemoryPlatform],
) -> None:
    _, platform = world
    await platform.say(GOLD, channel="D-alice")
    await platform.say("and for member tier?", channel="D-alice")
    [first, second] = [m for m in platform.in_place("D-alice") if m.by_bot]
    assert "2027-03-31" in first.text and "2027-06-30" in second.text


async def test_people_talking_in_a_thread_the_bot_is_not_in_are_left_alone(
    world: tuple[App, MemoryPlatform],
) -> None:
    _, platform = world
    parent = await platform.say("anyone going to the summit?", user="U-peer", mention=False)
    follow = await platform.say("me! and for member tier?", thread=parent.id, mention=False)
    assert platform.replies(follow) == [] and not any(m.by_bot for m in platform.messages)


async def test_overheard_thanks_in_the_bots_thread_is_not_answered(
    chat_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, platform = chat_app()
    asked = await platform.say(GOLD)
    await platform.say("thanks!", thread=asked.id, mention=False)
    assert len(platform.replies(asked)) == 1
    assert app.store.interactions.get(1) is not None and app.store.interactions.get(2) is None


async def test_a_repeated_delivery_is_answered_once_even_after_a_restart(
    chat_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, platform = chat_app()
    asked = await platform.say(GOLD, delivery="Ev1")
    await platform.deliver(asked, delivery="Ev1")  # the platform retries
    restarted = App(app.settings, registry=app.registry)  # a new process, same data
    try:
        again = restarted.add_platform("memory")
        assert isinstance(again, MemoryPlatform)
        again.messages = platform.messages
        await again.deliver(asked, delivery="Ev1")
    finally:
        restarted.close()
    assert len(platform.replies(asked)) == 1


async def test_an_abstention_names_the_closest_documents(world: tuple[App, MemoryPlatform]) -> None:
    _, platform = world
    asked = await platform.say("how do i reset my laptop password")
    [reply] = platform.replies(asked)
    assert reply.answer is not None and reply.answer.abstained
    assert reply.rendered.startswith(message("abstained_heading"))
    assert message("closest_heading") in reply.rendered
    assert len(re.findall(r"^• ", reply.rendered, re.M)) == 3


async def test_requests_the_core_cannot_take_get_a_clear_reply(
    chat_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    _, platform = chat_app(PARTNERBOT_RATE_LIMIT_PER_MINUTE="1")
    await platform.say(("csat " * 8000)[:-1] + "?", channel="D-alice")
    too_long = message("too_long", length="40,000", limit="2,000")
    assert platform.in_place("D-alice")[-1].text == too_long
    await platform.say(GOLD, channel="D-alice")  # the one question a minute
    await platform.say("and for member tier?", channel="D-alice")
    limited = platform.in_place("D-alice")[-1]
    pattern = re.escape(message("rate_limited", limit=1, seconds="S")).replace("S", r"\d+")
    assert re.fullmatch(pattern, limited.text)


async def test_a_failure_gets_the_apology_and_the_log_the_traceback(
    world: tuple[App, MemoryPlatform],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, platform = world

    def boom(question: Question) -> Any:
        raise RuntimeError("the index fell over")

    monkeypatch.setattr(app.core.answerer, "answer", boom)
    with caplog.at_level(logging.ERROR):
        asked = await platform.say(GOLD)
    [reply] = platform.replies(asked)
    assert reply.text == message("apology") and "Traceback" not in reply.text
    assert "the index fell over" in caplog.text


# -- buttons -------------------------------------------------------------------------------------
async def test_feedback_is_stored_and_feeds_the_knowledge_gap_report(
    world: tuple[App, MemoryPlatform], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, platform = world
    asked = await platform.say("which comps replaced app dev and devops")
    [reply] = platform.replies(asked)
    await platform.click(reply, "feedback_down", user="U-rater")
    assert platform.private("U-rater")[-1].text == message("feedback_thanks_down")
    [row] = app.store.interactions.feedback()
    assert (row.rating, row.user, row.platform) == (-1, "U-rater", "memory")
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(app.settings.data_dir))
    result = CliRunner().invoke(cli, ["report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["downvoted"][0]["question"] == "which comps replaced app dev and devops"


async def test_ask_is_private_and_can_be_posted_to_the_channel(
    world: tuple[App, MemoryPlatform],
) -> None:
    _, platform = world
    private = await platform.command(f"ask {GOLD}")
    assert private.private_to == "U-alice" and "2027-03-31" in private.text
    assert not [m for m in platform.in_place("C-partners") if not m.private_to]
    share = [a for a, _ in private.buttons]
    assert share == ["feedback_up", "feedback_down"]  # (the platform adds "Post to channel")
    await platform.click(private, "feedback_up")
    shared_value = private.buttons[0][1]
    private.buttons.append(("share", shared_value))
    await platform.click(private, "share")
    [public] = [m for m in platform.in_place("C-partners") if not m.private_to and m.by_bot]
    assert "2027-03-31" in public.text
    await platform.click(private, "share")  # a second time: it is gone
    assert platform.private("U-alice")[-1].text == message("share_expired")


# -- commands ------------------------------------------------------------------------------------
async def test_help_and_unknown_commands(world: tuple[App, MemoryPlatform]) -> None:
    app, platform = world
    help_reply = await platform.command("help")
    assert help_reply.text == app.chat.help_text("memory")
    for name in (
        "ask",
        "reindex",
        "comms list",
        "comms cancel",
        "changes publish",
        "changes preview",
    ):
        assert f"`{name}" in help_reply.text
    unknown = await platform.command("frobnicate now")
    assert unknown.text.startswith(message("unknown_command", name="frobnicate"))
    assert help_reply.text in unknown.text
    said_help = await platform.say("help")
    assert platform.replies(said_help)[0].text == help_reply.text


@pytest.fixture
def docs_with_new_file(tmp_path: Path) -> Path:
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES_DIR / "docs", docs)
    (docs / "office-hours.md").write_text(
        "# Partner Office Hours\n\n## Schedule\n\nOffice hours run every Thursday at 16:00 CET.\n",
        encoding="utf-8",
    )
    return docs


async def test_reindex_is_for_admins_and_reports_the_counts(
    chat_app: Callable[..., tuple[App, MemoryPlatform]],
    docs_with_new_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, platform = chat_app(PARTNERBOT_DOCS_DIR=str(docs_with_new_file))
    caplog.set_level(logging.WARNING)
    refused = await platform.command("reindex", user="U-partner")
    assert refused.text == message("not_admin", action="re-index the documents")
    assert "refused admin action" in caplog.text and "memory:U-partner" in caplog.text
    done = await platform.command("reindex", user=ADMIN)
    started = platform.private(ADMIN)[0]
    assert started.text == message("reindex_started")
    assert re.match(r"Re-index finished: 1 added, 0 updated, 0 removed, \d+ unchanged", done.text)
    asked = await platform.say("when are the partner office hours?")
    assert "Thursday at 16:00 CET" in platform.replies(asked)[0].text
