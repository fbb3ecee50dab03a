"""Posting partner-channel notices on Discord (the core's `ChannelPoster`).

Each notice is an embed whose footer carries the delivery key, so `find` can tell
after a crash whether a notice was already posted by scanning recent channel
history. The methods block (the core calls them from worker threads) and run the
actual requests on the client's event loop; discord.py honours REST 429s itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import discord

from adapters.discord.components import notice_view
from adapters.discord.render import notice_embed
from bot.errors import PartnerbotError
from bot.notify import Notice

logger = logging.getLogger(__name__)

T = TypeVar("T")

FOOTER_PREFIX = "partnerbot · "
HISTORY_SCANNED = 100  # recent messages `find` looks through
NONCE_LENGTH = 25  # Discord's maximum


def footer_for(key: str) -> str:
    return f"{FOOTER_PREFIX}{key}"


def nonce_for(key: str) -> str:
    """A short, stable nonce for a delivery key (Discord allows at most 25 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:NONCE_LENGTH]


class DiscordPoster:
    """`ChannelPoster` for Discord; usable once the service has connected."""

    platform = "discord"

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._client: discord.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, client: discord.Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client, self._loop = client, loop

    def detach(self) -> None:
        self._client = self._loop = None

    # -- ChannelPoster (blocking, from worker threads) ------------------------------------------
    def post(self, channel: str, notice: Notice) -> str:
        return self._run(self.post_async(channel, notice))

    def find(self, channel: str, key: str) -> str | None:
        return self._run(self.find_async(channel, key))

    def permalink(self, channel: str, message_id: str) -> str | None:
        """The https://discord.com link to a posted message (None when not connected)."""
        try:
            return self._run(self._permalink(channel, message_id))
        except PartnerbotError:
            return None

    # -- the same, for callers already on the client's loop ------------------------------------
    async def post_async(self, channel: str, notice: Notice) -> str:
        target = await self._channel(channel)
        kwargs: dict[str, Any] = {
            "embed": notice_embed(notice, footer=footer_for(notice.key)),
            "nonce": nonce_for(notice.key),
        }
        view = notice_view(notice)
        if view is not None:
            kwargs["view"] = view
        try:
            sent = await target.send(**kwargs)
        except discord.HTTPException as e:
            raise PartnerbotError(
                f"could not post notice {notice.key!r} to Discord channel {channel}: {e}"
            ) from e
        logger.info("posted notice %s to Discord channel %s as %s", notice.key, channel, sent.id)
        return str(sent.id)

    async def find_async(self, channel: str, key: str) -> str | None:
        target = await self._channel(channel)
        footer = footer_for(key)
        me = self._require_client().user
        try:
            async for msg in target.history(limit=HISTORY_SCANNED):
                if me is not None and msg.author.id != me.id:
                    continue
                if any(e.footer.text == footer for e in msg.embeds):
                    return str(msg.id)
        except discord.HTTPException as e:
            raise PartnerbotError(
                f"could not read Discord channel {channel} to look for notice {key!r}: {e}"
            ) from e
        return None

    async def _permalink(self, channel: str, message_id: str) -> str | None:
        found = self._cached_channel(self._require_client(), channel)
        if found is None:
            return None
        guild = getattr(found, "guild", None)
        return (
            f"https://discord.com/channels/{guild.id if guild else '@me'}/{found.id}/{message_id}"
        )

    # -- helpers -------------------------------------------------------------------------------
    def _require_client(self) -> discord.Client:
        if self._client is None:
            raise PartnerbotError("Discord is not connected yet; the notice will be retried")
        return self._client

    @staticmethod
    def _cached_channel(client: discord.Client, channel: str) -> Any:
        ident = channel.strip().lstrip("#")
        if ident.isdigit():
            return client.get_channel(int(ident))
        return discord.utils.get(client.get_all_channels(), name=ident)

    async def _channel(self, channel: str) -> discord.abc.Messageable:
        """A channel by id (or by #name across the bot's guilds)."""
        client = self._require_client()
        found = self._cached_channel(client, channel)
        ident = channel.strip().lstrip("#")
        if found is None and ident.isdigit():
            try:
                found = await client.fetch_channel(int(ident))
            except discord.HTTPException as e:
                raise PartnerbotError(
                    f"Discord channel {channel} is unknown or not visible to the bot: {e}"
                ) from e
        if not isinstance(found, discord.abc.Messageable):
            raise PartnerbotError(
                f"Discord channel {channel!r} not found: use a text channel id the bot can see"
            )
        return found

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or self._client is None:
            coro.close()
            raise PartnerbotError("Discord is not connected yet; the notice will be retried")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("DiscordPoster.post/find block: call them from a worker thread")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(self.timeout)
        except TimeoutError as e:
            future.cancel()  # the core retries; `find` then spots a post that did get through
            raise PartnerbotError(f"Discord did not answer within {self.timeout:.0f} s") from e
