"""The Slack platform's translation, end to end: real slack-bolt / slack_sdk against FakeSlack.

The conversation rules themselves are tested on the in-memory platform
(tests/scenarios/); here each test checks what reaches Slack for an event Slack sends,
most of them in Socket Mode and in HTTP mode, and the edge cases of Slack's API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bot.app import App
from bot.errors import ConfigError
from bot.prompts import message
from tests.adapters.slack_harness import (
    SECRETS,
    SIGNING_SECRET,
    SlackDriver,
    channel_message,
    direct_message,
    mention,
    running_slack,
    slack_settings,
)
from tests.fakes.slack_server import (
    BOT_ID,
    BOT_USER_ID,
    Call,
    FakeSlack,
    FakeSlackTimeout,
    event_callback,
    sign_request,
)

CSAT_QUESTION = "whats the new CSAT rule for gold?? deadline?"
CSAT_URL = "https://partners.northwind.example/docs/csat-requirement"
ADMIN = "UADMIN"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture(params=["socket", "http"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def slack(
    make_app: Callable[..., App], fake: FakeSlack, mode: Any
) -> AsyncIterator[SlackDriver]:
    """The platform running in `mode` over a fresh copy of the indexed samples."""
    app = make_app(**slack_settings(fake, mode, SLACK_ADMIN_USER_IDS=ADMIN))
    async with running_slack(app, fake) as driver:
        yield driver


@pytest.fixture
async def http(make_app: Callable[..., App], fake: FakeSlack) -> AsyncIterator[SlackDriver]:
    async with running_slack(make_app(**slack_settings(fake, "http")), fake) as driver:
        yield driver


async def posted(
    fake: FakeSlack, *, count: int = 1, timeout: float = 10.0, **match: Any
) -> list[Call]:
    """Wait for `count` successful chat.postMessage calls whose params match `match`."""
    deadline = time.monotonic() + timeout
    while True:
        calls = [
            c
            for c in fake.calls_to("chat.postMessage")
            if c.status == 200
            and c.response.get("ok")
            and all(c.params.get(k) == v for k, v in match.items())
        ]
        if len(calls) >= count:
            return calls
        if time.monotonic() > deadline:
            raise FakeSlackTimeout(f"no chat.postMessage matching {match}; calls: {fake.calls}")
        await asyncio.sleep(0.01)


async def responses(fake: FakeSlack, *, count: int = 1) -> list[dict[str, Any]]:
    """The bodies posted to response_urls (respond()), once `count` arrived."""
    return [c.params for c in await fake.async_wait_for("response_url", count=count)]


def block(blocks: list[dict[str, Any]], block_id: str) -> dict[str, Any]:
    found = [b for b in blocks if b.get("block_id") == block_id]
    assert found, f"no block {block_id!r} in {[b.get('block_id') for b in blocks]}"
    return found[0]


def feedback_value(blocks: list[dict[str, Any]]) -> str:
    buttons = block(blocks, "feedback")["elements"]
    assert [b["action_id"] for b in buttons] == ["feedback_up", "feedback_down"]
    return str(buttons[0]["value"])


async def settle(driver: SlackDriver) -> None:
    """Deliver a DM as a sentinel and wait for its answer and for all work in flight."""
    sentinel = direct_message("what is the annual fee for member partners", user="U0SENTINEL")
    await driver.event(sentinel)
    await posted(driver.fake, channel=sentinel["channel"])
    await asyncio.sleep(0.05)
    await driver.platform.inflight.drain(timeout=5)


# -- events in, messages out ---------------------------------------------------------------------
async def test_mention_gets_a_threaded_answer_rendered_as_blocks(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    status, _ = await slack.event(event)
    assert status == 200
    [reply] = await posted(fake, channel="C0PARTNERS", thread_ts=event["ts"])
    blocks = reply.params["blocks"]
    assert "2027-03-31" in block(blocks, "answer-0")["text"]["text"]
    assert "2027-03-31" in reply.params["text"]  # the plain-text fallback
    sources = block(blocks, "sources")["text"]["text"]
    assert sources.startswith(f"*{message('sources_heading')}*")
    assert f"`[1]` <{CSAT_URL}|Customer Satisfaction Survey (CSAT) Requirement › " in sources
    assert block(blocks, "context")["elements"][0]["text"] == "as of 2026-08-15"
    stored = slack.app.store.interactions.get(int(feedback_value(blocks)))
    assert stored is not None
    assert (stored.question, stored.platform, stored.asker) == (
        CSAT_QUESTION,  # the mention was stripped
        "slack",
        "U0ASKER",
    )
    # Work in progress was shown on the question, and cleared once answered.
    [added] = fake.calls_to("reactions.add")
    assert added.params == {"channel": "C0PARTNERS", "timestamp": event["ts"], "name": "eyes"}
    await fake.async_wait_for("reactions.remove")
    assert fake.reactions("C0PARTNERS", event["ts"]) == []


async def test_a_dm_is_answered_in_the_dm_with_the_last_hour_as_context(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    first = direct_message(CSAT_QUESTION)
    await slack.event(first)
    [reply] = await posted(fake, channel=first["channel"])
    assert reply.params.get("thread_ts") is None and "2027-03-31" in reply.params["text"]
    await slack.event(direct_message("and for member tier?"))
    [_, follow] = await posted(fake, channel=first["channel"], count=2)
    assert "2027-06-30" in follow.params["text"]
    reads = [c for c in fake.calls_to("conversations.history") if c.params["channel"] == "D0ASKER"]
    assert reads and all(
        float(r.params["oldest"]) == pytest.approx(float(r.params["latest"]) - 3600) for r in reads
    )


async def test_a_thread_follow_up_without_a_mention_reads_the_thread(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    first = mention(CSAT_QUESTION)
    await slack.event(first)
    await posted(fake, thread_ts=first["ts"])
    await slack.event(channel_message("and for member tier?", thread_ts=first["ts"]))
    [_, reply] = await posted(fake, thread_ts=first["ts"], count=2)
    assert fake.calls_to("conversations.replies")[-1].params["ts"] == first["ts"]
    assert "2027-06-30" in reply.params["text"]  # only reachable with the first turn as context


async def test_threads_the_bot_is_not_in_and_messages_not_from_people_are_ignored(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    parent = channel_message("anyone going to the summit?", user="U0PEER")
    await slack.event(parent)
    await slack.event(channel_message("me, and for member tier?", thread_ts=parent["ts"]))
    ignored = [
        direct_message("my own answer", user=BOT_USER_ID, bot_id=BOT_ID),
        direct_message("a message from another app", bot_id="B0OTHER", subtype="bot_message"),
        {**direct_message("edited"), "subtype": "message_changed"},
        {**direct_message(""), "subtype": "message_deleted"},
    ]
    for event in ignored:
        await slack.event(event, store=False)
    event = mention(CSAT_QUESTION)
    await slack.event({**event, "type": "message", "channel_type": "channel"})  # mention's copy
    await settle(slack)
    assert [c.params["channel"] for c in fake.calls_to("chat.postMessage")] == ["D0SENTINEL"]


async def test_retried_delivery_is_answered_exactly_once(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    assert (await slack.event(event, event_id="Ev0RETRY01"))[0] == 200
    await posted(fake, thread_ts=event["ts"])
    assert (await slack.event(event, event_id="Ev0RETRY01", retry=1, store=False))[0] == 200
    await settle(slack)
    assert len(await posted(fake, thread_ts=event["ts"])) == 1


async def test_ack_is_immediate_while_answering_is_slow(
    http: SlackDriver, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = http.app.core.answerer.answer

    def slow(question: Any) -> Any:
        time.sleep(1.0)
        return answer(question)

    monkeypatch.setattr(http.app.core.answerer, "answer", slow)
    event = mention(CSAT_QUESTION)
    status, ack_seconds = await http.event(event)
    assert status == 200 and ack_seconds < 0.5
    [reply] = await posted(fake, thread_ts=event["ts"])
    assert "2027-03-31" in reply.params["text"]


@pytest.mark.parametrize("failing", ["answerer", "adapter"])
async def test_failure_while_answering_posts_apology_without_secrets(
    slack: SlackDriver,
    fake: FakeSlack,
    failing: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the index fell over")

    if failing == "answerer":
        monkeypatch.setattr(slack.app.core.answerer, "answer", boom)
    else:
        monkeypatch.setattr("adapters.slack.app.render_answer", boom)
    event = mention(CSAT_QUESTION)
    await slack.event(event)
    [reply] = await posted(fake, thread_ts=event["ts"])
    assert reply.params["text"] == message("apology")
    assert "the index fell over" in caplog.text  # the traceback went to the log ...
    for secret in SECRETS:  # ... and no token or signing secret anywhere
        assert secret not in caplog.text
        assert all(secret not in json.dumps(c.params) for c in fake.calls)


# -- edge defects --------------------------------------------------------------------------------
async def test_5xx_and_repeated_429_from_post_message_are_retried_before_apologising(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    async with running_slack(make_app(**slack_settings(fake)), fake) as slack:
        fake.fail_next("chat.postMessage", status=503)
        fake.fail_next("chat.postMessage", status=500)
        event = mention(CSAT_QUESTION)
        await slack.event(event)
        [reply] = await posted(fake, thread_ts=event["ts"])
        assert "2027-03-31" in reply.params["text"]
        fake.fail_next("chat.postMessage", retry_after=1, times=3)
        again = mention("what is the annual fee for member partners")
        await slack.event(again)
        await posted(fake, thread_ts=again["ts"], timeout=15)
    statuses = [c.status for c in fake.calls_to("chat.postMessage")]
    assert statuses == [503, 500, 200, 429, 429, 429, 200]


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long"])
async def test_blocks_slack_refuses_are_posted_again_as_plain_text(
    make_app: Callable[..., App], fake: FakeSlack, error: str
) -> None:
    async with running_slack(make_app(**slack_settings(fake)), fake) as slack:
        fake.fail_next("chat.postMessage", error=error)
        event = mention(CSAT_QUESTION)
        await slack.event(event)
        [reply] = await posted(fake, thread_ts=event["ts"])
    refused, plain = fake.calls_to("chat.postMessage")
    assert refused.response == {"ok": False, "error": error} and "blocks" in refused.params
    assert reply is plain and "blocks" not in plain.params and "2027-03-31" in plain.params["text"]


@pytest.mark.parametrize("addressed", [True, False], ids=["mention", "follow-up"])
async def test_a_failed_thread_read_still_answers(
    slack: SlackDriver, fake: FakeSlack, addressed: bool, caplog: pytest.LogCaptureFixture
) -> None:
    first = mention("what is the annual fee for member partners")
    await slack.event(first)
    await posted(fake, thread_ts=first["ts"])
    fake.fail_next("conversations.replies", error="internal_error", status=500, times=3)
    text = "and how do I pay it?"
    event = (mention if addressed else channel_message)(text, thread_ts=first["ts"])
    with caplog.at_level(logging.WARNING):
        await slack.event(event)
        [_, reply] = await posted(fake, thread_ts=first["ts"], count=2)
    assert reply.params["text"]  # an answer (without the earlier turns), never silence
    assert "could not read the conversation" in caplog.text


async def test_the_http_server_listens_where_slack_host_says(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    app = make_app(**slack_settings(fake, "http", SLACK_HOST="127.0.0.2"))
    async with running_slack(app, fake) as slack:
        assert slack.url.startswith("http://127.0.0.2:")
        event = mention(CSAT_QUESTION)
        assert (await slack.event(event))[0] == 200
        await posted(fake, thread_ts=event["ts"])


def unsigned_requests() -> list[tuple[str, bytes, dict[str, str], int]]:
    """(why, body, headers, status) for requests that did not come from Slack (or are broken)."""
    body = json.dumps(event_callback(mention(CSAT_QUESTION))).encode()
    good = sign_request(body, SIGNING_SECRET)
    stamp = good["X-Slack-Request-Timestamp"]
    return [
        ("no timestamp", body, {"X-Slack-Signature": good["X-Slack-Signature"]}, 401),
        ("timestamp not a number", body, {**good, "X-Slack-Request-Timestamp": "soon"}, 401),
        ("unsigned", body, {"X-Slack-Request-Timestamp": stamp}, 401),
        ("forged", body, sign_request(body, "forged-secret"), 401),
        ("ten minutes old", body, sign_request(body, SIGNING_SECRET, int(time.time()) - 600), 401),
        (
            "malformed JSON",
            b'{"type": "event_callback", ',
            sign_request(b'{"type": "event_callback", ', SIGNING_SECRET),
            400,
        ),
        ("not UTF-8", b"\xff\xfe", sign_request(b"\xff\xfe", SIGNING_SECRET), 400),
    ]


async def test_unverified_or_malformed_http_requests_are_refused_with_a_line_a_minute(
    http: SlackDriver, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = unsigned_requests()
    for why, body, headers, status in cases:
        got, _, _ = await http.post(
            body, content_type="application/json", headers=headers, sign=False
        )
        assert got == status, why
    # 300 of them: no traceback, one warning line a minute for each kind (unverified,
    # malformed), nothing answered.
    for i in range(300):
        _, body, headers, _ = cases[i % len(cases)]
        await http.post(body, content_type="application/json", headers=headers, sign=False)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2 and all(r.exc_info is None for r in caplog.records)
    assert all(r.getMessage().startswith("Slack: refused a") for r in warnings)
    assert "Traceback" not in caplog.text
    await asyncio.sleep(0.2)
    assert not fake.calls_to("chat.postMessage") and not fake.calls_to("reactions.add")


async def test_url_verification_challenge(http: SlackDriver) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    status, text, _ = await http.post(body, content_type="application/json")
    assert status == 200 and "c-123" in text


# -- /partner and buttons ------------------------------------------------------------------------
async def test_partner_commands_are_private_and_an_answer_can_be_posted_to_the_channel(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    assert await slack.command(f"ask {CSAT_QUESTION}") == 200
    [private] = await responses(fake)
    assert private["response_type"] == "ephemeral" and "2027-03-31" in private["text"]
    [share] = block(private["blocks"], "share")["elements"]
    assert share["text"]["text"] == message("button_share")
    assert not fake.calls_to("chat.postMessage")  # nothing public yet
    assert await slack.click("share_answer", share["value"], ephemeral=True) == 200
    [public] = await posted(fake, channel="C0PARTNERS")
    assert "2027-03-31" in public.params["text"] and "thread_ts" not in public.params
    assert block(public.params["blocks"], "context")["elements"][0]["text"].endswith(
        message("slack_shared_by", user="<@U0ASKER>")
    )
    deleted = await responses(fake, count=2)
    assert deleted[1].get("delete_original") is True
    await slack.command("help")
    help_reply = (await responses(fake, count=3))[2]
    assert help_reply["response_type"] == "ephemeral"
    assert (
        "`/partner comms cancel &lt;id&gt;` — Admins: cancel a communication" in help_reply["text"]
    )


async def test_partner_reindex_shows_progress_then_the_counts(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    await slack.command("reindex", user_id=ADMIN)
    started, done = await responses(fake, count=2)
    assert started["text"] == message("reindex_started")
    assert re.match(
        r"Re-index finished: 0 added, 0 updated, 0 removed, \d+ unchanged", done["text"]
    )
    await slack.command("reindex", user_id="U0PARTNER")
    [*_, refused] = await responses(fake, count=3)
    assert refused["text"] == message("not_admin", action="re-index the documents")


async def test_feedback_click_is_stored_and_acknowledged_privately(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    await slack.event(event)
    [reply] = await posted(fake, thread_ts=event["ts"])
    await slack.click("feedback_up", feedback_value(reply.params["blocks"]), user_id="U0RATER")
    [ack] = await responses(fake)
    assert ack["text"] == message("feedback_thanks_up")
    assert ack["response_type"] == "ephemeral" and ack["replace_original"] is False
    [row] = slack.app.store.interactions.feedback()
    assert (row.user, row.rating, row.platform) == ("U0RATER", 1, "slack")


# -- configuration -------------------------------------------------------------------------------
def test_missing_setting_for_the_mode_fails_fast_naming_it(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    http_app = make_app(SLACK_BOT_TOKEN="xoxb-1", SLACK_MODE="http")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        http_app.add_platform("slack")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        make_app(SLACK_BOT_TOKEN="xoxb-1").add_platform("slack")
    assert make_app(SLACK_BOT_TOKEN="xoxb-1").add_platform("slack", listen=False)  # posting only


async def test_a_rejected_app_token_is_a_configuration_error(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    app = make_app(**slack_settings(fake))
    platform = app.add_platform("slack")
    fake.fail_next("apps.connections.open", error="invalid_auth")
    with pytest.raises(ConfigError, match=r"Slack refused the app token \(invalid_auth\)"):
        await platform.start()
    await platform.stop()


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.05)


async def test_socket_mode_readiness_drops_while_the_websocket_is_down_and_comes_back(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    """/readyz asks `platform.connected`: it must say so while Slack has dropped the socket
    and the SDK cannot get a new one, and recover once it has."""
    async with running_slack(make_app(**slack_settings(fake, "socket")), fake) as driver:
        assert driver.platform.connected
        fake.fail_next("apps.connections.open", status=500, times=2)  # the reconnect waits
        assert fake.drop_sockets() == 1
        await until(lambda: not driver.platform.connected, "the platform reports the drop")
        await fake.async_wait_for_socket_client(timeout=60, connections=2)
        await until(lambda: driver.platform.connected, "the platform is connected again")


def test_slack_manifest_command_prints_the_app_manifest() -> None:
    import yaml
    from typer.testing import CliRunner

    from bot.cli.main import app

    result = CliRunner().invoke(app, ["slack-manifest"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "channels:history",
        "groups:history",
        "im:history",
        "im:write",
        "chat:write",
        "channels:read",
        "groups:read",
        "reactions:write",
        "commands",
    }
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    }
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/partner"]
    url = "https://bot.example.com/slack/events"
    http = yaml.safe_load(CliRunner().invoke(app, ["slack-manifest", "--request-url", url]).stdout)
    assert http["settings"]["socket_mode_enabled"] is False
    assert http["settings"]["event_subscriptions"]["request_url"] == url
    assert http["features"]["slash_commands"][0]["url"] == url


async def test_bench_harness_measures_acks_and_answers(
    make_app: Callable[..., App], fake: FakeSlack
) -> None:
    from tests.adapters.slack_harness import run_mentions_http

    result = await run_mentions_http(make_app(**slack_settings(fake, "http")), fake, n=5)
    assert result["statuses"] == [200] and result["all_answered"]
    assert result["answers_with_sources"] == 5
