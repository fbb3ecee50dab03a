"""Replicas when something around them goes wrong, on one PostgreSQL and one `chroma run`
server (the cluster of tests/scenarios/test_replicas.py):

- two and three real `partnerbot serve` replicas started at once on one communications
  folder: one registers each communication, the others find it done — no ERROR line,
  each notice posted once;
- one replica cannot reach Slack (from the start, or from one moment on): it leaves
  Slack's notices to the healthy one, which posts every notice in the dispatcher poll it
  becomes due in — but the one the broken replica held when it found out, in the next
  (each poll is one step of a settable clock here: lateness is counted in polls).
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.slack.app import SlackPlatform
from bot.comms.dispatcher import Dispatcher, TickReport
from bot.comms.registry import RegisterResult
from tests.adapters.slack_harness import running_slack, slack_settings
from tests.fakes.slack_server import FakeSlack
from tests.scenarios import test_replicas as replicas
from tests.scenarios.test_comms import ANZ, EMEA, Clock, write_comm, write_routes
from tests.scenarios.test_replicas import SLACK_ROUTES, Cluster
from tests.serve_process import ServeProcess

LEADS = (14, 3, 1)  # the default lead times: a notice per channel at each
POLL = timedelta(minutes=5)  # the dispatchers' poll interval, on the settable clock
# The fixtures of tests/scenarios/test_replicas.py: its cluster, documents and Slack.
cluster, docs, fake = replicas.cluster, replicas.docs, replicas.fake


def notices(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if m.get("metadata")]


def dead_url() -> str:
    """A Slack Web API address where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/api/"


# -- started at once ------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [2, 3])
def test_replicas_started_at_once_log_no_error_and_post_each_notice_once(
    cluster: Cluster, docs: Path, fake: FakeSlack, tmp_path: Path, count: int
) -> None:
    cluster.replica("admin").core.reindex(docs)
    folder = tmp_path / "comms"
    folder.mkdir()
    routes = write_routes(tmp_path, SLACK_ROUTES)
    send_at = (datetime.now().astimezone() + timedelta(days=7)).replace(microsecond=0)
    write_comm(folder, send_at=send_at.isoformat())  # its first notice is due now
    write_comm(folder, "second.yml", id="second-comm", send_at=send_at.isoformat())
    replicas = [
        ServeProcess(
            cluster.env(
                f"r{i}",
                PARTNERBOT_COMMS_DIR=folder,
                PARTNERBOT_COMMS_ROUTES=routes,
                PARTNERBOT_COMMS_POLL_SECONDS=0.2,
                PARTNERBOT_HEALTH_HOST="127.0.0.1",
                PARTNERBOT_HEALTH_PORT=0,
                **slack_settings(fake, "http"),
            )
        )
        for i in range(count)
    ]
    try:
        for replica in replicas:
            replica.wait_for_line("comms-dispatcher started")
        deadline = time.monotonic() + 120
        while len(notices(fake, ANZ)) < 2 or len(notices(fake, EMEA)) < 2:
            assert time.monotonic() < deadline, "the notices were not posted"
            time.sleep(0.2)
        time.sleep(2)  # ten more polls of every replica
    finally:
        codes = [replica.stop() for replica in replicas]
    lines = [line for replica in replicas for line in replica.lines]
    assert codes == [0] * count, "\n".join(lines)
    assert [line for line in lines if " ERROR " in line or "Traceback" in line] == []
    assert len(notices(fake, ANZ)) == len(notices(fake, EMEA)) == 2  # each once


# -- one replica cannot reach Slack ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["from the start", "from one moment on"])
def test_a_replica_that_cannot_reach_slack_leaves_its_notices_to_the_healthy_one_on_time(
    cluster: Cluster, fake: FakeSlack, tmp_path: Path, how: str
) -> None:
    routes = write_routes(tmp_path, SLACK_ROUTES)
    unreachable = dead_url()
    broken_url = unreachable if how == "from the start" else fake.base_url
    broken = cluster.replica(
        "broken",
        PARTNERBOT_COMMS_ROUTES=str(routes),
        **slack_settings(fake, "http", SLACK_API_URL=broken_url),
    )
    healthy = cluster.replica(
        "healthy", PARTNERBOT_COMMS_ROUTES=str(routes), **slack_settings(fake, "http")
    )
    first_send = datetime(2027, 3, 1, 9, 0).astimezone()
    clock = Clock(first_send - timedelta(days=20))
    for app in (broken, healthy):
        app.comms.clock = clock
    sends = [first_send + timedelta(hours=7 * n) for n in range(4)]
    for n, send_at in enumerate(sends):  # 4 communications × 3 lead times × 2 channels
        path = write_comm(tmp_path, f"c{n}.yml", id=f"comm-{n}", send_at=send_at.isoformat())
        assert isinstance(broken.comms.add_file(path), RegisterResult)
    due = sorted({s - timedelta(days=d) for s in sends for d in LEADS})
    polls = sorted({t + k * POLL for t in due for k in (0, 1)})  # when due, and one poll after
    dispatchers = [
        Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        for app in (broken, healthy)
    ]

    async def run() -> list[list[TickReport]]:
        async with running_slack(broken, fake) as slack_b, running_slack(healthy, fake):
            platform = slack_b.platform
            assert isinstance(platform, SlackPlatform)
            if how == "from one moment on":  # Slack goes away for this replica alone
                platform.client.base_url = unreachable
            ticks = []
            for when in polls:
                clock.set(when)
                together = (asyncio.to_thread(d.run_once) for d in dispatchers)
                ticks.append(list(await asyncio.gather(*together)))
            return ticks

    ticks = asyncio.run(run())
    assert not [key for tick in ticks for key in tick[0].posted], "the broken replica posted"
    with psycopg.connect(cluster.database_url) as conn:
        rows = conn.execute(
            "SELECT key, due_at, posted_at, status, late FROM deliveries WHERE kind != 'alert'"
        ).fetchall()
    assert len(rows) == len(sends) * len(LEADS) * 2 == 24
    lateness = []
    for key, due_at, posted_at, status, late in rows:
        assert status == "posted" and not late, (key, status, late)
        lateness.append(datetime.fromisoformat(posted_at) - datetime.fromisoformat(due_at))
    assert max(lateness) <= POLL, lateness  # at most one poll late
    # Posted in the poll it became due in: all of them, but (when Slack went away) the one
    # the broken replica had claimed when it found out, handed back for the next poll.
    late = sum(1 for t in lateness if t)
    assert late == (0 if how == "from the start" else 1), lateness
    assert len(notices(fake, ANZ)) == len(notices(fake, EMEA)) == 12  # each notice once
    print(f"{how}: 24 notices posted by the healthy replica, {late} of them one poll late")
