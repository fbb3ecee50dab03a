"""Who is who on the wire: the bot's own token for its calls to Teams, and the check of the
token every request from Teams carries, against Microsoft's published signing keys.

The keys are fetched off the request path: at start, every few hours, and when a token
names a key not seen yet (at most once a minute, one fetch shared by every request that
waits for it). The SDK's own token check downloads keys synchronously on the event loop;
it is pointed at `KeyMirror`, our copy on 127.0.0.1, so it never waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import jwt

from bot.errors import ConfigError
from bot.prompts import message

logger = logging.getLogger(__name__)

ISSUER = "https://api.botframework.com"
LEEWAY = 300  # seconds of clock skew allowed on exp / nbf / iat, as the Bot Framework does
SDK_COOLDOWN = 30.1  # (PyJWKClient's cooldown_duration, 30 s, and a little)
REQUIRE: jwt.types.Options = {"require": ["exp", "iss", "aud"]}  # (PyJWT accepts no `exp`)
Session = Callable[[], aiohttp.ClientSession]


class BotToken:
    """The bot's access token for the Bot Connector (client credentials), kept until five
    minutes before it expires: the SDK asks for it on every call."""

    def __init__(self, *, session: Session, url: str, app_id: str, password: str) -> None:
        self.session, self.url, self._form = session, url, {"client_id": app_id}
        self._form |= {"client_secret": password, "grant_type": "client_credentials"}
        self._token, self._until, self._lock = "", 0.0, asyncio.Lock()

    async def __call__(self, scope: str | list[str], tenant: str | None = None) -> str:
        async with self._lock:
            if self._token and time.monotonic() < self._until:
                return self._token
            scopes = scope if isinstance(scope, str) else " ".join(scope)
            async with self.session().post(self.url, data={**self._form, "scope": scopes}) as r:
                got = await r.json(content_type=None)
                if r.status in (400, 401):  # (a wrong or expired secret, an unknown app)
                    raise ConfigError(message("config_teams_rejected", error=got.get("error")))
                r.raise_for_status()
            self._token = str(got["access_token"])
            self._until = time.monotonic() + float(got.get("expires_in", 3600)) - 300
            return self._token


class SigningKeys:
    """Microsoft's token signing keys, and the check of an incoming token against them."""

    def __init__(self, *, session: Session, metadata_url: str, min_gap: float = 60.0) -> None:
        self.session, self.metadata_url, self.min_gap = session, metadata_url, min_gap
        self.raw: dict[str, Any] = {"keys": []}
        self.keys: dict[str, tuple[jwt.PyJWK, tuple[str, ...]]] = {}
        self.fetched = float("-inf")
        self._fetch: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Fetch the keys now (one fetch at a time; callers meanwhile wait for that one)."""
        if self._fetch is None or self._fetch.done():
            self._fetch = asyncio.ensure_future(self._download())
        await asyncio.shield(self._fetch)

    async def _download(self) -> None:
        async with self.session().get(self.metadata_url) as r:
            jwks_uri = (await r.json(content_type=None))["jwks_uri"]
        async with self.session().get(jwks_uri) as r:
            raw = await r.json(content_type=None)
        keys = [k for k in raw["keys"] if k.get("kid") and k.get("kty") == "RSA"]
        self.keys = {k["kid"]: (jwt.PyJWK(k), tuple(k.get("endorsements") or ())) for k in keys}
        self.raw, self.fetched = {"keys": keys}, time.monotonic()
        logger.info("Teams: %d token signing keys", len(keys))

    async def keep_fresh(self, every: float) -> None:
        """Fetch the keys again every `every` seconds (a failure keeps the ones we have)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.refresh()
            except Exception as e:
                logger.warning("Teams: could not refresh the token signing keys: %r", e)

    async def check(self, token: str, *, audience: str, service_url: str, channel: str) -> None:
        """Raise jwt.PyJWTError unless the token is Microsoft's, for this bot, unexpired (an
        `exp` is required), and names the service URL the activity came from."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r}, not RS256")
        kid = str(header.get("kid"))
        if kid not in self.keys and time.monotonic() - self.fetched > self.min_gap:
            with contextlib.suppress(Exception):  # (the keys we have stay)
                await self.refresh()
        if (found := self.keys.get(kid)) is None:
            raise jwt.InvalidKeyError(f"unknown signing key {kid!r}")
        key, endorsements = found[0].key, found[1]
        if endorsements and channel not in endorsements:
            raise jwt.InvalidKeyError(f"the signing key is not endorsed for {channel!r}")
        claims = jwt.decode(
            token, key, ["RS256"], audience=audience, issuer=ISSUER, leeway=LEEWAY, options=REQUIRE
        )
        if str(claims.get("serviceurl", "")).rstrip("/") != service_url.rstrip("/"):
            raise jwt.InvalidTokenError("the token's serviceurl is not the activity's serviceUrl")


class KeyMirror:
    """Our copy of the signing keys as a key endpoint on 127.0.0.1, for the SDK's check."""

    def __init__(self, keys: SigningKeys) -> None:
        mirror, self.served_at, self.served = self, float("-inf"), frozenset[str]()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(keys.raw).encode()
                mirror.served, mirror.served_at = frozenset(keys.keys), time.monotonic()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/openidconfiguration"
        self._thread: threading.Thread | None = None

    async def served_to_sdk(self, kid: str) -> None:
        """Hold a request signed with a key the SDK has not downloaded until it will: after a
        download its key client fetches an unknown key only once SDK_COOLDOWN s have passed."""
        if kid not in self.served:
            await asyncio.sleep(max(0.0, self.served_at + SDK_COOLDOWN - time.monotonic()))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.server.serve_forever, name="teams-keys")
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()
