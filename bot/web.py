"""A small HTTP server for what `partnerbot serve` exposes over HTTP (a platform's
webhook, such as Slack's HTTP mode; the health endpoints), with the bound address for
logs and tests."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]


class WebServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        routes: Mapping[str, Handler] | None = None,
        get: Mapping[str, Handler] | None = None,
        subapps: Mapping[str, web.Application] | None = None,
    ) -> None:
        """`routes` answer POST requests, `get` GET (and HEAD) requests; each of `subapps`
        is a whole web application mounted under its path prefix."""
        self.host, self.port = host, port
        self.app = web.Application()
        for path, handler in (routes or {}).items():
            self.app.router.add_post(path, handler)
        for path, handler in (get or {}).items():
            self.app.router.add_get(path, handler)
        for prefix, subapp in (subapps or {}).items():
            self.app.add_subapp(prefix, subapp)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])  # the real one when asked for port 0
        logger.info("listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}{path}"
