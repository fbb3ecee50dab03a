"""Discord (discord.py): `PLATFORM` for the platform registry; the SDK loads only on build."""

from __future__ import annotations

from typing import Any

from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Notice
from bot.platform import MessagePreview
from bot.prompts import message


class DiscordSpec:
    name = "discord"

    def preview_notice(self, notice: Notice) -> MessagePreview:
        """The notice as Discord will show it (the console's preview)."""
        from adapters.discord.preview import preview_notice

        return preview_notice(notice)

    def configured(self, settings: Settings) -> bool:
        return settings.discord_bot_token is not None

    def build(self, chat: ChatService, settings: Settings, **options: Any) -> Any:
        """Fail fast on a missing token; `options` go to the platform or the client."""
        from adapters.discord.client import DiscordPlatform

        secret = settings.discord_bot_token
        if not (token := secret.get_secret_value().strip() if secret else ""):
            raise ConfigError(message("config_discord_bot_token"))
        return DiscordPlatform(chat, settings, token=token, **options)


PLATFORM = DiscordSpec()
