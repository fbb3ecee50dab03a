"""Notices on Discord: an embed whose footer carries the delivery key, so `find` can tell
after a crash whether a notice was posted (by scanning recent channel history)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord

from adapters.discord.render import render_notice
from bot.errors import PartnerbotError
from bot.models import Notice
from bot.posting import LoopPoster, Unreachable

Call = Callable[[Any, Callable[[], Awaitable[Any]]], Awaitable[Any]]  # DiscordPlatform.call


def footer_for(key: str) -> str:
    return f"partnerbot · {key}"


def nonce_for(key: str) -> str:
    """A short, stable nonce for a delivery key (Discord allows at most 25 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


class DiscordPoster(LoopPoster):
    platform = "discord"

    def __init__(self, client: Callable[[], discord.Client | None], call: Call) -> None:
        super().__init__()
        self.client, self.call = client, call

    async def post_async(self, channel: str, notice: Notice) -> str:
        return await self._send(await self._channel(channel), notice)

    async def open_direct(self, user: str) -> str:
        person = await self._client().fetch_user(int(user))
        return str((await person.create_dm()).id)

    async def _send(self, target: Any, notice: Notice) -> str:
        kwargs = render_notice(notice, footer=footer_for(notice.key))
        kwargs["nonce"] = nonce_for(notice.key)
        try:
            return str((await self.call(target, lambda: target.send(**kwargs))).id)
        except discord.HTTPException as e:
            raise PartnerbotError(f"could not post notice {notice.key!r} on Discord: {e}") from e
        except (aiohttp.ClientError, OSError) as e:  # (TimeoutError is an OSError)
            raise Unreachable(f"Discord cannot be reached ({type(e).__name__}: {e})") from e

    async def find_async(self, channel: str, key: str) -> str | None:
        target, me = await self._channel(channel), self._client().user
        try:
            async for msg in target.history(limit=100):
                mine = me is None or msg.author.id == me.id
                if mine and any(e.footer.text == footer_for(key) for e in msg.embeds):
                    return str(msg.id)
        except discord.HTTPException as e:
            raise PartnerbotError(f"could not read Discord channel {channel}: {e}") from e
        return None

    async def permalink_async(self, channel: str, message_id: str) -> str | None:
        guild = getattr(await self._channel(channel), "guild", None)
        return f"https://discord.com/channels/{guild.id if guild else '@me'}/{channel}/{message_id}"

    async def lookup_channel(self, name: str) -> str | None:
        found = discord.utils.get(self._client().get_all_channels(), name=name)
        return str(found.id) if found else None

    def _client(self) -> discord.Client:
        if (client := self.client()) is None:
            raise PartnerbotError("Discord is not connected yet; the post will be retried")
        return client

    async def _channel(self, channel: str) -> Any:
        """A text channel the bot can see, by id."""
        client, ident = self._client(), int(channel) if channel.isdigit() else 0
        try:
            found = client.get_channel(ident)
            found = found or (await client.fetch_channel(ident) if ident else None)
        except discord.HTTPException as e:
            raise PartnerbotError(f"Discord channel {channel} is not visible: {e}") from e
        if not isinstance(found, discord.abc.Messageable):
            raise PartnerbotError(f"Discord channel {channel!r} not found: give a text channel id")
        return found
