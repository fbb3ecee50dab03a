"""The real slack_sdk / slack-bolt against FakeSlack: proves the stand-in is faithful enough."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_server import (
    BOT_USER_ID,
    FakeSlack,
    FakeSlackTimeout,
    block_actions_form,
    block_actions_payload,
    event_callback,
    sign_request,
    slash_command_form,
    slash_command_payload,
)

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
SIGNING_SECRET = "s3cr3t-signing"
# Bolt sets its loggers' levels from the app's logger on every app it builds (from the root
# logger's when it is given none): one base logger, as the adapter gives, keeps them as they are.
BOLT_LOGGER = logging.getLogger("slack_bolt.partnerbot")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def mention(text: str, *, channel: str = "C0PARTNERS", **extra: Any) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U0ASKER",
        "text": f"<@{BOT_USER_ID}> {text}",
        "channel": channel,
        **extra,
    }


# --------------------------------------------------------------------------- Web API


def test_post_message_is_recorded_and_listed_in_history_with_metadata(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    metadata = {"event_type": "partner_notice", "event_payload": {"notice_id": "n-1"}}

    first = client.chat_postMessage(channel="C0PARTNERS", text="Heads-up", metadata=metadata)
    second = client.chat_postMessage(channel="C0PARTNERS", text="Second")

    assert first["ok"] and first["channel"] == "C0PARTNERS"
    assert first["ts"] == "1700000000.000100" and second["ts"] == "1700000000.000200"
    assert first["message"]["metadata"] == metadata
    [call, _] = fake.calls_to("chat.postMessage")
    assert call.token == BOT_TOKEN
    assert call.params == {"channel": "C0PARTNERS", "text": "Heads-up", "metadata": metadata}

    with_meta = client.conversations_history(channel="C0PARTNERS", include_all_metadata=True)
    assert [m["text"] for m in with_meta["messages"]] == ["Second", "Heads-up"]  # newest first
    assert with_meta["messages"][1]["metadata"] == metadata
    without = client.conversations_history(channel="C0PARTNERS")
    assert "metadata" not in without["messages"][1]  # Slack hides it unless asked


def test_form_encoded_calls_decode_json_fields(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    form = {"channel": "C1", "text": "hi", "blocks": json.dumps(blocks)}
    client.api_call("chat.postMessage", data=form)  # form-encoded, as some methods send
    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == blocks
    assert fake.messages("C1")[0]["blocks"] == blocks


def test_rate_limited_call_is_retried_after_retry_after(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    fake.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    response = client.chat_postMessage(channel="C1", text="eventually")

    assert response["ok"]
    calls = fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}
    assert time.monotonic() - started >= 1.0


def test_rate_limit_without_retry_handler_raises(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    fake.fail_next("reactions.add")
    with pytest.raises(SlackApiError) as info:
        client.reactions_add(channel="C1", timestamp="1.0", name="eyes")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "1"
    client.reactions_add(channel="C1", timestamp="1.0", name="eyes")  # only the next one failed


def test_injected_api_error(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C404", text="x")
        assert info.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C404", text="x")["ok"]


def test_tokens_are_checked_like_slack(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError, match="not_authed"):
        WebClient(base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(token=APP_TOKEN, base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(base_url=fake.base_url).apps_connections_open(app_token=BOT_TOKEN)
    opened = WebClient(base_url=fake.base_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(f"ws://127.0.0.1:{fake.port}/socket")
    assert fake.calls_to("apps.connections.open")[-1].token == APP_TOKEN


def test_threads_reactions_and_lookups(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    fake.seed_thread(
        "C1",
        "1690000000.000001",
        [{"user": "U1", "text": "question?"}, {"user": "U2", "text": "me too"}],
    )
    reply = client.chat_postMessage(channel="C1", thread_ts="1690000000.000001", text="answer")

    thread = client.conversations_replies(channel="C1", ts="1690000000.000001")
    assert [m["text"] for m in thread["messages"]] == ["question?", "me too", "answer"]
    assert thread["messages"][2]["thread_ts"] == "1690000000.000001"
    history = client.conversations_history(channel="C1")["messages"]
    assert [m["text"] for m in history] == ["question?"]  # replies stay in the thread
    assert history[0]["reply_count"] == 2

    client.reactions_add(channel="C1", timestamp=reply["ts"], name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        client.reactions_add(channel="C1", timestamp=reply["ts"], name="eyes")
    assert fake.reactions("C1", reply["ts"]) == ["eyes"]
    client.reactions_remove(channel="C1", timestamp=reply["ts"], name="eyes")
    assert fake.reactions("C1", reply["ts"]) == []

    link = client.chat_getPermalink(channel="C1", message_ts=reply["ts"])["permalink"]
    assert link.endswith(
        f"/archives/C1/p{reply['ts'].replace('.', '')}?thread_ts=1690000000.000001&cid=C1"
    )
    auth = client.auth_test()
    assert (auth["user_id"], auth["bot_id"]) == ("UBOT", "BBOT")
    assert client.api_call("something.unknown")["ok"]


def test_history_pagination(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    fake.seed_messages("C1", [{"user": "U1", "text": f"m{i}"} for i in range(5)])
    texts = [
        m["text"]
        for page in client.conversations_history(channel="C1", limit=2)
        for m in page["messages"]
    ]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]


async def test_wait_for_timeout_lists_calls_seen(fake: FakeSlack) -> None:
    await AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url).auth_test()
    with pytest.raises(FakeSlackTimeout, match=r"chat\.postMessage(.|\n)*auth\.test"):
        await fake.async_wait_for("chat.postMessage", timeout=0.1)


# --------------------------------------------------------------------------- Socket Mode


def async_app(fake: FakeSlack) -> AsyncApp:
    """A Bolt AsyncApp that answers mentions in their thread and handles a command and a button."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    app = AsyncApp(client=client, logger=BOLT_LOGGER)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(
            text=f"answer to <@{event['user']}>", thread_ts=event.get("thread_ts") or event["ts"]
        )

    @app.command("/partnerbot")
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack(f"indexing {command['text']}")
        await respond("done")

    @app.action("helpful")
    async def on_helpful(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.chat_postMessage(
            channel=body["channel"]["id"], thread_ts=body["message"]["ts"], text="thanks"
        )

    return app


@pytest.mark.asyncio
async def test_bolt_async_socket_mode_answers_mention_in_thread(
    fake: FakeSlack,
) -> None:
    handler = AsyncSocketModeHandler(async_app(fake), app_token=APP_TOKEN)
    try:
        await handler.connect_async()
        await fake.async_wait_for_socket_client()

        envelope_id = fake.socket_send_event(
            mention("what changed in the tiers?", ts="1700000500.000100")
        )
        ack = await fake.async_wait_for_ack(envelope_id)
        [reply] = await fake.async_wait_for("chat.postMessage")

        assert ack == {"envelope_id": envelope_id}
        assert reply.token == BOT_TOKEN
        assert reply.params["channel"] == "C0PARTNERS"
        assert reply.params["thread_ts"] == "1700000500.000100"
        assert reply.params["text"] == "answer to <@U0ASKER>"
        replies = fake.messages("C0PARTNERS")
        assert [m["text"] for m in replies] == [
            f"<@{BOT_USER_ID}> what changed in the tiers?",
            reply.params["text"],
        ]
    finally:
        await handler.close_async()


@pytest.mark.asyncio
async def test_bolt_async_socket_mode_command_and_button(fake: FakeSlack) -> None:
    fake.seed_messages(
        "C0PARTNERS", [{"user": BOT_USER_ID, "text": "an answer", "ts": "1700000001.000100"}]
    )
    handler = AsyncSocketModeHandler(async_app(fake), app_token=APP_TOKEN)
    try:
        await handler.connect_async()
        await fake.async_wait_for_socket_client()

        command = fake.socket_send_command(slash_command_payload("/partnerbot", "docs/"))
        assert (await fake.async_wait_for_ack(command))["payload"] == {"text": "indexing docs/"}
        [responded] = await fake.async_wait_for("response_url")
        assert responded.params["text"] == "done"

        click = block_actions_payload(
            "helpful",
            value="yes",
            channel_id="C0PARTNERS",
            message_ts="1700000001.000100",
        )
        await fake.async_wait_for_ack(fake.socket_send_interactive(click))
        [thanked] = await fake.async_wait_for("chat.postMessage")
        assert thanked.params["thread_ts"] == "1700000001.000100"
        assert fake.messages("C0PARTNERS")[-1]["text"] == "thanks"
    finally:
        await handler.close_async()


def test_send_without_client_fails_clearly(fake: FakeSlack) -> None:
    with pytest.raises(RuntimeError, match="no Socket Mode client"):
        fake.socket_send_event(mention("anyone?"))


# --------------------------------------------------------------------------- HTTP mode helpers


def test_signed_requests_verify_with_the_sdk() -> None:
    body = json.dumps(event_callback(mention("hi"))).encode()
    headers = sign_request(body, SIGNING_SECRET)
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b" ", headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    stale = sign_request(body, SIGNING_SECRET, timestamp=int(time.time()) - 3600)
    assert not verifier.is_valid_request(body, stale)


@pytest.mark.asyncio
async def test_bolt_http_mode_accepts_signed_bodies(fake: FakeSlack) -> None:
    app = AsyncApp(
        logger=BOLT_LOGGER,
        signing_secret=SIGNING_SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url),
        process_before_response=True,
    )

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="over http", thread_ts=event["ts"])

    @app.command("/partnerbot")
    async def on_command(ack: Any, command: dict[str, Any]) -> None:
        await ack(f"got {command['text']}")

    @app.action("helpful")
    async def on_helpful(ack: Any) -> None:
        await ack()

    async def dispatch(body: bytes, *, secret: str = SIGNING_SECRET) -> Any:
        headers: dict[str, Any] = dict(sign_request(body, secret))
        return await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))

    event_body = json.dumps(event_callback(mention("hi", ts="1700000900.000100"))).encode()
    assert (await dispatch(event_body)).status == 200
    [reply] = fake.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == "1700000900.000100"

    command = await dispatch(slash_command_form("/partnerbot", "status", "U1", "C1"))
    assert (command.status, command.body) == (200, "got status")
    assert (await dispatch(block_actions_form(block_actions_payload("helpful")))).status == 200
    assert (await dispatch(event_body, secret="wrong")).status == 401
