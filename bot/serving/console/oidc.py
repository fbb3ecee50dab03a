"""Sign-in with the company's identity provider over OpenID Connect, by Authlib.

The authorization-code flow with PKCE and a nonce: Authlib reads the provider's discovery
document, builds the authorization URL, exchanges the code at the token endpoint, and checks
the ID token (its signature against the provider's published keys, issuer, audience,
expiry, nonce). Nothing of the flow is written here but the glue to aiohttp.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from authlib.integrations.base_client import BaseApp, FrameworkIntegration
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client

logger = logging.getLogger(__name__)


class _OpenIdApp(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    """Authlib's OpenID Connect client without a web framework's request object."""

    client_cls = AsyncOAuth2Client


@dataclass(frozen=True)
class Identity:
    email: str
    name: str
    subject: str


class IdentityRefused(Exception):
    """The provider's answer did not prove who signed in (says why, without secrets)."""


class OpenIdSignIn:
    def __init__(self, *, issuer: str, client_id: str, client_secret: str | None) -> None:
        self.issuer = issuer
        self._app = _OpenIdApp(
            FrameworkIntegration("partnerbot-console"),
            name="partnerbot-console",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": "openid email profile",
                "code_challenge_method": "S256",
                "timeout": 10.0,
            },
        )

    async def start(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """Where to send the browser, and what to keep until it comes back (state, nonce,
        PKCE verifier)."""
        nonce = secrets.token_urlsafe(24)
        made: dict[str, Any] = await self._app.create_authorization_url(redirect_uri, nonce=nonce)
        kept = {
            "state": str(made["state"]),
            "nonce": nonce,
            "verifier": str(made.get("code_verifier") or ""),
            "redirect_uri": redirect_uri,
        }
        return str(made["url"]), kept

    async def finish(self, *, code: str, state: str, kept: dict[str, str]) -> Identity:
        """The person the provider signed in, from its checked ID token."""
        if not secrets.compare_digest(state, kept.get("state", "")):
            raise IdentityRefused("the sign-in came back with another state")
        try:
            token = await self._app.fetch_access_token(
                redirect_uri=kept["redirect_uri"],
                code=code,
                code_verifier=kept.get("verifier") or None,
            )
            claims = await self._app.parse_id_token(token, nonce=kept.get("nonce"))
        except Exception as e:  # Authlib, joserfc and httpx each raise their own
            raise IdentityRefused(f"{type(e).__name__}: {e}"[:300]) from None
        if claims is None:
            raise IdentityRefused("the provider sent no ID token")
        email = str(claims.get("email") or "")
        if not email or claims.get("email_verified") is False:
            raise IdentityRefused("the ID token carries no verified e-mail address")
        return Identity(email=email, name=str(claims.get("name") or ""), subject=str(claims["sub"]))
