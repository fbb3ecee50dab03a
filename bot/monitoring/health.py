"""`partnerbot serve`'s health endpoints (on its web server, PARTNERBOT_HEALTH_*):

- `GET /healthz`: the process is alive (its event loop answers): always 200;
- `GET /readyz`: ready for traffic — every check (the index open, the state store
  reachable, each chat platform connected) named in the JSON body with its detail;
  200 when all pass, 503 naming the failing ones otherwise;
- `GET /metrics`: the Prometheus text format (bot/monitoring/metrics.py).

A check runs in a worker thread and has `timeout` seconds to answer; a check that does
not is reported failing, and is not started again while it still runs (a database that
hangs never piles up threads).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from bot.core import PartnerBot
from bot.monitoring.metrics import Metrics
from bot.platform import Platform
from bot.store import Store
from bot.web import Handler

logger = logging.getLogger(__name__)

# A check returns a short detail when it passes, and raises (NotReady: a detail) when not.
Check = Callable[[], str]


class NotReady(Exception):
    """A check did not pass; the message says why."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


class Readiness:
    """Runs the named checks side by side, each bounded by `timeout` seconds."""

    def __init__(
        self,
        checks: Callable[[], Mapping[str, Check]],
        *,
        timeout: float = 2.0,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.checks, self.timeout, self.redact = checks, timeout, redact
        self._running: dict[str, asyncio.Future[str]] = {}

    async def run(self) -> list[CheckResult]:
        checks = self.checks()
        return list(await asyncio.gather(*(self._run(n, c) for n, c in checks.items())))

    async def _run(self, name: str, check: Check) -> CheckResult:
        running = self._running.get(name)
        if running is None or running.done():
            running = self._running[name] = asyncio.get_running_loop().run_in_executor(None, check)
        try:
            detail = await asyncio.wait_for(asyncio.shield(running), self.timeout)
        except TimeoutError:
            return CheckResult(name, False, f"no answer within {self.timeout:g} s")
        except Exception as e:
            reason = str(e) if isinstance(e, NotReady) else f"{type(e).__name__}: {e}"
            return CheckResult(name, False, self.redact(reason))
        return CheckResult(name, True, self.redact(detail))


# -- the checks `partnerbot serve` runs ------------------------------------------------------------
def index_check(core: PartnerBot) -> Check:
    def check() -> str:
        index = core.index
        vectors = index.vector_count()  # a Chroma server answers, or this raises
        chunks = index.chunk_count()
        note = " (nothing indexed yet)" if chunks == 0 else ""
        return f"generation {index.generation()}, {chunks} chunks, {vectors} vectors{note}"

    return check


def store_check(store: Store) -> Check:
    def check() -> str:
        return f"schema version {store.schema_version()}"

    return check


def platform_check(platform: Platform) -> Check:
    def check() -> str:
        if not platform.connected:
            raise NotReady("not connected")
        return "connected"

    return check


class HealthEndpoints:
    """/healthz, /readyz and /metrics as GET routes of `partnerbot serve`'s web server
    (bot/serving/web.py)."""

    def __init__(self, *, readiness: Readiness, metrics: Metrics) -> None:
        self.readiness, self.metrics = readiness, metrics
        self._was_ready: bool | None = None

    def routes(self) -> dict[str, Handler]:
        return {"/healthz": self.healthz, "/readyz": self.readyz, "/metrics": self.scrape}

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        results = await self.readiness.run()
        ready = all(r.ok for r in results)
        body = {
            "ready": ready,
            "checks": {r.name: {"ok": r.ok, "detail": r.detail} for r in results},
        }
        if ready != self._was_ready:  # logged when it changes, not on every probe
            failing = ", ".join(f"{r.name} ({r.detail})" for r in results if not r.ok)
            logger.info("ready" if ready else f"not ready: {failing}")
            self._was_ready = ready
        return web.Response(
            status=200 if ready else 503,
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
        )

    async def scrape(self, request: web.Request) -> web.Response:
        accept = request.headers.get("Accept")
        body, content_type = await asyncio.to_thread(self.metrics.render, accept)
        return web.Response(body=body, headers={"Content-Type": content_type})
