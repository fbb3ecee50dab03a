"""A local stand-in for Slack's Web API and Socket Mode, for tests of the real SDKs.

`FakeSlack` is an aiohttp server on 127.0.0.1 running in its own thread and event
loop, so sync tests and async tests (whose loop must stay free for the SDK) can
both drive it. It records every Web API call and Socket Mode ack, keeps posted
messages per channel so history and thread reads reflect them, and can inject
rate limits and API errors. Module-level helpers build and sign HTTP-mode requests.

It covers what the Slack adapter calls (tests/adapters): the platform's behaviour is
tested on the in-memory platform (tests/fakes/memory_platform.py), not here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

logger = logging.getLogger(__name__)

TEAM_ID = "T000TEAM"
TEAM_DOMAIN = "partners"
TEAM_NAME = "Partners"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
BOT_NAME = "partnerbot"
APP_ID = "A000APP"

# Fields that clients send JSON-encoded inside form bodies; decoded so tests see dicts.
_JSON_FIELDS = frozenset({"blocks", "attachments", "metadata"})

_T = TypeVar("_T")


class FakeSlackTimeout(AssertionError):
    """Raised when a `wait_for*` helper gives up; the message lists what did arrive."""


@dataclass(frozen=True)
class Call:
    """One request that reached the fake Web API (or a response_url)."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method}({_short(self.params)}) -> {self.status} {_short(self.response)}"


@dataclass
class _Failure:
    """A pending injected failure for one method."""

    status: int
    error: str
    retry_after: int | None
    remaining: int


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, default=repr, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _truthy(value: Any) -> bool:
    """Slack accepts true/1 in forms, queries and JSON alike."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _ts_key(message: dict[str, Any]) -> float:
    return float(message.get("ts", "0"))


def _new_event_id() -> str:
    return "Ev" + uuid.uuid4().hex[:10].upper()


# --------------------------------------------------------------------------- HTTP-mode helpers


def sign_request(
    body: bytes | str, signing_secret: str, timestamp: int | None = None
) -> dict[str, str]:
    """Return Slack's v0 request-signing headers for `body` (HMAC-SHA256 over `v0:ts:body`)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode("ascii") + b":" + raw
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """Wrap an event in the Events API `event_callback` body Slack sends."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex[:16],
    }


def slash_command_payload(
    command: str,
    text: str = "",
    user_id: str = "U000USER",
    channel_id: str = "C000CHAN",
    *,
    user_name: str = "partner.user",
    channel_name: str = "partners",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The fields of a slash-command request, as Slack sends them (all strings)."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url
        or f"https://hooks.slack.com/commands/{team_id}/1/{uuid.uuid4().hex}",
        "trigger_id": trigger_id or f"{int(time.time())}.1.{uuid.uuid4().hex}",
    }


def slash_command_form(
    command: str,
    text: str = "",
    user_id: str = "U000USER",
    channel_id: str = "C000CHAN",
    **fields: Any,
) -> bytes:
    """A url-encoded slash-command body for HTTP mode (keywords as `slash_command_payload`)."""
    return urlencode(slash_command_payload(command, text, user_id, channel_id, **fields)).encode(
        "utf-8"
    )


def block_actions_payload(
    action_id: str,
    *,
    value: str | None = None,
    block_id: str = "block",
    user_id: str = "U000USER",
    channel_id: str = "C000CHAN",
    message_ts: str = "1700000000.000100",
    message: dict[str, Any] | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` interaction for a button click on a message."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": action_id},
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    msg = message or {"type": "message", "user": BOT_USER_ID, "ts": message_ts, "text": ""}
    return {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": "partner.user",
            "name": "partner.user",
            "team_id": team_id,
        },
        "api_app_id": api_app_id,
        "token": "verification-token-unused",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or f"{int(time.time())}.1.{uuid.uuid4().hex}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "partners"},
        "message": msg,
        "response_url": response_url
        or f"https://hooks.slack.com/actions/{team_id}/1/{uuid.uuid4().hex}",
        "actions": [action],
    }


def block_actions_form(payload: dict[str, Any]) -> bytes:
    """A url-encoded interactivity body (`payload=<json>`) for HTTP mode."""
    return urlencode({"payload": json.dumps(payload)}).encode("utf-8")


# --------------------------------------------------------------------------- the server


class FakeSlack:
    """Slack Web API + Socket Mode stand-in on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        bot_name: str = BOT_NAME,
        app_id: str = APP_ID,
        first_ts: int = 1_700_000_000,
        socket_ping_interval: float | None = 0.2,
    ) -> None:
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self._first_ts = first_ts
        # Slack pings Socket Mode clients; frequent pings also wake the SDK's blocking
        # builtin client, whose close() otherwise waits out a 3 s socket read timeout.
        self._socket_ping_interval = socket_ping_interval

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._clock_micros = first_ts * 1_000_000  # last ts handed out or seen
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._reactions: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._acks: dict[str, dict[str, Any]] = {}
        self._socket_open = 0
        self._socket_total = 0
        self._held: set[str] = set()  # methods never answered (until the fake stops)
        self._release: asyncio.Event | None = None  # made on the server loop

        self._sockets: list[web.WebSocketResponse] = []  # touched only on the server loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Callable[[dict[str, Any], str | None], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.list": self._conversations_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Start the server thread; returns self once it is listening."""
        if self._thread is not None:
            raise RuntimeError("FakeSlack already started")
        ready = threading.Event()
        errors: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start() below
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="FakeSlack", daemon=True)
        self._thread.start()
        if not ready.wait(10) or errors:
            raise RuntimeError(f"FakeSlack failed to start: {errors!r}")
        logger.debug("FakeSlack listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Close sockets, stop the server and join its thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        except Exception:
            logger.exception("FakeSlack shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response/{hook_id}", self._handle_response_url)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        if self._release is not None:
            self._release.set()
        await self._close_sockets(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """Web API base URL with the trailing slash `WebClient(base_url=...)` needs."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def socket_url(self) -> str:
        """The Socket Mode URL that apps.connections.open hands out (plus a ticket)."""
        return f"ws://127.0.0.1:{self.port}/socket"

    def new_response_url(self) -> str:
        """A response_url on this fake; posts to it are recorded as method `response_url`."""
        return f"http://127.0.0.1:{self.port}/response/{uuid.uuid4().hex}"

    # ------------------------------------------------------------------ recorded calls

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call so far, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """Calls to one Web API method, in arrival order."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    async def async_wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """`wait_for` for async tests: yields to the caller's loop while waiting."""
        return await self._async_wait(
            lambda: (lambda got: got if len(got) >= count else None)(self.calls_to(method)),
            timeout,
            lambda: self._calls_report(f"{count} call(s) to {method}"),
        )

    def _calls_report(self, wanted: str) -> str:
        with self._lock:
            seen = "\n  ".join(str(c) for c in self._calls) or "(none)"
        return f"waiting for {wanted}. Calls seen:\n  {seen}"

    # ------------------------------------------------------------------ test set-up

    def fail_next(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail.

        No `error`: HTTP 429 `ratelimited` with `Retry-After`. With `error`: that
        `{"ok": false, "error": ...}` at HTTP 200 unless `status` says otherwise.
        """
        if status is None:
            status = 429 if error is None else 200
        if error is None:
            error = (
                "ratelimited"
                if status == 429
                else ("internal_error" if status >= 500 else "fatal_error")
            )
        failure = _Failure(status, error, retry_after if status == 429 else None, times)
        with self._lock:
            self._failures.setdefault(method, deque()).append(failure)

    def hold(self, *methods: str) -> None:
        """Take calls to these methods and never answer them (a Slack that hangs), until
        the fake stops; each is still recorded (status 0)."""
        with self._lock:
            self._held.update(methods)

    def seed_messages(self, channel: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add top-level messages to a channel (ts assigned where missing); returns them."""
        stored = []
        with self._lock:
            for message in messages:
                msg = {"type": "message", **copy.deepcopy(message)}
                msg.setdefault("ts", self._next_ts())
                self._store(channel, msg)
                stored.append(copy.deepcopy(msg))
        return stored

    def seed_thread(
        self, channel: str, thread_ts: str, messages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Add messages to a thread (ts assigned where missing); returns them.

        If the thread has no parent yet, the first message without a ts becomes it.
        """
        stored = []
        with self._lock:
            has_parent = self._find(channel, thread_ts) is not None or any(
                m.get("ts") == thread_ts for m in messages
            )
            for message in messages:
                msg = {"type": "message", **copy.deepcopy(message), "thread_ts": thread_ts}
                if "ts" not in msg:
                    msg["ts"] = thread_ts if not has_parent else self._next_ts()
                    has_parent = True
                self._store(channel, msg)
                stored.append(copy.deepcopy(msg))
        return stored

    def seed_channel(self, channel_id: str, **fields: Any) -> None:
        """Register channel details for conversations.info."""
        with self._lock:
            self._channels[channel_id] = {**self._default_channel(channel_id), **fields}

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every stored message of a channel, thread replies included, oldest first."""
        with self._lock:
            return copy.deepcopy(sorted(self._messages.get(channel, []), key=_ts_key))

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Names of the reactions currently on a message."""
        with self._lock:
            return [r["name"] for r in self._reactions.get((channel, ts), [])]

    # ------------------------------------------------------------------ Web API plumbing

    def _next_ts(self) -> str:
        # Always later than any ts seen so far, so replies sort after what they answer.
        self._clock_micros += 100
        seconds, micros = divmod(self._clock_micros, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _observe_ts(self, ts: Any) -> None:
        seconds, _, fraction = str(ts).partition(".")
        with contextlib.suppress(ValueError):
            micros = int(seconds) * 1_000_000 + int((fraction or "0").ljust(6, "0")[:6])
            self._clock_micros = max(self._clock_micros, micros)

    def _store(self, channel: str, message: dict[str, Any]) -> None:
        self._observe_ts(message.get("ts"))
        msgs = self._messages.setdefault(channel, [])
        msgs[:] = [m for m in msgs if m.get("ts") != message.get("ts")]
        msgs.append(message)

    def _find(self, channel: str, ts: str) -> dict[str, Any] | None:
        for message in self._messages.get(channel, []):
            if message.get("ts") == ts:
                return message
        return None

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        return failure

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params[key] = value
                    elif isinstance(value, bytes | bytearray):
                        params[key] = bytes(value)
                    else:  # an uploaded file
                        params[key] = value.file.read()
            else:
                raw = await request.text()
                try:
                    body = json.loads(raw)
                    if isinstance(body, dict):
                        params.update(body)
                except ValueError:
                    params["_raw_body"] = raw
        for key in _JSON_FIELDS & params.keys():
            value = params[key]
            if isinstance(value, str) and value[:1] in ("[", "{"):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        with self._lock:
            held = method in self._held
        if held:  # a Slack that takes the request and never answers it
            self._release = self._release or asyncio.Event()
            with self._lock:
                self._calls.append(Call(method, params, None, 0, {}))
                self._changed.notify_all()
            await self._release.wait()
            return web.Response(status=503)
        auth = request.headers.get("Authorization", "")
        token: str | None = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if token is None and isinstance(params.get("token"), str):
            token = params.pop("token")
        else:
            params.pop("token", None)

        headers: dict[str, str] = {}
        with self._lock:
            failure = self._take_failure(method)
            if failure is not None:
                status, body = failure.status, {"ok": False, "error": failure.error}
                if failure.retry_after is not None:
                    headers["Retry-After"] = str(failure.retry_after)
            else:
                status, body = 200, self._dispatch(method, params, token)
            self._calls.append(Call(method, params, token, status, copy.deepcopy(body)))
            self._changed.notify_all()
        logger.debug("FakeSlack %s %s -> %s", method, _short(params), _short(body))
        return web.json_response(body, status=status, headers=headers)

    def _dispatch(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token.startswith("xapp-") != method.startswith("apps."):
            return {"ok": False, "error": "not_allowed_token_type"}
        handler = self._methods.get(method)
        if handler is None:
            return {"ok": True}
        try:
            return handler(params, token)
        except (KeyError, ValueError, TypeError) as exc:
            logger.debug("FakeSlack %s: bad arguments %r", method, exc)
            return {"ok": False, "error": "invalid_arguments"}

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        try:
            params = await request.json()
        except ValueError:
            params = dict(await request.post())
        params = params if isinstance(params, dict) else {"body": params}
        params["_hook_id"] = request.match_info["hook_id"]
        with self._lock:
            self._calls.append(Call("response_url", params, None, 200, {}))
            self._changed.notify_all()
        return web.Response(text="ok")

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": TEAM_NAME,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {"ok": True, "url": f"{self.socket_url}?ticket={uuid.uuid4()}&app_id={self.app_id}"}

    def _resolve_channel(self, channel: str) -> str:
        # Posting to a user ID lands in the DM with that user, as on Slack.
        if channel[:1] in ("U", "W"):
            return "D" + channel[1:]
        return channel

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key) not in (None, ""):
                message[key] = copy.deepcopy(params[key])
        return message

    def _chat_post_message(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        channel = self._resolve_channel(str(params["channel"]))
        message = self._bot_message(params, self._next_ts())
        if message.get("thread_ts") and _truthy(params.get("reply_broadcast", False)):
            message["subtype"] = "thread_broadcast"
        self._store(channel, message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": copy.deepcopy(message),
        }

    def _chat_get_permalink(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        channel, ts = str(params["channel"]), str(params["message_ts"])
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        message = self._find(channel, ts)
        if message and message.get("thread_ts") not in (None, ts):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _reactions_add(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        key = (str(params["channel"]), str(params["timestamp"]))
        name = str(params["name"]).strip(":")
        user = self.bot_user_id
        existing = self._reactions.setdefault(key, [])
        if any(r["name"] == name and r["user"] == user for r in existing):
            return {"ok": False, "error": "already_reacted"}
        existing.append({"name": name, "user": user})
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        key = (str(params["channel"]), str(params["timestamp"]))
        name = str(params["name"]).strip(":")
        existing = self._reactions.get(key, [])
        kept = [r for r in existing if not (r["name"] == name and r["user"] == self.bot_user_id)]
        if len(kept) == len(existing):
            return {"ok": False, "error": "no_reaction"}
        self._reactions[key] = kept
        return {"ok": True}

    def _visible(self, message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)
        return shown

    @staticmethod
    def _page(
        items: list[dict[str, Any]], params: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        limit = int(params.get("limit") or 100)
        cursor = str(params.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return page, {"has_more": more, "response_metadata": {"next_cursor": next_cursor}}

    @staticmethod
    def _in_range(message: dict[str, Any], params: dict[str, Any]) -> bool:
        ts = _ts_key(message)
        inclusive = _truthy(params.get("inclusive", False))
        if params.get("oldest"):
            oldest = float(params["oldest"])
            if ts < oldest or (ts == oldest and not inclusive):
                return False
        if params.get("latest"):
            latest = float(params["latest"])
            if ts > latest or (ts == latest and not inclusive):
                return False
        return True

    def _conversations_history(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        channel = self._resolve_channel(str(params.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        include_metadata = _truthy(params.get("include_all_metadata", False))
        stored = self._messages.get(channel, [])
        top_level = [
            m
            for m in stored
            if m.get("thread_ts") in (None, m.get("ts")) or m.get("subtype") == "thread_broadcast"
        ]
        shown = []
        for message in sorted(top_level, key=_ts_key, reverse=True):
            if not self._in_range(message, params):
                continue
            item = self._visible(message, include_metadata)
            replies = [
                m
                for m in stored
                if m.get("thread_ts") == message["ts"] and m.get("ts") != message["ts"]
            ]
            if replies:
                item["thread_ts"] = message["ts"]
                item["reply_count"] = len(replies)
                item["reply_users"] = sorted({str(r.get("user", "")) for r in replies})
                item["latest_reply"] = max(replies, key=_ts_key)["ts"]
            shown.append(item)
        page, paging = self._page(shown, params)
        return {"ok": True, "messages": page, "pin_count": 0, **paging}

    def _conversations_replies(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        channel = self._resolve_channel(str(params.get("channel", "")))
        thread_ts = str(params.get("ts", ""))
        include_metadata = _truthy(params.get("include_all_metadata", False))
        thread = [
            m
            for m in self._messages.get(channel, [])
            if m.get("ts") == thread_ts or m.get("thread_ts") == thread_ts
        ]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        ordered = [
            self._visible(m, include_metadata)
            for m in sorted(thread, key=_ts_key)
            if self._in_range(m, params)
        ]
        page, paging = self._page(ordered, params)
        return {"ok": True, "messages": page, **paging}

    def _default_channel(self, channel_id: str) -> dict[str, Any]:
        is_im = channel_id.startswith("D")
        return {
            "id": channel_id,
            "name": None if is_im else channel_id.lower(),
            "is_channel": channel_id.startswith("C"),
            "is_group": channel_id.startswith("G"),
            "is_im": is_im,
            "is_private": not channel_id.startswith("C"),
            "is_member": True,
            "is_archived": False,
            "created": self._first_ts,
        }

    def _conversations_list(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Every seeded channel, one page."""
        return {"ok": True, "channels": list(self._channels.values()), "response_metadata": {}}

    def _conversations_info(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """A seeded channel's details (seed_channel), else a plain channel's."""
        channel = str(params.get("channel") or "")
        with self._lock:
            found = self._channels.get(channel) or self._default_channel(channel)
        return {"ok": True, "channel": copy.deepcopy(found)}

    def _conversations_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        users = str(params.get("users") or "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        return {"ok": True, "channel": {"id": self._resolve_channel(users.split(",")[0])}}

    # ------------------------------------------------------------------ Socket Mode

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()  # autoping answers the SDK's ping-pong checks
        await ws.prepare(request)
        pinger: asyncio.Future[None] | None = None
        self._sockets.append(ws)
        with self._lock:
            self._socket_open += 1
            self._socket_total += 1
            count = self._socket_open
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": count,
                    "debug_info": {
                        "host": "applink-fake-1",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": self.app_id},
                }
            )
            with self._lock:
                self._changed.notify_all()
            if self._socket_ping_interval:
                pinger = asyncio.ensure_future(self._ping_forever(ws, self._socket_ping_interval))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    logger.warning("FakeSlack: non-JSON Socket Mode message %r", msg.data)
                    continue
                with self._lock:
                    if isinstance(data, dict) and "envelope_id" in data:
                        self._acks[str(data["envelope_id"])] = data
                    self._changed.notify_all()
        finally:
            if pinger is not None:
                pinger.cancel()
            self._forget_socket(ws)
        return ws

    @staticmethod
    async def _ping_forever(ws: web.WebSocketResponse, interval: float) -> None:
        # No pong deadline: a test that blocks its loop for a while must not lose the socket.
        while not ws.closed:
            await asyncio.sleep(interval)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.ping(b"fake-slack")

    def _forget_socket(self, ws: web.WebSocketResponse) -> None:
        if ws in self._sockets:
            self._sockets.remove(ws)
            with self._lock:
                self._socket_open -= 1
                self._changed.notify_all()

    async def _close_sockets(self, *, code: int, message: bytes) -> int:
        closing = list(self._sockets)
        for ws in closing:
            self._forget_socket(ws)
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(ws.close(code=code, message=message), 3)
        return len(closing)

    async def _send(self, message: dict[str, Any]) -> None:
        live = [ws for ws in self._sockets if not ws.closed]
        if not live:
            raise RuntimeError(
                "no Socket Mode client is connected; call wait_for_socket_client() first"
            )
        await live[-1].send_str(json.dumps(message))

    def _on_loop(self, coro: Awaitable[_T], timeout: float = 5.0) -> _T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("FakeSlack is not started")

        async def wrapped() -> _T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(timeout)

    def drop_sockets(self) -> int:
        """Close every Socket Mode connection, as Slack does when it moves an app to
        another host; the client is expected to reconnect. How many were closed."""
        return self._on_loop(self._close_sockets(code=1001, message=b"link disabled"))

    @property
    def socket_connected(self) -> bool:
        """Whether a Socket Mode client is connected right now."""
        with self._lock:
            return self._socket_open > 0

    def _socket_ready(self, connections: int) -> bool | None:
        with self._lock:
            return True if self._socket_open > 0 and self._socket_total >= connections else None

    def _socket_report(self, connections: int) -> str:
        with self._lock:
            state = f"open={self._socket_open}, accepted={self._socket_total}"
        return (
            f"waiting for a Socket Mode client (connection #{connections}); {state}. "
            + self._calls_report("apps.connections.open + websocket connect")
        )

    async def async_wait_for_socket_client(
        self, timeout: float = 5.0, *, connections: int = 1
    ) -> None:
        """`wait_for_socket_client` for async tests."""
        await self._async_wait(
            lambda: self._socket_ready(connections),
            timeout,
            lambda: self._socket_report(connections),
        )

    def _ack_of(self, envelope_id: str) -> dict[str, Any] | None:
        with self._lock:
            ack = self._acks.get(envelope_id)
            return copy.deepcopy(ack) if ack is not None else None

    def _ack_report(self, envelope_id: str) -> str:
        with self._lock:
            acks = list(self._acks)
        return (
            f"waiting for the ack of envelope {envelope_id}; acks seen: {acks}. "
            + self._calls_report("it")
        )

    async def async_wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """`wait_for_ack` for async tests."""
        return await self._async_wait(
            lambda: self._ack_of(envelope_id), timeout, lambda: self._ack_report(envelope_id)
        )

    def _send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None,
        accepts_response_payload: bool,
        extra: dict[str, Any] | None = None,
    ) -> str:
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
            **(extra or {}),
        }
        self._on_loop(self._send(envelope))
        return envelope_id

    def socket_send_event(
        self,
        event: dict[str, Any],
        *,
        envelope_id: str | None = None,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Deliver an Events API event over Socket Mode; returns the envelope_id.

        A missing `ts`/`event_ts` is filled in, and a user message (or mention)
        with a channel is stored, so thread and history reads see it as on Slack.
        """
        event = copy.deepcopy(event)
        with self._lock:
            for key in ("ts", "thread_ts", "event_ts"):
                if key in event:
                    self._observe_ts(event[key])
        if event.get("type") in ("message", "app_mention") and "ts" not in event:
            event["ts"] = self._locked_next_ts()
        event.setdefault("event_ts", event.get("ts") or self._locked_next_ts())
        if (
            event.get("type") in ("message", "app_mention")
            and event.get("channel")
            and not event.get("subtype")
        ):
            stored = {
                k: copy.deepcopy(v)
                for k, v in event.items()
                if k in ("user", "text", "ts", "thread_ts", "blocks", "team", "bot_id", "files")
            }
            with self._lock:
                if self._find(str(event["channel"]), str(event["ts"])) is None:
                    self._store(str(event["channel"]), {"type": "message", **stored})
        payload = event_callback(
            event,
            event_id=event_id,
            team_id=self.team_id,
            api_app_id=self.app_id,
            bot_user_id=self.bot_user_id,
        )
        return self._send_envelope(
            "events_api",
            payload,
            envelope_id=envelope_id,
            accepts_response_payload=False,
            extra={"retry_attempt": retry_attempt, "retry_reason": retry_reason},
        )

    def socket_send_command(
        self, command_payload: dict[str, Any], *, envelope_id: str | None = None
    ) -> str:
        """Deliver a slash command (see `slash_command_payload`); returns the envelope_id.

        A missing or hooks.slack.com response_url is replaced by one on this fake.
        """
        payload = dict(command_payload)
        if not payload.get("response_url") or "hooks.slack.com" in str(payload["response_url"]):
            payload["response_url"] = self.new_response_url()
        return self._send_envelope(
            "slash_commands", payload, envelope_id=envelope_id, accepts_response_payload=True
        )

    def socket_send_interactive(
        self, payload: dict[str, Any], *, envelope_id: str | None = None
    ) -> str:
        """Deliver an interaction (block_actions, view_submission...); returns the envelope_id."""
        payload = copy.deepcopy(payload)
        if "hooks.slack.com" in str(payload.get("response_url", "")):
            payload["response_url"] = self.new_response_url()
        accepts = payload.get("type") in ("view_submission", "block_suggestion")
        return self._send_envelope(
            "interactive", payload, envelope_id=envelope_id, accepts_response_payload=accepts
        )

    def _locked_next_ts(self) -> str:
        with self._lock:
            return self._next_ts()

    # ------------------------------------------------------------------ waiting

    async def _async_wait(
        self, probe: Callable[[], _T | None], timeout: float, report: Callable[[], str]
    ) -> _T:
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise FakeSlackTimeout(f"Timed out after {timeout}s {report()}")
            await asyncio.sleep(0.01)
