"""Notices and digests on Slack: the poster (delivery key in message metadata), the notice
buttons, `/partner comms …` and `/partner changes …`, `partnerbot serve` and the CLI.
Real slack_sdk / slack-bolt against FakeSlack."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.slack.app import SlackPlatform
from adapters.slack.poster import EVENT_TYPE, SlackPoster
from bot.app import App
from bot.cli.main import app as cli
from bot.comms.dispatcher import DispatcherService, TickReport
from bot.comms.registry import RegisterResult
from bot.models import Notice, NoticeButton
from bot.prompts import message
from bot.serving.services import serve_app
from tests.adapters.slack_harness import SlackDriver, channel_message, running_slack, slack_settings
from tests.adapters.test_slack import feedback_value, posted, responses
from tests.conftest import SAMPLE_DOCS
from tests.fakes.slack_server import FakeSlack
from tests.scenarios.test_comms import (
    ADMINS,
    ANZ,
    COMM_ID,
    EMEA,
    ROUTES,
    Clock,
    before_send,
    write_comm,
    write_routes,
)

ADMIN, PARTNER = "UADMIN", "U0PARTNER"
CHANGES_CHANNEL = "C0CHANGES"
TITLE = "Northwind Books moves to per-user licensing on 1 March 2027"
SLACK_ROUTES: dict[str, Any] = {
    "tags": ROUTES["tags"],
    "routes": [{"match": r["match"], "slack": r["memory"]} for r in ROUTES["routes"]],
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def comms_app(make_app: Callable[..., App], fake: FakeSlack, tmp_path: Path) -> Callable[..., App]:
    """comms_app(index=False) → a Slack-configured app with the sample communication
    registered two days before it is sent (inside its lead window)."""

    def build(*, index: bool = False, mode: str = "socket") -> App:
        folder = tmp_path / "comms"
        folder.mkdir(exist_ok=True)
        app = make_app(
            **slack_settings(fake, mode, SLACK_ADMIN_USER_IDS=ADMIN),  # type: ignore[arg-type]
            PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, SLACK_ROUTES)),
            PARTNERBOT_ADMIN_CHANNELS=f"slack:{ADMINS}",
            PARTNERBOT_COMMS_POLL_SECONDS="0.1",
        )
        app.comms.clock = Clock(before_send(days=2))
        if not index:
            app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
        result = app.comms.add_file(write_comm(folder))
        assert isinstance(result, RegisterResult), result
        return app

    return build


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
    [dispatcher] = [j for j in driver.app.jobs() if isinstance(j, DispatcherService)]
    return await asyncio.to_thread(dispatcher.dispatcher.run_once)


async def command_reply(driver: SlackDriver, text: str, *, user_id: str) -> dict[str, Any]:
    """Run `/partner <text>` and return its (last) private reply."""
    before = len(driver.fake.calls_to("response_url"))
    await driver.command(text, user_id=user_id)
    replies = await responses(driver.fake, count=before + 1)
    assert replies[-1]["response_type"] == "ephemeral"
    return replies[-1]


# -- the poster ----------------------------------------------------------------------------------
NOTICE = Notice(
    key="pb-comm:x:r1:first:slack:C0ANZ",
    title="Heads-up",
    text="**What is sent:** a renewal reminder.",
    buttons=(NoticeButton("acknowledge", "Acknowledge", "comm:1"),),
)


@pytest.fixture
async def poster(make_app: Callable[..., App], fake: FakeSlack) -> Any:
    platform = make_app(**slack_settings(fake)).add_platform("slack", listen=False)
    assert isinstance(platform, SlackPlatform)
    await platform.start()
    yield platform.poster
    await platform.stop()


async def test_a_notice_carries_its_key_in_metadata_and_is_found_by_it(
    poster: SlackPoster, fake: FakeSlack
) -> None:
    fake.seed_channel("C0NEWS", name="partner-news")
    assert await asyncio.to_thread(poster.find, "C0NEWS", NOTICE.key) is None
    ts = await asyncio.to_thread(poster.post, "#partner-news", NOTICE)
    [stored] = fake.messages("C0NEWS")
    assert stored["ts"] == ts and key_of(stored) == NOTICE.key
    assert stored["metadata"]["event_type"] == EVENT_TYPE
    assert "*What is sent:*" in str(stored["blocks"])  # Markdown became mrkdwn
    assert await asyncio.to_thread(poster.find, "#partner-news", NOTICE.key) == ts
    assert await asyncio.to_thread(poster.find, "C0NEWS", "another-key") is None
    history = fake.calls_to("conversations.history")
    assert all(c.params.get("include_all_metadata") in (True, "true", "1") for c in history)
    link = await asyncio.to_thread(poster.permalink, "C0NEWS", ts)
    assert link is not None and "/archives/C0NEWS/p" in link
    dm = await asyncio.to_thread(poster.post_direct, "U0PARTNER", NOTICE)
    assert [m["ts"] for m in fake.messages("D0PARTNER")] == [dm]


async def test_posts_to_one_channel_are_a_second_apart_and_429s_are_waited_out(
    poster: SlackPoster, fake: FakeSlack
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    poster._sleep, poster._clock = sleep, lambda: 100.0  # a clock that does not move
    fake.fail_next("chat.postMessage", retry_after=1)
    for i in range(3):
        await asyncio.to_thread(poster.post, ANZ, Notice(key=f"k{i}", title="t", text="x"))
    await asyncio.to_thread(poster.post, EMEA, Notice(key="k-emea", title="t", text="x"))
    assert slept == [1.0, 2.0]  # the other channel did not wait
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200, 200, 200, 200]
    assert len(fake.messages(ANZ)) == 3


# -- serve: the dispatcher posts through the running Slack platform ------------------------------
async def test_serve_dispatches_due_notices_through_the_slack_platform(
    comms_app: Callable[..., App], fake: FakeSlack
) -> None:
    app = comms_app()
    app.add_platforms()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_app(app, stop=stop))
    try:
        await fake.async_wait_for_socket_client(timeout=10)
        deadline = time.monotonic() + 10
        while not (notices(fake, ANZ) and notices(fake, EMEA)):
            assert time.monotonic() < deadline, "no notices"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # a few more ticks: nothing is posted twice
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=15)
    for channel in (ANZ, EMEA):
        [notice] = notices(fake, channel)
        assert key_of(notice) == f"pb-comm:{COMM_ID}:r1:first:slack:{channel}"
        assert TITLE in notice["text"] and "in 2 days" in notice["text"]
    assert not fake.messages(ADMINS)


# -- buttons -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_acknowledge_is_recorded_and_thanked_privately(
    comms_app: Callable[..., App], fake: FakeSlack, mode: str
) -> None:
    app = comms_app(mode=mode)
    async with running_slack(app, fake) as slack:
        await tick(slack)
        [notice] = notices(fake, ANZ)
        value = button_value(notice, "notice_acknowledge")
        click = {"user_id": "U0ALICE", "channel_id": ANZ, "message_ts": notice["ts"]}
        assert await slack.click("notice_acknowledge", value, **click) == 200
        [thanks] = await responses(fake)
        await slack.click("notice_acknowledge", value, **click)
        [_, again] = await responses(fake, count=2)
    assert thanks["response_type"] == "ephemeral" and thanks["replace_original"] is False
    assert thanks["text"].startswith(f"Thanks — noted that you've seen “{TITLE}”")
    assert "already acknowledged" in again["text"]
    assert len(fake.messages(ANZ)) == 1  # nothing public
    anz = next(c for c in app.comms.reports.status(COMM_ID).channels if c.channel == ANZ)
    assert [a["user"] for a in anz.acks] == ["U0ALICE"] and anz.platform == "slack"


async def test_ask_about_this_opens_the_notice_thread_once_and_answers_there(
    comms_app: Callable[..., App], fake: FakeSlack
) -> None:
    app = comms_app(index=True)  # the communication is indexed for the answer
    async with running_slack(app, fake) as slack:
        await tick(slack)
        [notice] = notices(fake, ANZ)
        click = {"channel_id": ANZ, "message_ts": notice["ts"]}
        await slack.click("notice_ask", button_value(notice, "notice_ask"), user_id="U0C", **click)
        [intro] = await posted(fake, channel=ANZ, thread_ts=notice["ts"])
        assert intro.params["text"].startswith(f"Ask me anything about “{TITLE}”")
        assert not fake.calls_to("response_url")  # the intro is in the thread, not private
        await slack.click("notice_ask", button_value(notice, "notice_ask"), user_id="U0D", **click)
        [pointer] = await responses(fake)
        assert pointer["text"] == message("slack_ask_in_thread")  # no second intro
        question = channel_message(
            "can a customer switch early?", user="U0C", channel=ANZ, thread_ts=notice["ts"]
        )
        await slack.event(question)
        [_, reply] = await posted(fake, channel=ANZ, thread_ts=notice["ts"], count=2, timeout=30)
    assert reply.params["text"].startswith(f"About “{TITLE}” (comms/{COMM_ID}):")
    stored = app.store.interactions.get(int(feedback_value(reply.params["blocks"])))
    assert stored is not None and stored.question == "can a customer switch early?"
    assert f"comms/{COMM_ID}" in {s["path"] for s in stored.sources}


async def test_an_unknown_notice_button_says_so_privately(
    comms_app: Callable[..., App], fake: FakeSlack
) -> None:
    async with running_slack(comms_app(), fake) as slack:
        await slack.click("notice_ask", "comm:99999", channel_id=ANZ)
        [reply] = await responses(fake)
    assert reply["text"] == message("comms_button_unknown")
    assert not fake.calls_to("chat.postMessage")


# -- /partner comms and /partner changes ---------------------------------------------------------
async def test_partner_comms_list_and_cancel_are_for_admins(
    comms_app: Callable[..., App], fake: FakeSlack
) -> None:
    app = comms_app()
    async with running_slack(app, fake) as slack:
        await tick(slack)  # the first notices reach ANZ and EMEA
        listed = await command_reply(slack, "comms list", user_id=ADMIN)
        assert listed["text"].startswith(message("comms_list_heading"))
        assert f"`{COMM_ID}`" in listed["text"] and TITLE in listed["text"]
        refused = await command_reply(slack, "comms", user_id=PARTNER)
        assert refused["text"] == message("not_admin", action="list communications")
        refused = await command_reply(slack, f"comms cancel {COMM_ID}", user_id=PARTNER)
        assert refused["text"] == message("not_admin", action="cancel communications")
        usage = await command_reply(slack, "comms frobnicate", user_id=ADMIN)
        assert usage["text"] == (
            "Usage: `comms list` or `comms status &lt;id&gt;` or `comms cancel &lt;id&gt;`"
        )
        done = await command_reply(slack, f"comms cancel {COMM_ID}", user_id=ADMIN)
        assert done["text"] == message("comms_cancel_done", title=TITLE, id=COMM_ID, told=2)
        report = await tick(slack)
    assert sorted(report.posted) == [
        f"pb-comm:{COMM_ID}:r1:cancelled:slack:{c}" for c in sorted((ANZ, EMEA))
    ]
    cancel_rows = [h for h in app.comms.history(COMM_ID) if h["action"] == "cancelled"]
    assert [h["who"] for h in cancel_rows] == [f"slack:{ADMIN}"]


@pytest.fixture
def edited_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    csat = docs / "csat-requirement.md"
    csat.write_text(csat.read_text().replace("2027-03-31", "2027-06-30"))
    return docs


async def test_partner_changes_publishes_the_digest_through_the_slack_poster(
    make_app: Callable[..., App], fake: FakeSlack, edited_docs: Path
) -> None:
    app = make_app(
        **slack_settings(fake, SLACK_ADMIN_USER_IDS=ADMIN),
        PARTNERBOT_DOCS_DIR=str(edited_docs),
        PARTNERBOT_CHANGES_CHANNELS=f"slack:{CHANGES_CHANNEL}",
    )
    async with running_slack(app, fake) as slack:
        await slack.command("reindex", user_id=ADMIN)
        _, reindexed = await responses(fake, count=2)
        assert "1 updated" in reindexed["text"]
        preview = await command_reply(slack, "changes preview", user_id=ADMIN)
        assert "2027-06-30" in preview["text"] and "**" not in preview["text"]  # mrkdwn
        bad = await command_reply(slack, "changes since someday", user_id=ADMIN)
        assert bad["text"] == message("changes_bad_since", value="someday")
        published = await command_reply(slack, "changes", user_id=ADMIN)
        assert re.fullmatch(
            rf"Published the digest of \d+ changes? to slack:{CHANGES_CHANNEL}\.", published["text"]
        )
    [digest] = fake.messages(CHANGES_CHANNEL)
    assert key_of(digest).startswith("changes:")
    assert digest["text"].startswith("Partner program changes:")
    assert not any(b["type"] == "actions" for b in digest["blocks"])  # no buttons on digests


async def test_partnerbot_changes_publish_connects_slack_to_post(
    make_app: Callable[..., App], fake: FakeSlack, edited_docs: Path
) -> None:
    app = make_app(PARTNERBOT_DOCS_DIR=str(edited_docs))
    app.core.reindex()
    env = {
        "PARTNERBOT_DATA_DIR": str(app.settings.data_dir),
        "PARTNERBOT_CHANGES_CHANNELS": f"slack:{CHANGES_CHANNEL}",
        "SLACK_BOT_TOKEN": "xoxb-test",  # posting needs neither an app token nor Socket Mode
        "SLACK_API_URL": fake.base_url,
    }
    app.close()
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["changes", "publish"], env=env)
    assert result.exit_code == 0, result.output
    assert f"to slack:{CHANGES_CHANNEL}." in result.output
    assert "2027-06-30" in fake.messages(CHANGES_CHANNEL)[0]["text"]
    again = await asyncio.to_thread(CliRunner().invoke, cli, ["changes", "publish"], env=env)
    assert "No new program changes to publish." in again.output
    assert len(fake.messages(CHANGES_CHANNEL)) == 1
    assert not fake.socket_connected
