"""The bot's own token for its calls to Teams, and the check of the token each request from
Teams carries against Microsoft's signing keys — fetched at start, every few hours, and for
a key not seen yet (at most once a minute, one fetch for all who wait). The SDK's own check
downloads keys synchronously on the event loop: it reads our copy (`KeyMirror`) instead."""

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

ISSUER, LEEWAY = "https://api.botframework.com", 300  # (s of clock skew, as Microsoft's)
REQUIRE: jwt.types.Options = {"require": ["exp", "iss", "aud"]}  # (PyJWT takes a missing exp)
SDK_COOLDOWN = 30.1  # PyJWKClient refetches an unknown key 30 s after its last download
Session = Callable[[], aiohttp.ClientSession]


class BotToken:
    """The bot's access token for the Bot Connector (client credentials), kept until five
    minutes before it expires: the SDK asks for it on every call."""

    def __init__(self, *, session: Session, url: str, app_id: str, password: str) -> None:
        self.session, self.url, self._token, self._until = session, url, "", 0.0
        self._form = {"client_id": app_id, "client_secret": password}
        self._form["grant_type"], self._lock = "client_credentials", asyncio.Lock()

    async def __call__(self, scope: str | list[str], tenant: str | None = None) -> str:
        async with self._lock:
            if time.monotonic() < self._until:
                return self._token
            scope = scope if isinstance(scope, str) else " ".join(scope)
            async with self.session().post(self.url, data={**self._form, "scope": scope}) as r:
                got = await r.json(content_type=None)
                if r.status in (400, 401):  # a wrong or expired secret, an unknown app
                    raise ConfigError(message("config_teams_rejected", error=got.get("error")))
                r.raise_for_status()
            self._token = str(got["access_token"])
            self._until = time.monotonic() + float(got.get("expires_in", 3600)) - 300
            return self._token


class SigningKeys:
    """Microsoft's token signing keys, and the check of an incoming token against them."""

    _fetch: asyncio.Task[None] | None = None

    def __init__(self, *, session: Session, metadata_url: str, min_gap: float = 60.0) -> None:
        self.session, self.metadata_url, self.min_gap = session, metadata_url, min_gap
        self.raw: dict[str, Any] = {"keys": []}
        self.keys: dict[str, tuple[Any, tuple[str, ...]]] = {}  # kid → (key, endorsements)
        self.fetched = float("-inf")

    async def refresh(self) -> None:
        """Fetch the keys now (while one fetch runs, callers wait for that one)."""
        if self._fetch is None or self._fetch.done():
            self._fetch = asyncio.ensure_future(self._download())
        await asyncio.shield(self._fetch)

    async def _download(self) -> None:
        async with self.session().get(self.metadata_url) as r:
            jwks_uri = (await r.json(content_type=None))["jwks_uri"]
        async with self.session().get(jwks_uri) as r:
            listed = (await r.json(content_type=None))["keys"]
        keys = [k for k in listed if k.get("kid") and k.get("kty") == "RSA"]
        self.keys = {k["kid"]: (jwt.PyJWK(k).key, tuple(k.get("endorsements", ()))) for k in keys}
        self.raw, self.fetched = {"keys": keys}, time.monotonic()
        logger.info("Teams: %d token signing keys", len(keys))

    async def keep_fresh(self, every: float) -> None:
        while True:  # (a failure keeps the keys we have)
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await self.refresh()

    async def check(self, token: str, *, audience: str, service_url: str, channel: str) -> None:
        """Raise jwt.PyJWTError unless the token is Microsoft's, for this bot, unexpired (with
        an `exp`), and names the service URL the activity came from."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r}, not RS256")
        kid = str(header.get("kid"))
        if kid not in self.keys and time.monotonic() - self.fetched > self.min_gap:
            with contextlib.suppress(Exception):  # (the keys we have stay)
                await self.refresh()
        key, endorsed = self.keys.get(kid) or (None, ())
        if key is None or (endorsed and channel not in endorsed):
            raise jwt.InvalidKeyError(f"key {kid!r} is not Microsoft's for {channel!r}")
        claims = jwt.decode(
            token, key, ["RS256"], audience=audience, issuer=ISSUER, leeway=LEEWAY, options=REQUIRE
        )
        if str(claims.get("serviceurl", "")).rstrip("/") != service_url.rstrip("/"):
            raise jwt.InvalidTokenError("the token's serviceurl is not the activity's")


class KeyMirror:
    """Our copy of the signing keys as a key endpoint on 127.0.0.1, for the SDK's check."""

    def __init__(self, keys: SigningKeys) -> None:
        mirror, self.served, self.served_at = self, frozenset[str](), float("-inf")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(keys.raw).encode()
                mirror.served, mirror.served_at = frozenset(keys.keys), time.monotonic()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            log_message = lambda self, *args: None  # noqa: E731 (quiet)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/openidconfiguration"
        self.thread = threading.Thread(target=self.server.serve_forever, name="teams-keys")
        self.thread.start()

    async def served_to_sdk(self, kid: str) -> None:
        """Hold a request signed with a key the SDK has not downloaded until it will."""
        if kid not in self.served:
            await asyncio.sleep(max(0.0, self.served_at + SDK_COOLDOWN - time.monotonic()))

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()
