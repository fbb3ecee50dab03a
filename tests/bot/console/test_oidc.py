"""Sign-in with the identity provider (OpenID Connect, by Authlib) against a local provider
stand-in: a person the console knows is signed in; a forged ID token is refused, and so is
someone the console does not know."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.app import App
from tests.bot.console.harness import add_user, console_settings, running_console
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOpenIdProvider


async def sign_in_round_trip(app: App, provider: FakeOpenIdProvider) -> tuple[int, str, int]:
    """Follow the redirects a browser follows; returns (final status, page, comms status)."""
    async with running_console(app) as served:
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[served.base])
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            async with browser.get(served.url("/console/oidc/start"), allow_redirects=False) as r:
                assert r.status == 303
                to_provider = r.headers["Location"]
            assert to_provider.startswith(f"{provider.issuer}/authorize?")
            assert "code_challenge=" in to_provider and "nonce=" in to_provider
            async with browser.get(to_provider, allow_redirects=False) as r:
                back = r.headers["Location"]
            assert back.startswith(f"{served.base}/console/oidc/callback?code=")
            async with browser.get(back, allow_redirects=False) as r:
                status, page = r.status, await r.text()
            async with browser.get(served.url("/console/comms"), allow_redirects=False) as r:
                after = r.status
    return status, page, after


@pytest.fixture
def oidc_app(make_app: Callable[..., App], tmp_path: Path) -> Callable[[str], App]:
    def build(issuer: str) -> App:
        return make_app(
            **console_settings(tmp_path / "comms"),
            PARTNERBOT_OIDC_ISSUER=issuer,
            PARTNERBOT_OIDC_CLIENT_ID=CLIENT_ID,
            PARTNERBOT_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        )

    return build


async def test_a_known_person_signs_in_with_the_identity_provider(
    oidc_app: Callable[[str], App],
) -> None:
    async with FakeOpenIdProvider(email="Maria@Vendor.com") as provider:
        app = oidc_app(provider.issuer)
        add_user(app, "maria@vendor.com", "viewer", password=None)
        status, _, after = await sign_in_round_trip(app, provider)
    assert status == 303 and after == 200
    [call] = provider.token_calls
    assert call["code_verifier"]  # PKCE
    [user] = app.store.console.users()
    assert user.password_hash is None


async def test_a_forged_id_token_is_refused(oidc_app: Callable[[str], App]) -> None:
    async with FakeOpenIdProvider(email="maria@vendor.com") as provider:
        provider.forge = True
        app = oidc_app(provider.issuer)
        add_user(app, "maria@vendor.com", "admin", password=None)
        status, page, after = await sign_in_round_trip(app, provider)
    assert status == 403 and "Sign-in with the identity provider failed" in page
    assert after == 303  # still not signed in: back to the sign-in page
    assert CLIENT_SECRET not in page


async def test_someone_the_console_does_not_know_is_refused(
    oidc_app: Callable[[str], App],
) -> None:
    async with FakeOpenIdProvider(email="stranger@elsewhere.com") as provider:
        app = oidc_app(provider.issuer)
        status, page, after = await sign_in_round_trip(app, provider)
    assert status == 403 and "is not a console user" in page and after == 303
