"""Microsoft Teams on the Teams SDK for Python. Activities come to serve's web server at
/api/messages, are checked (size, JSON, token) before the SDK sees them with its own token
check on, and are translated for the chat service; replies and notices are Adaptive Cards.
A message is acknowledged at once and answered after (Teams sends it again when slow); a
click is answered in its invoke. Teams delivers channel and group-chat messages that mention
the bot; commands are taken in the personal chat, where every reply is private."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
from microsoft_teams.api.models.adaptive_card import AdaptiveCardActionMessageResponse as Shown
from microsoft_teams.apps import App
from microsoft_teams.common import Client, ClientOptions

from adapters.teams.auth import BotToken, KeyMirror, SigningKeys
from adapters.teams.poster import ConnectorRetry, TeamsPoster
from adapters.teams.render import render_reply
from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.config import Settings
from bot.models import Actor, ButtonClick, ChatMessage, ConversationRef, Place, Reply
from bot.platform import PlatformBase
from bot.prompts import message
from bot.web import Handler

logger = logging.getLogger(__name__)

MESSAGES_PATH, MAX_BODY = "/api/messages", 512 * 1024  # (an activity is a few KB)
LOGIN = "https://login.microsoftonline.com"
METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
SERVICE_URL = "https://smba.trafficmanager.net/teams"  # (each conversation's is stored)
INVOKE_SECONDS = 4.0  # a click's private reply goes in the invoke's answer, due within seconds
MEMBER_PAGES = 20  # pages of 500 members read to tell who shares a channel


class TeamsPlatform(PlatformBase):
    name = "teams"
    poster: TeamsPoster
    app: App | None = None  # the SDK's, once connected
    mirror: KeyMirror | None = None
    refresher: asyncio.Task[None] | None = None
    session: aiohttp.ClientSession | None = None

    def __init__(self, chat: ChatService, settings: Settings, **options: Any) -> None:
        super().__init__(chat, settings, listen=options.pop("listen", True))
        s, self.options = settings, options
        self.app_id, self.home = str(s.teams_app_id), str(s.teams_tenant_id)
        self.admins, self.conversations = frozenset(s.teams_admin_ids), chat.store.conversations
        secret = s.teams_app_password.get_secret_value().strip() if s.teams_app_password else ""
        url = f"{options.get('login_url', LOGIN)}/{self.home}/oauth2/v2.0/token"
        self.token = BotToken(session=self.http, url=url, app_id=self.app_id, password=secret)
        gap, metadata = options.get("keys_min_gap", 60.0), options.get("metadata_url", METADATA)
        self.keys = SigningKeys(session=self.http, metadata_url=metadata, min_gap=gap)
        self.client = Client(ClientOptions(timeout=float(options.get("timeout", 30.0))))
        self.client.use(ConnectorRetry(tries=int(options.get("tries", 4))))
        self.poster = TeamsPoster(store=chat.store)
        chat.add_platform(
            self.name, PlatformTraits(hears_unmentioned=False, organisations=self.organisations)
        )

    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.session

    async def connect(self) -> None:
        """A token (refused credentials: ConfigError); the SDK's app, given every setting
        (it reads what is missing from its environment) and our copy of the keys."""
        await self.token(PUBLIC.bot_scope)
        if self.app is None:
            self.mirror = KeyMirror(self.keys) if self.listen else None
            keys = self.mirror.url if self.mirror else None
            self.poster.app = self.app = App(
                client_id=self.app_id,
                tenant_id=self.home,
                token=self.token,
                cloud=with_overrides(PUBLIC, openid_metadata_url=keys),
                service_url=self.options.get("service_url", SERVICE_URL),
                client=self.client,
                dangerously_allow_unauthenticated_requests=False,
                fetch_user_token=False,
            )
            self.app.on_message(self.on_message)
            self.app.on_card_action_execute(self.on_card)
            self.app.on_conversation_update(self.on_update)
            self.app.on_installation_update(self.on_update)
            await self.app.initialize()
        if self.mirror is not None:
            await self.keys.refresh()
            every = float(self.options.get("keys_refresh_seconds", 6 * 3600))
            self.refresher = self.refresher or asyncio.create_task(self.keys.keep_fresh(every))
        self.connected = True

    async def close(self) -> None:
        if self.refresher is not None:
            self.refresher.cancel()
        if self.mirror is not None:
            await asyncio.to_thread(self.mirror.stop)
        sdk = (self.app.http_client, self.app.api.http) if self.app else ()
        for client in (self.client, *sdk):
            await client.http.aclose()
        if self.session is not None:
            await self.session.close()

    def web_routes(self) -> Mapping[str, Handler]:
        return {MESSAGES_PATH: self.on_http} if self.listen else {}

    async def on_http(self, request: web.Request) -> web.Response:
        """Refuse what is not a request from Teams for this bot; hand the rest to the SDK."""
        try:
            if (request.content_length or 0) > MAX_BODY:
                raise web.HTTPRequestEntityTooLarge(MAX_BODY, request.content_length or 0)
            body = json.loads(await request.read())
            if not isinstance(body, dict) or not isinstance(body.get("serviceUrl", ""), str):
                raise ValueError("not an activity")
        except web.HTTPRequestEntityTooLarge:
            return self.refused(request, 413, "too large")
        except ValueError as e:  # malformed JSON, not UTF-8, not an activity
            return self.refused(request, 400, f"malformed ({e})")
        if self.app is None or not self.keys.keys:
            return self.refused(request, 503, "not connected yet")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        service, channel = str(body.get("serviceUrl") or ""), str(body.get("channelId"))
        try:
            await self.keys.check(token, audience=self.app_id, service_url=service, channel=channel)
        except jwt.PyJWTError as e:
            return self.refused(request, 401, f"token refused: {e}")
        if self.mirror is not None:  # (a key first used now: the SDK must download it too)
            await self.mirror.served_to_sdk(str(jwt.get_unverified_header(token).get("kid")))
        got = await self.app.server.handle_request({"body": body, "headers": {**request.headers}})
        return web.json_response(got["body"], status=int(got["status"]))  # (an invoke's answer)

    def refused(self, request: web.Request, status: int, why: str) -> web.Response:
        logger.warning("Teams: refused a request from %s (%d): %s", request.remote, status, why)
        return web.Response(status=status, text="refused")

    # -- activities --------------------------------------------------------------------------
    def where(self, a: Any) -> tuple[Place, ConversationRef, Actor]:
        """Where an activity happened (as the chat service names it), its reference, who."""
        conv, data, who = a.conversation, a.channel_data, str(a.from_.aad_object_id or a.from_.id)
        kind = str(conv.conversation_type or "")
        tenant = conv.tenant_id or (data.tenant.id if data and data.tenant else "") or ""
        channel, _, root = str(conv.id).partition(";messageid=")
        if kind == "channel":  # a thread is its root message's id
            place, key = Place(channel, root or a.reply_to_id or a.id), channel
        else:
            place, key = Place(conv.id), f"@{who}" if kind == "personal" else conv.id
        team = (data.team.id if data and data.team else "") or ""
        ref = ConversationRef(self.name, key, channel, a.service_url or "", kind, tenant, team)
        return place, ref, Actor(self.name, who, who.lower() in self.admins, tenant or None)

    async def remember(self, ref: ConversationRef) -> None:
        await asyncio.to_thread(self.conversations.remember, ref, at=datetime.now(UTC))

    async def on_message(self, ctx: Any) -> None:
        self.inflight.spawn(self.answer(ctx.activity))  # acknowledged now, answered after

    async def answer(self, a: Any) -> None:
        place, ref, actor = self.where(a)
        await self.remember(ref)
        text, mine = str(a.text or ""), mentions_of(a)
        for mention in mine:
            text = text.replace(mention, " ")
        text, direct = text.strip(), ref.kind == "personal"
        if direct and self.chat.commands.starts(text):
            progress = lambda said: self.say(ref, Reply(text=said))  # noqa: E731
            reply = await self.chat.run_words(text, actor=actor, place=place, working=progress)
            return await self.say(ref, reply)
        msg = ChatMessage(text, actor, place, str(a.id), direct or bool(mine), direct)

        async def send(reply: Reply) -> Place | None:
            await self.say(ref, reply, thread=place.thread or "")
            return place if place.thread else None

        earlier = None if place.thread == a.id else lambda: self.chat.recorded(msg)  # (a new post)
        await self.chat.respond(msg, send=send, earlier=earlier)

    async def say(self, ref: ConversationRef, reply: Reply, *, thread: str = "") -> None:
        await self.poster.send(ref, render_reply(reply), thread=thread)  # (it is in the place)

    async def on_card(self, ctx: Any) -> Shown:
        """A click: its private reply is the invoke's answer (within a few seconds)."""
        a, shown = ctx.activity, asyncio.get_running_loop().create_future()
        (place, ref, actor), data = self.where(a), a.value.action.data
        click = ButtonClick(str(data.get("action")), str(data.get("value")), actor, place.channel)

        async def private(text: str) -> None:
            if not shown.done():
                shown.set_result(text)

        async def thread() -> Place | None:  # (the notice's own thread; a chat has none)
            return place if ref.kind == "channel" else None

        post = lambda where, text: self.say(ref, Reply(text=text), thread=where.thread or "")  # noqa: E731
        pointed = lambda where, first: private(message("teams_ask_in_thread"))  # noqa: E731
        self.inflight.spawn(self.remember(ref))
        ui = ButtonUI(private, thread=thread, post=post, pointed=pointed)
        pressing = self.inflight.spawn(self.chat.press(click, ui))
        await asyncio.wait({shown, pressing}, timeout=INVOKE_SECONDS, return_when="FIRST_COMPLETED")
        return Shown(value=shown.result() if shown.done() else message("teams_still_working"))

    async def on_update(self, ctx: Any) -> None:
        """The bot added to (or removed from) a team, a chat or a person's chat."""
        (a, now), refs = (ctx.activity, datetime.now(UTC)), self.conversations
        _, ref, _ = self.where(a)
        me = {a.recipient.id}
        if getattr(a, "members_added", None) or getattr(a, "members_removed", None):
            self.chat.membership_changed(self.name, ref.place)  # asked again at the next question
        gone = me & {m.id for m in getattr(a, "members_removed", None) or []}
        if gone or getattr(a, "action", "") == "remove":
            await asyncio.to_thread(refs.mark_team_removed, self.name, ref.team, at=now)
            await asyncio.to_thread(refs.mark_removed, self.name, ref.place, at=now)
            return
        await self.remember(ref)
        if self.app and ref.team and me & {m.id for m in getattr(a, "members_added", None) or []}:
            api = self.app.api.clone(service_url=ref.service_url)  # every channel of the team
            channels = [str(c.id) for c in await api.teams.get_conversations(ref.team) if c.id]
            for channel in channels:
                await self.remember(replace(ref, place=channel, conversation_id=channel))

    def organisations(self, channel: str) -> list[str]:
        """The organisations (tenant ids) besides the vendor's of a channel's or chat's
        members; blocking, for worker threads (bot/chat/membership.py)."""
        return [t for t in self.poster.run_on_loop(self.tenants(channel)) if t != self.home]

    async def tenants(self, channel: str) -> list[str]:
        """The tenant ids of a channel's or chat's members ("?": not read)."""
        ref = await asyncio.to_thread(self.conversations.get, self.name, channel)
        if ref is None or self.app is None:
            return ["?"]
        api, found, more = self.app.api.clone(service_url=ref.service_url), [], None
        for _ in range(MEMBER_PAGES):
            page = await api.conversations.get_paged_members(ref.conversation_id, 500, more)
            found += [m.tenant_id or "?" for m in page.members]
            if not (more := page.continuation_token):
                return found
        return [*found, "?"]


def mentions_of(a: Any) -> list[str]:
    """The texts of an activity's @mentions of the bot ("<at>partnerbot</at>")."""
    mentions = [e for e in a.entities or [] if getattr(e, "type", "") == "mention"]
    return [e.text or "" for e in mentions if e.mentioned.id == a.recipient.id]
