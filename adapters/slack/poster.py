"""Posting partner-channel notices on Slack (the core's `ChannelPoster`).

Each notice goes out with message metadata (event type `partnerbot_notice`, payload
`{"key": <delivery key>}`), so `find` can tell after a crash whether a notice was
already posted by reading recent channel history with `include_all_metadata`.
Blocking (the dispatcher calls it from a worker thread): a sync `WebClient` that
waits out 429 Retry-After, and at most one message per second per channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from adapters.slack.render import (
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    markdown_to_mrkdwn,
    split_text,
    to_mrkdwn,
)
from bot.errors import PartnerbotError
from bot.notify import Notice

logger = logging.getLogger(__name__)

EVENT_TYPE = "partnerbot_notice"
NOTICE_ACKNOWLEDGE = "notice_acknowledge"
NOTICE_ASK = "notice_ask"
ACTION_IDS = {"acknowledge": NOTICE_ACKNOWLEDGE, "ask": NOTICE_ASK}
BUTTON_KINDS = {action_id: kind for kind, action_id in ACTION_IDS.items()}
HEADER_LIMIT = 150
HISTORY_PAGE = 200


def notice_mrkdwn(text: str) -> str:
    """Markdown notice text as Slack mrkdwn (bold, headings, [text](url) links)."""
    return markdown_to_mrkdwn(text)


def notice_blocks(notice: Notice) -> list[dict[str, Any]]:
    """Header, the text in sections, optional fields and link, then the buttons."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": notice.title[:HEADER_LIMIT], "emoji": True},
        }
    ]
    reserved = 3  # fields, link, actions
    for piece in split_text(notice_mrkdwn(notice.text))[: MAX_BLOCKS - 1 - reserved]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
    if notice.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{to_mrkdwn(k)}*\n{to_mrkdwn(v)}"[:2000]}
                    for k, v in notice.fields[:10]
                ],
            }
        )
    if notice.link and notice.link not in notice.text:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{notice.link}>"}]}
        )
    buttons = [
        {
            "type": "button",
            "action_id": ACTION_IDS[b.kind],
            "text": {"type": "plain_text", "text": b.label[:75]},
            "value": b.value[:2000],
            **({"style": "primary"} if b.kind == "acknowledge" else {}),
        }
        for b in notice.buttons
        if b.kind in ACTION_IDS
    ]
    if buttons:
        blocks.append({"type": "actions", "block_id": "partnerbot_notice", "elements": buttons})
    return blocks


def notice_fallback(notice: Notice) -> str:
    text = f"{notice.title}\n{notice_mrkdwn(notice.text)}"
    return text if len(text) <= FALLBACK_LIMIT else text[: FALLBACK_LIMIT - 1] + "…"


class SlackPoster:
    """`ChannelPoster` for Slack over a sync `WebClient` (token and base_url set on it)."""

    platform = "slack"

    def __init__(
        self,
        client: WebClient,
        *,
        per_channel_interval: float = 1.0,
        history_pages: int = 5,
        retry_429: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
            client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=retry_429))
        self.per_channel_interval = per_channel_interval
        self.history_pages = history_pages
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._ids: dict[str, str] = {}

    @classmethod
    def from_token(cls, token: str, *, base_url: str | None = None, **kwargs: Any) -> SlackPoster:
        # The SDK joins base_url and method names as strings: it needs the trailing slash.
        url = (base_url or WebClient.BASE_URL).rstrip("/") + "/"
        return cls(WebClient(token=token, base_url=url), **kwargs)

    # -- ChannelPoster ---------------------------------------------------------------------------
    def post(self, channel: str, notice: Notice) -> str:
        target = self._channel_id(channel)
        self._pace(target)
        try:
            response = self.client.chat_postMessage(
                channel=target,
                text=notice_fallback(notice),
                blocks=notice_blocks(notice),
                metadata={"event_type": EVENT_TYPE, "event_payload": {"key": notice.key}},
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as e:
            raise PartnerbotError(
                f"could not post notice {notice.key!r} to Slack channel {channel}: "
                f"{e.response.get('error')}"
            ) from e
        if channel.startswith("#") and response.get("channel"):
            self._ids.setdefault(channel, str(response["channel"]))
        logger.info("posted notice %s to Slack %s as %s", notice.key, channel, response["ts"])
        return str(response["ts"])

    def find(self, channel: str, key: str) -> str | None:
        target = self._channel_id(channel)
        cursor: str | None = None
        try:
            for _ in range(self.history_pages):
                response = self.client.conversations_history(
                    channel=target, include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor
                )
                for msg in response.get("messages") or []:
                    meta = msg.get("metadata") or {}
                    payload = meta.get("event_payload") or {}
                    if meta.get("event_type") == EVENT_TYPE and payload.get("key") == key:
                        return str(msg["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as e:
            raise PartnerbotError(
                f"could not read Slack channel {channel} to look for notice {key!r}: "
                f"{e.response.get('error')}"
            ) from e
        return None

    def permalink(self, channel: str, message_id: str) -> str | None:
        """A link to an earlier notice (reminders link to the first)."""
        try:
            response = self.client.chat_getPermalink(
                channel=self._channel_id(channel), message_ts=message_id
            )
        except SlackApiError:
            return None
        link = response.get("permalink")
        return str(link) if link else None

    # -- helpers ----------------------------------------------------------------------------------
    def _pace(self, channel: str) -> None:
        """Slack allows about one message per second per channel: wait for this channel's slot."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(channel, now))
            self._next_slot[channel] = slot + self.per_channel_interval
        if slot > now:
            self._sleep(slot - now)

    def _channel_id(self, channel: str) -> str:
        """Channel ids pass through; a #name is looked up once (history needs the id)."""
        if not channel.startswith("#"):
            return channel
        if channel in self._ids:
            return self._ids[channel]
        name = channel[1:]
        cursor: str | None = None
        try:
            for _ in range(20):
                response = self.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    cursor=cursor,
                )
                for ch in response.get("channels") or []:
                    if ch.get("name") == name and ch.get("id"):
                        self._ids[channel] = str(ch["id"])
                        return self._ids[channel]
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as e:
            logger.warning(
                "could not look up Slack channel %s: %s", channel, e.response.get("error")
            )
        # Not found (or no channels:read scope): Slack still accepts the name for posting.
        return channel
