"""Drive the real Slack platform against FakeSlack, in Socket Mode or HTTP mode.

Used by tests/adapters/test_slack*.py, and by the benchmark (`run_mentions_http`):
both start the platform with `running_slack(...)` and talk to it through a driver
that delivers events, slash commands and button clicks the way Slack does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import aiohttp

from adapters.slack.app import EVENTS_PATH, SlackPlatform
from bot.app import App
from bot.evaluation.harness import percentile
from tests.fakes.slack_server import (
    BOT_USER_ID,
    FakeSlack,
    block_actions_form,
    block_actions_payload,
    event_callback,
    sign_request,
    slash_command_form,
    slash_command_payload,
)

BOT_TOKEN = "xoxb-test-0000-bottokensecret"
APP_TOKEN = "xapp-test-0000-apptokensecret"
SIGNING_SECRET = "test-signing-secret-c0ffee"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)

Mode = Literal["socket", "http"]

_ts_counter = itertools.count(1)


def next_ts() -> str:
    """A fresh message ts, later than the fake's start, unique within the process."""
    return f"{1_710_000_000 + next(_ts_counter)}.000100"


def mention(
    text: str, *, user: str = "U0ASKER", channel: str = "C0PARTNERS", **extra: Any
) -> dict[str, Any]:
    """An app_mention event (ts filled in) as Slack sends it."""
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}",
        "channel": channel,
        "ts": extra.pop("ts", None) or next_ts(),
        **extra,
    }


def channel_message(
    text: str,
    *,
    user: str = "U0ASKER",
    channel: str = "C0PARTNERS",
    channel_type: str = "channel",
    **extra: Any,
) -> dict[str, Any]:
    """A `message` event (message.channels / message.im) as Slack sends it."""
    return {
        "type": "message",
        "channel_type": channel_type,
        "user": user,
        "text": text,
        "channel": channel,
        "ts": extra.pop("ts", None) or next_ts(),
        **extra,
    }


def direct_message(text: str, *, user: str = "U0ASKER", **extra: Any) -> dict[str, Any]:
    return channel_message(text, user=user, channel="D" + user[1:], channel_type="im", **extra)


def slack_settings(fake: FakeSlack, mode: Mode = "socket", **extra: str) -> dict[str, str]:
    """Settings (by variable name) for a Slack platform that talks to `fake`."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_MODE": mode,
        "SLACK_HOST": "127.0.0.1",
        "SLACK_PORT": "0",
        "SLACK_API_URL": fake.base_url,
        **extra,
    }


class SlackDriver:
    """Deliver Slack requests to a running platform; the mode decides the transport."""

    def __init__(self, fake: FakeSlack, app: App, platform: SlackPlatform) -> None:
        self.fake = fake
        self.app = app
        self.platform = platform
        self.mode: Mode = platform.settings.slack_mode
        self.url = platform.web.url(EVENTS_PATH)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    # -- HTTP transport ---------------------------------------------------------------------------
    async def post(
        self,
        body: bytes,
        *,
        content_type: str,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> tuple[int, str, float]:
        """POST a (signed) body to the events endpoint; returns (status, body, seconds)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        signature = sign_request(body, secret, timestamp) if sign else {}
        sent = {"Content-Type": content_type, **signature, **(headers or {})}
        started = time.perf_counter()
        async with self._session.post(self.url, data=body, headers=sent) as response:
            text = await response.text()
            return response.status, text, time.perf_counter() - started

    # -- requests, either mode --------------------------------------------------------------------
    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int = 0,
        store: bool = True,
    ) -> tuple[int, float]:
        """Deliver an Events API event; returns (HTTP status or 200 for Socket Mode, ack secs)."""
        if store:
            self.store_message(event)
        started = time.perf_counter()
        if self.mode == "socket":
            envelope_id = self.fake.socket_send_event(
                event,
                event_id=event_id,
                retry_attempt=retry,
                retry_reason="timeout" if retry else "",
            )
            await self.fake.async_wait_for_ack(envelope_id)
            return 200, time.perf_counter() - started
        body = json.dumps(event_callback(event, event_id=event_id)).encode()
        headers = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry
            else {}
        )
        status, _, seconds = await self.post(body, content_type="application/json", headers=headers)
        return status, seconds

    def store_message(self, event: dict[str, Any]) -> None:
        """HTTP mode: keep a person's message in the fake's channel, as Slack would.

        (In Socket Mode the fake's event sender already stores it.)
        """
        if self.mode == "socket" or event.get("subtype") or not event.get("channel"):
            return
        if event.get("type") not in ("message", "app_mention"):
            return
        stored: dict[str, Any] = {
            k: event[k] for k in ("user", "text", "ts", "bot_id") if k in event
        }
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != event["ts"]:
            self.fake.seed_thread(event["channel"], thread_ts, [stored])
        else:
            self.fake.seed_messages(event["channel"], [stored])

    async def command(
        self, text: str, *, user_id: str = "U0ASKER", channel_id: str = "C0PARTNERS"
    ) -> int:
        """Run `/partner <text>`; returns the HTTP status (200 once acked in Socket Mode)."""
        if self.mode == "socket":
            payload = slash_command_payload("/partner", text, user_id, channel_id)
            await self.fake.async_wait_for_ack(self.fake.socket_send_command(payload))
            return 200
        body = slash_command_form(
            "/partner", text, user_id, channel_id, response_url=self.fake.new_response_url()
        )
        status, _, _ = await self.post(body, content_type="application/x-www-form-urlencoded")
        return status

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str = "U0ASKER",
        channel_id: str = "C0PARTNERS",
        message_ts: str = "1700000000.000100",
        ephemeral: bool = False,
    ) -> int:
        """Click a button on a message; returns the HTTP status (200 once acked)."""
        payload = block_actions_payload(
            action_id,
            value=value,
            user_id=user_id,
            channel_id=channel_id,
            message_ts=message_ts,
            response_url=self.fake.new_response_url(),
        )
        if ephemeral:
            payload["container"]["is_ephemeral"] = True
            payload.pop("message", None)
        if self.mode == "socket":
            await self.fake.async_wait_for_ack(self.fake.socket_send_interactive(payload))
            return 200
        status, _, _ = await self.post(
            block_actions_form(payload), content_type="application/x-www-form-urlencoded"
        )
        return status


@asynccontextmanager
async def running_slack(app: App, fake: FakeSlack) -> AsyncIterator[SlackDriver]:
    """Start the app's Slack platform (configured with `slack_settings`) against `fake`."""
    platform = app.add_platform("slack")
    assert isinstance(platform, SlackPlatform)
    await platform.start()
    driver = SlackDriver(fake, app, platform)
    try:
        if driver.mode == "socket":
            await fake.async_wait_for_socket_client()
        yield driver
    finally:
        await driver.close()
        await platform.stop()


# --------------------------------------------------------------------------- benchmark

BENCH_QUESTIONS = (
    "whats the new CSAT rule for gold?? deadline?",
    "how many internal use licenses do advanced partners get now",
    "which comps replaced app dev and devops",
    "what is the annual fee for member partners",
)


# Slack's side of the benchmark, in its own process (as Slack is): POST every request at
# once and report, per request (its "ts": any key), the status and when it was sent and acked
# (CLOCK_MONOTONIC, which is system-wide, so the parent can compare it with when answers were
# posted). The Teams benchmark sends its activities the same way.
LOAD_SCRIPT = r"""
import asyncio, json, sys, time
import aiohttp

async def main(spec):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(item):
            body = item["body"].encode()
            sent = time.monotonic()
            async with session.post(spec["url"], data=body, headers=item["headers"]) as r:
                await r.read()
                acked = time.monotonic()
                return {"ts": item["ts"], "status": r.status, "sent": sent, "acked": acked}
        return await asyncio.gather(*(one(item) for item in spec["items"]))

print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
"""


class _AnswerWatcher(threading.Thread):
    """Notes when the threaded answer to each mention reached the fake (polled every 2 ms)."""

    def __init__(self, fake: FakeSlack, thread_ts: set[str], timeout: float) -> None:
        super().__init__(name="answer-watcher", daemon=True)
        self.fake, self.pending, self.timeout = fake, set(thread_ts), timeout
        self.answered_at: dict[str, float] = {}
        self.seen = len(fake.calls_to("chat.postMessage"))

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while self.pending and time.monotonic() < deadline:
            now = time.monotonic()
            calls = self.fake.calls_to("chat.postMessage")
            for call in calls[self.seen :]:
                ts = call.params.get("thread_ts")
                if ts in self.pending:
                    self.pending.discard(ts)
                    self.answered_at[ts] = now
            self.seen = len(calls)
            time.sleep(0.002)


async def run_mentions_http(
    app: App, fake: FakeSlack, n: int = 50, *, timeout: float = 60.0
) -> dict[str, Any]:
    """`n` concurrent mentions in HTTP mode: ack latency and time until each answer is posted.

    The adapter runs on the caller's event loop; the load comes from a separate process
    (Slack's side), so its own work does not count against the adapter. Ack latency is
    the HTTP response time of each signed POST; time-to-answer runs from sending the POST
    until the fake recorded the threaded chat.postMessage. One warm-up mention (index
    load, auth.test) is not measured. Each mention comes from its own user, so the
    per-user rate limit does not apply. Milliseconds in the result.
    """
    async with running_slack(app, fake) as driver:
        await driver.event(mention(BENCH_QUESTIONS[0], user="UWARMUP", channel="CWARMUP"))
        await fake.async_wait_for("chat.postMessage", timeout=timeout)
        events = [
            mention(BENCH_QUESTIONS[i % len(BENCH_QUESTIONS)], user=f"UBENCH{i:04d}", channel="CB")
            for i in range(n)
        ]
        items = []
        for event in events:
            driver.store_message(event)
            body = json.dumps(event_callback(event))
            headers = {"Content-Type": "application/json", **sign_request(body, SIGNING_SECRET)}
            items.append({"ts": event["ts"], "body": body, "headers": headers})
        watcher = _AnswerWatcher(fake, {e["ts"] for e in events}, timeout)
        watcher.start()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOAD_SCRIPT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        spec = {"url": driver.url, "items": items}
        out, _ = await process.communicate(json.dumps(spec).encode())
        await asyncio.to_thread(watcher.join, timeout)
        acks = json.loads(out)

    sent = {a["ts"]: a["sent"] for a in acks}
    ack_ms = [(a["acked"] - a["sent"]) * 1000 for a in acks]
    answer_ms = [(at - sent[ts]) * 1000 for ts, at in watcher.answered_at.items()]
    posted = [c for c in fake.calls_to("chat.postMessage") if c.params.get("thread_ts") in sent]
    with_sources = sum(
        1
        for c in posted
        if any(b.get("block_id") == "sources" for b in c.params.get("blocks") or [])
    )

    def summary(values: list[float], *quantiles: int) -> dict[str, float | None]:
        if not values:
            return {**{f"p{q}": None for q in quantiles}, "max": None}
        return {
            **{f"p{q}": round(percentile(values, q), 1) for q in quantiles},
            "max": round(max(values), 1),
        }

    wall = (max(watcher.answered_at.values(), default=0) - min(sent.values())) if sent else 0
    return {
        "n": n,
        "mode": "http",
        "statuses": sorted({a["status"] for a in acks}),
        "ack_ms": summary(ack_ms, 50, 99),
        "answer_ms": summary(answer_ms, 50, 95),
        "answers_posted": len(watcher.answered_at),
        "answers_with_sources": with_sources,
        "all_answered": len(watcher.answered_at) == n,
        "wall_s": round(max(wall, 0.0), 3),
    }
