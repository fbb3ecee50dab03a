"""A local OpenID Connect provider stand-in on 127.0.0.1 for the console's sign-in tests:
discovery, an authorization endpoint that signs the configured person in at once, a token
endpoint (authorization code with PKCE), and its published keys (JWKS). The ID token is
signed with an RSA key the test makes; `forge` signs it with another key under the same key
id, as an attacker without the provider's key would."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from bot.web import WebServer

CLIENT_ID = "partnerbot-console"
CLIENT_SECRET = "oidc-client-secret-c0ffee"


class FakeOpenIdProvider:
    def __init__(self, *, email: str, name: str = "Maria Vendor") -> None:
        self.email, self.name = email, name
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.forge = False
        self.codes: dict[str, dict[str, str]] = {}
        self.token_calls: list[dict[str, str]] = []
        self.server = WebServer(
            host="127.0.0.1",
            port=0,
            get={
                "/.well-known/openid-configuration": self.discovery,
                "/authorize": self.authorize,
                "/jwks": self.jwks,
            },
            routes={"/token": self.token},
        )

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def __aenter__(self) -> FakeOpenIdProvider:
        await self.server.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.server.stop()

    async def discovery(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return web.Response(status=400, text="bad authorization request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": q.get("nonce", ""),
            "challenge": q.get("code_challenge", ""),
            "redirect_uri": q["redirect_uri"],
        }
        target = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}"
        raise web.HTTPFound(target)

    async def jwks(self, request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_calls.append(form)
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return web.json_response({"error": "invalid_grant"}, status=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": "user-0001",
            "email": self.email,
            "email_verified": True,
            "name": self.name,
            "nonce": grant["nonce"],
            "iat": now,
            "exp": now + 300,
        }
        signer = (
            RSAKey.generate_key(2048, parameters={"kid": "test-key"}) if self.forge else self.key
        )
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, signer)
        return web.json_response(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )
