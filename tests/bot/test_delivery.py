"""The outbox (bot/delivery.py): re-check before posting, reconcile by key, release on stop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.comms.dispatcher import Dispatcher, DispatcherService
from bot.comms.registry import Communications
from bot.comms.settings import CommsSettings
from bot.delivery import Outbox
from bot.errors import PartnerbotError
from bot.models import Notice
from bot.posting import LoopPoster
from bot.store import NewDelivery, Store
from bot.store.sqlite import SqliteStore
from tests.bot.store.test_dispatchers import write_comms

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Platform:
    platform = "slack"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.posted: dict[str, str] = {}

    def post(self, channel: str, notice: Notice) -> str:
        time.sleep(self.delay)
        self.posted[notice.key] = f"m{len(self.posted) + 1}"
        return self.posted[notice.key]

    def find(self, channel: str, key: str) -> str | None:
        return self.posted.get(key)

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(user, notice)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = SqliteStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


def plan(store: Store, key: str = "k1") -> None:
    store.deliveries.plan(NewDelivery(key, "changes", "d1", "digest", "slack", "#p", T0), now=T0)


def notice(d: object) -> Notice:
    return Notice(key="k1", title="t", text="x")


def test_a_claim_taken_over_after_its_lease_is_not_posted_by_its_first_owner(store: Store) -> None:
    plan(store)
    clock = Clock()
    slow, fast = (
        Outbox(deliveries=store.deliveries, owner="A", clock=clock),
        Outbox(deliveries=store.deliveries, owner="B", clock=clock),
    )
    mine = slow.claim("k1")
    assert mine is not None and fast.claim("k1") is None  # held
    clock.now += timedelta(minutes=3)  # A hung past its lease; B takes over and posts
    theirs = fast.claim("k1")
    assert theirs is not None
    platform = Platform()
    assert fast.deliver(theirs, platform, notice).status == "posted"
    # A wakes up: the re-check before posting stops it.
    assert slow.deliver(mine, platform, notice).status == "lost"
    assert len(platform.posted) == 1


def test_a_retaken_claim_finds_the_earlier_post_by_its_key(store: Store) -> None:
    plan(store)
    clock = Clock()
    outbox = Outbox(deliveries=store.deliveries, owner="A", clock=clock)
    first = outbox.claim("k1")
    assert first is not None
    platform = Platform()
    platform.posted["k1"] = "m-before-the-crash"  # posted, then the process died
    clock.now += timedelta(minutes=3)
    again = Outbox(deliveries=store.deliveries, owner="B", clock=clock).claim("k1")
    assert again is not None and again.attempts == 2
    outcome = Outbox(deliveries=store.deliveries, owner="B", clock=clock).deliver(
        again, platform, notice
    )
    assert (outcome.status, outcome.message_id) == ("reconciled", "m-before-the-crash")
    stored = store.deliveries.by_key("k1")
    assert stored is not None and (stored.status, stored.reconciled) == ("posted", True)


async def test_stopping_the_dispatcher_service_is_prompt_and_releases_its_claims(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    write_comms(folder)  # 160 notices due now
    store = SqliteStore(tmp_path / "state.sqlite3")
    try:
        settings = CommsSettings(folder=folder, routes_path=folder / "routes.yml")
        comms = Communications(store=store, settings=settings)
        for path in sorted(folder.glob("comm-*.yml")):
            comms.add_file(path)
        platform = Platform(delay=0.05)  # 160 posts would take 8 s
        dispatcher = Dispatcher(comms=comms, store=store, posters={"slack": platform})
        service = DispatcherService(dispatcher=dispatcher, interval=0.05)
        await service.start()
        while len(platform.posted) < 3:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await service.stop()
        assert time.monotonic() - started < 2  # between two posts, not after all of them
        states = [d.status for c in range(4) for d in comms.deliveries(f"licensing-{c}")]
        assert "claimed" not in states  # released: another dispatcher can go on at once
        assert states.count("posted") == len(platform.posted) < 160
    finally:
        store.close()


def test_release_gives_back_only_this_workers_claims(store: Store) -> None:
    plan(store, "k1")
    plan(store, "k2")
    a = Outbox(deliveries=store.deliveries, owner="A", clock=Clock())
    b = Outbox(deliveries=store.deliveries, owner="B", clock=Clock())
    assert a.claim("k1") is not None and b.claim("k2") is not None
    assert a.release() == 1
    statuses = {k: store.deliveries.by_key(k).status for k in ("k1", "k2")}  # type: ignore[union-attr]
    assert statuses == {"k1": "planned", "k2": "claimed"}


class HangingPoster(LoopPoster):
    """A platform that takes a minute to answer a post (its calls can be given up)."""

    platform = "slack"

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.started = threading.Event()

    async def post_async(self, channel: str, notice: Notice) -> str:
        self.started.set()
        await asyncio.sleep(60)
        return "never"

    async def find_async(self, channel: str, key: str) -> str | None:
        return None


class StuckPoster(Platform):
    """A platform whose blocking post cannot be given up."""

    def __init__(self) -> None:
        super().__init__()
        self.started, self.release = threading.Event(), threading.Event()

    def post(self, channel: str, notice: Notice) -> str:
        self.started.set()
        self.release.wait(30)
        raise PartnerbotError("gave up")


async def dispatching(
    tmp_path: Path, poster: Any
) -> tuple[Store, Communications, DispatcherService]:
    folder = tmp_path / "comms"
    folder.mkdir()
    write_comms(folder)
    store = SqliteStore(tmp_path / "state.sqlite3")
    comms = Communications(
        store=store, settings=CommsSettings(folder=folder, routes_path=folder / "routes.yml")
    )
    comms.add_file(sorted(folder.glob("comm-*.yml"))[0])
    dispatcher = Dispatcher(comms=comms, store=store, posters={"slack": poster})
    service = DispatcherService(dispatcher=dispatcher, interval=0.05, grace=0.3)
    await service.start()
    while not poster.started.is_set():
        await asyncio.sleep(0.01)
    return store, comms, service


async def test_stopping_during_a_slow_post_gives_it_up_and_hands_the_delivery_back(
    tmp_path: Path,
) -> None:
    poster = HangingPoster()
    poster.attach(asyncio.get_running_loop())
    store, comms, service = await dispatching(tmp_path, poster)
    try:
        started = time.monotonic()
        await service.stop()
        assert time.monotonic() - started < 2  # the grace, not the platform's minute
        deliveries = comms.deliveries("licensing-0")
        assert [d.status for d in deliveries].count("claimed") == 0
        tried = [d for d in deliveries if d.attempts]
        # Handed back with its attempt counted: whoever claims it next looks for the post
        # on the platform before posting (it may have arrived).
        assert len(tried) == 1 and tried[0].status == "planned"
        assert tried[0].note is not None and "stopped while posting" in tried[0].note
        again = Outbox(deliveries=store.deliveries, owner="next").claim(tried[0].key)
        assert again is not None and again.attempts == 2
    finally:
        store.close()


async def test_a_post_that_cannot_be_given_up_keeps_its_claim_until_the_lease_runs_out(
    tmp_path: Path,
) -> None:
    poster = StuckPoster()
    store, comms, service = await dispatching(tmp_path, poster)
    try:
        started = time.monotonic()
        await service.stop()
        assert time.monotonic() - started < 2
        # Releasing it while the post may still land would risk posting it twice.
        assert [d.status for d in comms.deliveries("licensing-0")].count("claimed") == 1
    finally:
        poster.release.set()
        await asyncio.sleep(0.2)
        store.close()
