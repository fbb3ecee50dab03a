"""Shared fixtures: isolated environment, a process left as found, and a bot over the indexed
sample documents.

Indexing the samples costs several seconds, so it happens once per test session;
each test gets its own copy of the data directory and can change it freely.

State backend: SQLite in each test's data directory, unless the session runs with
PARTNERBOT_TEST_DATABASE=postgres — then every test gets a fresh database on a
throwaway PostgreSQL server (tests/postgres_server.py, started once per session)
through PARTNERBOT_DATABASE_URL, so any suite runs against PostgreSQL unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import SAMPLES_DIR, Settings
from bot.core import PartnerBot
from bot.platform import PlatformRegistry
from knowledge import embeddings
from knowledge.embeddings import DEFAULT_BATCH, MINILM_NAME
from tests.chroma_server import ChromaProcess
from tests.postgres_server import PostgresServer
from tests.process_state import left_as_found
from tests.remembered_embeddings import RememberingEmbedder

__all__ = ["left_as_found"]  # autouse: every test leaves the process as it found it

SAMPLE_DOCS = SAMPLES_DIR / "docs"
# The real platforms, plus the in-memory one scenario tests run on.
TEST_PLATFORMS = PlatformRegistry(
    {
        "slack": "adapters.slack",
        "discord": "adapters.discord",
        "teams": "adapters.teams",
        "memory": "tests.fakes.memory_platform",
    }
)
_PREFIXES = ("PARTNERBOT_", "SLACK_", "DISCORD_", "TEAMS_", "OPENAI_", "CHROMA_")
# What the Teams SDK reads from the environment (besides what partnerbot passes it).
_TEAMS_SDK = {"CLIENT_ID", "CLIENT_SECRET", "TENANT_ID", "SERVICE_URL", "CLOUD", "PORT"}
_TEAMS_SDK |= {"MANAGED_IDENTITY_CLIENT_ID", "DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS"}
# Read before any test clears the PARTNERBOT_ variables: "postgres" or "sqlite" (default).
TEST_DATABASE = os.environ.get("PARTNERBOT_TEST_DATABASE", "sqlite").strip().lower()
if TEST_DATABASE not in ("sqlite", "postgres"):
    raise pytest.UsageError("PARTNERBOT_TEST_DATABASE must be sqlite or postgres")


@pytest.fixture(scope="session", autouse=True)
def remembered_embeddings() -> Iterator[RememberingEmbedder]:
    """The process's default embedder, for the session: the bundled model, embedding each
    distinct text once (tests/remembered_embeddings.py)."""
    key = (MINILM_NAME, DEFAULT_BATCH)
    before = embeddings._cache.get(key)
    embedder = embeddings._cache[key] = RememberingEmbedder(batch_size=DEFAULT_BATCH)
    yield embedder
    if before is None:
        del embeddings._cache[key]
    else:
        embeddings._cache[key] = before


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session; if it cannot start, its tests fail."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chroma_server() -> Iterator[ChromaProcess]:
    """A real `chroma run` server for the session; if it cannot start, its tests fail."""
    server = ChromaProcess().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def isolated_env(
    left_as_found: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    """No test sees the developer's tokens, .env or data directory. (After `left_as_found`:
    what is changed here is put back before it looks.)"""
    for key in list(os.environ):
        proxies = {"http_proxy", "https_proxy", "all_proxy"}
        if key.startswith(_PREFIXES) or key in _TEAMS_SDK or key.lower() in proxies:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(tmp_path / "data"))
    # `serve`'s health endpoints on a free local port: tests run side by side.
    monkeypatch.setenv("PARTNERBOT_HEALTH_HOST", "127.0.0.1")
    monkeypatch.setenv("PARTNERBOT_HEALTH_PORT", "0")
    monkeypatch.chdir(tmp_path)
    if TEST_DATABASE != "postgres":
        yield
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database("scenario")
    monkeypatch.setenv("PARTNERBOT_DATABASE_URL", url)
    yield
    server.drop_database(url)


@pytest.fixture
def make_docs(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """make_docs({name: text}) → a documents folder holding these files."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "docs"
        root.mkdir(exist_ok=True)
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        return root

    return write


@pytest.fixture(scope="session")
def indexed_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the sample documents indexed (built once per session)."""
    data_dir = tmp_path_factory.mktemp("indexed-samples")
    bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=data_dir))  # type: ignore[call-arg]
    report = bot.reindex(SAMPLE_DOCS)
    assert report.ok and report.added, report.failed
    bot.close()
    return data_dir


@pytest.fixture
def make_bot(indexed_samples: Path, tmp_path: Path) -> Iterator[Callable[..., PartnerBot]]:
    """make_bot(**settings) → a PartnerBot over a private copy of the indexed samples."""
    bots: list[PartnerBot] = []

    def factory(**overrides: Any) -> PartnerBot:
        data_dir = tmp_path / f"bot-{len(bots)}"
        shutil.copytree(indexed_samples, data_dir)
        settings = Settings(PARTNERBOT_DATA_DIR=data_dir, **overrides)
        bot = PartnerBot(settings)
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        bot.close()


@pytest.fixture
def bot(make_bot: Callable[..., PartnerBot]) -> PartnerBot:
    return make_bot()


@pytest.fixture
def make_app(indexed_samples: Path, tmp_path: Path) -> Iterator[Callable[..., App]]:
    """make_app(**settings) → the composed app (core, features, chat service) over a private
    copy of the indexed samples; platforms from TEST_PLATFORMS (memory included)."""
    apps: list[App] = []

    def factory(**overrides: Any) -> App:
        data_dir = tmp_path / f"app-{len(apps)}"
        shutil.copytree(indexed_samples, data_dir)
        app = App(Settings(PARTNERBOT_DATA_DIR=data_dir, **overrides), registry=TEST_PLATFORMS)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()
