"""What `partnerbot serve` runs for one configured App: the health endpoints (if on),
the platforms, then the features' jobs (bot/serving/runner.py starts and stops them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app import App
from bot.features import Service
from bot.monitoring.health import (
    HealthEndpoints,
    Readiness,
    index_check,
    platform_check,
    store_check,
)
from bot.monitoring.logs import Redactor, secret_values
from bot.serving.console.site import build_apps
from bot.serving.runner import serve
from bot.serving.web import WebService


def services(app: App) -> list[Service]:
    """The services in start order: the web server (if on), the platforms, the features'
    jobs. The web server runs for the health endpoints, the console or a platform's webhook.
    A broken routes or partners file is refused here, at start, naming the line."""
    app.comms.routes  # noqa: B018 - loads and checks the file
    app.partners.check()
    app.places.check()
    hooked = any(p.web_routes() for p in app.platforms)  # (Teams' /api/messages)
    served = app.settings.health_server or app.settings.console or hooked
    web: list[Service] = [web_service(app)] if served else []
    return [*web, *app.platforms, *app.jobs()]


def web_service(app: App) -> WebService:
    """The web server: health endpoints (PARTNERBOT_HEALTH_SERVER), the platforms' webhook
    routes, and the vendor's console with its API (PARTNERBOT_CONSOLE)."""
    s = app.settings
    readiness = Readiness(lambda: readiness_checks(app), redact=Redactor(secret_values(s)))
    health = HealthEndpoints(readiness=readiness, metrics=app.metrics)
    post = {path: handler for p in app.platforms for path, handler in p.web_routes().items()}
    subapps = build_apps(app) if s.console else {}
    get = health.routes() if s.health_server else {}
    return WebService(host=s.health_host, port=s.health_port, get=get, post=post, subapps=subapps)


def readiness_checks(app: App) -> dict[str, Callable[[], str]]:
    """What /readyz checks: the index, the state store, each platform, by name."""
    checks = {"index": index_check(app.core), "store": store_check(app.store)}
    return checks | {p.name: platform_check(p) for p in app.platforms}


async def serve_app(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Serve the app's services until a signal (or `stop`)."""
    await serve(services(app), stop=stop)
