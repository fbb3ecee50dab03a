"""The Discord adapter as a `Service` for `partnerbot serve`: start, wait until connected, stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord

from adapters.discord.client import PartnerbotClient
from adapters.discord.poster import DiscordPoster
from bot.core import PartnerBot
from bot.errors import ConfigError, PartnerbotError

logger = logging.getLogger(__name__)


class DiscordService:
    """Runs a `PartnerbotClient`; each start() connects a fresh client (after a stop, too)."""

    name = "discord"

    def __init__(
        self,
        bot: PartnerBot,
        *,
        token: str,
        ready_timeout: float = 30.0,
        **client_options: Any,
    ) -> None:
        self.bot = bot
        self.ready_timeout = ready_timeout
        self.client_options = client_options
        self.poster = DiscordPoster()  # found by the communications dispatcher
        self.client: PartnerbotClient | None = None
        self._token = token
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in, sync commands and connect; returns once the gateway is ready.

        A bad token or a privileged intent that is not enabled fails here with a
        ConfigError naming the fix. If the gateway is merely slow, start() returns
        after `ready_timeout` and discord.py keeps connecting in the background.
        """
        client = PartnerbotClient(self.bot, **self.client_options)
        task = asyncio.create_task(client.start(self._token), name="discord-client")
        ready = asyncio.create_task(client.ready.wait())
        done, _ = await asyncio.wait(
            {task, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if task in done:
            await client.close()
            raise _start_error(task.exception())
        if ready not in done:
            logger.warning(
                "Discord is not ready after %.0f s; still connecting", self.ready_timeout
            )
        task.add_done_callback(_log_exit)
        self.client, self._task = client, task
        self.poster.attach(client, asyncio.get_running_loop())
        self._change_posters().append(self.poster)  # change digests post here too

    async def stop(self) -> None:
        posters = self._change_posters()
        if self.poster in posters:
            posters.remove(self.poster)
        self.poster.detach()
        client, task = self.client, self._task
        self.client = self._task = None
        if client is not None:
            await client.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)

    def _change_posters(self) -> list[Any]:
        changes = getattr(self.bot, "changes", None)
        posters = getattr(changes, "posters", None)
        return posters if isinstance(posters, list) else []


def _start_error(error: BaseException | None) -> Exception:
    if isinstance(error, discord.LoginFailure):
        return ConfigError(
            "DISCORD_BOT_TOKEN was rejected by Discord. Copy the token again from the "
            "Developer Portal (your application → Bot → Reset Token)."
        )
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return ConfigError(
            "DISCORD_MESSAGE_CONTENT_INTENT=true, but the Message Content intent is not "
            "enabled for this bot. Enable it in the Developer Portal (Bot → Privileged "
            "Gateway Intents) or unset DISCORD_MESSAGE_CONTENT_INTENT."
        )
    error_type = type(error).__name__ if error else "no error"
    return PartnerbotError(f"the Discord client stopped while connecting ({error_type})")


def _log_exit(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        logger.error("the Discord client stopped: %s", type(error).__name__, exc_info=error)
