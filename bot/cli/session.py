"""What every `partnerbot` command starts from: settings, logging and the composed app.

Shared by the command groups (bot/cli/main.py, bot/cli/comms.py, bot/cli/changes.py) so
each opens the app, reports user-facing errors and exits the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from bot.app import App
from bot.config import load_settings
from bot.errors import PartnerbotError
from bot.monitoring.logs import setup_logging
from bot.printable import shown
from knowledge.errors import KnowledgeError

err = Console(stderr=True)


def open_app(*, log_level: str = "WARNING") -> App:
    """Settings and the app, for one command (long-running `serve` logs at INFO)."""
    try:
        settings = load_settings()
        setup_logging(settings, log_level)
        return App(settings)
    except PartnerbotError as e:
        err.print(f"[red]{shown(str(e))}[/red]")
        raise typer.Exit(2) from None


def fail(e: Exception) -> typer.Exit:
    """Print a user-facing error; the caller raises the returned Exit (code 2)."""
    err.print(f"[red]error:[/red] {shown(str(e))}", highlight=False)
    return typer.Exit(2)


@contextmanager
def command_app() -> Iterator[App]:
    """The configured app for one command; a user-facing error ends it with its message."""
    app = open_app()
    try:
        yield app
    except (PartnerbotError, KnowledgeError) as e:
        raise fail(e) from None
    finally:
        app.close()
