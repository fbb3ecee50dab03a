"""Drive the real Teams platform against FakeTeams, on `partnerbot serve`'s web server.

Used by tests/adapters/test_teams*.py and by the benchmark (`run_questions`): the platform
is started with `running_teams(...)`, and a driver delivers activities to /api/messages as
Teams does — JSON with a bearer token the fake signed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from adapters.teams.app import MESSAGES_PATH, TeamsPlatform
from bot.app import App
from bot.evaluation.harness import percentile
from bot.serving.services import web_service
from tests.adapters.slack_harness import LOAD_SCRIPT
from tests.fakes.teams_server import (
    APP_ID,
    HOME,
    PASSWORD,
    FakeTeams,
    Posted,
    User,
    message,
)

SECRETS = (PASSWORD,)


def teams_settings(**extra: str) -> dict[str, str]:
    """Settings (by variable name) for a Teams platform; `teams_options` points it at a fake."""
    return {
        "TEAMS_APP_ID": APP_ID,
        "TEAMS_APP_PASSWORD": PASSWORD,
        "TEAMS_TENANT_ID": HOME,
        **extra,
    }


def teams_options(fake: FakeTeams, **extra: Any) -> dict[str, Any]:
    return {
        "login_url": fake.base_url,
        "metadata_url": fake.metadata_url,
        "service_url": fake.service_url,
        "timeout": 5.0,
        **extra,
    }


class TeamsDriver:
    """Deliver activities to a running platform as Teams does."""

    def __init__(self, fake: FakeTeams, app: App, platform: TeamsPlatform, url: str) -> None:
        self.fake, self.app, self.platform, self.url = fake, app, platform, url
        self.session = aiohttp.ClientSession()

    async def deliver(
        self,
        activity: dict[str, Any] | bytes,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """POST an activity (a fresh valid token unless one is given; None: no header);
        returns the status and the JSON (or text) answer."""
        token = self.fake.token() if token == "" else token
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        async with self.session.post(self.url, data=body, headers=sent) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text

    async def ask(self, text: str, **where: Any) -> tuple[dict[str, Any], Posted]:
        """A person's message (see tests.fakes.teams_server.message) and the bot's reply to it."""
        activity = message(self.fake, text, **where)
        before = len(self.fake.messages())
        status, _ = await self.deliver(activity)
        assert status == 200, status
        conversation = activity["conversation"]["id"]
        [reply] = await self.fake.wait_for(
            lambda p: p.conversation == conversation and self.fake.messages().index(p) >= before
        )
        return activity, reply

    async def settle(self) -> None:
        """Wait for the work the platform started for requests (answers, clicks)."""
        await asyncio.sleep(0.05)
        await self.platform.inflight.drain(timeout=10)


@asynccontextmanager
async def running_teams(app: App, fake: FakeTeams, **options: Any) -> AsyncIterator[TeamsDriver]:
    """Start the app's Teams platform (settings from `teams_settings`) against `fake`, and
    `partnerbot serve`'s web server with its /api/messages."""
    platform = app.add_platform("teams", **teams_options(fake, **options))
    assert isinstance(platform, TeamsPlatform)
    web = web_service(app)
    await web.start()
    await platform.start()
    driver = TeamsDriver(fake, app, platform, web.web.url(MESSAGES_PATH))
    try:
        yield driver
    finally:
        await driver.session.close()
        await platform.stop()
        await web.stop()


# -- benchmark ----------------------------------------------------------------------------------
BENCH_QUESTIONS = (
    "whats the new CSAT rule for gold?? deadline?",
    "how many internal use licenses do advanced partners get now",
    "which comps replaced app dev and devops",
    "what is the annual fee for member partners",
)


async def run_questions(
    app: App, fake: FakeTeams, n: int = 30, *, timeout: float = 90.0
) -> dict[str, Any]:
    """`n` concurrent channel questions, sent at once from another process (as Teams is):
    the ack latency of each POST, and the time until the fake recorded its answer in the
    question's thread. One warm-up question is not measured; each question comes from its
    own person (no rate limit). Milliseconds in the result."""
    async with running_teams(app, fake) as driver:
        await driver.ask(BENCH_QUESTIONS[0], user=User(f"0b000000-0000-4000-8000-{0:012d}", "W"))
        items = []
        for i in range(n):
            person = User(f"0b000000-0000-4000-8000-{i + 1:012d}", f"Bench {i}")
            activity = message(fake, BENCH_QUESTIONS[i % len(BENCH_QUESTIONS)], user=person)
            auth = {"Content-Type": "application/json", "Authorization": f"Bearer {fake.token()}"}
            key = activity["conversation"]["id"]
            items.append({"ts": key, "body": json.dumps(activity), "headers": auth})
        wanted = {item["ts"] for item in items}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOAD_SCRIPT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate(json.dumps({"url": driver.url, "items": items}).encode())
        acks = json.loads(out)
        answers = await fake.wait_for(lambda p: p.conversation in wanted, count=n, timeout=timeout)
    sent = {a["ts"]: a["sent"] for a in acks}
    answered: dict[str, float] = {}
    for p in answers:
        answered.setdefault(p.conversation, p.at)
    answer_ms = [(answered[c] - sent[c]) * 1000 for c in answered]
    ack_ms = [(a["acked"] - a["sent"]) * 1000 for a in acks]
    return {
        "n": n,
        "statuses": sorted({a["status"] for a in acks}),
        "ack_ms": {f"p{q}": round(percentile(ack_ms, q), 1) for q in (50, 99)},
        "answer_ms": {f"p{q}": round(percentile(answer_ms, q), 1) for q in (50, 95)},
        "answers_posted": len(answered),
        "answers_with_sources": sum(1 for p in answers if p.card and "Sources" in p.text),
        "all_answered": len(answered) == n,
    }
