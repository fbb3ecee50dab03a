"""Replicas on one real `chroma run` server and one real PostgreSQL: one truth.

Every replica is a composed partnerbot (bot/app.py) with its own (separate, initially
empty) data directory, PARTNERBOT_DATABASE_URL on the test's own PostgreSQL database
and CHROMA_HOST on the session's Chroma server, as `partnerbot serve` replicas on
several hosts would run; chat goes through their real Slack platforms to one stand-in
Slack. Index runs go through one replica (in-process, or the real `partnerbot index` in
its own process); the others must answer from what it wrote, follow its generation
switches without errors, never write to the shared index on their own, and together
post every notice and digest, and answer every chat event, exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import chromadb
import psycopg
import pytest

from bot.app import App
from bot.comms.dispatcher import Dispatcher
from bot.comms.registry import RegisterResult
from bot.config import SAMPLES_DIR, load_settings
from bot.models import Answer, Question
from tests.adapters.slack_harness import (
    SIGNING_SECRET as SLACK_SECRET,
)
from tests.adapters.slack_harness import (
    SlackDriver,
    mention,
    running_slack,
    slack_settings,
)
from tests.adapters.test_slack import posted, settle
from tests.chroma_server import ChromaProcess
from tests.conftest import TEST_PLATFORMS
from tests.fakes.slack_server import FakeSlack, event_callback, sign_request
from tests.postgres_server import PostgresServer
from tests.scenarios.test_comms import (
    ANZ,
    EMEA,
    PARTNER_CHANNELS,
    ROUTES,
    Clock,
    before_send,
    write_comm,
    write_routes,
)

ROOT = Path(__file__).resolve().parents[2]
SECURITY = """---
title: Competency Requirements
effective_date: 2026-10-01
---
# Competency Requirements

## Security competency

The Security competency requires 3 certified people who passed the NW-310 exam.

## Data and AI competency

The Data and AI competency requires 5 certified people across NW-500 and NW-520.
"""
DEALS = """---
title: Deal Registration
effective_date: 2026-07-01
---
# Deal Registration

## Protection period

An approved deal registration protects the deal for 120 days.
"""
MDF = """---
title: Market Development Funds
effective_date: 2026-11-01
---
# Market Development Funds

## Claims

Market development fund claims must be filed within 45 days of the campaign's end.
"""
SECURITY_QUESTION = "how many certified people does the security competency need?"
MDF_QUESTION = "how long do we have to file a market development fund claim?"
# The communications routes of tests/scenarios/test_comms.py, to Slack channels.
SLACK_ROUTES: dict[str, Any] = {
    **ROUTES,
    "routes": [{"match": r["match"], "slack": r["memory"]} for r in ROUTES["routes"]],
}


@dataclass
class Cluster:
    """One shared index (a PostgreSQL database + the Chroma server) and its replicas."""

    database_url: str
    chroma: ChromaProcess
    root: Path
    replicas: list[App] = field(default_factory=list)

    def settings(self, name: str, **overrides: Any) -> dict[str, Any]:
        return {
            "PARTNERBOT_DATA_DIR": str(self.root / name),
            "PARTNERBOT_DATABASE_URL": self.database_url,
            "CHROMA_HOST": self.chroma.host,
            "CHROMA_PORT": self.chroma.port,
            "PARTNERBOT_INDEX_POLL_SECONDS": 3600,  # a test polls when it means to
            "PARTNERBOT_RATE_LIMIT_PER_MINUTE": 10_000,
            **overrides,
        }

    def replica(self, name: str, **overrides: Any) -> App:
        """A replica with a data directory of its own, empty before it starts."""
        assert not (self.root / name).exists()
        app = App(load_settings(**self.settings(name, **overrides)), registry=TEST_PLATFORMS)
        self.replicas.append(app)
        return app

    def env(self, name: str, **overrides: Any) -> dict[str, str]:
        """The environment of a `partnerbot` command run as replica `name`."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PARTNERBOT_", "CHROMA_", "SLACK_", "DISCORD_"))
        }
        settings = {k: str(v) for k, v in self.settings(name, **overrides).items()}
        return {**base, **settings, "PYTHONPATH": str(ROOT)}

    def state(self) -> dict[str, Any]:
        """Everything the shared index holds: the catalog's rows and Chroma's collections."""
        with psycopg.connect(self.database_url) as conn:
            tables = {
                table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
                for table in ("index_generations", "index_documents", "index_chunks")
            }
        client = chromadb.HttpClient(host=self.chroma.host, port=self.chroma.port)
        mine = self.catalog_id()
        collections = {c.name: c.count() for c in client.list_collections() if mine[:8] in c.name}
        return {**tables, "collections": collections}

    def catalog_id(self) -> str:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute("SELECT value FROM index_meta WHERE key = 'catalog_id'").fetchone()
        return str(row[0]) if row else ""


@pytest.fixture
def cluster(
    postgres_server: PostgresServer, chroma_server: ChromaProcess, tmp_path: Path
) -> Iterator[Cluster]:
    url = postgres_server.create_database("replicas")
    built = Cluster(url, chroma_server, tmp_path / "replicas")
    yield built
    for app in built.replicas:
        app.close()
    postgres_server.drop_database(url)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "program-docs"
    folder.mkdir()
    (folder / "security.md").write_text(SECURITY, encoding="utf-8")
    (folder / "deals.md").write_text(DEALS, encoding="utf-8")
    return folder


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


def ask(app: App, text: str) -> Answer:
    return app.core.ask(Question(text, platform="slack", asker="U0PARTNER"))


def top_text(app: App, hits: list[tuple[str, float]]) -> str:
    assert hits, "nothing found"
    return app.core.index.chunks([hits[0][0]])[hits[0][0]].text


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def on_slack(fake: FakeSlack, *replicas: App) -> AsyncIterator[list[SlackDriver]]:
    """Each replica's real Slack platform (HTTP mode) running against the one stand-in."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(running_slack(r, fake)) for r in replicas]


def notices(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages(channel) if m.get("metadata")]


# -- one index ------------------------------------------------------------------------------------
def test_an_edit_and_a_new_document_indexed_through_one_replica_are_answered_by_another_replica(
    cluster: Cluster, docs: Path
) -> None:
    a = cluster.replica("a")
    b = cluster.replica("b")
    assert a.core.reindex(docs).ok
    assert "3 certified people" in ask(b, SECURITY_QUESTION).text

    (docs / "security.md").write_text(SECURITY.replace("3 certified", "7 certified"))
    report = a.core.reindex(docs)
    assert report.updated == ["security.md"]
    assert "3 certified people" in ask(b, SECURITY_QUESTION).text  # until B polls
    assert b.core.index.poll()  # one poll
    answer = ask(b, SECURITY_QUESTION)
    assert "7 certified people" in answer.text and "3 certified" not in answer.text
    assert answer.sources[0].path == "security.md"
    index = b.core.index
    vector = index.embedder.embed([SECURITY_QUESTION])[0]
    assert "7 certified people" in top_text(b, index.dense_search(vector, 3))
    assert "7 certified people" in top_text(b, index.refresh_lexical().search("certified", 3))

    # A replica following on its own (a poll every 0.2 s) finds a new document.
    c = cluster.replica("c", PARTNERBOT_INDEX_POLL_SECONDS=0.2)
    assert ask(c, SECURITY_QUESTION).text == answer.text
    (docs / "mdf.md").write_text(MDF, encoding="utf-8")
    added = a.core.reindex(docs)
    assert added.added == ["mdf.md"] and added.generation is not None
    wait_for(lambda: c.core.index.generation() == added.generation)
    found = ask(c, MDF_QUESTION)
    assert "45 days" in found.text and found.sources[0].path == "mdf.md"
    assert not (cluster.root / "b" / "chroma").exists()  # no replica keeps vectors of its own


def test_a_fresh_replica_with_an_empty_data_dir_serves_and_writes_nothing_to_the_shared_index(
    cluster: Cluster, docs: Path, fake: FakeSlack, tmp_path: Path
) -> None:
    first = cluster.replica("first")  # the shared index is still empty
    assert first.core.ensure_indexed() is None  # the empty-index convenience is embedded-only
    assert cluster.state()["index_generations"] == []
    assert ask(first, SECURITY_QUESTION).abstained

    routes = write_routes(tmp_path, SLACK_ROUTES)
    admin = cluster.replica("admin", PARTNERBOT_COMMS_ROUTES=str(routes))
    admin.core.reindex(docs)
    assert isinstance(admin.comms.add_file(write_comm(tmp_path)), RegisterResult)
    assert len(cluster.state()["index_generations"]) == 1  # registered, not indexed yet
    admin.core.reindex(docs)  # an index run indexes the communication too
    assert len(cluster.state()["index_generations"]) == 2
    # One more, registered after: a dispatcher writing on its own would index it now.
    second = write_comm(tmp_path, "second.yml", id="second-comm", title="Second letter")
    assert isinstance(admin.comms.add_file(second), RegisterResult)
    before = cluster.state()

    # The real `partnerbot serve` on an empty data directory, with the default documents
    # folder (the samples), its dispatcher ticking every 0.2 s.
    slack_port, health_port = free_port(), free_port()
    env = cluster.env(
        "fresh",
        PARTNERBOT_COMMS_ROUTES=routes,
        PARTNERBOT_COMMS_POLL_SECONDS=0.2,
        PARTNERBOT_HEALTH_HOST="127.0.0.1",
        PARTNERBOT_HEALTH_PORT=health_port,
        **slack_settings(fake, "http", SLACK_PORT=str(slack_port)),
    )
    assert "PARTNERBOT_DOCS_DIR" not in env
    serving = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: _ready(health_port) or serving.poll() is not None, 120)
        assert serving.poll() is None, serving.stderr.read() if serving.stderr else ""
        event = mention(SECURITY_QUESTION)
        asyncio.run(_deliver(f"http://127.0.0.1:{slack_port}/slack/events", event))
        [reply] = asyncio.run(posted(fake, thread_ts=event["ts"], timeout=60))
        assert "3 certified people" in reply.params["text"]
        time.sleep(1.0)  # several dispatcher ticks
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(timeout=30)
    assert serving.returncode == 0
    assert cluster.state() == before
    assert sorted(os.listdir(cluster.root / "fresh")) == ["bm25"]  # a local cache only


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return bool(json.loads(r.read())["ready"])
    except OSError:
        return False


async def _deliver(url: str, event: dict[str, Any]) -> None:
    """Slack's side: one signed Events API request."""
    body = json.dumps(event_callback(event)).encode()
    headers = {"Content-Type": "application/json", **sign_request(body, SLACK_SECRET)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()


# -- generations ----------------------------------------------------------------------------------
REBUILT_SAMPLES = (
    "renewal-annual-fee.md",
    "2026-benefits-update.md",
    "2025-benefits-guide.md",
    "deal-registration.md",
    "tiers-2026.md",
    "csat-requirement.md",
)


def test_index_rebuild_on_one_replica_while_another_replica_answers_fifty_questions(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The real `partnerbot index --rebuild` in its own process; B follows every 0.2 s, C
    never polls, so it is still on the old generation when its collection is dropped."""
    questions = {
        "what is the annual fee for member partners": "USD 495",
        "how many internal use licenses do advanced partners get": "50 internal-use licenses",
    }
    docs = tmp_path / "docs"  # some of the samples (the two answers among them): a rebuild
    docs.mkdir()  # of these takes seconds, and B answers all along it
    for name in REBUILT_SAMPLES:
        shutil.copy(SAMPLES_DIR / "docs" / name, docs)
    a = cluster.replica("a")
    assert a.core.reindex(docs).ok
    b = cluster.replica("b", PARTNERBOT_INDEX_POLL_SECONDS=0.2)
    c = cluster.replica("c")
    first = b.core.index.generation()
    assert first == c.core.index.generation() > 0
    failures: list[str] = []
    asked = 0

    def ask_all(app: App) -> None:
        nonlocal asked
        for question, fact in questions.items():
            asked += 1
            try:
                answer = ask(app, question)
            except Exception as e:  # ask never raises; count it if it does
                failures.append(f"{question}: raised {e!r}")
                continue
            if answer.kind != "answer" or answer.abstained or fact not in answer.text:
                failures.append(f"{question}: {answer.kind} {answer.text[:120]!r}")

    command = [sys.executable, "-m", "bot.cli", "index", "--json", str(docs)]
    rebuild = subprocess.Popen(
        [*command, "--rebuild"],
        env=cluster.env("a", PARTNERBOT_INDEX_GRACE_SECONDS=0),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    during = 0
    while rebuild.poll() is None:
        ask_all(b)
        during += 2
        time.sleep(0.05)
    _, err = rebuild.communicate()
    assert rebuild.returncode == 0, err.decode()
    assert during >= 10  # B answered all along the rebuild
    wait_for(lambda: b.core.index.generation() > first)
    assert c.core.index.generation() == first  # C has not looked yet

    # The next index run (nothing changed) drops the old collection: grace period 0.
    again = subprocess.run(
        command, env=cluster.env("a", PARTNERBOT_INDEX_GRACE_SECONDS=0), capture_output=True
    )
    assert again.returncode == 0, again.stderr.decode()
    assert len(cluster.state()["collections"]) == 1
    ask_all(c)  # its first question finds the collection gone, and C follows
    ask_all(b)
    while asked < 50:
        ask_all(c)
        ask_all(b)
    assert c.core.index.generation() == b.core.index.generation() > first
    assert failures == [], failures[:5]


# -- exactly once ---------------------------------------------------------------------------------
def test_three_replicas_post_each_due_notice_once_per_channel(
    cluster: Cluster, fake: FakeSlack, tmp_path: Path
) -> None:
    routes = write_routes(tmp_path, SLACK_ROUTES)
    clock = Clock(before_send(days=20))
    replicas = [
        cluster.replica(name, PARTNERBOT_COMMS_ROUTES=str(routes), **slack_settings(fake, "http"))
        for name in ("r1", "r2", "r3")
    ]
    for app in replicas:
        app.comms.clock = clock
    assert isinstance(replicas[0].comms.add_file(write_comm(tmp_path)), RegisterResult)
    dispatchers = [
        Dispatcher(comms=app.comms, store=app.store, posters=app.posters) for app in replicas
    ]
    clock.set(before_send(days=14))

    async def tick_together() -> list[str]:
        async with on_slack(fake, *replicas):
            reports = await asyncio.gather(*(asyncio.to_thread(d.run_once) for d in dispatchers))
        return [key for report in reports for key in report.posted]

    posted_keys = asyncio.run(tick_together())
    counts = {channel: len(notices(fake, channel)) for channel in PARTNER_CHANNELS}
    assert counts == {ANZ: 1, EMEA: 1, **{c: 0 for c in PARTNER_CHANNELS if c not in (ANZ, EMEA)}}
    assert sorted(k.split(":")[-1] for k in posted_keys) == [ANZ, EMEA]


def test_a_slack_retry_delivered_to_another_replica_is_answered_once(
    cluster: Cluster, docs: Path, fake: FakeSlack
) -> None:
    a = cluster.replica("a", **slack_settings(fake, "http"))
    b = cluster.replica("b", **slack_settings(fake, "http"))
    a.core.reindex(docs)

    async def deliver() -> None:
        async with on_slack(fake, a, b) as (to_a, to_b):
            event = mention(SECURITY_QUESTION)
            await to_a.event(event, event_id="Ev0REPLICA1")
            await posted(fake, thread_ts=event["ts"])
            # Slack did not see A's ack in time and retries; the load balancer picks B.
            status, _ = await to_b.event(event, event_id="Ev0REPLICA1", retry=1, store=False)
            assert status == 200
            await settle(to_b)
            await settle(to_a)
            assert len(await posted(fake, thread_ts=event["ts"])) == 1

    asyncio.run(deliver())


def test_a_change_digest_published_from_two_replicas_at_once_is_posted_once(
    cluster: Cluster, docs: Path, fake: FakeSlack
) -> None:
    channels = "slack:C0CHANGES"
    a = cluster.replica("a", PARTNERBOT_CHANGES_CHANNELS=channels, **slack_settings(fake, "http"))
    b = cluster.replica("b", PARTNERBOT_CHANGES_CHANNELS=channels, **slack_settings(fake, "http"))
    a.core.reindex(docs)
    (docs / "security.md").write_text(SECURITY.replace("3 certified", "7 certified"))
    a.core.reindex(docs)
    assert b.changes.select(), "the change is in the shared store"

    async def publish_together() -> list[Any]:
        async with on_slack(fake, a, b):
            return list(
                await asyncio.gather(
                    asyncio.to_thread(a.changes.publish), asyncio.to_thread(b.changes.publish)
                )
            )

    results = asyncio.run(publish_together())
    digests = notices(fake, "C0CHANGES")
    assert len(digests) == 1 and "7" in digests[0]["text"]
    assert sum(len(r.posted) for r in results) == 1
    assert not a.changes.select() and not b.changes.select()  # published, for both
