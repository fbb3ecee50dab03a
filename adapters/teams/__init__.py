"""Microsoft Teams (Teams SDK for Python): `PLATFORM` for the platform registry. The SDK loads
only on build, and without its side effect: importing it loads any .env file found up from
the working directory into the environment, where its settings (CLIENT_SECRET, …) are read."""

from __future__ import annotations

import os
import warnings
from typing import Any

from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Notice
from bot.platform import MessagePreview
from bot.prompts import message


class TeamsSpec:
    name = "teams"

    def configured(self, settings: Settings) -> bool:
        return settings.teams_app_id is not None

    def preview_notice(self, notice: Notice) -> MessagePreview:
        """The notice as Teams will show it (the console's preview), without loading the SDK."""
        from adapters.teams.preview import preview_notice

        return preview_notice(notice)

    def build(self, chat: ChatService, settings: Settings, **options: Any) -> Any:
        """Fail fast on a missing setting, or one the SDK would read instead (naming it)."""
        secret = settings.teams_app_password
        if not (secret and secret.get_secret_value().strip()):
            raise ConfigError(message("config_teams_app_password"))
        if not settings.teams_tenant_id:
            raise ConfigError(message("config_teams_tenant_id"))
        if os.environ.get("CLIENT_SECRET"):  # (it would replace the bot's own credentials)
            raise ConfigError(message("config_teams_sdk_env", name="CLIENT_SECRET"))
        before = dict(os.environ)
        try:
            with warnings.catch_warnings():  # (its preview features warn when imported)
                warnings.simplefilter("ignore")
                from adapters.teams.app import TeamsPlatform
        finally:
            os.environ.clear()
            os.environ.update(before)
        return TeamsPlatform(chat, settings, **options)


PLATFORM = TeamsSpec()
