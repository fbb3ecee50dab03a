"""The health endpoints over real HTTP, served the way `partnerbot serve` serves them (the
app's services on one event loop): /healthz, /readyz naming each check, /metrics counting
questions and abstentions; readiness turning 503 when a platform disconnects or the
PostgreSQL state store stops, and back when it returns."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.errors import ConfigError
from bot.monitoring.health import NotReady, Readiness
from bot.serving.runner import serve
from bot.serving.services import services
from bot.serving.web import WebService
from tests.fakes.memory_platform import MemoryPlatform
from tests.postgres_server import PASSWORD, PostgresServer

UNANSWERABLE = "can i get free tickets to the summit in vegas"


@asynccontextmanager
async def served(app: App) -> AsyncIterator[str]:
    """Serve the app's services (health endpoints first); yields the health base URL."""
    started = services(app)
    health = started[0]
    assert isinstance(health, WebService)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(started, stop=stop))
    for _ in range(200):
        if health.web.port:
            break
        await asyncio.sleep(0.01)
    try:
        yield health.web.url("")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def get(url: str, **headers: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, labels) → value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def memory_app(make_app: Callable[..., App]) -> Callable[..., tuple[App, MemoryPlatform]]:
    def build(**settings: Any) -> tuple[App, MemoryPlatform]:
        app = make_app(**settings)
        platform = app.add_platform("memory")
        assert isinstance(platform, MemoryPlatform)
        return app, platform

    return build


async def test_healthz_readyz_and_metrics_answer_over_http(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, _ = memory_app()
    async with served(app) as base:
        status, _, body = await get(base + "/healthz")
        assert (status, body) == (200, '{"status": "alive"}')

        status, content_type, body = await get(base + "/readyz")
        assert status == 200 and content_type.startswith("application/json")
        ready = json.loads(body)
        assert ready["ready"] is True
        assert set(ready["checks"]) == {"index", "store", "memory"}
        assert all(check["ok"] for check in ready["checks"].values())
        chunks = app.core.index.chunk_count()
        assert f"{chunks} chunks" in ready["checks"]["index"]["detail"]

        status, content_type, body = await get(base + "/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
        figures = samples(body)
        assert figures[("partnerbot_index_chunks", ())] == chunks > 0
        assert figures[("partnerbot_index_documents", ())] == app.core.index.document_count()
        assert figures[("partnerbot_index_generation", ())] == app.core.index.generation()
        assert figures[("process_resident_memory_bytes", ())] > 0
        # A scraper that asks for OpenMetrics gets it.
        accept = "application/openmetrics-text; version=1.0.0"
        _, content_type, body = await get(base + "/metrics", Accept=accept)
        assert content_type.startswith("application/openmetrics-text") and body.endswith("# EOF\n")


async def test_metrics_count_a_question_and_an_abstention(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, platform = memory_app()
    async with served(app) as base:
        before = samples((await get(base + "/metrics"))[2])
        assert ("partnerbot_questions_total", (("kind", "answer"), ("platform", "memory"))) not in (
            before
        )
        answered = await platform.say("how many internal use licenses do advanced partners get")
        unanswered = await platform.say(UNANSWERABLE)
        replies = platform.replies(answered) + platform.replies(unanswered)
        assert [r.answer.abstained for r in replies if r.answer] == [False, True]

        figures = samples((await get(base + "/metrics"))[2])
        memory = (("platform", "memory"),)
        assert figures[("partnerbot_questions_total", (("kind", "answer"), *memory))] == 2
        assert figures[("partnerbot_abstentions_total", memory)] == 1
        assert figures[("partnerbot_answer_seconds_count", memory)] == 2
        assert figures[("partnerbot_answer_seconds_sum", memory)] > 0
        # "thanks!" is counted as a question of another kind, and not timed as an answer.
        await platform.say("thanks!")
        figures = samples((await get(base + "/metrics"))[2])
        assert figures[("partnerbot_questions_total", (("kind", "acknowledgement"), *memory))] == 1
        assert figures[("partnerbot_answer_seconds_count", memory)] == 2


async def test_readiness_is_503_naming_a_platform_that_is_not_connected(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, platform = memory_app()
    async with served(app) as base:
        assert (await get(base + "/readyz"))[0] == 200
        platform.connected = False  # e.g. its gateway dropped
        status, _, body = await get(base + "/readyz")
        checks = json.loads(body)["checks"]
        assert status == 503
        assert checks["memory"] == {"ok": False, "detail": "not connected"}
        assert checks["index"]["ok"] and checks["store"]["ok"]
        assert (await get(base + "/healthz"))[0] == 200  # alive all the same


async def test_readiness_follows_the_postgres_state_store_down_and_back(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    server = PostgresServer().start()  # its own server: this test stops it
    try:
        url = server.create_database("ready")
        app, _ = memory_app(PARTNERBOT_DATABASE_URL=url)
        async with served(app) as base:
            assert (await get(base + "/readyz"))[0] == 200
            await asyncio.to_thread(server.pause)
            status, _, body = await get(base + "/readyz")
            store = json.loads(body)["checks"]["store"]
            assert status == 503 and store["ok"] is False
            assert PASSWORD not in body
            assert (await get(base + "/metrics"))[0] == 200  # metrics need no database
            await asyncio.to_thread(server.resume)
            deadline = time.monotonic() + 30
            while (await get(base + "/readyz"))[0] != 200:
                assert time.monotonic() < deadline, "not ready again after PostgreSQL returned"
                await asyncio.sleep(0.2)
    finally:
        server.stop()


async def test_a_check_that_hangs_is_bounded_and_not_started_twice() -> None:
    release = threading.Event()
    calls: list[int] = []

    def hanging() -> str:
        calls.append(1)
        release.wait(10)
        return "late"

    def failing() -> str:
        raise NotReady("no leader")

    readiness = Readiness(lambda: {"db": hanging, "other": failing}, timeout=0.2)
    try:
        for _ in range(2):
            results = {r.name: r for r in await readiness.run()}
            assert (results["db"].ok, results["db"].detail) == (False, "no answer within 0.2 s")
            assert (results["other"].ok, results["other"].detail) == (False, "no leader")
        assert len(calls) == 1  # the second probe waited on the first, started no other
    finally:
        release.set()
    await asyncio.sleep(0.05)
    assert {r.name: r.ok for r in await readiness.run()} == {"db": True, "other": False}


async def test_a_health_port_in_use_is_a_configuration_error(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, _ = memory_app()
    async with served(app) as base:
        port = int(base.rsplit(":", 1)[1])
        other, _ = memory_app(PARTNERBOT_HEALTH_PORT=str(port))
        with pytest.raises(ConfigError, match="PARTNERBOT_HEALTH_PORT"):
            await asyncio.wait_for(serve(services(other)), 10)


def test_the_health_server_can_be_turned_off(
    memory_app: Callable[..., tuple[App, MemoryPlatform]],
) -> None:
    app, _ = memory_app(PARTNERBOT_HEALTH_SERVER="false", PARTNERBOT_CONSOLE="false")
    assert [s.name for s in services(app)] == ["memory", "comms-dispatcher"]
    # The console alone keeps the web server, without the health endpoints.
    app, _ = memory_app(PARTNERBOT_HEALTH_SERVER="false")
    [web] = [s for s in services(app) if isinstance(s, WebService)]
    assert not web.web.app.router.named_resources().get("healthz")
    paths = {r.canonical for r in web.web.app.router.resources()}
    assert "/healthz" not in paths and {"/console", "/api"} <= paths
