"""A small HTTP server for what `partnerbot serve` exposes over HTTP (a platform's
webhook, such as Slack's HTTP mode; the health endpoints), with the bound address for
logs and tests.

Anyone on the network may send it anything. A request that is not HTTP (bad bytes in a
header, garbage, a header flood, a line too long) or that a handler refuses costs one
WARNING line at most, rate-limited (`Complaints`), never a traceback; a handler that
fails on a request it should have answered is a bug, logged at ERROR.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]
COMPLAINT_SECONDS = 60.0  # at most one warning of each kind this often


class Complaints:
    """Warnings about what anyone may send (junk requests, unsigned webhooks): the first of
    each kind in a window is logged, with how many more came since the last one logged;
    the rest are only counted."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        seconds: float = COMPLAINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.seconds, self.clock = log, seconds, clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._unsaid: dict[str, int] = {}

    def warn(self, kind: str, text: str, *args: object) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.seconds:
                self._unsaid[kind] = self._unsaid.get(kind, 0) + 1
                return
            self._last[kind] = now
            unsaid = self._unsaid.pop(kind, 0)
        more = f" (and {unsaid} more like it in the last {self.seconds:g} s)" if unsaid else ""
        self.log.warning(text + more, *args)


class EdgeLog(logging.LoggerAdapter):
    """What aiohttp logs about one server's requests: a request that is not HTTP is one
    rate-limited WARNING (no traceback at any level); anything else it reports (a
    handler that raised) one ERROR line."""

    def __init__(self, log: logging.Logger, complaints: Complaints) -> None:
        super().__init__(log, {})
        self.complaints = complaints

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = _error(exc_info)
        if isinstance(error, HttpProcessingError):
            self.complaints.warn("not http", "refused a request that is not HTTP: %s", _why(error))
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, exc_info: Any = None, **kwargs: Any) -> None:
        if isinstance(_error(exc_info), HttpProcessingError):  # expected: no traceback
            self.logger.debug("%s (%s)", str(msg) % args, _why(_error(exc_info)))
            return
        self.logger.debug(msg, *args, exc_info=exc_info, **kwargs)


def _error(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple):
        return exc_info[1]
    return sys.exc_info()[1] if exc_info else None


def _why(error: BaseException | None) -> str:
    return " ".join(str(getattr(error, "message", "") or type(error).__name__).split())[:200]


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
        self.complaints = Complaints(logger)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app,
            shutdown_timeout=2.0,
            access_log=None,
            logger=EdgeLog(logging.getLogger("aiohttp.server"), self.complaints),
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = int(self._runner.addresses[0][1])  # the real one when asked for port 0
        logger.info(
            "listening on %s:%s: %s",
            self.host,
            self.port,
            " ".join(f"{method} {path}" for method, path in self.endpoints()),
        )

    def endpoints(self) -> list[tuple[str, str]]:
        """Every (method, path) this server answers, mounted applications' too, as its
        router has them (HEAD, which GET answers too, left out)."""
        return sorted(set(_endpoints(self.app)))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, path: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}{path}"


def _endpoints(app: web.Application) -> Iterator[tuple[str, str]]:
    for route in app.router.routes():  # a mounted application's routes with their prefix
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix") or ""
        if route.method != "HEAD":
            yield route.method, str(path)
