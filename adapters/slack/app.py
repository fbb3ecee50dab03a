"""The Slack adapter on slack-bolt (AsyncApp): Socket Mode by default, HTTP mode for production.

Translate in (event → `Question`), call the core off the event loop, render out
(`Answer` → Block Kit). Every request is acknowledged before answering starts;
deliveries are de-duplicated by event id in the core's persisted store. The
service also exposes a `SlackPoster` (`.poster`) through which the core posts
partner-channel notices and change digests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import events as ev
from adapters.slack.commands import CommandContext, RecentAnswers, dispatch, parse
from adapters.slack.poster import BUTTON_KINDS, NOTICE_ACKNOWLEDGE, NOTICE_ASK, SlackPoster
from adapters.slack.render import (
    FEEDBACK_DOWN,
    FEEDBACK_UP,
    SHARE_ANSWER,
    render_answer,
    render_markdown,
)
from bot.comms.qa import opens_thread
from bot.config import Settings
from bot.core import PartnerBot
from bot.errors import ConfigError
from bot.models import Question
from bot.prompts import message

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
WORKING_REACTION = "eyes"


@dataclass(frozen=True, kw_only=True)
class SlackConfig:
    """The Slack part of the settings, as plain values (explicit arguments override)."""

    bot_token: str
    app_token: str | None = None
    signing_secret: str | None = None
    mode: Literal["socket", "http"] = "socket"
    host: str = "0.0.0.0"  # HTTP mode: where Slack's requests arrive (behind your proxy)
    port: int = 3000
    api_url: str | None = None
    admin_ids: frozenset[str] = field(default_factory=frozenset)
    retry_429: int = 2

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SlackConfig:
        """Read the settings; fail fast, naming the variable, when one the mode needs is unset."""
        secret = settings.slack_signing_secret
        app_token = settings.slack_app_token
        values: dict[str, Any] = {
            "bot_token": settings.slack_bot_token.get_secret_value()
            if settings.slack_bot_token
            else "",
            "app_token": app_token.get_secret_value() if app_token else None,
            "signing_secret": secret.get_secret_value() if secret else None,
            "mode": settings.slack_mode,
            "port": settings.slack_port,
            "api_url": settings.slack_api_url,
            "admin_ids": frozenset(settings.slack_admin_ids),
        }
        values.update(overrides)
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        if not self.bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is not set: copy the xoxb- token of your Slack app.")
        if self.mode == "socket" and not self.app_token:
            raise ConfigError(
                "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level xapp- token with "
                "connections:write (or set SLACK_MODE=http and SLACK_SIGNING_SECRET)."
            )
        if self.mode == "http" and not self.signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it "
                "(Basic Information → Signing Secret)."
            )


class SlackAdapter:
    """Bolt listeners that translate Slack requests for the core and render its answers."""

    def __init__(self, bot: PartnerBot, config: SlackConfig) -> None:
        self.bot = bot
        self.config = config
        self.recent = RecentAnswers()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.app = AsyncApp(
            name="partnerbot",  # (without a name Bolt inspects the call stack: slow)
            # The token, not a ready client: Bolt warns when given a client while
            # SLACK_BOT_TOKEN is also in the environment.
            token=config.bot_token,
            signing_secret=config.signing_secret or "",
            # HTTP mode: ack (HTTP 200) first, then run the listener; Socket Mode does the same.
            process_before_response=False,
            logger=logging.getLogger("slack_bolt.partnerbot"),
        )
        client = self.app.client
        if config.api_url:  # the SDK joins base_url and method names: it needs the slash
            client.base_url = config.api_url.rstrip("/") + "/"
        # Besides connection errors (the default): on a 429, wait out Retry-After and retry.
        client.retry_handlers.append(
            AsyncRateLimitErrorRetryHandler(max_retry_count=config.retry_429)
        )
        self.app.event("app_mention")(self.on_mention)
        self.app.event("message")(self.on_message)
        self.app.command("/partner")(self.on_command)
        self.app.action(FEEDBACK_UP)(self.on_feedback)
        self.app.action(FEEDBACK_DOWN)(self.on_feedback)
        self.app.action(SHARE_ANSWER)(self.on_share)
        self.app.action(NOTICE_ACKNOWLEDGE)(self.on_notice_button)
        self.app.action(NOTICE_ASK)(self.on_notice_button)

    @property
    def client(self) -> AsyncWebClient:
        return self.app.client

    # -- in-flight work, so shutdown can let answers finish ------------------------------------
    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run `work` in the background, tracked so shutdown can wait for it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout`) for answers being worked on to be posted."""
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            logger.info("waiting for %d Slack answer(s) in flight", len(pending))
            await asyncio.wait(pending, timeout=timeout)

    async def open(self) -> None:
        """One pooled HTTP session for every Web API call (no new connection per call)."""
        if self.client.session is None:
            self.client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout)
            )

    async def close(self, timeout: float = 5.0) -> None:
        """Let in-flight answers finish (up to `timeout`), then close the session."""
        await self.drain(timeout)
        session, self.client.session = self.client.session, None
        if session is not None:
            await session.close()

    # -- conversations ----------------------------------------------------------------------------
    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """@partnerbot in a channel: answer in that message's thread."""
        if not ev.is_person_message(event):
            return
        await self._answer(event, body, context, thread_ts=event.get("thread_ts") or event["ts"])

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """DMs, and follow-ups without a mention in threads the bot is already in."""
        if not ev.is_person_message(event):
            return  # the bot itself, other bots, edits, deletions, joins
        text = str(event.get("text") or "")
        if ev.is_direct_message(event):
            await self._answer(event, body, context, thread_ts=event.get("thread_ts"))
        elif ev.is_thread_reply(event) and not ev.mentions(text, context.bot_user_id):
            # (A mention also arrives as app_mention; that listener answers it.)
            await self._answer(event, body, context, thread_ts=event["thread_ts"], only_if_in=True)

    async def _answer(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: AsyncBoltContext,
        *,
        thread_ts: str | None,
        only_if_in: bool = False,
    ) -> None:
        """Answer one message once; `only_if_in`: only in a thread the bot already replied in."""
        channel, ts = str(event["channel"]), str(event["ts"])
        self._track()
        if not await self._first_time(body, context, channel, ts):
            return
        try:
            earlier = await self._earlier_messages(event, thread_ts)
        except Exception as e:  # answer without context rather than not at all
            logger.warning("Slack: could not read the conversation in %s: %r", channel, e)
            earlier = []
        me, my_bot = context.bot_user_id, context.bot_id
        if only_if_in and not ev.bot_in_thread(earlier, bot_user_id=me, bot_id=my_bot):
            return  # people talking in a thread the bot is not part of
        # The :eyes: reaction goes out while the core answers, not before it.
        reacted = asyncio.ensure_future(self._react(channel, ts))
        try:
            question = Question(
                text=ev.strip_mention(str(event.get("text") or ""), context.bot_user_id),
                asker=str(event["user"]),
                place=f"{channel}/{thread_ts}" if thread_ts else channel,
                history=ev.history_from_messages(
                    earlier, before_ts=ts, bot_user_id=me, bot_id=my_bot
                ),
                platform="slack",
                is_admin=self._is_admin(str(event["user"])),
            )
            answer = await asyncio.to_thread(self.bot.ask, question)
            rendered = render_answer(answer)
            await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **rendered.as_kwargs(),
            )
        except Exception:
            logger.exception("Slack: answering a message in %s failed", channel)
            await self._apologise(channel, thread_ts)
        finally:
            if await reacted:
                await self._unreact(channel, ts)

    async def _earlier_messages(
        self, event: dict[str, Any], thread_ts: str | None
    ) -> list[dict[str, Any]]:
        """The thread so far (conversations.replies) or, in a DM, the last hour's messages."""
        ts = str(event["ts"])
        if thread_ts and thread_ts != ts:
            response = await self.client.conversations_replies(
                channel=event["channel"], ts=thread_ts, limit=100
            )
        elif ev.is_direct_message(event):
            response = await self.client.conversations_history(
                channel=event["channel"], latest=ts, oldest=f"{float(ts) - 3600:.6f}", limit=10
            )
        else:
            return []
        return [m for m in response.get("messages") or [] if m.get("ts") != ts]

    async def _first_time(
        self, body: dict[str, Any], context: AsyncBoltContext, channel: str, ts: str
    ) -> bool:
        """Claim the delivery (event id) and the message (channel+ts) in the persisted store."""
        keys = [ev.event_key(body), ev.message_key(context.team_id, channel, ts)]

        def claim() -> bool:
            return all(self.bot.store.events.first_time(k) for k in keys if k)

        if await asyncio.to_thread(claim):
            return True
        logger.info("Slack: skipped a repeated delivery of %s/%s (%s)", channel, ts, keys[0])
        return False

    async def _react(self, channel: str, ts: str) -> bool:
        """Show work under way; a reaction that fails must never stop the answer."""
        try:
            await self.client.reactions_add(channel=channel, timestamp=ts, name=WORKING_REACTION)
            return True
        except SlackApiError as e:
            logger.debug("Slack: could not add the working reaction: %s", e.response.get("error"))
        except Exception:
            logger.warning("Slack: could not add the working reaction", exc_info=True)
        return False

    async def _unreact(self, channel: str, ts: str) -> None:
        try:
            await self.client.reactions_remove(channel=channel, timestamp=ts, name=WORKING_REACTION)
        except SlackApiError as e:
            logger.debug(
                "Slack: could not remove the working reaction: %s", e.response.get("error")
            )
        except Exception:
            logger.warning("Slack: could not remove the working reaction", exc_info=True)

    async def _apologise(self, channel: str, thread_ts: str | None) -> None:
        try:
            await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=message("apology")
            )
        except Exception:
            logger.exception("Slack: could not post the apology in %s", channel)

    def _is_admin(self, user_id: str) -> bool:
        return user_id in self.config.admin_ids

    # -- /partner ---------------------------------------------------------------------------------
    async def on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        self._track()
        name, args = parse(str(command.get("text") or ""))
        user_id = str(command.get("user_id", ""))
        ctx = CommandContext(
            bot=self.bot,
            user_id=user_id,
            channel_id=str(command.get("channel_id", "")),
            args=args,
            is_admin=self._is_admin(user_id),
            respond=respond,
            recent=self.recent,
            client=self.client,
        )
        try:
            await dispatch(ctx, name)
        except Exception:
            logger.exception("Slack: /partner %s failed", name)
            await _safe_reply(respond, message("apology"))

    # -- buttons ----------------------------------------------------------------------------------
    async def on_feedback(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """👍 / 👎: store the rating with the interaction and thank the user privately."""
        await ack()
        self._track()
        try:
            text = await asyncio.to_thread(
                self.bot.record_feedback,
                interaction_id=int(action.get("value", "")),
                user=str(body["user"]["id"]),
                rating=1 if action["action_id"] == FEEDBACK_UP else -1,
                platform="slack",
            )
        except (ValueError, KeyError):
            logger.warning("Slack: feedback click without a usable value: %r", action.get("value"))
            text = message("feedback_unknown")
        except Exception:
            logger.exception("Slack: recording feedback failed")
            text = message("apology")
        await _safe_reply(respond, text)

    async def on_share(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """The "Post to channel" button: post the private answer publicly, drop the private copy."""
        await ack()
        self._track()
        user_id = str(body.get("user", {}).get("id", ""))
        channel = str((body.get("channel") or {}).get("id") or body["container"]["channel_id"])
        try:
            answer = self.recent.pop(int(action.get("value", "")))
        except ValueError:
            answer = None
        if answer is None:
            await _safe_reply(respond, message("slack_share_expired"))
            return
        try:
            rendered = render_answer(answer, shared_by=user_id)
            await self.client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **rendered.as_kwargs()
            )
        except SlackApiError as e:
            logger.warning("Slack: sharing an answer in %s failed: %s", channel, e)
            self.recent.remember(answer)
            await _safe_reply(respond, message("slack_share_failed"))
            return
        try:
            await respond(delete_original=True)
        except Exception:
            logger.debug("Slack: could not delete the private copy", exc_info=True)

    async def on_notice_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        """A partner-channel notice's buttons, handled by the core.

        Acknowledge: the core records it; the thanks is private. Ask about this: the
        core's intro goes in the notice's thread, where it anchors the follow-up
        questions (the bot answers in threads it posted in).
        """
        await ack()
        self._track()
        kind = BUTTON_KINDS[str(action["action_id"])]
        user_id = str(body.get("user", {}).get("id", ""))
        container = body.get("container") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id", ""))
        try:
            text = await asyncio.to_thread(
                self.bot.handle_notice_button,
                kind,
                str(action.get("value") or ""),
                user_id,
                channel,
                "slack",
            )
        except Exception:
            logger.exception("Slack: notice button %s failed", kind)
            text = message("apology")
        notice = body.get("message") or {}
        notice_ts = notice.get("thread_ts") or notice.get("ts") or container.get("message_ts")
        if kind == "ask" and notice_ts and opens_thread(text):
            try:
                await self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=str(notice_ts),
                    unfurl_links=False,
                    unfurl_media=False,
                    **render_markdown(text).as_kwargs(),
                )
                return
            except SlackApiError as e:
                logger.warning("Slack: could not open a thread on notice %s: %s", notice_ts, e)
                text = message("slack_share_failed")
        await _safe_reply(respond, render_markdown(text).text)


async def _safe_reply(respond: Any, text: str) -> None:
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:
        logger.exception("Slack: could not reply to the user")


class SlackService:
    """`partnerbot serve` service: Socket Mode connection or HTTP server around the adapter."""

    name = "slack"

    def __init__(self, bot: PartnerBot, config: SlackConfig) -> None:
        self.bot = bot
        self.config = config
        self.adapter = SlackAdapter(bot, config)
        # Found by the communications dispatcher; posts from worker threads (sync client).
        self.poster = SlackPoster.from_token(config.bot_token, base_url=config.api_url)
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        secret = config.signing_secret if config.mode == "http" else None
        self._verifier = SignatureVerifier(secret) if secret else None
        self.port: int | None = None  # the bound port in HTTP mode (useful with SLACK_PORT=0)

    @property
    def app(self) -> AsyncApp:
        return self.adapter.app

    @property
    def url(self) -> str:
        """HTTP mode: the local URL of the events endpoint."""
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    async def start(self) -> None:
        await self.adapter.open()
        if self.config.mode == "socket":
            # Built here: the aiohttp-based client needs the running loop.
            self._socket = AsyncSocketModeHandler(self.app, app_token=self.config.app_token)
            await self._socket.connect_async()
            logger.info("Slack: connected in Socket Mode")
            self._register_poster()
            return
        webapp = web.Application()
        webapp.router.add_post(EVENTS_PATH, self._handle_http)
        self._runner = web.AppRunner(webapp, shutdown_timeout=5.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else self.config.port
        logger.info(
            "Slack: listening for HTTP requests on %s:%s%s",
            self.config.host,
            self.port,
            EVENTS_PATH,
        )
        self._register_poster()

    def _register_poster(self) -> None:
        """Change digests (chat command, auto-publish) post through this poster while running."""
        if self.poster not in self.bot.changes.posters:
            self.bot.changes.posters.append(self.poster)

    async def _handle_http(self, request: web.Request) -> web.Response:
        """Events, commands and interactivity share one path; Bolt verifies the signature.

        A verified Events API callback needs no response body, so it is acked at once and
        Bolt runs it right after: under a burst, acks do not queue behind Bolt's dispatch.
        """
        bolt_request = await to_bolt_request(request)
        if self._is_verified_event(bolt_request):
            self.adapter.spawn(self.app.async_dispatch(bolt_request))
            return web.Response(status=200)
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    def _is_verified_event(self, request: AsyncBoltRequest) -> bool:
        if self._verifier is None or not isinstance(request.body, dict):
            return False
        if request.body.get("type") != "event_callback":
            return False
        return self._verifier.is_valid(
            body=request.raw_body,
            timestamp=request.headers.get("x-slack-request-timestamp", [""])[0],
            signature=request.headers.get("x-slack-signature", [""])[0],
        )

    async def stop(self) -> None:
        """Stop taking requests, let in-flight answers finish (briefly), then close."""
        if self.poster in self.bot.changes.posters:
            self.bot.changes.posters.remove(self.poster)
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.adapter.close(timeout=5.0)


def build_slack(bot: PartnerBot, **overrides: Any) -> SlackService:
    """The Slack service for `partnerbot serve`, from the settings (keywords override them)."""
    config = SlackConfig.from_settings(bot.settings, **overrides)
    return SlackService(bot, config)


__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackConfig", "SlackService", "build_slack"]
