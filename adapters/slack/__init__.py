"""Slack (slack-bolt): `PLATFORM` for the platform registry; the SDK loads only on build."""

from __future__ import annotations

from typing import Any

from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Notice
from bot.platform import MessagePreview
from bot.prompts import message


class SlackSpec:
    name = "slack"

    def preview_notice(self, notice: Notice) -> MessagePreview:
        """The notice as Slack will show it (the console's preview)."""
        from adapters.slack.preview import preview_notice

        return preview_notice(notice)

    def configured(self, settings: Settings) -> bool:
        return settings.slack_bot_token is not None

    def build(self, chat: ChatService, settings: Settings, *, listen: bool = True) -> Any:
        """Fail fast, naming the variable, when one the mode needs is unset."""
        from adapters.slack.app import SlackPlatform

        s = settings
        needs = {
            "slack_bot_token": True,
            "slack_app_token": listen and s.slack_mode == "socket",
            "slack_signing_secret": listen and s.slack_mode == "http",
        }
        for name in (n for n, needed in needs.items() if needed and not secret(getattr(s, n))):
            raise ConfigError(message(f"config_{name}"))
        return SlackPlatform(chat, settings, listen=listen)


def secret(value: Any) -> str:
    return value.get_secret_value().strip() if value is not None else ""


PLATFORM = SlackSpec()
