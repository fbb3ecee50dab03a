"""Several dispatchers on one store, slow posts: every notice exactly once (issue: 40 of 160
were posted twice when a batch claimed under one lease outlasted it).

Three `Dispatcher`s, each on its own store connection (as three processes or replicas
would be), share one SQLite file or one PostgreSQL database and one slow platform.
The lease is short (1.5 s) and posting all 160 notices takes several times longer, so a
batch claimed under one lease would be taken over mid-way and posted twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bot.comms.dispatcher import Dispatcher, TickReport
from bot.comms.registry import Communications, RegisterResult
from bot.comms.settings import CommsSettings
from bot.config import SAMPLES_DIR
from bot.models import Notice
from bot.store import Store
from tests.bot.store.conftest import OpenStore

COMMS = 4
CHANNELS = 40  # 4 × 40 = 160 first notices, all due at once
POST_SECONDS = 0.03
LEASE = timedelta(seconds=1.5)


class SlowPlatform:
    """One chat platform shared by every dispatcher: a post takes a while and becomes
    visible (to `find`) only when it completes, as on Slack or Discord."""

    platform = "slack"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.posts: list[str] = []  # delivery keys, in posting order
        self.by_key: dict[str, str] = {}

    def post(self, channel: str, notice: Notice) -> str:
        time.sleep(POST_SECONDS)
        with self._lock:
            self.posts.append(notice.key)
            message_id = f"m{len(self.posts)}"
            self.by_key.setdefault(notice.key, message_id)
        return message_id

    def find(self, channel: str, key: str) -> str | None:
        with self._lock:
            return self.by_key.get(key)

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(user, notice)


def registry(store: Store, folder: Path) -> Communications:
    settings = CommsSettings(folder=folder, routes_path=folder / "routes.yml", lead_days=(14, 3, 1))
    return Communications(store=store, settings=settings)


def replica(open_another: OpenStore, folder: Path, platform: SlowPlatform, n: int) -> Dispatcher:
    """A dispatcher with a store connection and a registry of its own, as a replica has."""
    store = open_another()
    return Dispatcher(
        comms=registry(store, folder),
        store=store,
        posters={"slack": platform},
        lease=LEASE,
        owner=f"replica-{n}",
    )


def write_comms(folder: Path) -> None:
    channels = [f"C{n:03}" for n in range(CHANNELS)]
    routes = {"tags": {"regions": ["ANZ", "EMEA"]}, "routes": [{"match": {}, "slack": channels}]}
    (folder / "routes.yml").write_text(yaml.safe_dump(routes), encoding="utf-8")
    sample = yaml.safe_load((SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml").read_text())
    sample.pop("recipients")  # channel notices only
    send_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)  # inside the window
    for n in range(COMMS):
        data = {**sample, "id": f"licensing-{n}", "send_at": send_at.isoformat()}
        data["audience"] = {"regions": ["ANZ"]}
        (folder / f"comm-{n}.yml").write_text(yaml.safe_dump(data), encoding="utf-8")


def test_three_dispatchers_with_slow_posts_post_every_notice_exactly_once(
    open_another: OpenStore, tmp_path: Path
) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    write_comms(folder)
    admin_store = open_another()
    admin = registry(admin_store, folder)
    for path in sorted(folder.glob("comm-*.yml")):
        assert isinstance(admin.add_file(path), RegisterResult)
    due = [d for c in range(COMMS) for d in admin.deliveries(f"licensing-{c}") if d.kind == "first"]
    assert len(due) == COMMS * CHANNELS == 160

    platform = SlowPlatform()
    dispatchers = [replica(open_another, folder, platform, n) for n in range(3)]
    reports: dict[str, list[TickReport]] = {d.owner: [] for d in dispatchers}
    done = threading.Event()
    started = time.monotonic()

    def serve(dispatcher: Dispatcher) -> None:
        """Tick as `partnerbot serve` does (every 0.1 s here) until everything is out."""
        while not done.is_set() and time.monotonic() - started < 60:
            reports[dispatcher.owner].append(dispatcher.run_once())
            if len(set(platform.posts)) == 160 and not admin_store.deliveries.due(
                "comms", datetime.now(UTC) + LEASE * 2
            ):
                done.set()
            done.wait(0.1)

    threads = [threading.Thread(target=serve, args=(d,)) for d in dispatchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = timedelta(seconds=time.monotonic() - started)

    posted = Counter(platform.posts)
    duplicates = sum(n - 1 for n in posted.values())
    lost = len({d.key for d in due} - set(posted))
    assert (duplicates, lost) == (0, 0), f"{duplicates} duplicates, {lost} lost in {took}"
    assert took > LEASE  # the run outlasted a lease: the case that used to duplicate
    # Every dispatcher took part, and each recorded what it posted.
    assert all(any(r.posted for r in ticks) for ticks in reports.values())
    assert sum(len(r.posted) for ticks in reports.values() for r in ticks) == 160
    final = [
        d for c in range(COMMS) for d in admin.deliveries(f"licensing-{c}") if d.kind == "first"
    ]
    assert {d.status for d in final} == {"posted"}
    assert {d.message_id for d in final} == set(platform.by_key.values())
