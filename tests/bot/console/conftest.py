from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import App
from tests.bot.console.harness import Browserless, Running, console_settings, running_console


@pytest.fixture
def console_app(make_app: Callable[..., App], tmp_path: Path) -> App:
    return make_app(**console_settings(tmp_path / "comms"))


@pytest.fixture
async def running(console_app: App) -> AsyncIterator[Running]:
    async with running_console(console_app) as served:
        yield served


@pytest.fixture
async def client(running: Running) -> AsyncIterator[Browserless]:
    person = Browserless(running)
    yield person
    await person.close()
