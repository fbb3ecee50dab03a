"""`partnerbot serve`'s one web server (PARTNERBOT_HEALTH_HOST / PARTNERBOT_HEALTH_PORT):
the health endpoints, each platform's webhook routes (`Platform.web_routes`) and any
web application mounted under a path prefix."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from bot.errors import ConfigError
from bot.prompts import message
from bot.web import Handler, WebServer

logger = logging.getLogger(__name__)


class WebService:
    """The web server as a service of `partnerbot serve` (started first, stopped last)."""

    name = "web"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        get: Mapping[str, Handler] | None = None,
        post: Mapping[str, Handler] | None = None,
        subapps: Mapping[str, web.Application] | None = None,
    ) -> None:
        self.web = WebServer(host=host, port=port, get=get, routes=post, subapps=subapps)

    async def start(self) -> None:
        try:
            await self.web.start()
        except OSError as e:
            raise ConfigError(message("health_cannot_listen", error=e)) from None
        logger.info("web server on %s", self.web.url(""))

    async def stop(self) -> None:
        await self.web.stop()
