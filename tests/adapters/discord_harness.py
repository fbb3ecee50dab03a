"""Drive the real Discord adapter against FakeDiscord: start it, and measure concurrent `/ask`.

Used by tests/adapters/test_discord*.py (``running_discord``) and by the benchmark
(``run_concurrent_asks``), which reports interaction-ack and answer latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import statistics
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from adapters.discord.client import DiscordPlatform
from bot.app import App
from bot.evaluation.harness import percentile
from tests.fakes.discord_server import FakeDiscord

TOKEN = "fake-bot-token"
BENCH_QUESTIONS = (
    "whats the new CSAT rule for gold?? deadline?",
    "how many internal use licenses do advanced partners get now",
    "which comps replaced app dev and devops",
    "what is the annual fee for member partners",
)
FIRST_BENCH_USER = 900_000_000_000_000_000
WARMUP_USER = 899_999_999_999_999_999


def discord_settings(fake_or_none: FakeDiscord | None = None, **extra: str) -> dict[str, str]:
    """Settings (as env names) for a bot that talks to the fake: token, admin role."""
    role = fake_or_none.admin_role_id if fake_or_none else FakeDiscord.ADMIN_ROLE_ID
    return {"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_ADMIN_ROLE_IDS": str(role), **extra}


@contextlib.asynccontextmanager
async def running_discord(app: App, **options: Any) -> AsyncIterator[DiscordPlatform]:
    """Start the app's Discord platform (against the patched fake) and always stop it."""
    options.setdefault("guild_ready_timeout", 0.05)
    platform = app.add_platform("discord", **options)
    assert isinstance(platform, DiscordPlatform)
    try:
        await platform.start()
        yield platform
    finally:
        await asyncio.sleep(0.05)  # let in-flight replies land before closing
        await platform.stop()


class _ArrivalClock:
    """Records when interaction callbacks and follow-ups reach the fake, by interaction token.

    Wraps the fake's route handlers (they run on the fake's thread as each request
    arrives); ``time.perf_counter`` is one clock for every thread of the process.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.callbacks: dict[str, tuple[float, int]] = {}  # token -> (time, callback type)
        self.followups: dict[str, float] = {}  # token -> first follow-up

    @contextlib.contextmanager
    def installed(self, fake: FakeDiscord) -> Iterator[None]:
        routes = fake._routes
        original = list(routes)
        for i, route in enumerate(routes):
            if route.template.startswith("/interactions/") and route.method == "POST":
                routes[i] = dataclasses.replace(route, handler=self._wrap(route.handler, "cb"))
            elif route.template == "/webhooks/{app_id}/{token}" and route.method == "POST":
                routes[i] = dataclasses.replace(route, handler=self._wrap(route.handler, "hook"))
        try:
            yield
        finally:
            routes[:] = original

    def _wrap(self, handler: Any, kind: str) -> Any:
        def timed(match: re.Match[str], body: Any, query: Any) -> Any:
            now = time.perf_counter()
            token = match["token"]
            with self.lock:
                if kind == "cb":
                    self.callbacks.setdefault(token, (now, int((body or {}).get("type", 0))))
                else:
                    self.followups.setdefault(token, now)
            return handler(match, body, query)

        return timed


async def run_concurrent_asks(
    app: App,
    fake: FakeDiscord,
    n: int = 50,
    *,
    questions: Sequence[str] = BENCH_QUESTIONS,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Fire ``n`` `/ask` interactions at once (distinct users) and time what reaches the fake.

    ``fake`` must be started and patched (``fake_discord()``); ``bot`` needs
    DISCORD_BOT_TOKEN set to the fake's token. The adapter is started and stopped
    here. Latencies are milliseconds from dispatching INTERACTION_CREATE to the
    interaction callback (ack) and to the first webhook follow-up (answer). One
    warm-up `/ask` (model and index load) runs first and is not measured. Each
    interaction comes from its own user, so the per-user rate limit does not apply.
    """
    clock = _ArrivalClock()
    dispatched: dict[str, float] = {}

    def dispatch_all() -> None:
        # From a worker thread, so the client's loop is free to handle events meanwhile.
        for i in range(n):
            started = time.perf_counter()
            payload = fake.interaction_create(
                "ask", {"question": questions[i % len(questions)]}, user_id=FIRST_BENCH_USER + i
            )
            dispatched[payload["token"]] = started

    with clock.installed(fake):
        async with running_discord(app):
            warm = fake.interaction_create("ask", {"question": questions[0]}, user_id=WARMUP_USER)
            await fake.wait_until(
                lambda: warm["token"] in clock.followups, timeout=timeout, describe="warm-up"
            )
            wall = time.perf_counter()
            await asyncio.to_thread(dispatch_all)
            await fake.wait_until(
                lambda: all(t in clock.followups for t in dispatched) or None,
                timeout=timeout,
                describe=f"{n} /ask follow-ups",
            )
            wall_ms = (time.perf_counter() - wall) * 1000

    ack_ms = [(clock.callbacks[t][0] - t0) * 1000 for t, t0 in dispatched.items()]
    answer_ms = [(clock.followups[t] - t0) * 1000 for t, t0 in dispatched.items()]
    tokens = set(dispatched)
    replies = [
        r
        for r in fake.requests
        if r.method == "POST" and r.path.rsplit("/", 1)[-1] in tokens and "/webhooks/" in r.path
    ]
    late = [
        r
        for r in fake.interaction_responses()
        if r.status >= 400 and r.path.split("/")[3] in tokens
    ]
    return {
        "n": n,
        "ack_ms": ack_ms,
        "answer_ms": answer_ms,
        "ack_p50_ms": statistics.median(ack_ms),
        "ack_p99_ms": percentile(ack_ms, 99),
        "answer_p50_ms": statistics.median(answer_ms),
        "answer_p95_ms": percentile(answer_ms, 95),
        "wall_ms": wall_ms,
        "deferred": sum(1 for t in tokens if clock.callbacks[t][1] == 5),
        "rejected_callbacks": len(late),  # e.g. later than Discord's 3 s window
        "answers_with_sources": sum(
            1 for r in replies if (r.json or {}).get("embeds") and r.json["embeds"][0].get("fields")
        ),
    }
