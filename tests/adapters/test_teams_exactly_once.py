"""Exactly once on Teams: three dispatchers — each its own store connection and its own Teams
platform, as three replicas — post 120 notices through the real Teams SDK to a Bot
Connector that is slow and refuses calls (429 with Retry-After, 500/502/503): every notice
is posted once and none is lost, on SQLite and on PostgreSQL.

(Teams cannot look a message up by its key: what remains of the window, and how the outbox
closes the rest, is shown in test_teams_notices.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from adapters.teams.app import TeamsPlatform
from bot.chat.service import ChatService
from bot.comms.dispatcher import Dispatcher, TickReport
from bot.comms.registry import Communications, RegisterResult
from bot.comms.settings import CommsSettings
from bot.config import SAMPLES_DIR, Settings
from bot.core import PartnerBot
from bot.models import ConversationRef
from tests.adapters.teams_harness import teams_options, teams_settings
from tests.bot.store.conftest import OpenStore
from tests.fakes.teams_server import HOME, TEAM, FakeTeams, Fault

COMMS, CHANNELS = 3, 40  # 3 × 40 = 120 first notices, all due at once
LEASE = timedelta(seconds=15)  # far longer than one post, however often it is refused
TIMEOUT = 60.0


def write_comms(folder: Path) -> list[str]:
    channels = [f"19:partners{n:03}@thread.tacv2" for n in range(CHANNELS)]
    routes = {"tags": {"regions": ["ANZ", "EMEA"]}, "routes": [{"match": {}, "teams": channels}]}
    (folder / "routes.yml").write_text(yaml.safe_dump(routes), encoding="utf-8")
    sample = yaml.safe_load((SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml").read_text())
    sample.pop("recipients")  # channel notices only
    send_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)  # inside the window
    for n in range(COMMS):
        data = {**sample, "id": f"licensing-{n}", "send_at": send_at.isoformat()}
        data |= {"title": f"{sample['title']} (part {n})", "audience": {"regions": ["ANZ"]}}
        (folder / f"comm-{n}.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return channels


class Connector:
    """Faults by notice (its channel and title) and by how often it was tried: a quarter are
    refused once with 429, a quarter twice with 503 then 500, a quarter once with a slow 502,
    a quarter answer slowly; every seventh is slow besides."""

    def __init__(self) -> None:
        self.tries: Counter[str] = Counter()
        self.injected: Counter[int] = Counter()
        self.lock = threading.Lock()

    def __call__(self, conversation: str, activity: dict[str, Any]) -> Fault | None:
        if activity.get("type") != "message":
            return None
        title = activity["attachments"][0]["content"]["body"][0]["text"]
        which = f"{conversation}|{title}"
        with self.lock:
            self.tries[which] += 1
            attempt = self.tries[which]
        kind = int(hashlib.sha256(which.encode()).hexdigest(), 16) % 4
        slow = 0.15 if hash(which) % 7 == 0 else 0.0
        fault = {
            (0, 1): Fault(429, retry_after=0.05),
            (1, 1): Fault(503),
            (1, 2): Fault(500),
            (2, 1): Fault(502, delay=0.2),
        }.get((kind, attempt)) or Fault(delay=0.25 if kind == 3 else slow)
        with self.lock:
            self.injected[fault.status] += 1
        return fault


async def test_three_dispatchers_post_120_notices_to_a_slow_failing_connector_exactly_once(
    open_another: OpenStore, make_bot: Callable[..., PartnerBot], tmp_path: Path
) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    channels = write_comms(folder)
    settings = CommsSettings(folder=folder, routes_path=folder / "routes.yml", lead_days=(14, 3, 1))
    admin_store = open_another()
    admin = Communications(store=admin_store, settings=settings)
    for path in sorted(folder.glob("comm-*.yml")):
        assert isinstance(admin.add_file(path), RegisterResult)
    due = [d for c in range(COMMS) for d in admin.deliveries(f"licensing-{c}") if d.kind == "first"]
    assert len(due) == COMMS * CHANNELS == 120

    core = make_bot()
    config = Settings(PARTNERBOT_DATA_DIR=tmp_path / "data", **teams_settings())  # type: ignore[arg-type]
    with FakeTeams() as fake:
        fake.channels[TEAM] = [(c, f"Partners {n}") for n, c in enumerate(channels)]
        platforms: list[TeamsPlatform] = []
        for _ in range(3):  # three replicas: each its own store, SDK app and connections
            chat = ChatService(core, store=open_another())
            platform = TeamsPlatform(chat, config, listen=False, **teams_options(fake, tries=4))
            await platform.start()
            platforms.append(platform)
        for channel in channels:  # the bot is in the team: each channel's reference is kept
            ref = ConversationRef(
                "teams", channel, channel, fake.service_url, "channel", HOME, TEAM
            )
            admin_store.conversations.remember(ref, at=datetime.now(UTC))
        fake.faults = connector = Connector()
        dispatchers = []
        for n, platform in enumerate(platforms):  # each with a store connection of its own
            store = open_another()
            comms = Communications(store=store, settings=settings)
            posters = {"teams": platform.poster}
            dispatchers.append(
                Dispatcher(
                    comms=comms, store=store, posters=posters, lease=LEASE, owner=f"replica-{n}"
                )
            )
        done = threading.Event()
        started = time.monotonic()
        reports: dict[str, list[TickReport]] = {d.owner: [] for d in dispatchers}

        def serve(dispatcher: Dispatcher) -> None:
            """Tick as `partnerbot serve` does (every 0.1 s here) until everything is out."""
            while not done.is_set() and time.monotonic() - started < TIMEOUT:
                reports[dispatcher.owner].append(dispatcher.run_once())
                outstanding = admin_store.deliveries.due("comms", datetime.now(UTC) + LEASE * 2)
                if not outstanding:
                    done.set()
                done.wait(0.1)

        try:
            await asyncio.gather(*(asyncio.to_thread(serve, d) for d in dispatchers))
        finally:
            for platform in platforms:
                await platform.stop()
        took = time.monotonic() - started

    posted = Counter((p.conversation, part_of(p.text)) for p in fake.messages())
    duplicates = sum(n - 1 for n in posted.values())
    lost = len({(d.channel, d.subject) for d in due} - set(posted))
    final = [
        d for c in range(COMMS) for d in admin.deliveries(f"licensing-{c}") if d.kind == "first"
    ]
    print(  # (the figures the report quotes)
        f"\n{admin_store.description.split(':')[0]}: {len(due)} notices, 3 dispatchers, "
        f"{sum(posted.values())} posted, {duplicates} duplicates, {lost} lost, "
        f"{sum(connector.tries.values())} connector calls, refused {dict(connector.injected)}, "
        f"{took:.1f} s"
    )
    assert (duplicates, lost) == (0, 0), f"{duplicates} duplicates, {lost} lost in {took:.1f} s"
    assert sum(posted.values()) == 120
    assert {d.status for d in final} == {"posted"}
    assert {d.message_id for d in final} == {p.id for p in fake.messages()}
    assert sum(connector.injected[s] for s in (429, 500, 502, 503)) >= 60  # refusals happened
    # Every dispatcher took part, and each recorded what it posted.
    assert all(any(r.posted for r in ticks) for ticks in reports.values())
    assert sum(len(r.posted) for ticks in reports.values() for r in ticks) == 120


def part_of(text: str) -> str:
    """The communication a notice is about, from its title ("… (part 2)")."""
    found = re.search(r"\(part (\d+)\)", text)
    return f"licensing-{found.group(1)}" if found else "?"
