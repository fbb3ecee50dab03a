"""The Slack adapter end to end: real slack-bolt / slack_sdk against FakeSlack on 127.0.0.1.

Most scenarios run twice, in Socket Mode and in HTTP mode; each asserts on what
reached the fake Web API (or a response_url).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.serve import configured_services, serve
from adapters.slack import SlackService, build_slack
from bot.config import SAMPLES_DIR
from bot.core import PartnerBot
from bot.errors import ConfigError
from bot.models import Question
from bot.prompts import message
from tests.adapters.slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    SECRETS,
    SIGNING_SECRET,
    SlackDriver,
    channel_message,
    direct_message,
    mention,
    running_slack,
)
from tests.fakes.slack_server import BOT_ID, BOT_USER_ID, Call, FakeSlack, FakeSlackTimeout

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
    make_bot: Callable[..., PartnerBot], fake: FakeSlack, mode: Any
) -> AsyncIterator[SlackDriver]:
    """The adapter running in `mode` over a fresh copy of the indexed samples."""
    async with running_slack(make_bot(), fake, mode, admin_ids=frozenset({ADMIN})) as driver:
        yield driver


# --------------------------------------------------------------------------- helpers


async def posted(
    fake: FakeSlack, *, count: int = 1, timeout: float = 5.0, **match: Any
) -> list[Call]:
    """Wait for `count` successful chat.postMessage calls whose params match `match`."""
    deadline = time.monotonic() + timeout
    while True:
        calls = [
            c
            for c in fake.calls_to("chat.postMessage")
            if c.status == 200 and all(c.params.get(k) == v for k, v in match.items())
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


def block_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [str(b.get("block_id")) for b in blocks]


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def feedback_value(blocks: list[dict[str, Any]]) -> str:
    buttons = block(blocks, "feedback")["elements"]
    assert [b["action_id"] for b in buttons] == ["feedback_up", "feedback_down"]
    assert buttons[0]["value"] == buttons[1]["value"]
    return str(buttons[0]["value"])


async def settle(driver: SlackDriver) -> None:
    """Deliver a DM as a sentinel and wait for its answer and for all work in flight."""
    sentinel = direct_message("what is the annual fee for member partners", user="U0SENTINEL")
    await driver.event(sentinel)
    await posted(driver.fake, channel=sentinel["channel"])
    await asyncio.sleep(0.05)
    await driver.service.adapter.drain(timeout=5)


# --------------------------------------------------------------------------- conversations


async def test_mention_gets_threaded_answer_with_numbered_sources(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    status, _ = await slack.event(event)
    assert status == 200

    [reply] = await posted(fake, channel="C0PARTNERS", thread_ts=event["ts"])
    assert reply.token == BOT_TOKEN
    blocks = reply.params["blocks"]
    assert "2027-03-31" in block(blocks, "answer-0")["text"]["text"]
    assert "2027-03-31" in reply.params["text"]  # the plain-text fallback
    sources = block(blocks, "sources")["text"]["text"]
    assert sources.startswith(f"*{message('sources_heading')}*")
    assert (
        f"`[1]` <{CSAT_URL}|Customer Satisfaction Survey (CSAT) Requirement › Requirements by tier>"
        in sources
    )
    numbers = [int(n) for n in re.findall(r"`\[(\d+)\]`", sources)]
    assert numbers and numbers == list(range(1, len(numbers) + 1))
    assert block(blocks, "context")["elements"][0]["text"] == "as of 2026-08-15"
    assert feedback_value(blocks).isdigit()

    # Work in progress was shown on the question, and cleared once answered.
    [added] = fake.calls_to("reactions.add")
    assert added.params == {"channel": "C0PARTNERS", "timestamp": event["ts"], "name": "eyes"}
    await fake.async_wait_for("reactions.remove")
    assert fake.reactions("C0PARTNERS", event["ts"]) == []


async def test_direct_message_is_answered_in_the_dm(slack: SlackDriver, fake: FakeSlack) -> None:
    event = direct_message(CSAT_QUESTION)
    await slack.event(event)

    [reply] = await posted(fake, channel=event["channel"])
    assert reply.params.get("thread_ts") is None  # a DM is answered in the conversation
    assert "2027-03-31" in reply.params["text"]
    assert CSAT_URL in all_text(reply.params["blocks"])


async def test_follow_up_in_thread_without_mention_uses_the_first_turn(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    first = mention(CSAT_QUESTION)
    await slack.event(first)
    await posted(fake, thread_ts=first["ts"])

    follow_up = channel_message("and for member tier?", thread_ts=first["ts"])
    await slack.event(follow_up)
    [_, reply] = await posted(fake, thread_ts=first["ts"], count=2)

    replies = fake.calls_to("conversations.replies")
    assert replies and replies[-1].params["ts"] == first["ts"]
    # The member-tier CSAT rule: only reachable with the first question as context.
    assert "2027-06-30" in reply.params["text"]
    assert f"`[1]` <{CSAT_URL}|" in block(reply.params["blocks"], "sources")["text"]["text"]
    stored = slack.bot.store.interactions.get(int(feedback_value(reply.params["blocks"])))
    assert stored is not None and stored.question == "and for member tier?"
    assert stored.sources[0]["path"] == "csat-requirement.md"
    # Control: the same words with no thread history are about tiers, not CSAT.
    alone = slack.bot.ask(Question("and for member tier?", asker="control"))
    assert "2027-06-30" not in alone.text


async def test_thread_the_bot_is_not_in_is_ignored(slack: SlackDriver, fake: FakeSlack) -> None:
    parent = channel_message("anyone going to the summit?", user="U0PEER")
    await slack.event(parent)
    await slack.event(channel_message("me, and for member tier?", thread_ts=parent["ts"]))
    await settle(slack)
    assert [c.params["channel"] for c in fake.calls_to("chat.postMessage")] == ["D0SENTINEL"]


async def test_mention_also_delivered_as_channel_message_is_answered_once(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    as_message = {**event, "type": "message", "channel_type": "channel"}
    await slack.event(event)
    await slack.event(as_message)
    await posted(fake, thread_ts=event["ts"])
    await settle(slack)
    assert len(fake.calls_to("chat.postMessage")) == 2  # the mention's answer + the sentinel's
    assert len(await posted(fake, thread_ts=event["ts"])) == 1


async def test_abstention_is_rendered_as_abstention_with_closest_documents(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention("how do i reset my laptop password")
    await slack.event(event)

    [reply] = await posted(fake, thread_ts=event["ts"])
    blocks = reply.params["blocks"]
    assert block(blocks, "abstained")["text"]["text"] == message("slack_abstained_heading")
    assert "couldn't find" in block(blocks, "answer-0")["text"]["text"]
    closest = block(blocks, "closest")["text"]["text"]
    assert closest.startswith(f"*{message('closest_heading')}*")
    assert closest.count("• <https://partners.northwind.example/docs/") == 3
    assert "sources" not in block_ids(blocks) and "context" not in block_ids(blocks)


async def test_bot_own_messages_other_bots_edits_and_deletions_are_ignored(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    dm = "D0ASKER"
    ignored = [
        direct_message("my own answer", user=BOT_USER_ID, bot_id=BOT_ID),
        direct_message("a message from another app", bot_id="B0OTHER", subtype="bot_message"),
        {**direct_message("edited"), "subtype": "message_changed"},
        {**direct_message(""), "subtype": "message_deleted"},
    ]
    for event in ignored:
        await slack.event(event, store=False)
    await settle(slack)
    assert dm not in {c.params["channel"] for c in fake.calls_to("chat.postMessage")}
    assert [c.params["channel"] for c in fake.calls_to("reactions.add")] == ["D0SENTINEL"]


async def test_retried_delivery_is_answered_exactly_once(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    assert (await slack.event(event, event_id="Ev0RETRY01"))[0] == 200
    await posted(fake, thread_ts=event["ts"])
    assert (await slack.event(event, event_id="Ev0RETRY01", retry=1, store=False))[0] == 200
    await settle(slack)
    assert len(await posted(fake, thread_ts=event["ts"])) == 1


async def test_retry_after_a_restart_is_still_answered_once(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    """The de-dupe record is persisted: a new process with the same data dir remembers."""
    first_bot = make_bot()
    event = mention(CSAT_QUESTION)
    async with running_slack(first_bot, fake, "http") as driver:
        await driver.event(event, event_id="Ev0RESTART")
        await posted(fake, thread_ts=event["ts"])
    first_bot.close()
    restarted = PartnerBot(first_bot.settings)
    try:
        async with running_slack(restarted, fake, "http") as driver:
            await driver.event(event, event_id="Ev0RESTART", retry=2, store=False)
            await settle(driver)
    finally:
        restarted.close()
    assert len(await posted(fake, thread_ts=event["ts"])) == 1


async def test_forty_thousand_character_message_gets_a_clear_reply(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = direct_message(("csat " * 8000)[:-1] + "?")
    assert len(event["text"]) == 40_000
    await slack.event(event)

    [reply] = await posted(fake, channel=event["channel"])
    assert reply.params["text"] == message("too_long", length="40,000", limit="2,000")
    assert "blocks" not in reply.params


async def test_per_user_rate_limit_gets_a_friendly_reply(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    bot = make_bot(PARTNERBOT_RATE_LIMIT_PER_MINUTE="1")
    async with running_slack(bot, fake, "socket") as slack:
        first, second = direct_message(CSAT_QUESTION), direct_message("and for member tier?")
        await slack.event(first)
        await posted(fake, channel=first["channel"])
        await slack.event(second)
        [_, reply] = await posted(fake, channel=second["channel"], count=2)
    expected = re.escape(message("rate_limited", limit=1, seconds="SECONDS"))
    assert re.fullmatch(expected.replace("SECONDS", r"\d+"), reply.params["text"])


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

    target = slack.bot.answerer if failing == "answerer" else slack.bot
    monkeypatch.setattr(target, "answer" if failing == "answerer" else "ask", boom)
    event = mention(CSAT_QUESTION)
    await slack.event(event)

    [reply] = await posted(fake, thread_ts=event["ts"])
    assert reply.params["text"] == message("apology")
    assert "Traceback" not in reply.params["text"]
    assert "the index fell over" in caplog.text  # the traceback went to the log ...
    for secret in SECRETS:  # ... and no token or signing secret anywhere
        assert secret not in caplog.text
        assert all(secret not in json.dumps(c.params) for c in fake.calls)


async def test_ack_is_immediate_while_answering_is_slow(
    slack: SlackDriver, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = slack.bot.answerer.answer

    def slow(question: Question) -> Any:
        time.sleep(1.0)
        return answer(question)

    monkeypatch.setattr(slack.bot.answerer, "answer", slow)
    event = mention(CSAT_QUESTION)
    status, ack_seconds = await slack.event(event)
    assert status == 200 and ack_seconds < 0.5
    [reply] = await posted(fake, thread_ts=event["ts"])
    assert "2027-03-31" in reply.params["text"]


# --------------------------------------------------------------------------- /partner


async def test_partner_ask_is_ephemeral_and_can_be_posted_to_the_channel(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    assert await slack.command(f"ask {CSAT_QUESTION}") == 200
    [private] = await responses(fake)
    assert private["response_type"] == "ephemeral"
    assert "2027-03-31" in private["text"]
    blocks = private["blocks"]
    assert CSAT_URL in block(blocks, "sources")["text"]["text"]
    [share] = block(blocks, "share")["elements"]
    assert share["text"]["text"] == message("slack_share_button")
    assert not fake.calls_to("chat.postMessage")  # nothing public yet

    assert await slack.click("share_answer", share["value"], ephemeral=True) == 200
    [public] = await posted(fake, channel="C0PARTNERS")
    assert "2027-03-31" in public.params["text"]
    assert "thread_ts" not in public.params
    assert block(public.params["blocks"], "context")["elements"][0]["text"].endswith(
        message("slack_shared_by", user="<@U0ASKER>")
    )
    assert "share" not in block_ids(public.params["blocks"])
    deleted = await responses(fake, count=2)
    assert deleted[1].get("delete_original") is True


async def test_partner_help_and_unknown_subcommands(slack: SlackDriver, fake: FakeSlack) -> None:
    await slack.command("help")
    await slack.command("frobnicate now")
    [help_reply, unknown] = await responses(fake, count=2)
    assert help_reply["text"] == message("help")
    assert help_reply["response_type"] == "ephemeral"
    assert unknown["text"].startswith(message("slack_unknown_subcommand", name="frobnicate"))
    assert message("help") in unknown["text"]


@pytest.fixture
def docs_with_new_file(tmp_path: Path) -> Path:
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES_DIR / "docs", docs)
    (docs / "slack-office-hours.md").write_text(
        "# Partner Office Hours\n\n## Schedule\n\nOffice hours run every Thursday at 16:00 CET.\n",
        encoding="utf-8",
    )
    return docs


async def test_partner_reindex_by_admin_runs_and_reports_counts(
    make_bot: Callable[..., PartnerBot],
    fake: FakeSlack,
    mode: Any,
    docs_with_new_file: Path,
) -> None:
    bot = make_bot(PARTNERBOT_DOCS_DIR=str(docs_with_new_file), SLACK_ADMIN_USER_IDS=ADMIN)
    async with running_slack(bot, fake, mode) as slack:  # admins from SLACK_ADMIN_USER_IDS
        await slack.command("reindex", user_id=ADMIN)
        started, done = await responses(fake, count=2)
    assert started["text"] == message("reindex_started")
    assert re.match(
        r"Re-index finished: 1 added, 0 updated, 0 removed, \d+ unchanged", done["text"]
    )
    assert done["response_type"] == "ephemeral"
    assert bot.index.document_count(source="docs") >= 14


async def test_partner_reindex_by_non_admin_is_refused_and_logged(
    slack: SlackDriver,
    fake: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reindexed: list[Any] = []
    monkeypatch.setattr(slack.bot, "reindex", lambda *a, **k: reindexed.append(a))
    caplog.set_level(logging.WARNING)

    await slack.command("reindex", user_id="U0PARTNER")
    [refusal] = await responses(fake)
    assert refusal["text"] == message("not_admin", action="re-index the documents")
    assert refusal["response_type"] == "ephemeral"
    assert reindexed == []
    assert "refused admin action" in caplog.text and "slack:U0PARTNER" in caplog.text


# --------------------------------------------------------------------------- feedback


async def test_thumbs_up_click_is_stored_and_acknowledged(
    slack: SlackDriver, fake: FakeSlack
) -> None:
    event = mention(CSAT_QUESTION)
    await slack.event(event)
    [reply] = await posted(fake, thread_ts=event["ts"])
    interaction_id = feedback_value(reply.params["blocks"])

    await slack.click("feedback_up", interaction_id, user_id="U0RATER")
    [ack] = await responses(fake)
    assert ack["text"] == message("feedback_thanks_up")
    assert ack["response_type"] == "ephemeral" and ack["replace_original"] is False
    [row] = slack.bot.store.interactions.feedback()
    assert (row.interaction_id, row.user, row.rating, row.platform) == (
        int(interaction_id),
        "U0RATER",
        1,
        "slack",
    )
    assert row.question == CSAT_QUESTION
    assert "csat-requirement.md" in {s["path"] for s in row.sources}


async def test_thumbs_down_shows_up_in_the_knowledge_gap_report(
    slack: SlackDriver, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = mention("which comps replaced app dev and devops")
    await slack.event(event)
    [reply] = await posted(fake, thread_ts=event["ts"])
    await slack.click("feedback_down", feedback_value(reply.params["blocks"]))
    [ack] = await responses(fake)
    assert ack["text"] == message("feedback_thanks_down")

    report = slack.bot.store.interactions.gap_report()
    assert [(g.question, g.count) for g in report.downvoted] == [
        ("which comps replaced app dev and devops", 1)
    ]

    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(slack.bot.settings.data_dir))
    result = CliRunner().invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["downvoted"][0]["question"] == "which comps replaced app dev and devops"


async def test_feedback_for_an_unknown_answer_says_so(slack: SlackDriver, fake: FakeSlack) -> None:
    await slack.click("feedback_up", "999999")
    [ack] = await responses(fake)
    assert ack["text"] == message("feedback_unknown")
    assert slack.bot.store.interactions.feedback() == []


# --------------------------------------------------------------------------- HTTP mode only


@pytest.fixture
async def http(make_bot: Callable[..., PartnerBot], fake: FakeSlack) -> AsyncIterator[SlackDriver]:
    async with running_slack(make_bot(), fake, "http") as driver:
        yield driver


@pytest.mark.parametrize(
    ("secret", "age"),
    [("forged-secret", 0), (SIGNING_SECRET, 600)],
    ids=["forged-signature", "ten-minutes-old"],
)
async def test_unverifiable_requests_get_401_and_no_answer(
    http: SlackDriver, fake: FakeSlack, secret: str, age: int
) -> None:
    from tests.fakes.slack_server import event_callback

    body = json.dumps(event_callback(mention(CSAT_QUESTION))).encode()
    status, _, _ = await http.post(
        body, content_type="application/json", secret=secret, timestamp=int(time.time()) - age
    )
    assert status == 401
    await asyncio.sleep(0.2)
    assert not fake.calls_to("chat.postMessage") and not fake.calls_to("reactions.add")


async def test_url_verification_challenge(http: SlackDriver) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode()
    status, text, _ = await http.post(body, content_type="application/json")
    assert status == 200 and "c-123" in text


# --------------------------------------------------------------------------- Socket Mode only


async def test_web_api_429_is_retried_after_retry_after(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    async with running_slack(make_bot(), fake, "socket") as slack:
        fake.fail_next("chat.postMessage", status=429, retry_after=1)
        event = mention(CSAT_QUESTION)
        await slack.event(event)
        await posted(fake, thread_ts=event["ts"])
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]


async def test_partnerbot_serve_starts_and_stops_slack_cleanly(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    bot = make_bot(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.base_url
    )
    services = configured_services(bot)
    [slack_service] = [s for s in services if s.name == "slack"]
    assert isinstance(slack_service, SlackService) and slack_service.config.mode == "socket"

    stop = asyncio.Event()
    serving = asyncio.create_task(serve(bot, services, stop_event=stop))
    await fake.async_wait_for_socket_client()
    event = mention(CSAT_QUESTION)
    fake.socket_send_event(event)
    [reply] = await posted(fake, thread_ts=event["ts"])
    assert "2027-03-31" in reply.params["text"]

    stop.set()
    await asyncio.wait_for(serving, timeout=10)
    assert serving.exception() is None
    for _ in range(100):
        if not fake.socket_connected:
            break
        await asyncio.sleep(0.02)
    assert not fake.socket_connected


def test_missing_setting_for_the_mode_fails_fast_naming_it(
    make_bot: Callable[..., PartnerBot],
) -> None:
    bot = make_bot(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_MODE="http")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        build_slack(bot)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        build_slack(bot, mode="socket")


def test_slack_manifest_command_prints_the_app_manifest() -> None:
    import yaml
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, ["slack-manifest"])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read",
        "channels:history",
        "groups:history",
        "im:history",
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
    assert http["settings"]["interactivity"]["request_url"] == url
    assert http["features"]["slash_commands"][0]["url"] == url


async def test_bench_harness_measures_acks_and_answers(
    make_bot: Callable[..., PartnerBot], fake: FakeSlack
) -> None:
    from tests.adapters.slack_harness import run_mentions_http

    result = await run_mentions_http(make_bot(), fake, n=5)
    assert result["statuses"] == [200] and result["all_answered"]
    assert result["answers_with_sources"] == 5
    assert result["ack_ms"]["p99"] is not None and result["answer_ms"]["p95"] is not None
