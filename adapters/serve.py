"""`partnerbot serve`: every configured adapter plus the background jobs, in one process.

Slack runs when SLACK_BOT_TOKEN is set, Discord when DISCORD_BOT_TOKEN is set.
SIGTERM or SIGINT stops every service cleanly (in reverse start order).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from adapters.service import Service
from bot.core import PartnerBot

logger = logging.getLogger(__name__)

ServiceFactory = Callable[[PartnerBot], Service]


def configured_services(bot: PartnerBot) -> list[Service]:
    """Build the services the settings ask for (imports each SDK only when it is used)."""
    services: list[Service] = []
    s = bot.settings
    if s.slack_bot_token:
        from adapters.slack import build_slack

        services.append(build_slack(bot))
    if s.discord_bot_token:
        from adapters.discord import build_discord

        services.append(build_discord(bot))
    services.extend(background_jobs(bot, services))
    return services


def background_jobs(bot: PartnerBot, chat: list[Service]) -> list[Service]:
    """Jobs that run beside the adapters (the communications dispatcher, when present)."""
    jobs: list[Service] = []
    try:
        from bot.comms.dispatcher import build_dispatcher_service
    except ImportError:
        return jobs
    service = build_dispatcher_service(bot.comms, chat)
    if service is not None:
        jobs.append(service)
    return jobs


async def serve(
    bot: PartnerBot, services: list[Service], *, stop_event: asyncio.Event | None = None
) -> None:
    """Start services, wait for SIGTERM/SIGINT (or stop_event), stop them in reverse order."""
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not the main thread (tests) or not supported: stop_event still works.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
            logger.info("%s started", service.name)
        await stop.wait()
    finally:
        logger.info("shutting down")
        for service in reversed(started):
            try:
                await asyncio.wait_for(service.stop(), timeout=10)
                logger.info("%s stopped", service.name)
            except Exception:
                logger.exception("%s did not stop cleanly", service.name)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def run(bot: PartnerBot) -> int:
    services = configured_services(bot)
    if not any(getattr(s, "name", "") in {"slack", "discord"} for s in services):
        logger.error(
            "No chat platform configured: set SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN or "
            "SLACK_SIGNING_SECRET) and/or DISCORD_BOT_TOKEN. See README, 'Run on Slack'."
        )
        return 2
    bot.ensure_indexed()
    asyncio.run(serve(bot, services))
    return 0
