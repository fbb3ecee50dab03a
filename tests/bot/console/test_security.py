"""The console's and the API's locks: sign-in, roles, CSRF tokens, API tokens, cookies,
escaping, the sign-in limit. Real HTTP against the console on 127.0.0.1."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.app import App
from bot.models import Answer, Question
from tests.bot.console.harness import PASSWORD, Browserless, Running, add_user, comm_fields

XSS_TITLE = "<script>alert(1)</script>"
XSS_CUSTOMER = "<img src=x onerror=alert(2)>"


def routes_of(running: Running, prefix: str) -> list[tuple[str, str]]:
    found = []
    for app in running.server.app._subapps:  # the mounted console and API
        for resource in app.router.resources():
            info = resource.get_info()
            path = info.get("path") or info.get("formatter") or info.get("prefix")
            if path is None or not str(resource.canonical).startswith(prefix):
                continue
            for route in resource:
                if route.method == "HEAD":
                    continue
                found.append((route.method, str(path).replace("{id}", "x1")))
    return sorted(set(found))


async def test_every_page_and_api_call_without_a_session_or_token_is_refused(
    running: Running,
) -> None:
    pages = routes_of(running, "/console")
    api = routes_of(running, "/api")
    assert len(pages) > 20 and len(api) == 4
    public = {"/console/login", "/console/oidc/start", "/console/oidc/callback"}
    async with aiohttp.ClientSession() as http:
        for method, path in pages:
            if path in public or path.startswith("/console/static"):
                continue
            async with http.request(method, running.url(path), allow_redirects=False) as r:
                if method == "GET":
                    assert r.status == 303, (method, path)
                    assert r.headers["Location"].startswith("/console/login?next="), path
                else:
                    assert r.status == 401, (method, path)
                    assert "Traceback" not in await r.text()
        for method, path in api:
            async with http.request(method, running.url(path), json={}) as r:
                assert r.status == 401, (method, path)
                assert (await r.json())["error"].startswith("Send a valid API token")
            bad = {"Authorization": "Bearer pbt_not-a-token"}
            async with http.request(method, running.url(path), json={}, headers=bad) as r:
                assert r.status == 401


async def test_a_viewer_editing_is_refused(running: Running, client: Browserless) -> None:
    add_user(running.app, "viewer@vendor.com", "viewer")
    assert await client.sign_in("viewer@vendor.com") == 303
    status, page = await client.get("/console/comms")
    assert status == 200 and "New communication" not in page
    assert (await client.get("/console/comms-new"))[0] == 403
    status, text, _ = await client.post("/console/comms-new", {"id": "x", "title": "t"})
    assert status == 403 and "editor" in text
    assert (await client.post("/console/tokens", {"name": "m"}))[0] == 403
    assert not running.app.comms.records(include_all=True)


@pytest.mark.parametrize("token", ["", "forged-token"])
async def test_a_missing_or_wrong_csrf_token_is_refused(
    running: Running, client: Browserless, token: str
) -> None:
    add_user(running.app, "editor@vendor.com", "editor")
    await client.sign_in("editor@vendor.com")
    await client.get("/console/comms-new")
    form = {"id": "x1", "title": "t", "send_at": comm_fields()["send_at"], "aims": "a"}
    status, text, _ = await client.post("/console/comms-new", form, csrf=token or "")
    assert status == 403 and "expired or did not come from the console" in text
    # A token from another person's session is refused too.
    other = Browserless(running)
    add_user(running.app, "other@vendor.com", "editor")
    await other.sign_in("other@vendor.com")
    status, _, _ = await client.post("/console/comms-new", form, csrf=other.csrf)
    await other.close()
    assert status == 403
    # And a form posted from another site (its Origin) is refused even with the token.
    status, _, _ = await client.post(
        "/console/comms-new", form, headers={"Origin": "https://evil.example"}
    )
    assert status == 403
    assert running.app.comms.get("x1") is None


async def test_the_session_cookie_is_secure_http_only_same_site_and_expires(
    running: Running,
) -> None:
    add_user(running.app, "ana@vendor.com", "viewer")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.get(running.url("/console/login")) as r:
            login_cookie = r.cookies["pb_console_login"]
            token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert token is not None
        async with http.post(
            running.url("/console/login"),
            data={"email": "ana@vendor.com", "password": PASSWORD, "csrf": token.group(1)},
            headers={"Cookie": f"pb_console_login={login_cookie.value}"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
            raw = [h for h in r.headers.getall("Set-Cookie") if h.startswith("pb_console=")]
    [cookie] = raw
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite", "max-age", "path"} <= flags
    assert "SameSite=Lax" in cookie and "Max-Age=28800" in cookie


async def test_twenty_wrong_passwords_in_a_minute_are_refused(
    running: Running, client: Browserless
) -> None:
    add_user(running.app, "ana@vendor.com", "admin")
    statuses = [await client.sign_in("ana@vendor.com", f"wrong-{i}") for i in range(20)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert await client.sign_in("ana@vendor.com") == 429  # the right one waits too
    _, page, response = await client.post(
        "/console/login", {"email": "ana@vendor.com", "password": PASSWORD}
    )
    assert "Too many failed sign-ins" in page and int(response.headers["Retry-After"]) > 0


async def test_a_revoked_token_is_refused(running: Running, client: Browserless) -> None:
    add_user(running.app, "admin@vendor.com", "admin")
    await client.sign_in("admin@vendor.com")
    await client.get("/console/tokens")
    status, page, _ = await client.post("/console/tokens", {"name": "Marketo"})
    token = re.search(r'id="new-token">([^<]+)<', page)
    assert status == 200 and token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(running.url("/api/communications/none"), headers=headers) as r:
            assert r.status == 404
        [stored] = running.app.store.console.tokens()
        assert token.group(1) not in repr(stored)  # only its hash is kept
        await client.get("/console/tokens")
        assert (await client.post(f"/console/tokens/{stored.id}/revoke"))[0] == 303
        async with http.get(running.url("/api/communications/none"), headers=headers) as r:
            assert r.status == 401


async def test_hostile_titles_and_customer_names_render_inert_on_every_page(
    running: Running, client: Browserless
) -> None:
    app: App = running.app
    add_user(app, "admin@vendor.com", "admin")
    await client.sign_in("admin@vendor.com")
    await client.get("/console/tokens")
    _, page, _ = await client.post("/console/tokens", {"name": "<b>tool</b>"})
    token = re.search(r'id="new-token">([^<]+)<', page)
    assert token is not None
    fields = comm_fields(
        "xss-check",
        title=XSS_TITLE,
        aims=f"Why {XSS_TITLE}",
        recipients=[
            {"customer_id": "c-1", "customer_name": XSS_CUSTOMER, "partner_id": "harbour"},
        ],
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            running.url("/api/communications"),
            json=fields,
            headers={"Authorization": f"Bearer {token.group(1)}"},
        ) as r,
    ):
        assert r.status == 201, await r.text()
    hostile = Question(XSS_TITLE, asker="U1", place="C1", platform="slack")
    app.store.interactions.record(hostile, Answer(text="?", abstained=True))
    skip = {"/console/login", "/console/oidc/start", "/console/oidc/callback", "/console/"}
    pages = [
        path.replace("x1", "xss-check")
        for method, path in routes_of(running, "/console")
        if method == "GET" and path not in skip and not path.startswith("/console/static")
    ]
    assert len(pages) >= 13
    for path in pages:
        async with client.session.get(running.url(path), allow_redirects=False) as r:
            status, html, kind = r.status, await r.text(), r.content_type
        assert status == 200, path
        if kind != "text/html":  # the file download and the CSV: plain text, never sniffed
            assert kind in ("text/plain", "text/csv") and r.headers["X-Content-Type-Options"]
            continue
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, path
        assert "<b>tool</b>" not in html, path
        assert "<script" not in html.lower(), path
    _, comm_page = await client.get("/console/comms/xss-check")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in comm_page
    assert "&lt;img src=x onerror=alert(2)&gt;" in comm_page  # the customer, listed inert
    assert "<script" not in comm_page.lower()
