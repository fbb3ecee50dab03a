"""What `partnerbot serve` runs for one configured App: the health endpoints (if on),
the platforms, then the features' jobs (bot/serving/runner.py starts and stops them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app import App
from bot.errors import ConfigError
from bot.features import Service
from bot.monitoring.health import (
    HealthEndpoints,
    Readiness,
    index_check,
    platform_check,
    store_check,
)
from bot.monitoring.logs import Redactor, secret_values
from bot.prompts import message
from bot.serving.runner import serve
from bot.serving.web import WebService


def services(app: App) -> list[Service]:
    """The services in start order: the web server (if on), the platforms, the features'
    jobs. A broken routes or partners file is refused here, at start, naming the line; so is
    turning the web server off while a platform receives its events on it (Teams)."""
    app.comms.routes  # noqa: B018 - loads and checks the file
    app.partners.check()
    app.places.check()
    hooked = {p.name: sorted(p.web_routes()) for p in app.platforms if p.web_routes()}
    if hooked and not app.settings.health_server:  # (Teams' /api/messages is on it)
        paths = ", ".join(f"{name} {' '.join(found)}" for name, found in hooked.items())
        raise ConfigError(
            message("config_web_server_off", platform=" and ".join(hooked), paths=paths)
        )
    web: list[Service] = [web_service(app)] if app.settings.health_server else []
    return [*web, *app.platforms, *app.jobs()]


def web_service(app: App) -> WebService:
    """The web server: health endpoints and the platforms' webhook routes."""
    s = app.settings
    readiness = Readiness(lambda: readiness_checks(app), redact=Redactor(secret_values(s)))
    health = HealthEndpoints(readiness=readiness, metrics=app.metrics)
    post = {path: handler for p in app.platforms for path, handler in p.web_routes().items()}
    return WebService(host=s.health_host, port=s.health_port, get=health.routes(), post=post)


def readiness_checks(app: App) -> dict[str, Callable[[], str]]:
    """What /readyz checks: the index, the state store, each platform, by name."""
    checks = {"index": index_check(app.core), "store": store_check(app.store)}
    return checks | {p.name: platform_check(p) for p in app.platforms}


async def serve_app(app: App, *, stop: asyncio.Event | None = None) -> None:
    """Serve the app's services until a signal (or `stop`)."""
    await serve(services(app), stop=stop)
