"""A local stand-in for Microsoft's side of a Teams bot, for tests of the real Teams SDK.

`FakeTeams` is an aiohttp server on 127.0.0.1 in its own thread and event loop (the SDK's
own key download is synchronous: a server on the test's loop would wait for itself). It
serves, under one base URL:

- Microsoft Entra's token endpoint (client credentials): the bot's own token;
- the Bot Framework's OpenID metadata and signing keys: RSA keys the test makes (rotated
  at will), with which `token()` signs what Teams sends the bot;
- the Bot Connector (`service_url`): activities the bot posts (recorded, with their
  replies' ids), members of a conversation (with their tenant ids, paged), a team's
  channels; with injected slowness, 429/5xx answers, answers that never come, and
  conversations the bot was removed from.

Activities a person sends are built by the module's helpers and delivered to the bot by
the harness (tests/adapters/teams_harness.py), as Teams would, with a signed token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

logger = logging.getLogger(__name__)

APP_ID = "9a1b2c3d-0000-4000-8000-0000000000b1"  # the Azure Bot's Microsoft App ID
BOT_ID = f"28:{APP_ID}"
PASSWORD = "teams-test-client-secret-c0ffee"
HOME = "72f988bf-0000-4000-8000-00000000f00d"  # the vendor's tenant, where the bot lives
PARTNER_A = "aaaaaaaa-0000-4000-8000-00000000000a"  # Harbour IT's tenant
PARTNER_B = "bbbbbbbb-0000-4000-8000-00000000000b"  # Fjord Systems' tenant
STRANGER = "cccccccc-0000-4000-8000-00000000000c"  # an organisation nobody listed
TEAM = "19:vendorteam0general@thread.tacv2"  # the team's id is its General channel's
CHANNEL = "19:partners0channel@thread.tacv2"
SHARED = "19:shared0channel@thread.skype"
GROUP = "19:group0chat@thread.v2"
ISSUER = "https://api.botframework.com"
_ids = itertools.count(1)


@dataclass(frozen=True)
class User:
    aad: str
    name: str
    tenant: str = HOME

    @property
    def id(self) -> str:
        return f"29:{self.aad}"

    def account(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad}


ALICE = User("a11ce000-0000-4000-8000-000000000001", "Alice (vendor)")
ADMIN = User("ad000000-0000-4000-8000-000000000002", "Ada (vendor admin)")
HARBOUR = User("4a4b0000-0000-4000-8000-0000000000a1", "Hana (Harbour IT)", PARTNER_A)
FJORD = User("f10d0000-0000-4000-8000-0000000000b1", "Finn (Fjord Systems)", PARTNER_B)
OUTSIDER = User("0a700000-0000-4000-8000-0000000000c1", "Oskar (unknown org)", STRANGER)


@dataclass
class Fault:
    """What the Bot Connector does with one post: wait `delay` s, then answer `status` (with a
    Retry-After, an error code) without posting; or post and then answer after `hang` s."""

    status: int = 200
    retry_after: float | None = None
    code: str = ""
    delay: float = 0.0
    hang: float = 0.0


@dataclass
class Posted:
    """An activity the bot posted: where, what, under which id, with which token."""

    conversation: str
    activity: dict[str, Any]
    id: str
    token: str
    at: float = field(default_factory=time.monotonic)

    @property
    def thread(self) -> str | None:
        return self.conversation.partition(";messageid=")[2] or None

    @property
    def card(self) -> dict[str, Any] | None:
        for a in self.activity.get("attachments") or []:
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return dict(a["content"])
        return None

    @property
    def text(self) -> str:
        """What a person reads: the message text, or every text block and fact of its card."""
        card = self.card
        if card is None:  # (a text message is HTML-escaped: Teams shows the characters)
            return html.unescape(str(self.activity.get("text") or ""))
        parts = [b.get("text", "") for b in card["body"] if b["type"] == "TextBlock"]
        for b in (b for b in card["body"] if b["type"] == "FactSet"):
            parts += [f"{f['title']}: {f['value']}" for f in b["facts"]]
        return "\n".join(parts)

    @property
    def buttons(self) -> dict[str, dict[str, Any]]:
        """The card's Action.Execute buttons by their action: {action: data}."""
        actions = (self.card or {}).get("actions") or []
        return {a["data"]["action"]: a["data"] for a in actions if a["type"] == "Action.Execute"}


class FakeTeams:
    """Entra token endpoint, OpenID keys and Bot Connector on 127.0.0.1 (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.posted: list[Posted] = []
        self.calls: list[tuple[str, str]] = []  # (method, path) of every request
        self.attempts: list[str] = []  # the activity type of every post (answered or not)
        self.faults: Callable[[str, dict[str, Any]], Fault | None] = lambda conv, activity: None
        self.removed: set[str] = set()
        self.members: dict[str, list[User]] = {}
        self.channels: dict[str, list[tuple[str, str]]] = {}  # team → [(channel id, name)]
        self.tokens_issued = 0
        self.key_fetches = 0
        self.keys_held = threading.Event()  # set: /keys waits until it is cleared
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._published: list[str] = []
        self.kid = self.rotate()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeTeams:
        ready = threading.Event()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="FakeTeams", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeTeams did not start")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self.keys_held.clear()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> FakeTeams:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._jwks)
        app.router.add_post("/amer/v3/conversations/{conversation}/activities", self._post)
        app.router.add_get("/amer/v3/conversations/{conversation}/pagedMembers", self._members)
        app.router.add_get("/amer/v3/teams/{team}/conversations", self._team_channels)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    # -- addresses -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/amer/"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    # -- keys and tokens -----------------------------------------------------------------------
    def rotate(self, *, publish: bool = True) -> str:
        """A new signing key (its kid); published unless told otherwise. Old keys stay."""
        kid = f"key-{len(self._keys) + 1}-{uuid.uuid4().hex[:6]}"
        self._keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self._published.append(kid)
        return kid

    def public_pem(self, kid: str | None = None) -> bytes:
        from cryptography.hazmat.primitives import serialization

        key = self._keys[kid or self.kid].public_key()
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(
        self,
        *,
        kid: str | None = None,
        alg: str = "RS256",
        signer: str | None = None,
        **claims: Any,
    ) -> str:
        """A token as Teams signs it for the bot (`signer`: signed with another key than the
        `kid` it names); a claim given as None is left out."""
        now = int(time.time())
        body = {"iss": ISSUER, "aud": APP_ID, "exp": now + 3600, "nbf": now - 60, "iat": now}
        body |= {"serviceurl": self.service_url}
        body = {k: v for k, v in (body | claims).items() if v is not None}
        kid = kid or self.kid
        if alg in ("none", "HS256"):  # unsigned, or "signed" with the public key as an HMAC secret
            head = {"alg": alg, "typ": "JWT", "kid": kid}
            parts = [json.dumps(p).encode() for p in (head, body)]
            signed = ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)
            mac = hmac.new(self.public_pem(kid), signed.encode(), hashlib.sha256).digest()
            tail = base64.urlsafe_b64encode(mac).rstrip(b"=").decode() if alg == "HS256" else ""
            return f"{signed}.{tail}"
        return jwt.encode(body, self._keys[signer or kid], algorithm=alg, headers={"kid": kid})

    # -- handlers ------------------------------------------------------------------------------
    def _note(self, request: web.Request) -> None:
        with self._lock:
            self.calls.append((request.method, request.path))

    async def _token(self, request: web.Request) -> web.Response:
        self._note(request)
        form = await request.post()
        if form.get("client_id") != APP_ID or form.get("client_secret") != PASSWORD:
            return web.json_response({"error": "invalid_client"}, status=401)
        with self._lock:
            self.tokens_issued += 1
            claims = {
                "aud": "https://api.botframework.com",
                "appid": APP_ID,
                "n": self.tokens_issued,
            }
        claims["exp"] = int(time.time()) + 3600
        token = jwt.encode(claims, "entra-signs-this-with-a-key-of-32-bytes!", algorithm="HS256")
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "x"})

    async def _metadata(self, request: web.Request) -> web.Response:
        self._note(request)
        jwks = f"{self.base_url}/v1/.well-known/keys"
        return web.json_response({"issuer": ISSUER, "jwks_uri": jwks})

    async def _jwks(self, request: web.Request) -> web.Response:
        self._note(request)
        while self.keys_held.is_set():
            await asyncio.sleep(0.01)
        with self._lock:
            self.key_fetches += 1
            keys = [
                jwt.algorithms.RSAAlgorithm.to_jwk(self._keys[kid].public_key(), as_dict=True)
                | {"kid": kid, "use": "sig", "endorsements": ["msteams"]}
                for kid in self._published
            ]
        return web.json_response({"keys": keys})

    async def _post(self, request: web.Request) -> web.Response:
        self._note(request)
        conversation, activity = request.match_info["conversation"], await request.json()
        with self._lock:
            self.attempts.append(str(activity.get("type")))
        fault = self.faults(conversation, activity) or Fault()
        await asyncio.sleep(fault.delay)
        if conversation.partition(";")[0] in self.removed:
            code = "BotNotInConversationRoster"
            return web.json_response({"error": {"code": code, "message": "not in"}}, status=403)
        if fault.status != 200:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            error = {"error": {"code": fault.code or "ServiceError", "message": "injected"}}
            return web.json_response(error, status=fault.status, headers=headers)
        auth = request.headers.get("Authorization", "")
        with self._lock:
            posted = Posted(conversation, activity, f"1{next(_ids):012d}", auth)
            if activity.get("type") == "message":
                self.posted.append(posted)
        await asyncio.sleep(fault.hang)  # (an answer that never arrives in time)
        return web.json_response({"id": posted.id})

    async def _members(self, request: web.Request) -> web.Response:
        self._note(request)
        people = self.members.get(request.match_info["conversation"], [])
        size = int(request.query.get("pageSize") or 500)
        start = int(request.query.get("continuationToken") or 0)
        page = [u.account() | {"tenantId": u.tenant} for u in people[start : start + size]]
        more = {"continuationToken": str(start + size)} if start + size < len(people) else {}
        return web.json_response({"members": page, **more})

    async def _team_channels(self, request: web.Request) -> web.Response:
        self._note(request)
        listed = self.channels.get(request.match_info["team"], [])
        return web.json_response({"conversations": [{"id": i, "name": n} for i, n in listed]})

    # -- what the bot posted -------------------------------------------------------------------
    def messages(self, conversation: str | None = None) -> list[Posted]:
        """The bot's messages (in one conversation: its top level and its threads)."""
        with self._lock:
            return [
                p
                for p in self.posted
                if conversation is None or p.conversation.partition(";")[0] == conversation
            ]

    async def wait_for(
        self, match: Callable[[Posted], bool], *, count: int = 1, timeout: float = 20.0
    ) -> list[Posted]:
        deadline = time.monotonic() + timeout
        while True:
            found = [p for p in self.messages() if match(p)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                shown = [(p.conversation, p.text[:60]) for p in self.messages()]
                raise AssertionError(f"no {count} matching message(s) in {timeout} s: {shown}")
            await asyncio.sleep(0.01)


# -- what people do in Teams, as activities ------------------------------------------------------
def _activity(kind: str, conversation: dict[str, Any], user: User, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": extra.pop("id", None) or f"17{next(_ids):011d}",
        "channelId": "msteams",
        "serviceUrl": extra.pop("service_url"),
        "timestamp": "2026-11-02T09:00:00.000Z",
        "from": user.account(),
        "recipient": {"id": BOT_ID, "name": "partnerbot"},
        "conversation": conversation,
        **extra,
    }


def message(
    fake: FakeTeams,
    text: str,
    *,
    user: User = ALICE,
    kind: str = "channel",
    conversation: str = CHANNEL,
    thread: str | None = None,
    mention: bool = True,
    team: str = TEAM,
    tenant: str = HOME,
) -> dict[str, Any]:
    """A person's message: in a channel (a new post, or in `thread`), a group chat or their
    personal chat with the bot (`kind`), @mentioning the bot unless told otherwise."""
    activity_id = f"17{next(_ids):011d}"
    conv: dict[str, Any] = {"id": conversation, "conversationType": kind, "tenantId": tenant}
    data: dict[str, Any] = {"tenant": {"id": tenant}}
    if kind == "channel":
        conv["id"] = f"{conversation};messageid={thread or activity_id}"
        data |= {"team": {"id": team}, "channel": {"id": conversation}}
    tag = "<at>partnerbot</at>"
    entities = [{"type": "mention", "text": tag, "mentioned": {"id": BOT_ID, "name": "partnerbot"}}]
    return _activity(
        "message",
        conv,
        user,
        id=activity_id,
        service_url=fake.service_url,
        text=f"{tag} {text}" if mention else text,
        textFormat="plain",
        entities=entities if mention else [],
        channelData=data,
    )


def click(
    fake: FakeTeams, posted: Posted, action: str, *, user: User = ALICE, tenant: str = HOME
) -> dict[str, Any]:
    """A click on one of the buttons of a card the bot posted (an adaptiveCard/action invoke)."""
    base, thread = posted.conversation.partition(";")[0], posted.thread
    kind = "personal" if base.startswith("a:") else "groupChat" if base == GROUP else "channel"
    conv_id = f"{base};messageid={thread or posted.id}" if kind == "channel" else base
    conv = {"id": conv_id, "conversationType": kind, "tenantId": tenant}
    data: dict[str, Any] = {"tenant": {"id": tenant}}
    if kind == "channel":
        data |= {"team": {"id": TEAM}, "channel": {"id": base}}
    value = {"action": {"type": "Action.Execute", "verb": action, "data": posted.buttons[action]}}
    return _activity(
        "invoke",
        conv,
        user,
        service_url=fake.service_url,
        name="adaptiveCard/action",
        replyToId=posted.id,
        value=value | {"trigger": "manual"},
        channelData=data,
    )


def personal_chat(user: User) -> str:
    return f"a:personal-{user.aad}"


def update(
    fake: FakeTeams,
    *,
    added: bool = True,
    kind: str = "channel",
    conversation: str = TEAM,
    user: User = ADMIN,
    team: str = TEAM,
) -> dict[str, Any]:
    """The bot added to (or removed from) a team (`kind` channel: conversationUpdate in its
    General channel), a group chat, or a person's chat (installationUpdate)."""
    conv = {"id": conversation, "conversationType": kind, "tenantId": user.tenant}
    data: dict[str, Any] = {"tenant": {"id": user.tenant}}
    bot = [{"id": BOT_ID, "name": "partnerbot"}]
    if kind == "personal":
        action = {"action": "add" if added else "remove"}
        return _activity(
            "installationUpdate",
            conv,
            user,
            service_url=fake.service_url,
            channelData=data,
            **action,
        )
    if kind == "channel":
        data |= {
            "team": {"id": team},
            "eventType": "teamMemberAdded" if added else "teamMemberRemoved",
        }
    members = {"membersAdded": bot} if added else {"membersRemoved": bot}
    return _activity(
        "conversationUpdate", conv, user, service_url=fake.service_url, channelData=data, **members
    )
