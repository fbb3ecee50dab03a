"""Posting to Teams unasked, from stored conversation references (a channel, a group chat, a
person's chat: `@<Entra object id>`). Teams cannot look a message up by the delivery key it
carries, so each post is recorded under its key as soon as Teams answers, and `find` reads
that. A place the bot was removed from is recorded and skipped; 429s and 5xx are retried."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from microsoft_teams.api.activities.activity_params import ActivityParams
from microsoft_teams.apps import App
from microsoft_teams.common.http.client import MiddlewareContext, MiddlewareNext

from adapters.teams.render import render_notice
from bot.chat.service import ChatStore
from bot.errors import PartnerbotError, Undeliverable
from bot.models import ConversationRef as Ref
from bot.models import Notice
from bot.platform import retrying
from bot.posting import LoopPoster

logger = logging.getLogger(__name__)

# The Bot Connector's answers for a conversation the bot is no longer in.
REMOVED = {"BotNotInConversationRoster", "ConversationNotFound", "ConversationBlockedByUser"}


@dataclass(frozen=True)
class ConnectorRetry:
    """SDK middleware: a 429 or 5xx answer (or no connection) is tried again, after the
    Retry-After it gives, if any."""

    tries: int = 4

    async def send(self, context: MiddlewareContext, next: MiddlewareNext) -> httpx.Response:
        return await retrying(next, transient=_transient, tries=self.tries, wait=_retry_after)


def _transient(e: Exception) -> bool:
    status = e.response.status_code if isinstance(e, httpx.HTTPStatusError) else 0
    return status == 429 or status >= 500 or isinstance(e, httpx.ConnectError)


def _retry_after(e: Exception) -> float | None:
    asked = str(getattr(getattr(e, "response", None), "headers", {}).get("Retry-After", ""))
    return float(asked) if asked.replace(".", "", 1).isdigit() else None


class TeamsPoster(LoopPoster):
    platform = "teams"
    app: App | None = None  # the SDK's, once connected

    def __init__(self, *, store: ChatStore, timeout: float = 60.0) -> None:
        super().__init__(timeout=timeout)
        self.conversations = store.conversations

    async def post_async(self, channel: str, notice: Notice) -> str:
        message_id, now = await self.send(channel, render_notice(notice)), datetime.now(UTC)
        record = self.conversations.record_post  # (the key's record: `find` reads it)
        try:
            await asyncio.to_thread(record, self.platform, notice.key, message_id, at=now)
        except Exception as e:  # (posted: the outbox records it too)
            logger.warning("Teams: could not record post %s of %s: %r", message_id, notice.key, e)
        return message_id

    async def find_async(self, channel: str, key: str) -> str | None:
        return await asyncio.to_thread(self.conversations.posted, self.platform, key)

    async def open_direct(self, user: str) -> str:
        return f"@{user}"  # (a person's chat is stored under @<object id>)

    async def send(self, to: str | Ref, activity: ActivityParams, *, thread: str = "") -> str:
        """Post to a place, by its reference or as stored (`thread`: in the reply chain of this
        root message); the message id. Undeliverable once the bot was removed from it."""
        place, ref = (to.place, to) if isinstance(to, Ref) else (to, None)
        ref = ref or await asyncio.to_thread(self.conversations.get, self.platform, place)
        if self.app is None or ref is None:
            why = "is not connected yet" if self.app is None else f"does not know {place} yet"
            raise PartnerbotError(f"Teams {why} (add partnerbot there); the post is retried")
        if ref.removed_at is not None:
            raise Undeliverable(f"partnerbot was removed from Teams {place} ({ref.removed_at:%F})")
        conversation = ref.conversation_id + (f";messageid={thread}" if thread else "")
        try:
            sent = await self.app.send(conversation, activity, service_url=ref.service_url)
        except httpx.HTTPStatusError as e:
            json = "json" in e.response.headers.get("content-type", "")
            code = str(((e.response.json() if json else {}).get("error") or {}).get("code", ""))
            if code in REMOVED:
                now = datetime.now(UTC)
                await asyncio.to_thread(
                    self.conversations.mark_removed, self.platform, place, at=now
                )
                raise Undeliverable(f"partnerbot was removed from Teams {place} ({code})") from e
            status = e.response.status_code
            raise PartnerbotError(f"Teams refused the post to {place}: {status} {code}") from e
        except httpx.HTTPError as e:
            raise PartnerbotError(f"could not reach Teams to post to {place}: {e!r}") from e
        return str(sent.id)
