"""`partnerbot serve` with Slack and Discord in one process, against both stand-ins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.app import App
from bot.comms.dispatcher import DispatcherService
from bot.serving.services import serve_app, services
from tests.adapters.discord_harness import discord_settings
from tests.adapters.slack_harness import mention, slack_settings
from tests.fakes.discord_server import fake_discord
from tests.fakes.slack_server import FakeSlack

QUESTION = "whats the new CSAT rule for gold?? deadline?"
CSAT_URL = "https://partners.northwind.example/docs/csat-requirement"


async def test_one_serve_process_answers_in_slack_and_in_discord(
    make_app: Callable[..., App],
) -> None:
    with FakeSlack() as slack_fake, fake_discord() as discord_fake:
        app = make_app(**slack_settings(slack_fake), **discord_settings(discord_fake))
        app.add_platforms({"discord": {"guild_ready_timeout": 0.05}})  # (the settings alone)
        assert [p.name for p in app.platforms] == ["discord", "slack"]
        names = [s.name for s in services(app)]
        assert names == ["web", "discord", "slack", DispatcherService.name]
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_app(app, stop=stop))
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
        assert serving.exception() is None
        deadline = time.monotonic() + 5  # the fakes see closed sockets a moment later
        while (slack_fake.socket_connected or discord_fake.connected) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.02)
        assert not discord_fake.connected and not slack_fake.socket_connected
        # Both answers went through the one core: two interactions, one per platform.
        rows = [app.store.interactions.get(i) for i in (1, 2, 3)]
        assert sorted(r.platform for r in rows if r is not None) == ["discord", "slack"]
