"""Notices on Slack: each carries message metadata (event type `partnerbot_notice`, payload
`{"key": <delivery key>}`), so `find` can tell after a crash whether it was posted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import render_notice
from bot.errors import PartnerbotError
from bot.models import Notice
from bot.posting import LoopPoster, Unreachable

logger = logging.getLogger(__name__)

EVENT_TYPE = "partnerbot_notice"
PROBE_SECONDS = 5.0  # how long `reachable` waits for auth.test


class SlackPoster(LoopPoster):
    platform = "slack"
    per_channel_interval = 1.0  # Slack takes about one message a second per channel

    def __init__(self, client: AsyncWebClient, **options: Any) -> None:
        super().__init__(**options)
        self.client = client

    async def post_async(self, channel: str, notice: Notice) -> str:
        meta = {"event_type": EVENT_TYPE, "event_payload": {"key": notice.key}}
        post = self.client.chat_postMessage
        kwargs = {"channel": channel, "metadata": meta, "unfurl_links": False}
        sent = await self._call(
            f"post to Slack channel {channel}", post, **kwargs, **render_notice(notice).as_kwargs()
        )
        return str(sent["ts"])

    async def open_direct(self, user: str) -> str:
        opened = await self._call(
            f"open a DM with {user}", self.client.conversations_open, users=user
        )
        return str(opened["channel"]["id"])

    async def find_async(self, channel: str, key: str) -> str | None:
        cursor, history = None, self.client.conversations_history
        page = {"channel": channel, "include_all_metadata": True, "limit": 200}
        for _ in range(5):  # pages of recent history
            got = await self._call(f"read Slack channel {channel}", history, **page, cursor=cursor)
            for msg in got.get("messages") or []:
                meta = msg.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and meta["event_payload"].get("key") == key:
                    return str(msg["ts"])
            cursor = (got.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def permalink_async(self, channel: str, message_id: str) -> str | None:
        got = await self.client.chat_getPermalink(channel=channel, message_ts=message_id)
        return got.get("permalink")

    async def lookup_channel(self, name: str) -> str | None:
        """Not found (or no channels:read scope): the #name, which Slack accepts for posting."""
        cursor, kinds = None, "public_channel,private_channel"
        for _ in range(20):
            try:
                got = await self.client.conversations_list(types=kinds, limit=1000, cursor=cursor)
            except SlackApiError as e:
                logger.warning(
                    "could not look up Slack channel #%s: %s", name, e.response.get("error")
                )
                return None
            found = [c["id"] for c in got.get("channels") or [] if c.get("name") == name]
            cursor = (got.get("response_metadata") or {}).get("next_cursor")
            if found or not cursor:
                return found[0] if found else None
        return None

    async def reachable_async(self) -> bool:
        await asyncio.wait_for(self._call("reach Slack", self.client.auth_test), PROBE_SECONDS)
        return True

    async def _call(self, what: str, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        try:
            return await method(**kwargs)
        except SlackApiError as e:
            raise PartnerbotError(f"could not {what}: {e.response.get('error')}") from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise slack_unreachable(e, self.client.timeout) from e


def slack_unreachable(error: BaseException, timeout: float) -> Unreachable:
    """What a Slack call that got no answer says: the timeout that fired, or why not."""
    if isinstance(error, TimeoutError):
        return Unreachable(f"Slack did not answer within {timeout:g} s")
    return Unreachable(f"Slack cannot be reached ({type(error).__name__}: {error})")
