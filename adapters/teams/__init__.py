"""Microsoft Teams (Teams SDK for Python): `PLATFORM` for the platform registry; the SDK loads
only on build, without its import-time side effect (it loads any .env file it finds up from
the working directory into the environment, where its settings would read it)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import ConfigError
from bot.prompts import message

# Environment variables the SDK reads in preference to what partnerbot passes it.
SDK_OVERRIDES = ("CLIENT_SECRET",)


@contextlib.contextmanager
def environment_kept() -> Iterator[None]:
    before = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(before)


class TeamsSpec:
    name = "teams"

    def configured(self, settings: Settings) -> bool:
        return settings.teams_app_id is not None

    def build(self, chat: ChatService, settings: Settings, **options: Any) -> Any:
        """Fail fast, naming the variable, on a missing secret or tenant; `options` point the
        platform at stand-ins (tests) or tune it."""
        secret = settings.teams_app_password
        if not (secret and secret.get_secret_value().strip()):
            raise ConfigError(message("config_teams_app_password"))
        if not settings.teams_tenant_id:
            raise ConfigError(message("config_teams_tenant_id"))
        for name in (n for n in SDK_OVERRIDES if os.environ.get(n)):
            raise ConfigError(message("config_teams_sdk_env", name=name))
        with environment_kept():
            from adapters.teams.app import TeamsPlatform
        return TeamsPlatform(chat, settings, **options)


PLATFORM = TeamsSpec()
