"""The platform registry, the loop-bridging poster and the shared platform lifecycle."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import PLATFORMS, App
from bot.chat.service import ChatService
from bot.config import Settings, load_settings
from bot.core import PartnerBot
from bot.errors import ConfigError, PartnerbotError
from bot.models import Notice
from bot.platform import PlatformBase, PlatformRegistry
from bot.posting import LoopPoster, MeteredPoster, Unreachable
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform

NOTICE = Notice(key="k1", title="t", text="x")


def test_the_registry_names_platforms_and_loads_their_adapter_on_use() -> None:
    assert PLATFORMS.names == ("discord", "slack", "teams")
    assert TEST_PLATFORMS.spec("memory").name == "memory"
    with pytest.raises(
        ConfigError, match=r"unknown platform 'mattermost' \(known: discord, memory, slack, teams\)"
    ):
        TEST_PLATFORMS.spec("mattermost")
    wrong = PlatformRegistry({"slack": "tests.fakes.memory_platform"})
    with pytest.raises(ConfigError, match="implements 'memory', not 'slack'"):
        wrong.spec("slack")


def test_configured_platforms_come_from_the_settings() -> None:
    none = load_settings()
    assert PLATFORMS.configured(none) == []
    both = load_settings(SLACK_BOT_TOKEN="xoxb-1", DISCORD_BOT_TOKEN="d")
    assert [s.name for s in PLATFORMS.configured(both)] == ["discord", "slack"]


def test_an_app_refuses_a_channel_on_an_unknown_platform_at_load() -> None:
    with pytest.raises(
        ConfigError, match="PARTNERBOT_CHANGES_CHANNELS: 'slak:#x': unknown platform"
    ):
        App(load_settings(PARTNERBOT_CHANGES_CHANNELS="slack:#ok,slak:#x"))
    with pytest.raises(
        ConfigError, match="PARTNERBOT_ADMIN_CHANNELS: 'matrix:G': unknown platform"
    ):
        App(load_settings(PARTNERBOT_ADMIN_CHANNELS="matrix:G"))
    App(load_settings(PARTNERBOT_CHANGES_CHANNELS="discord:1,slack:#ok,teams:19:x")).close()


class Poster(LoopPoster):
    platform = "test"
    per_channel_interval = 1.0

    def __init__(self, **kwargs: Any) -> None:
        self.now = 100.0
        self.slept: list[float] = []

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)
            self.now += seconds

        super().__init__(clock=lambda: self.now, sleep=sleep, **kwargs)
        self.posts: list[str] = []
        self.lookups = 0

    async def post_async(self, channel: str, notice: Notice) -> str:
        self.posts.append(channel)
        return f"{channel}/{len(self.posts)}"

    async def find_async(self, channel: str, key: str) -> str | None:
        await asyncio.sleep(10)
        return None

    async def lookup_channel(self, name: str) -> str | None:
        self.lookups += 1
        return {"partners": "C123"}.get(name)


async def test_loop_poster_runs_on_the_platform_loop_paced_and_bounded() -> None:
    poster = Poster(timeout=0.2)
    with pytest.raises(PartnerbotError, match="test is not connected yet"):
        poster.post("C1", NOTICE)
    poster.attach(asyncio.get_running_loop())
    with pytest.raises(PartnerbotError, match="call them from a worker thread"):
        poster.post("C1", NOTICE)

    def from_a_worker() -> list[str]:
        return [poster.post(c, NOTICE) for c in ("#partners", "#partners", "C9", "#nowhere")]

    assert await asyncio.to_thread(from_a_worker) == ["C123/1", "C123/2", "C9/3", "#nowhere/4"]
    assert poster.slept == [1.0]  # the second post to one channel waited; the others did not
    assert poster.lookups == 2  # #partners once (then cached); #nowhere not found
    with pytest.raises(Unreachable, match=r"test did not answer within 0\.2 s"):
        await asyncio.to_thread(poster.find, "C1", "k1")
    assert await asyncio.to_thread(poster.permalink, "C1", "m") is None
    with pytest.raises(PartnerbotError, match="cannot post direct messages"):
        await asyncio.to_thread(poster.post_direct, "U1", NOTICE)
    poster.detach()
    with pytest.raises(PartnerbotError, match="not connected"):
        await asyncio.to_thread(poster.post, "C1", NOTICE)


class Flaky(PlatformBase):
    """Unreachable for the first two connects, then connected."""

    name = "flaky"
    retry_delay = 0.01

    def __init__(self, chat: ChatService, settings: Settings, *, fatal: bool = False) -> None:
        super().__init__(chat, settings)
        self.poster = Poster()
        self.attempts, self.fatal, self.closed = 0, fatal, threading.Event()

    async def connect(self) -> None:
        self.attempts += 1
        if self.fatal:
            raise ConfigError("bad token")
        if self.attempts < 3:
            raise ConnectionError("unreachable")
        self.connected = True

    async def close(self) -> None:
        self.closed.set()


async def test_a_platform_that_cannot_be_reached_keeps_trying_and_stops_at_once(
    make_bot: Callable[..., PartnerBot], caplog: pytest.LogCaptureFixture
) -> None:
    core = make_bot()
    chat = ChatService(core)
    flaky = Flaky(chat, core.settings)
    with caplog.at_level(logging.WARNING):
        await flaky.start()  # returns at once: the attempts go on in the background
    assert flaky.attempts == 1 and not flaky.connected
    assert "flaky: cannot connect yet" in caplog.text
    for _ in range(100):
        if flaky.connected:
            break
        await asyncio.sleep(0.05)
    assert flaky.connected and flaky.attempts == 3
    await flaky.stop()
    assert flaky.closed.is_set() and not flaky.connected
    with pytest.raises(ConfigError, match="bad token"):
        await Flaky(chat, core.settings, fatal=True).start()


async def test_the_memory_platform_is_a_registered_platform(make_app: Callable[..., App]) -> None:
    app = make_app()
    app.add_platforms()  # none configured
    assert app.platforms == []
    app.add_platform("memory")
    [memory] = app.platforms
    assert isinstance(memory, MemoryPlatform)
    posters = {n: p.poster for n, p in app.posters().items() if isinstance(p, MeteredPoster)}
    assert posters == {"memory": memory.poster}
