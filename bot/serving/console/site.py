"""The console as aiohttp applications to mount on `partnerbot serve`'s web server
(bot/web.py `subapps`): its pages under /console and its API under /api."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from bot.serving.console import api, pages
from bot.serving.console.web import (
    API_PATH,
    CONSOLE_KEY,
    CONSOLE_PATH,
    Console,
    headers_and_errors,
    sign_in_and_roles,
)

if TYPE_CHECKING:
    from bot.app import App


def build_apps(
    app: App, *, clock: Callable[[], datetime] | None = None
) -> dict[str, web.Application]:
    """The pages and the API, by path prefix, sharing one `Console` over the app."""
    console = Console(app, clock=clock)
    site = web.Application(middlewares=[headers_and_errors, sign_in_and_roles])
    site[CONSOLE_KEY] = console
    pages.add_routes(site)
    rest = web.Application(middlewares=[api.json_errors])
    rest[CONSOLE_KEY] = console
    api.add_routes(rest)
    return {CONSOLE_PATH: site, API_PATH: rest}
