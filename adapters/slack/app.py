"""Slack on slack-bolt (Socket Mode, or HTTP mode for production): listeners translate
requests for the chat service (bot/chat/service.py) and render its replies. In HTTP mode a
request is verified before its body is parsed, and its shape checked before a listener
reads it: a bad one gets 401/400 and one warning at most (rate-limited)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext as Context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers as retry

from adapters.slack import events as ev
from adapters.slack import requests, secret
from adapters.slack.poster import SlackPoster, slack_unreachable
from adapters.slack.render import BUTTON_ACTIONS, SlackMessage, render_answer, render_markdown
from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Actor, Answer, ButtonClick, ChatMessage, Conversation, Place, Reply
from bot.platform import PlatformBase
from bot.prompts import message
from bot.web import Complaints, WebServer

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
PLAIN_TEXT_ERRORS = {"invalid_blocks", "invalid_blocks_format", "msg_too_long"}
AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked"}
REQUEST_SECONDS = 30.0  # each Web API call (the SDK's timeout)
Event = dict[str, Any]


class SlackPlatform(PlatformBase):
    name = "slack"

    def __init__(
        self,
        chat: ChatService,
        settings: Settings,
        *,
        listen: bool = True,
        request_timeout: float = REQUEST_SECONDS,
    ) -> None:
        super().__init__(chat, settings, listen=listen)
        self.admins = frozenset(settings.slack_admin_ids)
        usage = lambda c: f"`/partner {c.usage()}`"  # noqa: E731
        chat.add_platform(self.name, PlatformTraits(usage=usage, channel_teams=self.teams))
        signing = secret(settings.slack_signing_secret)
        self.signing_key = signing.encode() if settings.slack_mode == "http" else None
        self.app = AsyncApp(
            name="partnerbot",  # (without a name Bolt inspects the call stack: slow)
            token=secret(settings.slack_bot_token),
            signing_secret=signing,
            process_before_response=False,  # ack first, then run the listener
            request_verification_enabled=False,  # done before parsing, in on_http
            logger=logging.getLogger("slack_bolt.partnerbot"),
        )
        self.client = self.app.client
        self.client.timeout = request_timeout  # type: ignore[assignment]  # (an int for the SDK)
        if settings.slack_api_url:  # the SDK joins base_url and method names: it needs the /
            self.client.base_url = settings.slack_api_url.rstrip("/") + "/"
        self.client.retry_handlers += [
            retry.AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            retry.AsyncServerErrorRetryHandler(max_retry_count=2),  # 500 and 503, with backoff
        ]
        self.poster = SlackPoster(self.client)
        self.app.event("app_mention")(self.on_event)
        self.app.event("message")(self.on_event)
        self.app.command("/partner")(self.on_command)
        self.app.action(re.compile("|".join(BUTTON_ACTIONS)))(self.on_button)
        self.socket: AsyncSocketModeHandler | None = None
        routes = {EVENTS_PATH: self.on_http}
        self.web = WebServer(host=settings.slack_host, port=settings.slack_port, routes=routes)
        self.complaints = Complaints(logger)  # what anyone may send: rate-limited warnings

    async def connect(self) -> None:
        """Check the bot token (and that Slack answers: until it does, this replica leaves
        Slack's notices to others), then listen."""
        if self.client.session is None:  # one pooled HTTP session for every Web API call
            timeout = aiohttp.ClientTimeout(total=self.client.timeout)
            self.client.session = aiohttp.ClientSession(timeout=timeout)
        await self._slack_call(self.client.auth_test, refused="slack_bot_token_refused")
        if self.listen and self.settings.slack_mode == "http":
            try:
                await self.web.start()
            except OSError as e:
                raise ConfigError(message("slack_cannot_listen", error=e)) from None
        elif self.listen:
            token = secret(self.settings.slack_app_token)
            # (the SDK's own connect retries for ever, a rejected token too)
            opening = self.client.apps_connections_open
            await self._slack_call(opening, refused="slack_token_refused", app_token=token)
            self.socket = AsyncSocketModeHandler(self.app, app_token=token)
            await self.socket.connect_async()
        self.connected = self.listen

    async def _slack_call(self, method: Any, *, refused: str, **kwargs: Any) -> Any:
        """A call at connect: a rejected token is a ConfigError (message `refused`), no
        answer an Unreachable saying the timeout that fired."""
        try:
            return await method(**kwargs)
        except SlackApiError as e:
            if e.response.get("error") not in AUTH_ERRORS:
                raise
            raise ConfigError(message(refused, error=e.response["error"])) from None
        except (aiohttp.ClientError, TimeoutError) as e:
            raise slack_unreachable(e, self.client.timeout) from e

    def link_up(self) -> bool:  # Socket Mode: its websocket open now (the SDK reconnects)
        ws = self.socket.client if self.socket else None
        return ws is None or not (
            ws.closed or ws.stale or not ws.current_session or ws.current_session.closed
        )

    async def stop_listening(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()
        await self.web.stop()

    async def close(self) -> None:
        session, self.client.session = self.client.session, None
        if session is not None:
            await session.close()

    async def on_http(self, request: web.Request) -> web.Response:
        """Verify, then parse and check the shape (adapters/slack/requests.py); events are
        acked at once and handled right after. A refusal is one rate-limited warning."""
        body = await request.read()
        problem = self.unverified(request.headers, body)
        if problem:
            self.complaints.warn(
                "unverified", "Slack: refused a request from %s: %s", request.remote, problem
            )
            return web.Response(status=401, text="unverified request")
        headers: dict[str, Any] = dict(request.headers)
        try:
            text = body.decode()
            problem = requests.problem(parse_body(text, headers.get("Content-Type")))
        except ValueError as e:  # not JSON, or not UTF-8
            problem = " ".join(str(e).split())[:200]
        if problem:
            self.complaints.warn(
                "malformed",
                "Slack: refused a malformed request from %s: %s",
                request.remote,
                problem,
            )
            return web.Response(status=400, text="malformed request")
        bolt = AsyncBoltRequest(body=text, query=request.query_string, headers=headers)
        if bolt.body.get("type") == "event_callback":
            self.inflight.spawn(self.app.async_dispatch(bolt))
            return web.Response(status=200)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt))

    def unverified(self, headers: Any, body: bytes) -> str | None:
        """Why a request did not come from Slack; None when it did."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if not timestamp.isdigit():
            return "missing or non-numeric timestamp"
        if abs(time.time() - int(timestamp)) > 300:
            return "timestamp more than five minutes off"
        if not signature:
            return "unsigned"
        base = b"v0:" + timestamp.encode() + b":" + body
        mac = hmac.new(self.signing_key or b"", base, hashlib.sha256).hexdigest()
        if not self.signing_key or not hmac.compare_digest(f"v0={mac}", signature):
            return "bad signature"
        return None

    # -- messages -------------------------------------------------------------------------------
    async def on_event(self, event: Event, body: Event, context: Context) -> None:
        """Mentions, DMs, and follow-ups without a mention in threads."""
        route = ev.route(event, context.bot_user_id)
        if route is None:
            return  # the bot itself, other bots, edits, chatter in channels
        self.inflight.track()
        thread, addressed = route
        channel, ts = str(event["channel"]), str(event["ts"])
        text = ev.strip_mention(str(event.get("text") or ""), context.bot_user_id)
        actor, direct = self.actor(str(event["user"]), context.team_id), ev.is_direct(event)
        place, delivery = Place(channel, thread), body.get("event_id")
        msg = ChatMessage(text, actor, place, ts, addressed, direct, delivery)

        async def send(reply: Reply) -> Place | None:
            await self.post(channel, thread, reply)
            return place if thread else None

        async def earlier() -> Conversation:
            """The thread so far or, in a DM, the last hour's messages."""
            if thread and thread != ts:
                got = await self.client.conversations_replies(channel=channel, ts=thread)
            elif direct:
                hour_ago = f"{float(ts) - 3600:.6f}"
                history = self.client.conversations_history
                got = await history(channel=channel, latest=ts, oldest=hour_ago, limit=10)
            else:
                return Conversation()
            messages = got.get("messages") or []
            return ev.conversation(messages, ts, context.bot_user_id, context.bot_id)

        working = lambda: self.reacting(channel, ts)  # noqa: E731
        await self.chat.respond(msg, send=send, earlier=earlier, working=working)

    async def post(self, channel: str, thread: str | None, reply: Reply, **render: Any) -> None:
        """Post a reply; blocks Slack refuses (invalid_blocks, msg_too_long) go as plain text."""
        answer = reply.answer
        rendered = render_answer(answer, **render) if answer else render_markdown(reply.text)
        where: dict[str, Any] = {"channel": channel, "thread_ts": thread, "unfurl_links": False}
        try:
            await self.client.chat_postMessage(**where, **rendered.as_kwargs())
        except SlackApiError as e:
            if e.response.get("error") not in PLAIN_TEXT_ERRORS or not rendered.blocks:
                raise
            logger.warning("Slack: %s; posting the reply as plain text", e.response.get("error"))
            await self.client.chat_postMessage(**where, **rendered.as_kwargs(plain=True))

    @contextlib.asynccontextmanager
    async def reacting(self, channel: str, ts: str) -> AsyncIterator[None]:
        """:eyes: on the question while the core answers; a failed reaction never stops it."""
        where = {"channel": channel, "timestamp": ts, "name": "eyes"}
        reacted = False
        with contextlib.suppress(Exception):
            await self.client.reactions_add(**where)
            reacted = True
        try:
            yield
        finally:
            if reacted:
                with contextlib.suppress(Exception):
                    await self.client.reactions_remove(**where)

    async def teams(self, channel: str) -> list[str]:  # the workspaces sharing the channel
        info = (await self.client.conversations_info(channel=channel)).get("channel") or {}
        return list(info.get("connected_team_ids") or ["?"] * bool(info.get("is_ext_shared")))

    def actor(self, user: str, team: str | None) -> Actor:
        return Actor(self.name, user, is_admin=user in self.admins, team=team)

    # -- /partner and buttons -------------------------------------------------------------------
    async def on_command(self, ack: Any, command: Event, respond: Any, context: Context) -> None:
        await ack()
        self.inflight.track()
        reply = await self.chat.run_words(
            str(command.get("text") or ""),
            actor=self.actor(str(command.get("user_id", "")), context.team_id),
            place=Place(str(command.get("channel_id", ""))),
            working=lambda text: whisper(respond, render_markdown(text)),
        )
        answer = reply.answer
        shown = render_answer(answer, shareable=True) if answer else render_markdown(reply.text)
        await whisper(respond, shown)

    async def on_button(
        self, ack: Any, body: Event, action: Event, respond: Any, context: Context
    ) -> None:
        await ack()
        self.inflight.track()
        box, clicked = body.get("container") or {}, body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or box.get("channel_id", ""))
        ts = clicked.get("thread_ts") or clicked.get("ts") or box.get("message_ts")
        actor = self.actor(str((body.get("user") or {}).get("id", "")), context.team_id)
        value = str(action.get("value") or "")
        click = ButtonClick(BUTTON_ACTIONS[str(action["action_id"])], value, actor, channel, ts)

        async def share(answer: Answer) -> None:
            await self.post(channel, None, Reply(answer=answer), shared_by=actor.id)
            with contextlib.suppress(Exception):
                await respond(delete_original=True)  # the private copy

        async def private(text: str) -> None:
            await whisper(respond, render_markdown(text))

        async def pointed(place: Place, first: bool) -> None:
            if not first:  # the intro is already in the thread under the notice
                await private(message("slack_ask_in_thread"))

        async def thread() -> Place | None:
            return Place(channel, ts) if ts else None

        async def post(place: Place, text: str) -> None:
            await self.post(place.channel, place.thread, Reply(text=text))

        await self.chat.press(click, ButtonUI(private, share, thread, post, pointed))


async def whisper(respond: Any, rendered: SlackMessage) -> None:
    """A private reply to the person who ran the command or clicked."""
    try:
        await respond(response_type="ephemeral", replace_original=False, **rendered.as_kwargs())
    except Exception:
        logger.exception("Slack: could not reply to the user")
