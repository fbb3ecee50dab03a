"""A running console for tests: the app's console and API mounted on a real web server on
127.0.0.1, and an HTTP client that keeps cookies as a browser does (Secure ones included:
127.0.0.1 counts as a secure origin, as in browsers)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.app import App
from bot.serving.console.auth import ConsoleAuth
from bot.serving.console.site import build_apps
from bot.web import WebServer

PASSWORD = "correct horse battery staple"
ROUTES: dict[str, Any] = {
    "tags": {
        "regions": ["ANZ", "EMEA", "Americas"],
        "segments": ["smb", "enterprise"],
        "tiers": ["Member", "Advanced", "Elite"],
    },
    "routes": [
        {"match": {"regions": ["ANZ"]}, "slack": ["C0ANZ"]},
        {"match": {"regions": ["EMEA"]}, "slack": ["C0EMEA"]},
    ],
}
PARTNERS: dict[str, Any] = {
    "partners": [
        {
            "id": "harbour",
            "name": "Harbour IT",
            "tier": "Elite",
            "region": "ANZ",
            "slack": {"place": "C0HARBOUR"},
        },
    ]
}


def write_comms_folder(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    routes = folder / "routes.yml"
    routes.write_text(yaml.safe_dump(ROUTES, sort_keys=False), encoding="utf-8")
    partners = folder / "partners.yml"
    partners.write_text(yaml.safe_dump(PARTNERS, sort_keys=False), encoding="utf-8")
    return routes, partners


def in_days(days: float) -> str:
    when = datetime.now(UTC) + timedelta(days=days)
    return when.replace(microsecond=0, second=0).isoformat()


def comm_fields(comm_id: str = "smb-renewals", **changes: Any) -> dict[str, Any]:
    """A valid communication's fields, as the API takes them."""
    fields: dict[str, Any] = {
        "id": comm_id,
        "title": "Renewal reminder for ANZ small businesses",
        "send_at": in_days(10),
        "aims": "Remind customers to renew before prices change.",
        "customer_summary": "Your subscription renews on 1 March; prices change then.",
        "customer_pointed_to": "their partner of record",
        "audience": {"regions": ["ANZ"], "segments": ["smb"]},
    }
    fields.update(changes)
    return fields


def console_settings(folder: Path, **extra: str) -> dict[str, str]:
    routes, partners = write_comms_folder(folder)
    return {
        "PARTNERBOT_COMMS_ROUTES": str(routes),
        "PARTNERBOT_PARTNERS_FILE": str(partners),
        **extra,
    }


def add_user(app: App, email: str, role: str, password: str | None = PASSWORD) -> None:
    auth = ConsoleAuth(repo=app.store.console, secret_key=None, session_hours=8)
    auth.add_user(email, role=role, password=password)


@dataclass
class Running:
    app: App
    server: WebServer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return self.base + path


@asynccontextmanager
async def running_console(
    app: App, *, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[Running]:
    server = WebServer(host="127.0.0.1", port=0, subapps=build_apps(app, clock=clock))
    await server.start()
    try:
        yield Running(app, server)
    finally:
        await server.stop()


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browserless:
    """A person's HTTP client: cookies kept, the form token read from each page."""

    def __init__(self, running: Running) -> None:
        self.running = running
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[running.base])
        self.session = aiohttp.ClientSession(cookie_jar=jar)
        self.csrf = ""

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kw: Any) -> tuple[int, str]:
        async with self.session.get(self.running.url(path), allow_redirects=False, **kw) as r:
            text = await r.text()
            if m := CSRF.search(text):
                self.csrf = m.group(1)
            return r.status, text

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = None, **kw: Any
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        form = dict(data or {})
        if csrf is None:
            form["csrf"] = self.csrf
        elif csrf:
            form["csrf"] = csrf
        async with self.session.post(
            self.running.url(path), data=form, allow_redirects=False, **kw
        ) as r:
            text = await r.text()
            if m := CSRF.search(text):
                self.csrf = m.group(1)
            return r.status, text, r

    async def sign_in(self, email: str, password: str = PASSWORD) -> int:
        await self.get("/console/login")
        status, _, _ = await self.post("/console/login", {"email": email, "password": password})
        if status == 303:
            await self.get("/console/comms")
        return status
