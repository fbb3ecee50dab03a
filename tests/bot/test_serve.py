"""Running services: start in order, stop in reverse within a bound, and `partnerbot serve`
as a process: SIGTERM/SIGINT end it within 10 s even while a platform is unreachable or a
notice is being posted to a platform that does not answer (the delivery handed back);
its health endpoints and JSON log lines; a start-up configuration error is its message,
not a traceback."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.serving.runner import run, serve
from tests.bot.store.test_dispatchers import write_comms
from tests.fakes.discord_server import FakeDiscord, fake_discord
from tests.fakes.slack_server import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


class Service:
    def __init__(self, name: str, log: list[str], *, start: str = "ok", stop_hangs: bool = False):
        self.name, self.log, self.how, self.stop_hangs = name, log, start, stop_hangs

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.how == "hang":
            await asyncio.sleep(3600)
        if self.how == "config":
            raise ConfigError(f"{self.name} is misconfigured")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.stop_hangs:
            await asyncio.sleep(3600)


async def test_services_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    stop = asyncio.Event()
    running = asyncio.create_task(serve([Service("a", log), Service("b", log)], stop=stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert log == ["start a", "start b", "stop b", "stop a"]


async def test_a_stop_while_a_start_hangs_ends_it_and_a_hanging_stop_is_bounded() -> None:
    log: list[str] = []
    stop = asyncio.Event()
    services = [
        Service("a", log, stop_hangs=True),
        Service("b", log, start="hang"),
        Service("c", log),
    ]
    running = asyncio.create_task(serve(services, stop=stop, stop_seconds=0.5))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(running, 5)
    assert time.monotonic() - started < 2
    # Started side by side: c did not wait for b, and each is stopped.
    assert log == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_a_configuration_error_at_start_stops_the_others_and_is_raised() -> None:
    log: list[str] = []
    with pytest.raises(ConfigError, match="b is misconfigured"):
        await asyncio.wait_for(serve([Service("a", log), Service("b", log, start="config")]), 5)
    assert log == ["start a", "start b", "stop b", "stop a"]


# -- `partnerbot serve` as a process -------------------------------------------------------------
# Runs the real CLI; for Discord, discord.py's REST and gateway addresses come from the
# environment first (as FakeDiscord.patch does in-process).
LAUNCH = """
import os, sys, yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
if os.environ.get("TEST_DISCORD_API"):
    Route.BASE = os.environ["TEST_DISCORD_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["TEST_DISCORD_GATEWAY"])
from bot.cli.main import app
sys.argv = ["partnerbot", "serve"]
app()
"""


@pytest.fixture
def served_env(indexed_samples: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    import shutil

    data = tmp_path / "serve-data"
    shutil.copytree(indexed_samples, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    yield {**env, "PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}


def launch(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 60) -> list[str]:
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if text in line:
            return lines
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no line with {text!r} in:\n{''.join(lines)}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_within_10_seconds_while_platforms_are_unreachable(
    served_env: dict[str, str], sig: signal.Signals
) -> None:
    env = {
        **served_env,
        "SLACK_BOT_TOKEN": "xoxb-unreachable",
        "SLACK_APP_TOKEN": "xapp-unreachable",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens on the discard port
        "DISCORD_BOT_TOKEN": "unreachable",
        "TEST_DISCORD_API": "http://127.0.0.1:9/api/v10",
        "TEST_DISCORD_GATEWAY": "ws://127.0.0.1:9/",
    }
    process = launch(env)
    try:
        wait_for_line(process, "slack: cannot connect yet")
        time.sleep(1.5)  # both are retrying in the background now
        started = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout=15)
        took = time.monotonic() - started
    finally:
        process.kill()
    assert took < 10, f"serve took {took:.1f} s to stop"
    assert code == 0
    assert process.stderr is not None and "Traceback" not in process.stderr.read()


def test_a_rejected_token_at_start_is_a_message_not_a_traceback(
    served_env: dict[str, str],
) -> None:
    with FakeSlack() as slack, fake_discord() as discord_fake:
        assert isinstance(discord_fake, FakeDiscord)
        env = {
            **served_env,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test",
            "SLACK_API_URL": slack.base_url,
            "DISCORD_BOT_TOKEN": "not-the-fakes-token",
            "TEST_DISCORD_API": discord_fake.api_base,
            "TEST_DISCORD_GATEWAY": discord_fake.gateway_url,
        }
        result = subprocess.run(
            [sys.executable, "-c", LAUNCH],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "DISCORD_BOT_TOKEN was rejected by Discord" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_at_start_is_a_message_not_a_traceback(served_env: dict[str, str]) -> None:
    env = {**served_env, "DISCORD_BOT_TOKEN": "t", "DISCORD_GUILD_IDS": "general"}
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DISCORD_GUILD_IDS='general': give comma-separated numeric Discord ids" in " ".join(
        result.stderr.split()
    )
    assert "Traceback" not in result.stderr


# -- a slow platform while dispatching; the health endpoints and JSON logs of the process ------
def deliveries(data_dir: Path) -> list[dict[str, object]]:
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT status, attempts, note FROM deliveries")]


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_stops_within_10_seconds_during_a_slow_post_and_hands_back_its_delivery(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    write_comms(folder)  # notices due now, to Slack channels
    # A Slack Web API that answers (the token is good) but never answers a post: it hangs.
    with FakeSlack() as slack:
        slack.hold("chat.postMessage")
        env = {
            **served_env,
            "SLACK_BOT_TOKEN": "xoxb-never-logged-4711",
            "SLACK_SIGNING_SECRET": "signing-secret-never-logged",
            "SLACK_MODE": "http",
            "SLACK_PORT": "0",
            "SLACK_API_URL": slack.base_url,
            "PARTNERBOT_COMMS_DIR": str(folder),
            "PARTNERBOT_COMMS_POLL_SECONDS": "0.2",
            "PARTNERBOT_LOG_FORMAT": "json",
        }
        data_dir = Path(env["PARTNERBOT_DATA_DIR"])
        process = launch(env)
        try:
            lines = wait_for_line(process, "web server on")
            base = re.search(r"http://127\.0\.0\.1:\d+", lines[-1])
            assert base is not None
            deadline = time.monotonic() + 60
            while not any(d["status"] == "claimed" for d in deliveries(data_dir)):
                assert time.monotonic() < deadline, "no delivery was claimed"
                time.sleep(0.1)
            # The running process answers its health endpoints meanwhile.
            assert http_get(base[0] + "/healthz") == (200, '{"status": "alive"}')
            status, body = http_get(base[0] + "/readyz")
            assert status == 200 and json.loads(body)["checks"]["slack"]["ok"] is True
            status, body = http_get(base[0] + "/metrics")
            assert status == 200 and "partnerbot_index_chunks " in body

            time.sleep(0.5)  # the post is on its way to the silent platform
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=15)
            took = time.monotonic() - started
            assert process.stderr is not None
            lines += process.stderr.read().splitlines()
        finally:
            process.kill()
    assert took < 10, f"serve took {took:.1f} s to stop"
    assert code == 0
    records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("stopped while posting" in r["message"] for r in records)
    text = "\n".join(lines)
    assert "xoxb-never-logged-4711" not in text and "signing-secret-never-logged" not in text
    rows = deliveries(data_dir)
    assert not any(r["status"] in ("claimed", "posted") for r in rows)
    handed_back = [r for r in rows if r["attempts"]]
    assert len(handed_back) == 1 and "stopped while posting" in str(handed_back[0]["note"])


# -- tasks left over at the end ------------------------------------------------------------------
def test_tasks_still_pending_when_serve_ends_are_ended_before_the_loop_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found 9: a chat SDK leaves tasks of its own behind (event handlers, typing, its
    gateway); none is destroyed while pending ("Task was destroyed but it is pending!")."""
    left: list[asyncio.Task[None]] = []

    class LeavesATask:
        name = "sdk"

        async def start(self) -> None:
            left.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600), name="sdk"))
            raise ConfigError("stopping here")

        async def stop(self) -> None:
            return None

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises(ConfigError):
            run([LeavesATask()])
        assert left and left[0].cancelled()
        left.clear()
        gc.collect()
    assert "Task was destroyed" not in caplog.text


def test_serve_with_discord_stops_after_answering_without_a_destroyed_task(
    served_env: dict[str, str],
) -> None:
    """Found 9, as `partnerbot serve` on the Discord stand-in: answer, then SIGTERM."""
    with fake_discord() as discord_fake:
        env = {
            **served_env,
            "DISCORD_BOT_TOKEN": "fake-bot-token",
            "TEST_DISCORD_API": discord_fake.api_base,
            "TEST_DISCORD_GATEWAY": discord_fake.gateway_url,
        }
        process = launch(env)
        try:
            wait_for_line(process, "discord started")
            asked = discord_fake.message_create("whats the new CSAT rule for gold?? deadline?")
            deadline = time.monotonic() + 60
            path = f"/channels/{discord_fake.channel_id}/messages"
            while not [r for r in discord_fake.requests if r.method == "POST" and r.path == path]:
                assert time.monotonic() < deadline, "no answer"
                time.sleep(0.05)
            assert asked["id"]
            process.send_signal(signal.SIGTERM)  # while its thread is being opened
            code = process.wait(timeout=15)
            assert process.stderr is not None
            stderr = process.stderr.read()
        finally:
            process.kill()
    assert code == 0
    assert "Task was destroyed" not in stderr and "Traceback" not in stderr, stderr


def test_serving_puts_back_the_signal_handlers_it_found() -> None:
    """`serve` takes SIGINT and SIGTERM while it runs and leaves a program embedding it (or
    the asyncio runner around it) with the handlers it had, not Python's defaults."""

    def mine(signum: int, frame: object) -> None: ...

    async def serve_until_stopped() -> None:
        stop = asyncio.Event()
        stop.set()
        await serve([], stop=stop)

    before = {sig: signal.signal(sig, mine) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        asyncio.run(serve_until_stopped())
        assert signal.getsignal(signal.SIGINT) is mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
