"""What every console request goes through — security headers, sign-in, roles, the CSRF
token, errors as short pages (never a traceback) — and what its pages share (`Console`).
bot/serving/console/site.py puts the applications together."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from bot.errors import PartnerbotError, UserError
from bot.prompts import message
from bot.serving.console.auth import LOGIN_COOKIE, SESSION_COOKIE, ConsoleAuth, SignedIn, may
from bot.serving.console.editing import ConsoleEdits
from bot.serving.console.oidc import OpenIdSignIn

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONSOLE_PATH, API_PATH = "/console", "/api"
# A communication's id in a path (bot/comms/loading.py ID_PATTERN): anything else is a 404.
COMM_ID = "{id:[a-z0-9][a-z0-9._-]{0,63}}"
# What a signed-in person's role must be for a route (by route name); unnamed: viewer.
PUBLIC_ROUTES = {"login", "login_post", "oidc_start", "oidc_callback", "static"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
CONSOLE_KEY = web.AppKey("console", object)
USER_KEY = web.RequestKey("console_user", object)


class Console:
    """What the console's pages and API share: the app's parts, sign-in, edits, templates."""

    def __init__(self, app: App, *, clock: Callable[[], datetime] | None = None) -> None:
        self.app = app
        s = app.settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.auth = ConsoleAuth(
            repo=app.store.console,
            secret_key=s.console_secret_key.get_secret_value() if s.console_secret_key else None,
            session_hours=s.console_session_hours,
            clock=lambda: self.clock(),
        )
        self.edits = ConsoleEdits(comms=app.comms, repo=app.store.console, now=lambda: self.clock())
        secret = s.oidc_client_secret.get_secret_value() if s.oidc_client_secret else None
        self.oidc = (
            OpenIdSignIn(issuer=s.oidc_issuer, client_id=s.oidc_client_id, client_secret=secret)
            if s.oidc_issuer and s.oidc_client_id
            else None
        )
        self.external = s.console_url  # e.g. https://partnerbot.example.com[/prefix]
        prefix = urlsplit(self.external).path.rstrip("/") if self.external else ""
        self.root = prefix + CONSOLE_PATH
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.serving.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.globals["root"] = self.root
        self.lock = asyncio.Lock()  # one re-index at a time from the console

    def base_url(self, request: web.Request) -> str:
        """The address people reach the console at: the configured one (behind a proxy),
        else the one the request came to."""
        if self.external:
            return self.external
        return f"{request.scheme}://{request.host}"

    def origin_ok(self, request: web.Request) -> bool:
        """A state-changing request comes from the console's own pages (when the browser
        says where it comes from)."""
        origin = request.headers.get("Origin")
        if not origin or origin == "null":
            return True
        want = urlsplit(self.base_url(request))
        got = urlsplit(origin)
        return (got.scheme, got.netloc) == (want.scheme, want.netloc)

    def page(
        self, request: web.Request, name: str, status: int = 200, **values: Any
    ) -> web.Response:
        signed: SignedIn | None = request.get(USER_KEY)
        csrf = self.auth.csrf_token(signed.session) if signed else values.pop("csrf", "")
        html = self.templates.get_template(name).render(
            me=signed.user if signed else None,
            csrf=csrf,
            may=lambda needed: bool(signed and may(signed.user.role, needed)),
            path=request.path,
            notice=request.query.get("done", ""),
            **values,
        )
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def console_of(request: web.Request) -> Console:
    console = request.config_dict[CONSOLE_KEY]
    assert isinstance(console, Console)
    return console


def signed_in(request: web.Request) -> SignedIn:
    signed = request.get(USER_KEY)
    assert isinstance(signed, SignedIn)
    return signed


# -- middlewares --------------------------------------------------------------------------------
@web.middleware
async def headers_and_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; an expected failure is a short page, anything else
    is logged and answered 500 without details."""
    console = console_of(request)
    try:
        response = await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            e.headers.update(SECURITY_HEADERS)
            raise
        text = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        response = _error(console, request, e.status, text or e.reason)
        if e.status == 429 and "Retry-After" in e.headers:
            response.headers["Retry-After"] = e.headers["Retry-After"]
    except (UserError, PartnerbotError) as e:
        response = _error(console, request, 400, str(e))
    except Exception:
        logger.exception("console: %s %s failed", request.method, request.path)
        response = _error(console, request, 500, message("console_failed"))
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error(console: Console, request: web.Request, status: int, text: str) -> web.Response:
    return console.page(request, "error.html", status=status, status_code=status, text=text)


@web.middleware
async def sign_in_and_roles(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but sign-in needs a session; a role below the route's is refused (403);
    every state-changing request carries the CSRF token bound to its session (403)."""
    console = console_of(request)
    route = request.match_info.route.name or ""
    if route in PUBLIC_ROUTES:
        return await handler(request)
    signed = console.auth.signed_in(request.cookies.get(SESSION_COOKIE))
    if signed is None:
        if request.method in ("GET", "HEAD"):
            target = request.path_qs if request.path_qs.startswith(console.root) else console.root
            raise web.HTTPSeeOther(f"{console.root}/login?next={quote(target, safe='')}")
        raise web.HTTPUnauthorized(text=message("console_sign_in_first"))
    request[USER_KEY] = signed
    needed = ROLE_OF.get(route, "viewer")
    if not may(signed.user.role, needed):
        raise web.HTTPForbidden(text=message("console_not_allowed", role=needed))
    if request.method not in ("GET", "HEAD"):
        await check_csrf(request, console, signed.session)
    return await handler(request)


async def check_csrf(request: web.Request, console: Console, bound_to: str | None) -> None:
    form = await request.post() if request.content_type.endswith("form-urlencoded") else {}
    token = request.headers.get("X-CSRF-Token") or str(form.get("csrf", "") or "")
    if not console.origin_ok(request) or not console.auth.csrf_ok(bound_to, token):
        logger.warning("console: refused %s %s (CSRF token)", request.method, request.path)
        raise web.HTTPForbidden(text=message("console_bad_csrf"))


def safe_next(console: Console, target: str | None) -> str:
    """Where to go after signing in: a console page only (never another site)."""
    if target and target.startswith(console.root + "/") and "//" not in target[1:]:
        return target
    return f"{console.root}/comms"


# Filled in by pages.py: route name → the role it needs.
ROLE_OF: dict[str, str] = {}


__all__ = ["LOGIN_COOKIE", "Console", "console_of", "signed_in"]
