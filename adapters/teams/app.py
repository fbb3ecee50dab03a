"""Microsoft Teams on the Teams SDK for Python: activities arrive on `partnerbot serve`'s web
server (/api/messages) and are translated for the chat service (bot/chat/service.py);
replies and notices go out as Adaptive Cards (adapters/teams/render.py).

A request is checked before the SDK sees it — its size, its JSON, its token — then handed to
the SDK, whose own token check stays on. A message is acknowledged at once and answered
after (the SDK runs handlers inside the request, and a slow one makes Teams send it again);
a card click is answered within its invoke. Teams delivers channel and group-chat messages
that mention the bot; commands are taken in the personal chat, where replies are private."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from microsoft_teams.api.activities.typing import TypingActivityInput
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
from microsoft_teams.api.models.adaptive_card import AdaptiveCardActionMessageResponse
from microsoft_teams.apps import App
from microsoft_teams.apps.http.adapter import HttpRouteHandler
from microsoft_teams.common import Client, ClientOptions

from adapters.teams.auth import BotToken, KeyMirror, SigningKeys
from adapters.teams.poster import ConnectorRetry, TeamsPoster
from adapters.teams.render import render_reply
from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.commands import CommandUsageError
from bot.config import Settings
from bot.errors import PartnerbotError
from bot.models import Actor, ButtonClick, ChatMessage, ConversationRef, Place, Reply
from bot.platform import PlatformBase
from bot.prompts import message
from bot.web import Handler

logger = logging.getLogger(__name__)

MESSAGES_PATH = "/api/messages"
LOGIN = "https://login.microsoftonline.com"
METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
SERVICE_URL = "https://smba.trafficmanager.net/teams"
MAX_BODY = 512 * 1024  # bytes; activities are a few KB
INVOKE_SECONDS = 4.0  # a click's private reply goes in the invoke's answer, due within seconds
MEMBER_PAGES = 20  # pages of 500 members read to tell who shares a channel


class RouteTable:
    """The SDK's HTTP adapter: it hands us its /api/messages handler and starts no server."""

    def __init__(self) -> None:
        self.routes: dict[str, HttpRouteHandler] = {}

    def register_route(self, method: str, path: str, handler: HttpRouteHandler) -> None:
        self.routes[path] = handler

    def serve_static(self, path: str, directory: str) -> None:
        return None

    async def start(self, port: int) -> None:
        return None

    async def stop(self) -> None:
        return None


class TeamsPlatform(PlatformBase):
    name = "teams"
    poster: TeamsPoster

    def __init__(self, chat: ChatService, settings: Settings, **options: Any) -> None:
        super().__init__(chat, settings, listen=options.pop("listen", True))
        s, self.options = settings, options
        self.session: aiohttp.ClientSession | None = None
        self.app_id, self.home = str(s.teams_app_id), str(s.teams_tenant_id)
        self.admins, self.conversations = frozenset(s.teams_admin_ids), chat.store.conversations
        secret = s.teams_app_password.get_secret_value().strip() if s.teams_app_password else ""
        url = f"{options.get('login_url', LOGIN)}/{self.home}/oauth2/v2.0/token"
        self.token = BotToken(session=self.http, url=url, app_id=self.app_id, password=secret)
        metadata = options.get("openid_metadata_url", METADATA)
        gap = float(options.get("keys_min_gap", 60.0))  # between fetches for an unknown key
        self.keys = SigningKeys(session=self.http, metadata_url=metadata, min_gap=gap)
        self.app: App | None = None
        self.mirror: KeyMirror | None = None
        self.routes = RouteTable()
        self._refresher: asyncio.Task[None] | None = None
        self.client = Client(ClientOptions(timeout=float(options.get("timeout", 30.0))))
        self.client.use(ConnectorRetry(tries=int(options.get("tries", 4))))
        self.poster = TeamsPoster(store=chat.store)
        home, teams = self.home, self.tenants
        traits = PlatformTraits(hears_unmentioned=False, channel_teams=teams, home_team=home)
        chat.add_platform(self.name, traits)

    def http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.session

    def build_app(self) -> App:
        """The SDK's app, given every setting (it would read what is missing from its
        environment variables), its token check on and pointed at our copy of the keys."""
        self.mirror = KeyMirror(self.keys) if self.listen else None
        app = App(
            client_id=self.app_id,
            tenant_id=self.home,
            token=self.token,
            cloud=with_overrides(
                PUBLIC, openid_metadata_url=self.mirror.url if self.mirror else None
            ),
            service_url=self.options.get("service_url", SERVICE_URL),
            client=self.client,
            http_server_adapter=self.routes,
            messaging_endpoint=MESSAGES_PATH,
            dangerously_allow_unauthenticated_requests=False,
            fetch_user_token=False,
        )
        app.on_message(self.on_message)
        app.on_card_action_execute(self.on_card)
        app.on_conversation_update(self.on_update)
        app.on_installation_update(self.on_update)
        return app

    @property
    def sdk(self) -> App:
        if self.app is None:
            raise PartnerbotError("Teams is not connected yet")
        return self.app

    async def connect(self) -> None:
        """A token (refused credentials: ConfigError), the SDK, and the keys to listen."""
        await self.token(PUBLIC.bot_scope)
        if self.app is None:
            self.poster.app = self.app = self.build_app()
            await self.app.initialize()
        if self.mirror is not None:
            await self.keys.refresh()
            self.mirror.start()
            if self._refresher is None:
                every = float(self.options.get("keys_refresh_seconds", 6 * 3600))
                self._refresher = asyncio.create_task(self.keys.keep_fresh(every))
        self.connected = True

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        if self.mirror is not None:
            await asyncio.to_thread(self.mirror.stop)
        sdk = [self.app.http_client, self.app.api.http] if self.app else []
        for client in (self.client, *sdk):
            await client.http.aclose()
        if self.session is not None:
            await self.session.close()

    def web_routes(self) -> Mapping[str, Handler]:
        return {MESSAGES_PATH: self.on_http} if self.listen else {}

    async def on_http(self, request: web.Request) -> web.Response:
        """Refuse what is not a request from Teams for this bot; hand the rest to the SDK."""
        refused = lambda status, why: self.refused(request, status, why)  # noqa: E731
        if (request.content_length or 0) > MAX_BODY:
            return refused(413, f"{request.content_length} bytes")
        try:
            body = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return refused(413, "too large")
        except ValueError as e:  # malformed JSON, or not UTF-8
            return refused(400, f"malformed JSON ({e})")
        if not isinstance(body, dict) or not isinstance(body.get("serviceUrl", ""), str):
            return refused(400, "not an activity")
        if not self.keys.keys or MESSAGES_PATH not in self.routes.routes:
            return refused(503, "not connected yet")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        service, channel = str(body.get("serviceUrl") or ""), str(body.get("channelId"))
        try:
            await self.keys.check(token, audience=self.app_id, service_url=service, channel=channel)
        except jwt.PyJWTError as e:
            return refused(401, f"token refused: {e}")
        if self.mirror is not None:  # (a key first used now: the SDK must download it too)
            await self.mirror.served_to_sdk(str(jwt.get_unverified_header(token).get("kid")))
        handle = self.routes.routes[MESSAGES_PATH]
        answer = await handle({"body": body, "headers": {**request.headers}})
        status, shown = int(answer["status"]), answer["body"]
        if shown is None:
            return web.Response(status=status)
        return web.json_response(shown, status=status)

    def refused(self, request: web.Request, status: int, why: str) -> web.Response:
        logger.warning("Teams: refused a request from %s (%d): %s", request.remote, status, why)
        return web.Response(status=status, text="refused")

    # -- activities --------------------------------------------------------------------------
    def where(self, a: Any) -> tuple[Place, ConversationRef]:
        """Where an activity happened, as the chat service names it, and its reference."""
        conv, data = a.conversation, a.channel_data
        kind = str(conv.conversation_type or "")
        tenant = conv.tenant_id or (data.tenant.id if data and data.tenant else "") or ""
        team = (data.team.id if data and data.team else "") or ""
        channel, _, root = str(conv.id).partition(";messageid=")
        if kind == "channel":
            place, key = Place(channel, root or a.reply_to_id or None), channel
        else:
            place, key = Place(conv.id), f"@{person(a.from_)}" if kind == "personal" else conv.id
        ref = ConversationRef(self.name, key, channel, a.service_url or "", kind, tenant, team)
        return place, ref

    async def remember(self, ref: ConversationRef) -> None:
        now = datetime.now(UTC)
        await asyncio.to_thread(self.conversations.remember, ref, at=now)

    def actor(self, a: Any, ref: ConversationRef) -> Actor:
        who = person(a.from_)
        return Actor(self.name, who, is_admin=who.lower() in self.admins, team=ref.tenant or None)

    async def on_message(self, ctx: Any) -> None:
        self.inflight.spawn(self.answer(ctx.activity))  # acknowledged now, answered after

    async def answer(self, a: Any) -> None:
        place, ref = self.where(a)
        await self.remember(ref)
        me, text = a.recipient.id, str(a.text or "")
        mentions = [e for e in a.entities or [] if getattr(e, "type", "") == "mention"]
        mine = [e for e in mentions if getattr(e.mentioned, "id", None) == me]
        for e in mine:
            text = text.replace(e.text or "", " ")
        direct, actor, text = ref.kind == "personal", self.actor(a, ref), text.strip()
        if direct and self.is_command(text, actor):
            progress = lambda said: self.say(ref, Reply(text=said))  # noqa: E731
            reply = await self.chat.run_words(text, actor=actor, place=place, working=progress)
            return await self.say(ref, reply)
        if ref.kind == "channel" and not place.thread:  # a new post: its own thread's root
            place = Place(place.channel, str(a.id))
        msg = ChatMessage(text, actor, place, str(a.id), direct or bool(mine), direct)

        async def send(reply: Reply) -> Place | None:
            await self.say(ref, reply, thread=place.thread or "")
            return place if place.thread else None

        earlier, working = lambda: self.chat.recorded(msg), lambda: self.typing(ref, place)
        await self.chat.respond(msg, send=send, earlier=earlier, working=working)

    def is_command(self, text: str, actor: Actor) -> bool:
        try:
            return self.chat.commands.parse_words(text, actor=actor) is not None
        except CommandUsageError:
            return True

    async def say(self, ref: ConversationRef, reply: Reply, *, thread: str = "") -> None:
        await self.poster.send(ref.place, render_reply(reply), thread=thread)

    @contextlib.asynccontextmanager
    async def typing(self, ref: ConversationRef, place: Place) -> AsyncIterator[None]:
        """ "partnerbot is typing…" while the core answers (a failure never stops it)."""
        with contextlib.suppress(Exception):
            await self.poster.send(ref.place, TypingActivityInput(), thread=place.thread or "")
        yield

    async def on_card(self, ctx: Any) -> AdaptiveCardActionMessageResponse:
        """A click: its private reply is the invoke's answer (within a few seconds)."""
        a = ctx.activity
        place, ref = self.where(a)
        self.inflight.spawn(self.remember(ref))
        data = a.value.action.data
        actor = self.actor(a, ref)
        click = ButtonClick(str(data.get("action")), str(data.get("value")), actor, place.channel)
        shown: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def private(text: str) -> None:
            if not shown.done():
                shown.set_result(text)

        async def thread() -> Place | None:
            return place if place.thread else None

        async def post(where: Place, text: str) -> None:
            await self.say(ref, Reply(text=text), thread=where.thread or "")

        async def pointed(where: Place, first: bool) -> None:
            await private(message("teams_ask_in_thread"))

        ui = ButtonUI(private, thread=thread, post=post, pointed=pointed)
        waiting: set[asyncio.Future[Any]] = {shown, self.inflight.spawn(self.chat.press(click, ui))}
        await asyncio.wait(waiting, timeout=INVOKE_SECONDS, return_when="FIRST_COMPLETED")
        text = shown.result() if shown.done() else message("teams_still_working")
        return AdaptiveCardActionMessageResponse(value=text)

    async def on_update(self, ctx: Any) -> None:
        """The bot added to (or removed from) a team, a chat or a person's chat."""
        a = ctx.activity
        _, ref = self.where(a)
        me, now = a.recipient.id, datetime.now(UTC)
        removed = [m for m in getattr(a, "members_removed", None) or [] if m.id == me]
        if removed or getattr(a, "action", "") == "remove":
            if ref.team:
                await asyncio.to_thread(
                    self.conversations.mark_team_removed, self.name, ref.team, at=now
                )
            await asyncio.to_thread(self.conversations.mark_removed, self.name, ref.place, at=now)
            return
        await self.remember(ref)
        if ref.team and [m for m in getattr(a, "members_added", None) or [] if m.id == me]:
            api = self.sdk.api.clone(service_url=ref.service_url)  # every channel of the team
            for c in await api.teams.get_conversations(ref.team):
                if c.id:
                    await self.remember(dataclasses.replace(ref, place=c.id, conversation_id=c.id))

    async def tenants(self, channel: str) -> list[str]:
        """The organisations (tenant ids) of a channel's or chat's members ("?": not read)."""
        ref = await asyncio.to_thread(self.conversations.get, self.name, channel)
        if ref is None:
            return ["?"]
        api, found, more = self.sdk.api.clone(service_url=ref.service_url), [], None
        for _ in range(MEMBER_PAGES):
            page = await api.conversations.get_paged_members(ref.conversation_id, 500, more)
            found += [m.tenant_id or "?" for m in page.members]
            if not (more := page.continuation_token):
                return found
        return [*found, "?"]


def person(account: Any) -> str:
    """Who: the Entra object id (as admins and the partners file list people), else the id."""
    return str(account.aad_object_id or account.id)
