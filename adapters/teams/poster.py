"""Posting to Teams unasked, from stored conversation references (a channel id, a group
chat id, `@<Entra object id>` for a person's chat with the bot).

Teams cannot look a message up by the delivery key it carries, so each post is recorded
under its key the moment Teams answers (`find` reads it back: a post whose record the
outbox lost is reconciled, not repeated). A place the bot was removed from is recorded
and skipped; 429 and 5xx answers are retried with backoff (`ConnectorRetry`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
from microsoft_teams.api.activities.activity_params import ActivityParams
from microsoft_teams.apps import App
from microsoft_teams.common.http.client import MiddlewareContext, MiddlewareNext

from adapters.teams.render import render_notice
from bot.chat.service import ChatStore
from bot.errors import PartnerbotError, Undeliverable
from bot.models import Notice
from bot.platform import retrying
from bot.posting import LoopPoster

logger = logging.getLogger(__name__)

# The Bot Connector's answers for a conversation the bot is no longer in.
REMOVED = {"BotNotInConversationRoster", "ConversationNotFound", "ConversationBlockedByUser"}


class ConnectorRetry:
    """SDK middleware: a 429 or 5xx from the Bot Connector (or no connection) is retried,
    after its Retry-After when it gives one."""

    def __init__(self, *, tries: int = 4) -> None:
        self.tries = tries

    async def send(self, context: MiddlewareContext, next: MiddlewareNext) -> httpx.Response:
        return await retrying(next, transient=_transient, tries=self.tries, wait=_retry_after)


def _transient(e: Exception) -> bool:
    status = e.response.status_code if isinstance(e, httpx.HTTPStatusError) else 0
    return status == 429 or status >= 500 or isinstance(e, httpx.ConnectError)


def _retry_after(e: Exception) -> float | None:
    value = e.response.headers.get("Retry-After") if isinstance(e, httpx.HTTPStatusError) else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TeamsPoster(LoopPoster):
    platform = "teams"

    def __init__(self, *, store: ChatStore, timeout: float = 60.0) -> None:
        super().__init__(timeout=timeout)
        self.app: App | None = None  # (the SDK's app, once connected)
        self.conversations = store.conversations

    async def post_async(self, channel: str, notice: Notice) -> str:
        message_id = await self.send(channel, render_notice(notice))
        try:
            now = datetime.now(UTC)
            await asyncio.to_thread(
                self.conversations.record_post, self.platform, notice.key, message_id, at=now
            )
        except Exception as e:  # posted: the outbox records it too
            logger.warning("Teams: could not record post %s of %s: %r", message_id, notice.key, e)
        return message_id

    async def find_async(self, channel: str, key: str) -> str | None:
        found: str | None = await asyncio.to_thread(self.conversations.posted, self.platform, key)
        return found

    async def open_direct(self, user: str) -> str:
        return f"@{user}"  # (a person's chat is stored under @<object id>)

    async def send(self, place: str, activity: ActivityParams, *, thread: str = "") -> str:
        """Post to a stored place (`thread`: in the reply chain of that root message); the
        message id. Undeliverable once the bot was removed from it."""
        ref = await asyncio.to_thread(self.conversations.get, self.platform, place)
        if self.app is None:
            raise PartnerbotError("Teams is not connected yet; the post will be retried")
        if ref is None:
            raise PartnerbotError(
                f"Teams {place} is not known yet: add partnerbot to its team or chat (a person: "
                "have them open a chat with it); the post is retried"
            )
        if ref.removed_at is not None:
            raise Undeliverable(f"partnerbot was removed from Teams {place} ({ref.removed_at:%F})")
        conversation = (
            f"{ref.conversation_id};messageid={thread}" if thread else ref.conversation_id
        )
        try:
            sent = await self.app.send(conversation, activity, service_url=ref.service_url)
        except httpx.HTTPStatusError as e:
            code = _error_code(e.response)
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


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except Exception:
        return ""
