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
from bot.config import Settings, load_settings
from bot.errors import PartnerbotError
from bot.monitoring.logs import stderr_logging
from bot.printable import shown
from knowledge.errors import KnowledgeError

err = Console(stderr=True)


@contextmanager
def command_settings(*, log_level: str = "WARNING") -> Iterator[Settings]:
    """The settings, with logging to stderr, for one command (long-running `serve` logs at
    INFO); logging is put back as it was when the command ends."""
    try:
        settings = load_settings()
    except PartnerbotError as e:
        err.print(f"[red]{shown(str(e))}[/red]")
        raise typer.Exit(2) from None
    with stderr_logging(settings, log_level):
        yield settings


def fail(e: Exception) -> typer.Exit:
    """Print a user-facing error; the caller raises the returned Exit (code 2)."""
    err.print(f"[red]error:[/red] {shown(str(e))}", highlight=False)
    return typer.Exit(2)


@contextmanager
def command_app(*, log_level: str = "WARNING") -> Iterator[App]:
    """The configured app for one command, closed when the command ends (its store, the
    index and the index's follower thread); a user-facing error ends it with its message."""
    with command_settings(log_level=log_level) as settings:
        try:
            app = App(settings)
        except PartnerbotError as e:
            err.print(f"[red]{shown(str(e))}[/red]")
            raise typer.Exit(2) from None
        try:
            yield app
        except (PartnerbotError, KnowledgeError) as e:
            raise fail(e) from None
        finally:
            app.close()
