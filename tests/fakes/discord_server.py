"""A stand-in Discord (REST API + gateway websocket) on 127.0.0.1 for end-to-end tests.

Real discord.py talks to it unchanged once ``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` point here (see :meth:`FakeDiscord.patch`).
The server runs in its own thread and event loop, so the client under test can
run in the test's loop. Everything is recorded so tests can assert on what the
bot actually sent, and failures (429s, 5xx, dropped sockets) can be injected.
It covers what the Discord adapter uses (tests/adapters); the bot's behaviour is
tested on the in-memory platform (tests/fakes/memory_platform.py), not here.

Typical use::

    with fake_discord() as fake:
        client = discord.Client(intents=..., guild_ready_timeout=0.05)
        task = asyncio.create_task(client.start(fake.token))
        await fake.wait_for_ready()
        fake.message_create("hello")
        [req] = await fake.wait_for(("POST", r"^/channels/\\d+/messages$"))

Methods that only touch the fake (the event builders,
``drop_connection``) are synchronous and never wait on the client; the
``wait_for*`` helpers are coroutines so the client keeps running while a test waits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import json
import logging
import math
import re
import secrets
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import yarl
from aiohttp import WSMsgType, web

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
T = TypeVar("T")

DISCORD_EPOCH_MS = 1_420_070_400_000

# Gateway intent bits the fake honours when it builds or echoes events.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction callback types (Discord's numbering).
CB_CHANNEL_MESSAGE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5

ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1

RequestMatch = Callable[["Req"], bool] | tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Req:
    """One HTTP request the fake received; ``path`` is relative to ``/api/v10``."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    query: dict[str, str] = dataclasses.field(default_factory=dict)
    status: int = 0

    def __str__(self) -> str:
        query = f"?{'&'.join(f'{k}={v}' for k, v in self.query.items())}" if self.query else ""
        return f"{self.method} {self.path}{query} -> {self.status}"


class FakeDiscordTimeout(AssertionError):
    """A ``wait_for*`` helper gave up; the message lists what the fake did see."""


class _ApiError(Exception):
    """Raised by a route handler to answer with a Discord-shaped JSON error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclasses.dataclass
class _Fault:
    pattern: re.Pattern[str]
    method: str | None
    remaining: int
    status: int
    body: JSON
    retry_after: float | None = None
    is_global: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.pattern.search(path))


_Match = re.Match[str]
_Query = Mapping[str, str]
_Reply = tuple[int, Any]  # (HTTP status, JSON body or None for 204)
_Handler = Callable[[_Match, Any, _Query], _Reply]


@dataclasses.dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler
    template: str
    needs_auth: bool


@dataclasses.dataclass
class _Session:
    session_id: str
    intents: int
    seq: int = 0
    log: list[JSON] = dataclasses.field(default_factory=list)
    conn: _Conn | None = None
    ready: bool = False


@dataclasses.dataclass
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    query: dict[str, str]
    outbox: asyncio.Queue[str | None]
    session: _Session | None = None
    writer: asyncio.Task[None] | None = None


@dataclasses.dataclass
class _Interaction:
    payload: JSON
    token: str
    created: float
    channel_id: int
    responded_type: int | None = None
    original_message_id: int | None = None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class FakeDiscord:
    """Discord REST + gateway on 127.0.0.1 with one guild, recording everything."""

    GUILD_ID = 800_000_000_000_000_001
    BOT_ID = 800_000_000_000_000_010
    ADMIN_USER_ID = 800_000_000_000_000_020
    USER_ID = 800_000_000_000_000_021
    ADMIN_ROLE_ID = 800_000_000_000_000_030
    PARTNER_ROLE_ID = 800_000_000_000_000_031
    CHANNEL_ID = 800_000_000_000_000_040
    PARTNER_CHANNEL_ID = 800_000_000_000_000_041

    def __init__(
        self,
        *,
        token: str | None = "fake-bot-token",
        bot_name: str = "partnerbot",
        guild_name: str = "Partner Community",
        heartbeat_interval_ms: int = 41_250,
        application_flags: int = 0,
        echo_bot_messages: bool = True,
        enforce_intents: bool = True,
        interaction_ack_deadline: float | None = 3.0,
    ) -> None:
        """Configure the fake; nothing listens until :meth:`start`.

        ``token=None`` accepts any token. ``echo_bot_messages`` sends the bot's own
        messages back as gateway events, as Discord does. ``enforce_intents`` withholds
        or blanks events the identified intents would not receive (no GUILD_MESSAGES,
        no MESSAGE_CONTENT). ``interaction_ack_deadline`` rejects interaction callbacks that
        come too late.
        """
        self.token = token
        self.bot_id = self.BOT_ID
        self.application_id = self.BOT_ID
        self.guild_id = self.GUILD_ID
        self.channel_id = self.CHANNEL_ID
        self.partner_channel_id = self.PARTNER_CHANNEL_ID
        self.admin_role_id = self.ADMIN_ROLE_ID
        self.partner_role_id = self.PARTNER_ROLE_ID
        self.admin_user_id = self.ADMIN_USER_ID
        self.user_id = self.USER_ID
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.application_flags = application_flags
        self.content_intent = True  # the message-content intent is enabled for the bot
        self.echo_bot_messages = echo_bot_messages
        self.enforce_intents = enforce_intents
        self.interaction_ack_deadline = interaction_ack_deadline

        self._lock = threading.RLock()
        self._last_snowflake = 0
        self._requests: list[Req] = []
        self._unhandled: list[str] = []
        self._faults: list[_Fault] = []
        self._identify: list[JSON] = []
        self._resume: list[JSON] = []
        self._withheld: list[tuple[str, JSON]] = []
        self._ready_count = 0
        self._resumed_count = 0
        self._invalidate_resumes = 0

        self._users: dict[int, JSON] = {}
        self._members: dict[int, JSON] = {}
        self._roles: dict[int, JSON] = {}
        self._channels: dict[int, JSON] = {}
        self._dm_by_user: dict[int, int] = {}
        self._messages: dict[int, JSON] = {}
        self._commands: dict[tuple[int, int | None], list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._interactions: dict[str, _Interaction] = {}

        self._sessions: dict[str, _Session] = {}
        self._conns: list[_Conn] = []
        self._pending: list[tuple[str, JSON, bool]] = []
        self._background: set[asyncio.Future[Any]] = set()

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._routes = self._build_routes()
        self._seed_guild(bot_name=bot_name, guild_name=guild_name)

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """TCP port the fake listens on (0 before :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Websocket URL of the fake gateway (without query)."""
        return f"ws://127.0.0.1:{self._port}/gateway-ws"

    def start(self) -> FakeDiscord:
        """Start the server thread; returns once the port is listening."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-discord", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError("fake Discord failed to start") from failure[0]
        logger.debug("fake Discord listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Close sockets, stop the server and join its thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        if thread.is_alive():  # pragma: no cover - only on a wedged server
            logger.warning("fake Discord thread did not stop in time")
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def patch(self) -> Iterator[FakeDiscord]:
        """Point discord.py's REST base and default gateway at this fake, then restore."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield self
        finally:
            Route.BASE = old_base
            DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    async def _startup(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway-ws", self._gateway_handler)
        app.router.add_route("*", "/{tail:.*}", self._rest_handler)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for conn in list(self._conns):
            self._abort(conn)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server loop and return its result (never waits on the client)."""
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("FakeDiscord is not running; call start() first")
        if threading.current_thread() is self._thread:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    # ------------------------------------------------------------------ guild seed

    def _seed_guild(self, *, bot_name: str, guild_name: str) -> None:
        self._guild: JSON = {
            "id": str(self.guild_id),
            "name": guild_name,
            "icon": None,
            "owner_id": str(self.admin_user_id),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "features": [],
            "emojis": [],
            "stickers": [],
            "system_channel_id": None,
        }
        self._add_user(self.bot_id, bot_name, bot=True)
        self._add_user(self.admin_user_id, "admin-alice")
        self._add_user(self.user_id, "partner-bob")
        self.add_role(
            "@everyone", permissions=(1 << 10) | (1 << 11) | (1 << 16), role_id=self.guild_id
        )
        self.add_role("admin", permissions=ADMINISTRATOR, role_id=self.admin_role_id)
        self.add_role("partner", permissions=0, role_id=self.partner_role_id)
        self.add_text_channel("general", channel_id=self.channel_id)
        self.add_text_channel("partner-news", channel_id=self.partner_channel_id)
        self.add_member(self.bot_id, role_ids=())
        self.add_member(self.admin_user_id, role_ids=(self.admin_role_id,))
        self.add_member(self.user_id, role_ids=(self.partner_role_id,))

    def _add_user(self, user_id: int, name: str, *, bot: bool = False) -> JSON:
        user = {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
        }
        with self._lock:
            self._users[user_id] = user
        return user

    def _user(self, user_id: int, *, bot: bool = False) -> JSON:
        with self._lock:
            user = self._users.get(user_id)
        if user is None:
            user = self._add_user(user_id, f"user-{user_id}", bot=bot)
        return copy.deepcopy(user)

    def add_role(self, name: str, *, permissions: int = 0, role_id: int | None = None) -> int:
        """Add a guild role (before the client connects); returns its id."""
        role_id = role_id or self._snowflake()
        with self._lock:
            role = {
                "id": str(role_id),
                "name": name,
                "permissions": str(permissions),
                "position": len(self._roles),
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
                "icon": None,
                "unicode_emoji": None,
            }
            self._roles[role_id] = role
        return role_id

    def add_text_channel(self, name: str, *, channel_id: int | None = None) -> int:
        """Add a guild text channel (before the client connects); returns its id."""
        channel_id = channel_id or self._snowflake()
        with self._lock:
            position = sum(1 for c in self._channels.values() if c.get("guild_id"))
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(self.guild_id),
                "name": name,
                "position": position,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "flags": 0,
            }
        return channel_id

    def add_member(
        self, user_id: int, *, name: str | None = None, role_ids: Sequence[int] = ()
    ) -> None:
        """Add (or replace) a guild member with the given roles."""
        if name is not None:
            self._add_user(user_id, name)
        user = self._user(user_id)
        with self._lock:
            self._members[user_id] = {
                "user": user,
                "roles": [str(r) for r in role_ids],
                "joined_at": _now_iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "pending": False,
                "avatar": None,
            }

    def _guild_payload(self) -> JSON:
        with self._lock:
            guild = copy.deepcopy(self._guild)
            guild.update(
                roles=copy.deepcopy(list(self._roles.values())),
                channels=[
                    copy.deepcopy(c)
                    for c in self._channels.values()
                    if c.get("type") in (0, 2, 4, 5)
                ],
                threads=[
                    copy.deepcopy(c)
                    for c in self._channels.values()
                    if c.get("type") in (10, 11, 12)
                ],
                members=copy.deepcopy(list(self._members.values())),
                member_count=len(self._members),
                large=False,
                unavailable=False,
                joined_at=_now_iso(),
                voice_states=[],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return guild

    def _member_permissions(self, user_id: int, role_ids: Sequence[int]) -> int:
        if user_id == self.admin_user_id:  # the guild owner
            return ALL_PERMISSIONS
        with self._lock:
            perms = int(self._roles[self.guild_id]["permissions"])
            for role_id in role_ids:
                role = self._roles.get(role_id)
                if role is not None:
                    perms |= int(role["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def _member_roles(self, user_id: int) -> list[int]:
        with self._lock:
            member = self._members.get(user_id)
            return [int(r) for r in member["roles"]] if member else []

    # ------------------------------------------------------------------ ids / records

    def _snowflake(self) -> int:
        with self._lock:
            candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            if candidate <= self._last_snowflake:
                candidate = self._last_snowflake + 1
            self._last_snowflake = candidate
            return candidate

    @property
    def requests(self) -> list[Req]:
        """Every HTTP request so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def unhandled(self) -> list[str]:
        """``"METHOD /path"`` of requests no route answered (they got a 404)."""
        with self._lock:
            return list(self._unhandled)

    @property
    def identify_payloads(self) -> list[JSON]:
        """The ``d`` of every IDENTIFY received (token, intents, properties...)."""
        with self._lock:
            return copy.deepcopy(self._identify)

    @property
    def resume_payloads(self) -> list[JSON]:
        """The ``d`` of every RESUME received (token, session_id, seq)."""
        with self._lock:
            return copy.deepcopy(self._resume)

    @property
    def ready_count(self) -> int:
        """Number of READY (+ GUILD_CREATE) sequences sent."""
        with self._lock:
            return self._ready_count

    @property
    def resumed_count(self) -> int:
        """Number of successful RESUMEs."""
        with self._lock:
            return self._resumed_count

    @property
    def connected(self) -> bool:
        """Whether a client holds a live, identified gateway session."""
        with self._lock:
            return any(s.conn is not None and s.ready for s in self._sessions.values())

    def bot_messages(self, channel_id: int | None = None) -> list[JSON]:
        """Messages authored by the bot (REST, interaction responses, follow-ups), oldest first."""
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._messages.values()
                if m["author"]["id"] == str(self.bot_id)
                and not m.get("_deleted")
                and (channel_id is None or int(m["channel_id"]) == int(channel_id))
            ]

    def message(self, message_id: int) -> JSON:
        """One stored message by id (KeyError if unknown)."""
        with self._lock:
            return copy.deepcopy(self._messages[int(message_id)])

    def interaction_responses(self) -> list[Req]:
        """Recorded interaction callbacks (``POST /interactions/{id}/{token}/callback``)."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/callback")]

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Application commands as last bulk-overwritten (global, or for one guild)."""
        with self._lock:
            return copy.deepcopy(self._commands.get((self.application_id, guild_id), []))

    # ------------------------------------------------------------------ waiting

    async def wait_until(
        self,
        condition: Callable[[], T | None],
        *,
        timeout: float = 5.0,
        describe: str = "condition",
    ) -> T:
        """Poll ``condition`` until it returns something truthy; raise with a listing on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise FakeDiscordTimeout(
                    f"timed out after {timeout}s waiting for {describe}\n{self.describe()}"
                )
            await asyncio.sleep(0.01)

    async def wait_for(
        self, match: RequestMatch, count: int = 1, timeout: float = 5.0
    ) -> list[Req]:
        """Wait until ``count`` requests match ``match``: a predicate or ``(method, path_regex)``.

        ``method`` may be ``"*"``; the regex is searched in the path relative to ``/api/v10``.
        Returns all matching requests so far.
        """
        if callable(match):
            predicate = match
            what = getattr(match, "__name__", "predicate")
        else:
            method, regex = match
            pattern = re.compile(regex)

            def predicate(req: Req) -> bool:
                return method in ("*", req.method) and bool(pattern.search(req.path))

            what = f"{method} {regex}"

        def hits() -> list[Req] | None:
            found = [r for r in self.requests if predicate(r)]
            return found if len(found) >= count else None

        return await self.wait_until(
            hits, timeout=timeout, describe=f"{count} request(s) matching {what}"
        )

    async def wait_for_ready(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until READY + GUILD_CREATE have been sent ``count`` times."""
        await self.wait_until(
            lambda: self.ready_count >= count, timeout=timeout, describe=f"{count} READY"
        )

    async def wait_for_resume(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``count`` RESUMEs have been accepted."""
        await self.wait_until(
            lambda: self.resumed_count >= count, timeout=timeout, describe=f"{count} RESUMED"
        )

    async def wait_for_message(
        self,
        predicate: Callable[[JSON], bool] | None = None,
        *,
        channel_id: int | None = None,
        timeout: float = 5.0,
    ) -> JSON:
        """Wait for a bot-authored message (optionally in a channel / matching ``predicate``)."""

        def hit() -> JSON | None:
            for msg in self.bot_messages(channel_id):
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.wait_until(hit, timeout=timeout, describe="a bot message")

    def describe(self) -> str:
        """Human-readable summary of what the fake has seen, for failure messages."""
        reqs = self.requests
        lines = [f"fake Discord on {self.base_url}: {len(reqs)} request(s)"]
        lines += [f"  {r}" for r in reqs[-40:]]
        if self.unhandled:
            lines.append("unhandled (answered 404): " + ", ".join(self.unhandled))
        with self._lock:
            lines.append(
                f"gateway: {len(self._identify)} IDENTIFY, {len(self._resume)} RESUME, "
                f"{self._ready_count} READY, {self._resumed_count} RESUMED, "
                f"{len(self._pending)} event(s) pending, {len(self._withheld)} withheld"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ failure injection

    def rate_limit_next(
        self,
        path_regex: str,
        retry_after: float = 0.5,
        times: int = 1,
        *,
        method: str | None = None,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with a Discord-shaped 429."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        with self._lock:
            self._faults.append(
                _Fault(
                    re.compile(path_regex),
                    method,
                    times,
                    429,
                    body,
                    retry_after=retry_after,
                    is_global=is_global,
                )
            )

    def fail_next(
        self,
        path_regex: str,
        status: int = 500,
        times: int = 1,
        *,
        method: str | None = None,
        code: int = 0,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a JSON error body.

        discord.py retries 500/502/504/524 itself after ``1 + 2*attempt`` seconds.
        """
        body = {"message": message or f"{status}: injected failure", "code": code}
        with self._lock:
            self._faults.append(_Fault(re.compile(path_regex), method, times, status, body))

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    # ------------------------------------------------------------------ REST plumbing

    def _build_routes(self) -> list[_Route]:
        chan = r"/channels/(?P<channel_id>\d+)"
        msg = chan + r"/messages/(?P<message_id>\d+)"
        app = r"/applications/(?P<app_id>\d+)"
        guild = r"/guilds/(?P<guild_id>\d+)"
        hook = r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)"
        table: list[tuple[str, str, _Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", r"/users/(?P<user_id>\d+)", self._get_user, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", guild + r"/members/(?P<user_id>\d+)", self._get_member, True),
            ("GET", chan, self._get_channel, True),
            ("GET", chan + "/messages", self._get_history, True),
            ("POST", chan + "/messages", self._post_message, True),
            ("POST", msg + "/threads", self._thread_from_message, True),
            ("POST", chan + "/typing", self._typing, True),
            ("PUT", app + "/commands", self._put_commands, True),
            ("PUT", app + guild + "/commands", self._put_commands, True),
            (
                "POST",
                r"/interactions/(?P<interaction_id>\d+)/(?P<token>[^/]+)/callback",
                self._interaction_callback,
                False,
            ),
            ("POST", hook, self._webhook_execute, False),
        ]
        routes = []
        for method, path, handler, needs_auth in table:
            template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
            routes.append(_Route(method, re.compile(f"^{path}$"), handler, template, needs_auth))
        return routes

    async def _read_body(self, request: web.Request) -> Any:
        raw = await request.read() if request.can_read_body else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        match = re.match(r"^/api/v\d+(/.*)$", request.path)
        path = match.group(1) if match else request.path
        method = request.method
        body = await self._read_body(request)
        query = dict(request.query)
        headers = dict(request.headers)

        route, route_match = self._find_route(method, path)
        bucket = (route.template if route else path).replace("/", ".")
        fault = self._take_fault(method, path)
        status: int
        payload: Any
        if fault is not None:
            status, payload = fault.status, copy.deepcopy(fault.body)
        elif route is None or route_match is None:
            status = 404
            payload = {"message": f"fake Discord has no route for {method} {path}", "code": 0}
            logger.warning("fake Discord: unhandled %s %s (body=%r)", method, path, body)
            with self._lock:
                self._unhandled.append(f"{method} {path}")
        elif (
            route.needs_auth
            and self.token is not None
            and headers.get("Authorization") != f"Bot {self.token}"
        ):
            status, payload = 401, {"message": "401: Unauthorized", "code": 0}
        else:
            try:
                with self._lock:
                    status, payload = route.handler(route_match, body, query)
            except _ApiError as exc:
                status, payload = exc.status, {"message": exc.message, "code": exc.code}
            except Exception as exc:  # a bug in the fake: make it loud, not a hang
                logger.exception("fake Discord handler failed for %s %s", method, path)
                status = 500
                payload = {
                    "message": f"fake Discord crashed: {exc!r}",
                    "trace": traceback.format_exc(),
                    "code": 0,
                }
        with self._lock:
            self._requests.append(Req(method, path, body, headers, query, status))
        return self._response(status, payload, bucket, fault)

    def _find_route(self, method: str, path: str) -> tuple[_Route | None, re.Match[str] | None]:
        for route in self._routes:
            if route.method == method:
                found = route.pattern.match(path)
                if found:
                    return route, found
        return None, None

    def _response(
        self, status: int, payload: Any, bucket: str, fault: _Fault | None
    ) -> web.Response:
        now = time.time()
        # discord.py ignores a 429 (treats it as a Cloudflare ban) unless a Via header is present.
        headers = {"Via": "1.1 google"}
        if fault is not None and fault.status == 429:
            retry_after = fault.retry_after or 0.0
            headers.update(
                {
                    "Retry-After": str(max(1, math.ceil(retry_after))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{now + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": bucket,
                    "X-RateLimit-Scope": "global" if fault.is_global else "user",
                }
            )
            if fault.is_global:
                headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "50",
                    "X-RateLimit-Remaining": "49",
                    "X-RateLimit-Reset": f"{now + 1:.3f}",
                    "X-RateLimit-Reset-After": "1.000",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        if status == 204 or payload is None:
            return web.Response(status=204 if status < 300 else status, headers=headers)
        # Exactly "application/json": discord.py compares the header verbatim.
        headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=_dumps(payload).encode(), headers=headers)

    # ------------------------------------------------------------------ REST: users, app, gateway

    def _get_me(self, m: _Match, body: Any, query: _Query) -> _Reply:
        me = self._user(self.bot_id)
        me.update(verified=True, mfa_enabled=False, flags=0, locale="en-US")
        return 200, me

    def _get_user(self, m: _Match, body: Any, query: _Query) -> _Reply:
        user_id = int(m["user_id"])
        if user_id not in self._users:
            raise _ApiError(404, 10013, "Unknown User")
        return 200, self._user(user_id)

    def _get_member(self, m: _Match, body: Any, query: _Query) -> _Reply:
        """GET /guilds/{guild}/members/{user}: a member of the one guild, with its roles."""
        if int(m["guild_id"]) != self.guild_id:
            raise _ApiError(404, 10004, "Unknown Guild")
        member = self._members.get(int(m["user_id"]))
        if member is None:
            raise _ApiError(404, 10007, "Unknown Member")
        return 200, copy.deepcopy(member)

    def _get_application(self, m: _Match, body: Any, query: _Query) -> _Reply:
        return 200, {
            "id": str(self.application_id),
            "name": self._users[self.bot_id]["username"],
            "description": "fake application",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self._user(self.admin_user_id),
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "team": None,
            "bot": self._user(self.bot_id),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    def _create_dm(self, m: _Match, body: Any, query: _Query) -> _Reply:
        recipient = int((body or {}).get("recipient_id", 0))
        if not recipient:
            raise _ApiError(400, 50035, "Invalid Form Body: recipient_id")
        return 200, copy.deepcopy(self._channels[self._dm_channel(recipient)])

    def _dm_channel(self, user_id: int) -> int:
        with self._lock:
            existing = self._dm_by_user.get(user_id)
            if existing is not None:
                return existing
            channel_id = self._snowflake()
            self._channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "recipients": [self._user(user_id)],
                "flags": 0,
            }
            self._dm_by_user[user_id] = channel_id
            return channel_id

    # ------------------------------------------------------------------ REST: channels and messages

    def _channel(self, channel_id: int) -> JSON:
        channel = self._channels.get(int(channel_id))
        if channel is None:
            raise _ApiError(404, 10003, "Unknown Channel")
        return channel

    def _stored(self, channel_id: int, message_id: int) -> JSON:
        msg = self._messages.get(int(message_id))
        if msg is None or msg.get("_deleted") or int(msg["channel_id"]) != int(channel_id):
            raise _ApiError(404, 10008, "Unknown Message")
        return msg

    @staticmethod
    def _public(msg: JSON) -> JSON:
        out = copy.deepcopy(msg)
        out.pop("_deleted", None)
        return out

    def _get_channel(self, m: _Match, body: Any, query: _Query) -> _Reply:
        return 200, copy.deepcopy(self._channel(int(m["channel_id"])))

    def _get_history(self, m: _Match, body: Any, query: _Query) -> _Reply:
        channel_id = int(m["channel_id"])
        self._channel(channel_id)
        limit = max(1, min(100, int(query.get("limit", 50))))
        msgs = [
            msg
            for msg in self._messages.values()
            if int(msg["channel_id"]) == channel_id
            and not msg.get("_deleted")
            and not int(msg.get("flags", 0)) & FLAG_EPHEMERAL
        ]
        msgs.sort(key=lambda msg: int(msg["id"]))
        if "before" in query:
            msgs = [x for x in msgs if int(x["id"]) < int(query["before"])][-limit:]
        elif "after" in query:
            msgs = [x for x in msgs if int(x["id"]) > int(query["after"])][:limit]
        elif "around" in query:
            pivot = int(query["around"])
            older = [x for x in msgs if int(x["id"]) <= pivot][-(limit - limit // 2) :]
            newer = [x for x in msgs if int(x["id"]) > pivot][: limit // 2]
            msgs = older + newer
        else:
            msgs = msgs[-limit:]
        return 200, [self._public(x) for x in reversed(msgs)]  # newest first, like Discord

    def _post_message(self, m: _Match, body: Any, query: _Query) -> _Reply:
        channel_id = int(m["channel_id"])
        self._channel(channel_id)
        body = body or {}
        if not any(
            body.get(k)
            for k in ("content", "embeds", "components", "sticker_ids", "attachments", "poll")
        ):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        msg = self._new_message(channel_id=channel_id, author_id=self.bot_id, body=body)
        self._store_and_echo(msg)
        return 200, self._public(msg)

    def _thread_from_message(self, m: _Match, body: Any, query: _Query) -> _Reply:
        channel_id, message_id = int(m["channel_id"]), int(m["message_id"])
        msg = self._stored(channel_id, message_id)
        if msg.get("thread"):
            raise _ApiError(400, 160004, "A thread has already been created for this message")
        # Discord reuses the starter message's id as the thread's id.
        thread = self._new_thread(channel_id, message_id, body or {}, thread_type=11)
        msg["thread"] = copy.deepcopy(thread)
        return 201, copy.deepcopy(thread)

    def _new_thread(self, parent_id: int, thread_id: int, body: JSON, *, thread_type: int) -> JSON:
        parent = self._channel(parent_id)
        if parent.get("guild_id") is None:
            raise _ApiError(400, 50024, "Cannot execute action on this channel type")
        now = _now_iso()
        thread = {
            "id": str(thread_id),
            "guild_id": parent["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(self.bot_id),
            "name": body.get("name", "thread"),
            "type": thread_type,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 1440,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
            },
            "member": {
                "id": str(thread_id),
                "user_id": str(self.bot_id),
                "join_timestamp": now,
                "flags": 0,
            },
        }
        self._channels[thread_id] = thread
        self._emit("THREAD_CREATE", dict(copy.deepcopy(thread), newly_created=True), filtered=True)
        return thread

    def _typing(self, m: _Match, body: Any, query: _Query) -> _Reply:
        self._channel(int(m["channel_id"]))
        return 204, None

    # ------------------------------------------------------------ messages: build, store, edit

    def _new_message(
        self,
        *,
        channel_id: int,
        author_id: int,
        body: JSON,
        message_type: int | None = None,
        extra: JSON | None = None,
    ) -> JSON:
        channel = self._channel(channel_id)
        guild_id = channel.get("guild_id")
        content = body.get("content") or ""
        author = self._user(author_id)
        mentions = []
        for mentioned in dict.fromkeys(int(x) for x in re.findall(r"<@!?(\d+)>", content)):
            if mentioned in self._users:
                mentions.append(self._user(mentioned))
        ref = body.get("message_reference")
        msg: JSON = {
            "id": str(self._snowflake()),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": "@everyone" in content,
            "mentions": mentions,
            "mention_roles": list(dict.fromkeys(re.findall(r"<@&(\d+)>", content))),
            "attachments": [],
            "embeds": copy.deepcopy(body.get("embeds") or []),
            "components": copy.deepcopy(body.get("components") or []),
            "reactions": [],
            "pinned": False,
            "type": message_type if message_type is not None else (19 if ref else 0),
            "flags": int(body.get("flags") or 0),
        }
        if guild_id is not None:
            msg["guild_id"] = guild_id
            member = self._members.get(author_id)
            if member is not None:
                msg["member"] = {k: copy.deepcopy(v) for k, v in member.items() if k != "user"}
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if ref:
            # Discord answers with string snowflakes even when the client sent integers.
            ref = {k: str(v) if k.endswith("_id") and v is not None else v for k, v in ref.items()}
            ref.setdefault("channel_id", str(channel_id))
            if guild_id is not None:
                ref.setdefault("guild_id", guild_id)
            msg["message_reference"] = ref
            target = self._messages.get(int(ref.get("message_id", 0) or 0))
            if target is not None and not target.get("_deleted"):
                resolved = self._public(target)
                resolved.pop("referenced_message", None)
                msg["referenced_message"] = resolved
            elif ref.get("fail_if_not_exists", True) and ref.get("message_id"):
                raise _ApiError(400, 50035, "Invalid Form Body: message_reference: Unknown message")
        if extra:
            msg.update(copy.deepcopy(extra))
        return msg

    def _store_and_echo(self, msg: JSON) -> None:
        with self._lock:
            self._messages[int(msg["id"])] = msg
            channel = self._channels.get(int(msg["channel_id"]))
            if channel is not None:
                channel["last_message_id"] = msg["id"]
        is_ephemeral = bool(int(msg.get("flags", 0)) & FLAG_EPHEMERAL)
        if self.echo_bot_messages and not is_ephemeral:
            self._emit("MESSAGE_CREATE", self._public(msg), filtered=True)

    # ------------------------------------------------------------------ REST: application commands

    def _scope(self, m: re.Match[str]) -> tuple[int, int | None]:
        app_id = int(m["app_id"])
        if app_id != self.application_id:
            raise _ApiError(404, 10002, "Unknown Application")
        guild = m.groupdict().get("guild_id")
        return app_id, int(guild) if guild else None

    def _command_payload(self, app_id: int, guild_id: int | None, cmd: JSON) -> JSON:
        kind = int(cmd.get("type", 1))
        key = (guild_id, cmd["name"], kind)
        command_id = self._command_ids.get(key) or self._snowflake()
        self._command_ids[key] = command_id
        out = copy.deepcopy(cmd)
        out.update(
            id=str(command_id),
            application_id=str(app_id),
            type=kind,
            version=str(self._snowflake()),
        )
        out.setdefault("description", "")
        out.setdefault("options", [])
        out.setdefault("default_member_permissions", None)
        out.setdefault("nsfw", False)
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        return out

    def _put_commands(self, m: _Match, body: Any, query: _Query) -> _Reply:
        app_id, guild_id = self._scope(m)
        if not isinstance(body, list):
            raise _ApiError(400, 50035, "Invalid Form Body: expected a list of commands")
        commands = [self._command_payload(app_id, guild_id, cmd) for cmd in body]
        self._commands[(app_id, guild_id)] = commands
        return 200, copy.deepcopy(commands)

    # ------------------------------------------------------------ REST: interactions, webhooks

    def _interaction(self, token: str) -> _Interaction:
        record = self._interactions.get(token)
        if record is None:
            raise _ApiError(404, 10062, "Unknown interaction")
        return record

    def _interaction_callback(self, m: _Match, body: Any, query: _Query) -> _Reply:
        record = self._interaction(m["token"])
        if int(m["interaction_id"]) != int(record.payload["id"]):
            raise _ApiError(404, 10062, "Unknown interaction")
        if record.responded_type is not None:
            raise _ApiError(400, 40060, "Interaction has already been acknowledged.")
        deadline = self.interaction_ack_deadline
        if deadline is not None and time.monotonic() - record.created > deadline:
            raise _ApiError(404, 10062, "Unknown interaction")
        body = body or {}
        cb_type = int(body.get("type", 0))
        data = body.get("data") or {}
        flags = int(data.get("flags") or 0)
        record.responded_type = cb_type
        message: JSON | None = None
        if cb_type == CB_CHANNEL_MESSAGE:
            message = self._interaction_message(record, data, flags)
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            message = self._interaction_message(record, {"content": ""}, flags | FLAG_LOADING)
        else:  # updating the clicked message, modals, autocomplete: not used by the bot
            record.responded_type = None
            raise _ApiError(400, 50035, f"Invalid interaction callback type {cb_type}")
        if query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        info: JSON = {
            "id": record.payload["id"],
            "type": record.payload["type"],
            "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
            "response_message_ephemeral": bool(flags & FLAG_EPHEMERAL),
        }
        response: JSON = {"interaction": info}
        if record.original_message_id is not None:
            info["response_message_id"] = str(record.original_message_id)
        if message is not None:
            response["resource"] = {"type": cb_type, "message": self._public(message)}
        return 200, response

    def _interaction_message(self, record: _Interaction, body: JSON, flags: int) -> JSON:
        payload = record.payload
        user = payload.get("member", {}).get("user") or payload.get("user")
        metadata = {
            "id": payload["id"],
            "type": payload["type"],
            "user": user,
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        if payload["type"] == 2:
            metadata["name"] = payload["data"]["name"]
        msg = self._new_message(
            channel_id=record.channel_id,
            author_id=self.bot_id,
            body=dict(body, flags=flags),
            message_type=20 if payload["type"] == 2 else 0,
            extra={
                "webhook_id": str(self.application_id),
                "application_id": str(self.application_id),
                "interaction_metadata": metadata,
            },
        )
        record.original_message_id = int(msg["id"])
        self._store_and_echo(msg)
        return msg

    def _webhook_record(self, m: re.Match[str]) -> _Interaction:
        record = self._interactions.get(m["token"])
        if record is None or int(m["app_id"]) != self.application_id:
            raise _ApiError(404, 10015, "Unknown Webhook")
        if record.responded_type is None:
            # Discord only accepts follow-ups once the interaction was acknowledged.
            raise _ApiError(404, 10015, "Unknown Webhook")
        return record

    def _webhook_execute(self, m: _Match, body: Any, query: _Query) -> _Reply:
        record = self._webhook_record(m)
        body = body or {}
        if not any(body.get(k) for k in ("content", "embeds", "components", "attachments", "poll")):
            raise _ApiError(400, 50006, "Cannot send an empty message")
        channel_id = int(query.get("thread_id", record.channel_id))
        msg = self._new_message(
            channel_id=channel_id,
            author_id=self.bot_id,
            body=body,
            extra={
                "webhook_id": str(self.application_id),
                "application_id": str(self.application_id),
            },
        )
        self._store_and_echo(msg)
        if query.get("wait", "").lower() in ("1", "true"):
            return 200, self._public(msg)
        return 204, None

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = dict(request.query)
        conn = _Conn(ws=ws, request=request, query=query, outbox=asyncio.Queue())
        conn.writer = asyncio.ensure_future(self._writer(conn))
        with self._lock:
            self._conns.append(conn)
        self._send(conn, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except ValueError:
                        logger.warning("fake Discord: non-JSON gateway frame %r", msg.data[:200])
                        continue
                    self._on_frame(conn, frame)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self._detach(conn)
            conn.outbox.put_nowait(None)
        return ws

    async def _writer(self, conn: _Conn) -> None:
        """Send queued frames in order (one writer per connection)."""
        while True:
            text = await conn.outbox.get()
            if text is None or conn.ws.closed:
                return
            try:
                await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                logger.debug("fake Discord: send failed (%s); dropping writer", exc)
                return

    def _send(self, conn: _Conn, frame: JSON) -> None:
        conn.outbox.put_nowait(_dumps(frame))

    def _detach(self, conn: _Conn) -> None:
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                session.ready = False

    def _abort(self, conn: _Conn) -> None:
        self._detach(conn)
        transport = conn.request.transport
        if transport is not None:
            transport.abort()
        conn.outbox.put_nowait(None)

    def _on_frame(self, conn: _Conn, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            self._send(conn, {"op": 11})
        elif op == 2:
            self._on_identify(conn, data or {})
        elif op == 6:
            self._on_resume(conn, data or {})
        elif op in (3, 4):
            pass  # presence / voice state: recorded, nothing to answer
        else:
            logger.warning("fake Discord: unexpected gateway op %r", op)

    def _close(self, conn: _Conn, code: int, reason: str) -> None:
        self._detach(conn)
        task = asyncio.ensure_future(conn.ws.close(code=code, message=reason.encode()))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _on_identify(self, conn: _Conn, data: JSON) -> None:
        with self._lock:
            self._identify.append(copy.deepcopy(data))
        if self.token is not None and data.get("token") != self.token:
            self._close(conn, 4004, "Authentication failed.")
            return
        if conn.session is not None:
            self._close(conn, 4005, "Already authenticated.")
            return
        if int(data.get("intents") or 0) & INTENT_MESSAGE_CONTENT and not self.content_intent:
            self._close(conn, 4014, "Disallowed intent(s).")  # not enabled in the portal
            return
        session = _Session(session_id=secrets.token_hex(16), intents=int(data.get("intents") or 0))
        with self._lock:
            self._sessions[session.session_id] = session
            session.conn = conn
            conn.session = session
        ready = {
            "v": 10,
            "user": dict(self._user(self.bot_id), verified=True, mfa_enabled=False, flags=0),
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if data.get("shard") is not None:
            ready["shard"] = data["shard"]
        self._send_event(session, "READY", ready, filtered=False)
        self._send_event(session, "GUILD_CREATE", self._guild_payload(), filtered=False)
        with self._lock:
            session.ready = True
            self._ready_count += 1
        self._flush_pending(session)

    def _on_resume(self, conn: _Conn, data: JSON) -> None:
        with self._lock:
            self._resume.append(copy.deepcopy(data))
            session = self._sessions.get(str(data.get("session_id")))
            invalidate = self._invalidate_resumes > 0
            if invalidate:
                self._invalidate_resumes -= 1
        bad_token = self.token is not None and data.get("token") != self.token
        if session is None or invalidate or bad_token:
            self._send(conn, {"op": 9, "d": False})
            return
        with self._lock:
            if session.conn is not None and session.conn is not conn:
                self._detach(session.conn)
            session.conn = conn
            conn.session = session
            last_seen = int(data.get("seq") or 0)
            missed = [copy.deepcopy(f) for f in session.log if f["s"] > last_seen]
        for frame in missed:
            self._send(conn, frame)
        self._send_event(session, "RESUMED", {"_trace": ["fake-discord"]}, filtered=False)
        with self._lock:
            session.ready = True
            self._resumed_count += 1
        self._flush_pending(session)

    def _visible(self, session: _Session, event: str, data: JSON) -> JSON | None:
        """What ``session`` would receive of ``event`` under its intents (None: nothing)."""
        if not self.enforce_intents:
            return data
        intents = session.intents
        if event.startswith("THREAD_") and not intents & INTENT_GUILDS:
            return None
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
            return data
        in_guild = data.get("guild_id") is not None
        if not intents & (INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES):
            return None
        if event == "MESSAGE_DELETE" or intents & INTENT_MESSAGE_CONTENT or not in_guild:
            return data
        author_is_me = data.get("author", {}).get("id") == str(self.bot_id)
        mentions_me = any(u.get("id") == str(self.bot_id) for u in data.get("mentions", []))
        if author_is_me or mentions_me:
            return data
        # Without MESSAGE_CONTENT Discord blanks these fields for other people's guild messages.
        blanked = copy.deepcopy(data)
        blanked.update(content="", embeds=[], attachments=[], components=[])
        return blanked

    def _send_event(self, session: _Session, event: str, data: JSON, *, filtered: bool) -> bool:
        visible = self._visible(session, event, data) if filtered else data
        if visible is None:
            with self._lock:
                self._withheld.append((event, copy.deepcopy(data)))
            logger.info("fake Discord: %s withheld by intents %d", event, session.intents)
            return False
        with self._lock:
            conn = session.conn
            if conn is None:
                self._pending.append((event, data, filtered))
                return False
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": copy.deepcopy(visible)}
            session.log.append(frame)
            del session.log[:-1000]
        self._send(conn, frame)
        return True

    def _emit(self, event: str, data: JSON, *, filtered: bool) -> None:
        """Deliver to every live session, or queue until the next READY/RESUMED."""
        with self._lock:
            live = [s for s in self._sessions.values() if s.conn is not None and s.ready]
            if not live:
                self._pending.append((event, copy.deepcopy(data), filtered))
                return
        for session in live:
            self._send_event(session, event, data, filtered=filtered)

    def _flush_pending(self, session: _Session) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for event, data, filtered in pending:
            self._send_event(session, event, data, filtered=filtered)

    # ------------------------------------------------------------------ gateway: test controls

    def drop_connection(self, code: int | None = 4000) -> int:
        """Close the client's gateway socket(s); ``code=None`` aborts TCP (an abnormal 1006).

        Discord.py should RESUME on the ``resume_gateway_url``. Returns sockets dropped.
        """

        def drop() -> int:
            conns = list(self._conns)
            for conn in conns:
                if code is None:
                    self._abort(conn)
                else:
                    self._close(conn, code, "fake Discord dropped the connection")
            return len(conns)

        return self._call(drop)

    def invalidate_next_resume(self, times: int = 1) -> None:
        """Answer the next RESUME(s) with op 9 (not resumable) so the client re-IDENTIFYs."""
        with self._lock:
            self._invalidate_resumes += times

    # ------------------------------------------------------------------ gateway: event builders

    def message_create(
        self,
        content: str,
        author_id: int | None = None,
        channel_id: int | None = None,
        mentions_bot: bool = True,
        author_is_bot: bool = False,
        guild: bool = True,
        message_reference: int | JSON | None = None,
        *,
        role_ids: Sequence[int] | None = None,
        embeds: Sequence[JSON] = (),
    ) -> JSON:
        """Store a user's message and dispatch MESSAGE_CREATE; returns the full message.

        With ``mentions_bot`` a guild message gets ``<@bot>`` prefixed and the bot in
        ``mentions``. ``guild=False`` sends it in the author's DM channel. Intents are honoured.
        """
        author_id = author_id or self.user_id

        def build() -> JSON:
            with self._lock:
                if author_id not in self._users:
                    self._add_user(author_id, f"user-{author_id}", bot=author_is_bot)
                elif author_is_bot:
                    self._users[author_id]["bot"] = True
                if guild:
                    target = channel_id or self.channel_id
                    if self._channels.get(target, {}).get("guild_id") is None:
                        raise ValueError(f"{target} is not a guild channel of the fake")
                    if role_ids is not None or author_id not in self._members:
                        self.add_member(
                            author_id,
                            role_ids=role_ids
                            if role_ids is not None
                            else self._member_roles(author_id),
                        )
                else:
                    target = self._dm_channel(author_id)
                text = content
                if guild and mentions_bot and f"<@{self.bot_id}>" not in text:
                    text = f"<@{self.bot_id}> {text}"
                body: JSON = {"content": text, "embeds": list(embeds)}
                if message_reference is not None:
                    ref = (
                        message_reference
                        if isinstance(message_reference, dict)
                        else {"message_id": str(message_reference)}
                    )
                    body["message_reference"] = dict(ref, fail_if_not_exists=False)
                msg = self._new_message(channel_id=target, author_id=author_id, body=body)
                if not mentions_bot:
                    msg["mentions"] = [u for u in msg["mentions"] if u["id"] != str(self.bot_id)]
                if "member" in msg:
                    for user in msg["mentions"]:
                        member = self._members.get(int(user["id"]))
                        if member is not None:
                            user["member"] = {
                                k: copy.deepcopy(v) for k, v in member.items() if k != "user"
                            }
                self._messages[int(msg["id"])] = msg
                self._channels[target]["last_message_id"] = msg["id"]
            self._emit("MESSAGE_CREATE", self._public(msg), filtered=True)
            return self._public(msg)

        return self._call(build)

    def interaction_create(
        self,
        command_name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        user_id: int | None = None,
        role_ids: Sequence[int] | None = None,
        channel_id: int | None = None,
        type: int = 2,
        *,
        guild: bool = True,
    ) -> JSON:
        """Dispatch INTERACTION_CREATE for a slash command (type 2) or autocomplete (type 4).

        ``options`` is ``{name: value}`` (types inferred) or raw option dicts. The command
        id comes from the last bulk overwrite when the name is known. Returns the payload.
        """
        raw_options = self._options(options)

        def build() -> JSON:
            with self._lock:
                command_id = None
                command_guild = None
                for (_app_id, scope), commands in self._commands.items():
                    for cmd in commands:
                        if cmd["name"] == command_name and (
                            command_guild is None or scope is not None
                        ):
                            command_id, command_guild = cmd["id"], scope
                data: JSON = {
                    "id": command_id or str(self._snowflake()),
                    "name": command_name,
                    "type": 1,
                    "options": raw_options,
                }
                if command_guild is not None:
                    data["guild_id"] = str(command_guild)
                return self._new_interaction(type, data, user_id, role_ids, channel_id, guild, None)

        return self._call(build)

    def component_click(
        self,
        custom_id: str,
        *,
        message_id: int,
        user_id: int | None = None,
        role_ids: Sequence[int] | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> JSON:
        """Dispatch a type 3 (component) interaction on a stored message, e.g. a button click."""

        def build() -> JSON:
            with self._lock:
                msg = self._messages.get(int(message_id))
                if msg is None:
                    raise ValueError(f"message {message_id} is not stored in the fake")
                data: JSON = {"custom_id": custom_id, "component_type": component_type}
                if values is not None:
                    data["values"] = list(values)
                in_guild = msg.get("guild_id") is not None
                return self._new_interaction(
                    3, data, user_id, role_ids, int(msg["channel_id"]), in_guild, self._public(msg)
                )

        return self._call(build)

    @staticmethod
    def _options(options: Mapping[str, Any] | Sequence[JSON] | None) -> list[JSON]:
        if options is None:
            return []
        if isinstance(options, Mapping):
            out = []
            for name, value in options.items():
                if isinstance(value, bool):
                    kind = 5
                elif isinstance(value, int):
                    kind = 4
                elif isinstance(value, float):
                    kind = 10
                else:
                    kind, value = 3, str(value)
                out.append({"name": name, "type": kind, "value": value})
            return out
        return [copy.deepcopy(dict(o)) for o in options]

    def _new_interaction(
        self,
        kind: int,
        data: JSON,
        user_id: int | None,
        role_ids: Sequence[int] | None,
        channel_id: int | None,
        in_guild: bool,
        message: JSON | None,
    ) -> JSON:
        user_id = user_id or self.user_id
        user = self._user(user_id)
        token = secrets.token_hex(32)
        payload: JSON = {
            "id": str(self._snowflake()),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str(ALL_PERMISSIONS),
        }
        if in_guild:
            roles = list(role_ids) if role_ids is not None else self._member_roles(user_id)
            target = channel_id or self.channel_id
            channel = self._channel(target)
            member = copy.deepcopy(self._members.get(user_id)) or {
                "user": user,
                "joined_at": _now_iso(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "pending": False,
            }
            member.update(user=user, roles=[str(r) for r in roles])
            member["permissions"] = str(self._member_permissions(user_id, roles))
            payload.update(
                guild_id=str(self.guild_id),
                guild={"id": str(self.guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=str(target),
                channel=copy.deepcopy(channel),
                member=member,
                context=0,
                authorizing_integration_owners={"0": str(self.guild_id)},
            )
        else:
            target = self._dm_channel(user_id)
            payload.update(
                channel_id=str(target),
                channel=copy.deepcopy(self._channels[target]),
                user=user,
                context=1,
                authorizing_integration_owners={"0": str(user_id)},
            )
        if message is not None:
            payload["message"] = message
        self._interactions[token] = _Interaction(
            payload=copy.deepcopy(payload), token=token, created=time.monotonic(), channel_id=target
        )
        self._emit("INTERACTION_CREATE", payload, filtered=False)
        return copy.deepcopy(payload)


@contextlib.contextmanager
def fake_discord(**kwargs: Any) -> Iterator[FakeDiscord]:
    """Start a :class:`FakeDiscord` and patch discord.py to use it, for the ``with`` block."""
    with FakeDiscord(**kwargs) as fake, fake.patch():
        yield fake
