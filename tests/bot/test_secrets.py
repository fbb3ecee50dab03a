"""A key is never printed: every secret setting holds a canary of its own, and every way
partnerbot fails with them — a provider refusing the key with the key echoed in its error,
a provider down, a bad database URL, Slack and Discord refusing the token — runs through
the real CLI and `serve`, with text and JSON log lines (tracebacks at DEBUG too). No canary
is in their stdout, stderr, any file of their data directories, or what reached Slack;
each failure is one line saying what to check."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from bot.config import Settings
from tests.adapters.slack_harness import mention
from tests.bot.test_web import exchange, request
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, event_callback, sign_request
from tests.postgres_server import PostgresServer
from tests.serve_process import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
SECRET_SETTINGS = sorted(
    f.alias or name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)
)
QUESTION = "what is the annual fee for member partners"
JSON_DEBUG = {"PARTNERBOT_LOG_FORMAT": "json", "PARTNERBOT_LOG_LEVEL": "DEBUG"}


@dataclass
class Run:
    what: str
    code: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """The one line saying why it failed (its message, when log lines are JSON)."""
        lines = [x for x in self.stderr.splitlines() if x.strip()]
        found = [json.loads(x) for x in lines if x.startswith("{")]
        errors = [r["message"] for r in found if r["level"] == "ERROR"]
        errors += [x for x in lines if x.startswith("error: ")]
        assert len(errors) == 1, self
        return str(errors[0])


class Canaries:
    """A canary per secret setting; the environments that hold them; what ran with them."""

    def __init__(self, postgres: PostgresServer, tmp_path: Path) -> None:
        tag = uuid.uuid4().hex[:10]
        self.values = {n: f"canary-{n.lower().replace('_', '-')}-{tag}" for n in SECRET_SETTINGS}
        self.tmp_path = tmp_path
        self.runs: list[Run] = []
        self.data_dirs: list[Path] = []
        # The state database: a role whose password is the database URL's canary.
        self.role = self.database = f"canary_{tag}"
        self.password = self.values["PARTNERBOT_DATABASE_URL"]
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {self.role} LOGIN PASSWORD '{self.password}'")
            conn.execute(f"CREATE DATABASE {self.database} OWNER {self.role}")
        self.host = f"127.0.0.1:{postgres.port}"
        self.values["PARTNERBOT_DATABASE_URL"] = self.url()

    def url(self, *, host: str | None = None, password: str | None = None) -> str:
        secret = password or self.password
        return f"postgresql://{self.role}:{secret}@{host or self.host}/{self.database}"

    @property
    def secrets(self) -> list[str]:
        """What must never be printed or written: each value, the database password."""
        return [*self.values.values(), self.password]

    def env(self, data_dir: Path, /, *without: str, **settings: str) -> dict[str, str]:
        """The environment of a command on this data directory: every canary (but those of
        the settings named `without`), and these settings."""
        prefixes = ("PARTNERBOT_", "SLACK_", "DISCORD_", "OPENAI_", "CHROMA_")
        base = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        self.data_dirs.append(data_dir)
        secrets = {k: v for k, v in self.values.items() if k not in without}
        local = {"PARTNERBOT_HEALTH_HOST": "127.0.0.1", "PARTNERBOT_HEALTH_PORT": "0"}
        return {**base, **secrets, **local, "PARTNERBOT_DATA_DIR": str(data_dir), **settings}

    def cli(self, what: str, env: dict[str, str], *args: str) -> Run:
        env = {**env, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "bot.cli", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        return self.ran(Run(what, done.returncode, done.stdout, done.stderr))

    def ran(self, run: Run) -> Run:
        assert "Traceback" not in run.stdout + run.stderr or "DEBUG" in run.stderr, run
        self.runs.append(run)
        return run

    def leaks(self, *also: tuple[str, str]) -> list[str]:
        """Where a canary was printed or written."""
        texts = [(f"{r.what}: {s}", getattr(r, s)) for r in self.runs for s in ("stdout", "stderr")]
        texts += list(also)
        found = [f"{where}: {s}" for where, text in texts for s in self.secrets if s in text]
        for folder in self.data_dirs:
            for path in (p for p in folder.rglob("*") if p.is_file()):
                data = path.read_bytes()
                found += [f"{path}: {s}" for s in self.secrets if s.encode() in data]
        return found


@pytest.fixture
def canaries(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Canaries]:
    made = Canaries(postgres_server, tmp_path)
    yield made
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {made.database} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {made.role}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_secret_is_printed_or_written_whatever_fails(
    canaries: Canaries, indexed_samples: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text("# Fees\n## Annual fee\nThe Member annual fee is USD 495.\n")

    def indexed(name: str) -> Path:
        shutil.copytree(indexed_samples, tmp_path / name)
        return tmp_path / name

    with FakeOpenAI(refuse_key=True) as echoing, FakeSlack() as slack:
        # The embedding provider refuses the key, its error echoing it: index, then ask.
        openai = {"PARTNERBOT_EMBEDDER": "openai", "OPENAI_BASE_URL": echoing.base_url}
        env = canaries.env(tmp_path / "openai", **openai, **JSON_DEBUG)
        refused = canaries.cli("index, key refused", env, "index", "--rebuild", str(docs))
        assert refused.code == 3
        assert "refused the API key (HTTP 401); check OPENAI_API_KEY" in refused.error
        env = canaries.env(tmp_path / "openai", **openai)
        asked = canaries.cli("ask, key refused", env, "ask", QUESTION)
        assert asked.code == 3 and "refused the API key (HTTP 401)" in asked.error

        # The LLM refuses the key: the answer comes from the documents, a warning says why.
        env = canaries.env(indexed("llm"), OPENAI_BASE_URL=echoing.base_url)
        answered = canaries.cli("ask, the LLM refusing the key", env, "ask", QUESTION)
        assert answered.code == 0 and "USD 495" in answered.stdout
        assert "refused the API key (HTTP 401); check OPENAI_API_KEY" in answered.stderr

        # The provider is down.
        down = f"http://127.0.0.1:{closed_port()}/v1"
        env = canaries.env(tmp_path / "down", PARTNERBOT_EMBEDDER="openai", OPENAI_BASE_URL=down)
        run = canaries.cli("index, provider down", env, "index", str(docs))
        assert run.code == 3 and "cannot be reached; check OPENAI_BASE_URL" in run.error

        # A bad database URL: nothing listens there; the password is wrong.
        for what, url in (
            ("no server", canaries.url(host=f"127.0.0.1:{closed_port()}")),
            ("wrong password", canaries.url(password=canaries.password + "-wrong")),
        ):
            for logs in ({}, JSON_DEBUG):
                env = canaries.env(tmp_path / "db", PARTNERBOT_DATABASE_URL=url, **logs)
                run = canaries.cli(f"ask, database: {what}", env, "ask", QUESTION)
                assert run.code == 3 and "(check PARTNERBOT_DATABASE_URL)" in run.error, run

        # `serve`: Slack refuses the bot token; Discord refuses its token.
        slack_http = {
            "SLACK_MODE": "http",
            "SLACK_HOST": "127.0.0.1",
            "SLACK_PORT": "0",
            "SLACK_API_URL": slack.base_url,
        }
        slack.fail_next("auth.test", error="invalid_auth")  # (its one auth.test)
        env = canaries.env(indexed("slack"), "DISCORD_BOT_TOKEN", **slack_http)
        with ServeProcess(env) as serving:
            code = serving.ended()
        run = canaries.ran(Run("serve, Slack refusing", code, "", "\n".join(serving.lines)))
        assert run.code == 2 and "Slack refused the bot token (invalid_auth)" in run.error
        with FakeDiscord() as discord:
            env = canaries.env(
                indexed("discord"),
                "SLACK_BOT_TOKEN",
                TEST_DISCORD_API=discord.api_base,
                TEST_DISCORD_GATEWAY=discord.gateway_url,
                **JSON_DEBUG,
            )
            with ServeProcess(env) as serving:
                code = serving.ended()
        run = canaries.ran(Run("serve, Discord refusing", code, "", "\n".join(serving.lines)))
        assert run.code == 2 and "DISCORD_BOT_TOKEN was rejected by Discord" in run.error

        # `serve` answering on Slack while the LLM refuses the key; an unsigned request.
        env = canaries.env(
            indexed("serving"),
            "DISCORD_BOT_TOKEN",
            OPENAI_BASE_URL=echoing.base_url,
            **slack_http,
            **JSON_DEBUG,
        )
        with ServeProcess(env) as serving:
            health = int(serving.wait_for_line("web server on").rsplit(":", 1)[1].strip('"} '))
            serving.wait_ready(health)
            [events] = [p for p, r in serving.listening().items() if ("POST", "/slack/events") in r]
            event = mention(QUESTION)
            body = json.dumps(event_callback(event)).encode()
            signature = sign_request(body, canaries.values["SLACK_SIGNING_SECRET"])
            headers = {k.replace("-", "_"): v for k, v in signature.items()}
            sent = request(
                "POST", "/slack/events", body, Content_Type="application/json", **headers
            )
            assert exchange(events, sent) == 200
            assert exchange(events, request("POST", "/slack/events", body)) == 401
            deadline = time.monotonic() + 120
            while not slack.calls_to("chat.postMessage"):
                assert time.monotonic() < deadline, "no answer was posted"
                time.sleep(0.2)
            code = serving.stop()
        run = canaries.ran(Run("serve, answering", code, "", "\n".join(serving.lines)))
        assert run.code == 0
        [answer] = slack.calls_to("chat.postMessage")
        assert "USD 495" in answer.params["text"]
        assert "refused the API key (HTTP 401)" in run.stderr
        reached = [("what reached Slack", json.dumps([c.params for c in slack.calls]))]

    assert canaries.leaks(*reached) == []
