"""Discord adapter (discord.py): mentions, DMs, threads and slash commands, answered by the core."""

from __future__ import annotations

from typing import Any

from adapters.discord.service import DiscordService
from bot.core import PartnerBot
from bot.errors import ConfigError

__all__ = ["DiscordService", "build_discord"]


def build_discord(bot: PartnerBot, **options: Any) -> DiscordService:
    """The Discord service for `partnerbot serve` (named "discord"); fails fast on bad settings.

    ``options`` go to the client (e.g. ``guild_ready_timeout``) or the service
    (``token``, ``ready_timeout``).
    """
    s = bot.settings
    token = options.pop("token", None) or (
        s.discord_bot_token.get_secret_value() if s.discord_bot_token else ""
    )
    if not token.strip():
        raise ConfigError(
            "DISCORD_BOT_TOKEN is not set. Create a bot in the Discord Developer Portal "
            "(your application → Bot) and put its token in DISCORD_BOT_TOKEN."
        )
    for name, values in (
        ("DISCORD_GUILD_IDS", s.discord_guild_ids),
        ("DISCORD_ADMIN_ROLE_IDS", s.discord_admin_role_ids),
        ("DISCORD_ADMIN_USER_IDS", s.discord_admin_user_ids),
    ):
        bad = [v for v in values if not v.isdigit()]
        if bad:
            raise ConfigError(
                f"{name} must be comma-separated numeric Discord ids (Developer Mode → "
                f"right-click → Copy ID); not an id: {bad[0]!r}"
            )
    return DiscordService(bot, token=token.strip(), **options)
