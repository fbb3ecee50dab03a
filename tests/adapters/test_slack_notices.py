"""Partner-channel notices and change digests in Slack, end to end.

The real slack-bolt / slack_sdk against FakeSlack: `partnerbot serve` hands the Slack
service's poster to the communications dispatcher; the notice buttons (Acknowledge,
Ask about this) and `/partner comms …` / `/partner changes …` go through the adapter
to the core. The clock is injected and the communication is registered inside its
lead window, so its first notice is due at once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.serve import configured_services, serve
from adapters.slack import SlackService
from adapters.slack.poster import EVENT_TYPE, NOTICE_ACKNOWLEDGE, NOTICE_ASK, SlackPoster
from adapters.slack.render import escape
from bot.comms.dispatcher import DispatcherService, TickReport, build_dispatcher_service
from bot.comms.registry import RegisterResult
from bot.core import PartnerBot
from bot.prompts import message
from tests.adapters.slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    SlackDriver,
    channel_message,
    running_slack,
)
from tests.adapters.test_slack import feedback_value, posted, responses
from tests.conftest import SAMPLE_DOCS
from tests.fakes.slack_server import FakeSlack
from tests.scenarios.test_comms_slack import (
    ADMINS,
    AMERICAS,
    ANZ,
    COMM_ID,
    EMEA,
    ENTERPRISE,
    Clock,
    before_send,
    write_comm,
    write_routes,
)

ADMIN = "UADMIN"
PARTNER = "U0PARTNER"
CHANGES_CHANNEL = "C0CHANGES"
TITLE = "Northwind Books moves to per-user licensing on 1 March 2027"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def comms_bot(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack, tmp_path: Path
) -> Callable[..., PartnerBot]:
    """comms_bot(index=False) → a Slack-configured bot with the sample communication
    registered two days before it is sent (inside its lead window).

    index=False keeps communications out of the knowledge index (embedding them is
    slow); the Q&A test needs them there.
    """

    def build(*, index: bool = False) -> PartnerBot:
        folder = tmp_path / "comms"
        folder.mkdir(exist_ok=True)
        bot = make_bot(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=APP_TOKEN,
            SLACK_API_URL=fake.base_url,
            SLACK_ADMIN_USER_IDS=ADMIN,
            PARTNERBOT_COMMS_ROUTES=str(write_routes(folder)),
            PARTNERBOT_ADMIN_CHANNELS=f"slack:{ADMINS}",
            PARTNERBOT_COMMS_POLL_SECONDS="0.1",
        )
        bot.comms.clock = Clock(before_send(days=2))
        if not index:
            bot.comms.refresh_index = lambda: None  # type: ignore[method-assign]
        result = bot.comms.add_file(write_comm(folder))
        assert isinstance(result, RegisterResult), result
        return bot

    return build


# --------------------------------------------------------------------------- helpers


def notices(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """Top-level messages in `channel` that carry a partnerbot delivery key."""
    return [
        m
        for m in fake.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE
        and m.get("thread_ts") in (None, m["ts"])
    ]


def key_of(msg: dict[str, Any]) -> str:
    return str(msg["metadata"]["event_payload"]["key"])


def button_value(notice: dict[str, Any], action_id: str) -> str:
    [actions] = [b for b in notice["blocks"] if b["type"] == "actions"]
    [button] = [e for e in actions["elements"] if e["action_id"] == action_id]
    return str(button["value"])


async def tick(driver: SlackDriver) -> TickReport:
    """One dispatcher pass, with the posters `partnerbot serve` would give it."""
    service = build_dispatcher_service(driver.bot.comms, [driver.service])
    return await asyncio.to_thread(service.dispatcher.run_once)


async def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def command_reply(driver: SlackDriver, text: str, *, user_id: str) -> dict[str, Any]:
    """Run `/partner <text>` and return its (one) private reply."""
    before = len(driver.fake.calls_to("response_url"))
    await driver.command(text, user_id=user_id)
    replies = await responses(driver.fake, count=before + 1)
    assert replies[before]["response_type"] == "ephemeral"
    return replies[before]


# --------------------------------------------------------------------------- serve


async def test_serve_dispatches_due_notices_through_the_slack_services_poster(
    comms_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    bot = comms_bot()
    services = configured_services(bot)
    [slack] = [s for s in services if isinstance(s, SlackService)]
    [dispatcher] = [s for s in services if isinstance(s, DispatcherService)]
    assert isinstance(slack.poster, SlackPoster) and slack.poster.platform == "slack"
    assert dispatcher.dispatcher.posters == {"slack": slack.poster}
    assert dispatcher.interval == 0.1

    stop = asyncio.Event()
    serving = asyncio.create_task(serve(bot, services, stop_event=stop))
    try:
        await fake.async_wait_for_socket_client(timeout=10)
        await wait_until(
            lambda: notices(fake, ANZ) and notices(fake, EMEA), timeout=10, what="notices"
        )
        assert slack.poster in bot.changes.posters  # change digests can post while running
        await asyncio.sleep(0.3)  # a few more ticks: nothing is posted twice
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=15)
    assert serving.exception() is None
    assert slack.poster not in bot.changes.posters
    for _ in range(250):  # the fake notices the closed socket a moment after the client
        if not fake.socket_connected:
            break
        await asyncio.sleep(0.02)
    assert not fake.socket_connected

    for channel in (ANZ, EMEA):
        [notice] = notices(fake, channel)
        assert key_of(notice) == f"pb-comm:{COMM_ID}:r1:first:slack:{channel}"
        assert TITLE in notice["text"] and "in 2 days" in notice["text"]
        assert "contact their Northwind partner" in notice["text"]
    assert not any(fake.messages(c) for c in (AMERICAS, ENTERPRISE, ADMINS))
    assert {c.token for c in fake.calls_to("chat.postMessage")} == {BOT_TOKEN}
    firsts = [d for d in bot.comms.deliveries(COMM_ID) if d.kind == "first"]
    assert {(d.channel, d.status, d.message_id) for d in firsts} == {
        (c, "posted", notices(fake, c)[0]["ts"]) for c in (ANZ, EMEA)
    }


# --------------------------------------------------------------------------- buttons


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_acknowledge_is_recorded_and_thanked_privately(
    comms_bot: Callable[..., PartnerBot], fake: FakeSlack, mode: Any
) -> None:
    bot = comms_bot()
    async with running_slack(bot, fake, mode) as slack:
        await tick(slack)
        [notice] = notices(fake, ANZ)
        value = button_value(notice, NOTICE_ACKNOWLEDGE)
        click = {"user_id": "U0ALICE", "channel_id": ANZ, "message_ts": notice["ts"]}

        assert await slack.click(NOTICE_ACKNOWLEDGE, value, **click) == 200
        [thanks] = await responses(fake)
        assert await slack.click(NOTICE_ACKNOWLEDGE, value, **click) == 200
        [_, again] = await responses(fake, count=2)

    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False
    assert thanks["text"].startswith(f"Thanks — noted that you've seen “{TITLE}”")
    assert "already acknowledged" in again["text"]
    assert len(notices(fake, ANZ)) == 1 and len(fake.messages(ANZ)) == 1  # nothing public
    status = bot.comms.status(COMM_ID)
    by_channel = {c.channel: c for c in status.channels}
    assert [a["user"] for a in by_channel[ANZ].acks] == ["U0ALICE"]
    assert by_channel[ANZ].platform == "slack"
    assert by_channel[EMEA].acks == []


async def test_an_unknown_notice_button_says_so_privately(
    comms_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    async with running_slack(comms_bot(), fake) as slack:
        await slack.click(NOTICE_ASK, "comm:99999", channel_id=ANZ)
        [reply] = await responses(fake)
    assert reply["text"] == message("comms_button_unknown")
    assert not fake.calls_to("chat.postMessage")


async def test_ask_about_this_opens_the_notice_thread_and_answers_questions_there(
    comms_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    bot = comms_bot(index=True)  # the communication is indexed for the answer
    async with running_slack(bot, fake) as slack:
        await tick(slack)
        [notice] = notices(fake, ANZ)
        await slack.click(
            NOTICE_ASK,
            button_value(notice, NOTICE_ASK),
            user_id="U0CAROL",
            channel_id=ANZ,
            message_ts=notice["ts"],
        )
        [intro] = await posted(fake, channel=ANZ, thread_ts=notice["ts"])
        assert intro.params["text"].startswith(f"Ask me anything about “{TITLE}”")
        assert f"comms/{COMM_ID}" in intro.params["text"]

        question = channel_message(
            "can a customer switch early?", user="U0CAROL", channel=ANZ, thread_ts=notice["ts"]
        )
        await slack.event(question)
        [_, reply] = await posted(fake, channel=ANZ, thread_ts=notice["ts"], count=2, timeout=30)

    assert not fake.calls_to("response_url")  # the intro is in the thread, not private
    assert reply.params["text"].startswith(f"About “{TITLE}” (comms/{COMM_ID}):")
    stored = bot.store.interactions.get(int(feedback_value(reply.params["blocks"])))
    assert stored is not None and stored.question == "can a customer switch early?"
    assert f"comms/{COMM_ID}" in {s["path"] for s in stored.sources}


# --------------------------------------------------------------------------- /partner comms


async def test_partner_comms_list_and_cancel_are_for_admins(
    comms_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    bot = comms_bot()
    async with running_slack(bot, fake) as slack:
        await tick(slack)  # the first notices reach ANZ and EMEA

        listed = await command_reply(slack, "comms list", user_id=ADMIN)
        assert listed["text"].startswith(message("comms_list_heading"))
        assert f"`{COMM_ID}`" in listed["text"] and TITLE in listed["text"]
        refused = await command_reply(slack, "comms", user_id=PARTNER)
        assert refused["text"] == message("not_admin", action="list communications")
        refused = await command_reply(slack, f"comms cancel {COMM_ID}", user_id=PARTNER)
        assert refused["text"] == message("not_admin", action="cancel communications")
        assert bot.comms.require(COMM_ID).status == "scheduled"
        usage = await command_reply(slack, "comms frobnicate", user_id=ADMIN)
        assert usage["text"] == escape(message("comms_chat_usage"))  # `<id>` as Slack wants it

        done = await command_reply(slack, f"comms cancel {COMM_ID}", user_id=ADMIN)
        assert done["text"] == message("comms_cancel_done", title=TITLE, id=COMM_ID, told=2)
        assert bot.comms.require(COMM_ID).status == "cancelled"
        report = await tick(slack)

    assert sorted(report.posted) == [
        f"pb-comm:{COMM_ID}:r1:cancelled:slack:{c}" for c in sorted((ANZ, EMEA))
    ]
    for channel in (ANZ, EMEA):
        first, cancelled = notices(fake, channel)
        assert key_of(first) == f"pb-comm:{COMM_ID}:r1:first:slack:{channel}"
        assert cancelled["text"].startswith(f"Cancelled: {TITLE}")
    cancel_rows = [h for h in bot.comms.history(COMM_ID) if h["action"] == "cancelled"]
    assert [h["who"] for h in cancel_rows] == [f"slack:{ADMIN}"]


# --------------------------------------------------------------------------- /partner changes


async def test_partner_changes_publishes_the_digest_through_the_slack_poster(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    csat = docs / "csat-requirement.md"
    csat.write_text(csat.read_text().replace("2027-03-31", "2027-06-30"))
    bot = make_bot(
        PARTNERBOT_DOCS_DIR=str(docs),
        PARTNERBOT_CHANGES_CHANNELS=f"slack:{CHANGES_CHANNEL}",
        SLACK_ADMIN_USER_IDS=ADMIN,
    )
    async with running_slack(bot, fake) as slack:
        assert slack.service.poster in bot.changes.posters
        before = len(fake.calls_to("response_url"))
        await slack.command("reindex", user_id=ADMIN)
        _, reindexed = (await responses(fake, count=before + 2))[before:]
        assert "1 updated" in reindexed["text"]

        refused = await command_reply(slack, "changes", user_id=PARTNER)
        assert refused["text"] == message("not_admin", action="publish the program-change digest")
        preview = await command_reply(slack, "changes preview", user_id=ADMIN)
        assert "2027-06-30" in preview["text"] and "csat-requirement.md" in preview["text"]
        assert "**" not in preview["text"]  # Markdown became mrkdwn
        assert not fake.messages(CHANGES_CHANNEL)
        bad = await command_reply(slack, "changes since someday", user_id=ADMIN)
        assert bad["text"] == message("changes_bad_since", value="someday")

        published = await command_reply(slack, "changes", user_id=ADMIN)
        assert re.fullmatch(
            rf"Published the digest of \d+ changes? to slack:{CHANGES_CHANNEL}\.",
            published["text"],
        ), published["text"]
        again = await command_reply(slack, "changes", user_id=ADMIN)
        assert again["text"] == message("changes_nothing_to_publish")
    assert slack.service.poster not in bot.changes.posters

    [digest] = fake.messages(CHANGES_CHANNEL)
    assert key_of(digest).startswith("changes:")
    assert digest["text"].startswith("Partner program changes:")
    assert "2027-06-30" in json.dumps(digest["blocks"])
    assert not any(b["type"] == "actions" for b in digest["blocks"])  # no buttons on digests
