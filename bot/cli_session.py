"""What every `partnerbot` command starts from: settings, logging and the core.

Shared by the command groups (bot/cli.py, bot/comms/cli.py, bot/changes/cli.py) so
each opens the bot, reports user-facing errors and exits the same way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from bot.config import Settings, load_settings
from bot.core import PartnerBot
from bot.errors import PartnerbotError
from bot.terminal import shown
from knowledge.errors import KnowledgeError

err = Console(stderr=True)

CliBot = PartnerBot  # what every command works on

_NOISY = ("httpx", "httpx2", "chromadb", "urllib3", "discord", "slack_bolt", "slack_sdk")


def setup_logging(settings: Settings, default_level: str) -> None:
    logging.basicConfig(
        level=(settings.log_level or default_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def open_bot(*, log_level: str = "WARNING") -> PartnerBot:
    """Settings and the core, for one command (long-running `serve` logs at INFO)."""
    try:
        settings = load_settings()
    except PartnerbotError as e:
        err.print(f"[red]{shown(str(e))}[/red]")
        raise typer.Exit(2) from None
    setup_logging(settings, log_level)
    try:
        return PartnerBot(settings)
    except PartnerbotError as e:
        raise fail(e) from None


def fail(e: Exception) -> typer.Exit:
    """Print a user-facing error; the caller raises the returned Exit (code 2)."""
    err.print(f"[red]error:[/red] {shown(str(e))}", highlight=False)
    return typer.Exit(2)


@contextmanager
def command_bot() -> Iterator[PartnerBot]:
    """The configured bot for one command; a user-facing error ends it with its message."""
    bot = open_bot()
    try:
        yield bot
    except (PartnerbotError, KnowledgeError) as e:
        raise fail(e) from None
    finally:
        bot.close()
