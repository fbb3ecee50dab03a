"""`partnerbot serve` with Slack, Discord and Microsoft Teams in one process, against the three
stand-ins (Teams on serve's web server, beside the health endpoints)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from bot.app import App
from bot.comms.dispatcher import DispatcherService
from bot.serving.runner import serve
from bot.serving.services import WebService, services
from tests.adapters.discord_harness import discord_settings
from tests.adapters.slack_harness import mention, slack_settings
from tests.adapters.teams_harness import teams_options, teams_settings
from tests.fakes.discord_server import fake_discord
from tests.fakes.slack_server import FakeSlack
from tests.fakes.teams_server import FakeTeams, message

QUESTION = "whats the new CSAT rule for gold?? deadline?"
CSAT_URL = "https://partners.northwind.example/docs/csat-requirement"


async def test_one_serve_process_answers_in_slack_discord_and_teams(
    make_app: Callable[..., App],
) -> None:
    with FakeSlack() as slack_fake, fake_discord() as discord_fake, FakeTeams() as teams_fake:
        settings = slack_settings(slack_fake) | discord_settings(discord_fake) | teams_settings()
        app = make_app(**settings)
        options = {"discord": {"guild_ready_timeout": 0.05}, "teams": teams_options(teams_fake)}
        app.add_platforms(options)  # (the settings alone)
        assert [p.name for p in app.platforms] == ["discord", "slack", "teams"]
        running = services(app)
        names = [s.name for s in running]
        assert names == ["web", "discord", "slack", "teams", DispatcherService.name]
        web = running[0]
        assert isinstance(web, WebService)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(running, stop=stop))
        try:
            await slack_fake.async_wait_for_socket_client(timeout=10)
            await discord_fake.wait_for_ready(timeout=10)
            slack_event = mention(QUESTION)
            slack_fake.socket_send_event(slack_event)
            asked = discord_fake.message_create(QUESTION)
            discord_reply = await discord_fake.wait_for_message(
                lambda m: m.get("message_reference", {}).get("message_id") == asked["id"],
                timeout=10,
            )
            # The Discord answer is followed by a thread on it; let that finish before stopping.
            await discord_fake.wait_for(("POST", r"/channels/\d+/messages/\d+/threads"), timeout=10)
            deadline = time.monotonic() + 10
            while not [
                c
                for c in slack_fake.calls_to("chat.postMessage")
                if c.params.get("thread_ts") == slack_event["ts"] and c.status == 200
            ]:
                assert time.monotonic() < deadline, "no Slack answer"
                await asyncio.sleep(0.02)
            while not app.platforms[2].connected:
                assert time.monotonic() < deadline, "Teams did not connect"
                await asyncio.sleep(0.02)
            asked_in_teams = message(teams_fake, QUESTION)
            headers = {"Authorization": f"Bearer {teams_fake.token()}"}
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    web.web.url("/api/messages"), json=asked_in_teams, headers=headers
                ) as answered,
            ):
                assert answered.status == 200
            conversation = asked_in_teams["conversation"]["id"]
            [teams_reply] = await teams_fake.wait_for(lambda p: p.conversation == conversation)
        finally:
            stop.set()
            await asyncio.wait_for(serving, timeout=15)
        [slack_reply] = [
            c
            for c in slack_fake.calls_to("chat.postMessage")
            if c.params.get("thread_ts") == slack_event["ts"]
        ]
        assert "2027-03-31" in slack_reply.params["text"]
        fields = [f["value"] for f in discord_reply["embeds"][0]["fields"]]
        assert any(CSAT_URL in value for value in fields)
        assert "2027-03-31" in teams_reply.text and CSAT_URL in teams_reply.text
        assert serving.exception() is None
        deadline = time.monotonic() + 5  # the fakes see closed sockets a moment later
        while (slack_fake.socket_connected or discord_fake.connected) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.02)
        assert not discord_fake.connected and not slack_fake.socket_connected
        # The answers went through the one core: an interaction per platform.
        rows = [app.store.interactions.get(i) for i in (1, 2, 3, 4)]
        assert sorted(r.platform for r in rows if r is not None) == ["discord", "slack", "teams"]


def test_the_web_server_runs_for_teams_with_the_health_endpoints_and_console_off(
    make_app: Callable[..., App],
) -> None:
    settings = {"PARTNERBOT_HEALTH_SERVER": "false", "PARTNERBOT_CONSOLE": "false"}
    app = make_app(**teams_settings(), **settings)
    app.add_platforms()
    [web, *_] = services(app)
    assert isinstance(web, WebService)
    routes = {(r.method, r.resource.canonical) for r in web.web.app.router.routes() if r.resource}
    assert ("POST", "/api/messages") in routes and not any("/healthz" in p for _, p in routes)
