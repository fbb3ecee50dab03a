"""What every `partnerbot` command starts from: settings, logging and the composed app, and
the one boundary every command's failure passes through.

Shared by the command groups (bot/cli/main.py, bot/cli/comms.py, bot/cli/changes.py) so
each opens the app, reports errors and exits the same way. The boundary (`Boundary`, the
root command group) turns whatever a command raises into one line on stderr — what
happened and what to do, secrets masked, a JSON object under PARTNERBOT_LOG_FORMAT=json —
and an exit code (README, "Exit codes"); the traceback is logged at DEBUG only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from bot.app import App
from bot.config import Settings, load_settings
from bot.errors import PartnerbotError, unavailable
from bot.monitoring.logs import Redactor, environment_secrets, stderr_logging
from bot.printable import printable
from bot.prompts import message
from knowledge.errors import IndexWriteError, KnowledgeError, disk_full_reason

logger = logging.getLogger("partnerbot")
err = Console(stderr=True)

# Exit codes (README, "Exit codes").
DONE = 0  # done
PARTLY = 1  # done, but some of it failed (a file not indexed, an error reply)
REFUSED = 2  # not done: a setting, an argument or a file must be fixed first
UNAVAILABLE = 3  # not done: something it depends on failed (a provider, the database,
#                  the index store, the disk); nothing is lost, run it again once fixed
BUG = 70  # not done: an unexpected error (a bug); the traceback is logged at DEBUG


@contextmanager
def command_settings(*, log_level: str = "WARNING") -> Iterator[Settings]:
    """The settings, with logging to stderr, for one command (long-running `serve` logs at
    INFO); logging is put back as it was when the command ends."""
    try:
        settings = load_settings()
    except Exception as e:
        raise fail(e) from None
    with stderr_logging(settings, log_level):
        yield settings


def fail(error: BaseException) -> typer.Exit:
    """Report a failure (one line on stderr); the caller raises the returned Exit."""
    return typer.Exit(report(error))


@contextmanager
def command_app(*, log_level: str = "WARNING") -> Iterator[App]:
    """The configured app for one command, closed when the command ends (its store, the
    index and the index's follower thread); a failure ends it with its message."""
    with command_settings(log_level=log_level) as settings:
        try:
            app = App(settings)
        except Exception as e:
            raise fail(e) from None
        try:
            yield app
        except (typer.Exit, typer.Abort):
            raise
        except Exception as e:
            raise fail(e) from None
        finally:
            app.close()


class Boundary(TyperGroup):
    """The root command group: whatever a command raises (but an exit it asked for) is
    reported as one line and becomes the exit code."""

    def invoke(self, ctx: Any) -> Any:  # (a typer context)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException:  # a usage error: typer prints it (exit code 2)
            raise
        except Exception as e:
            raise typer.Exit(report(e)) from None


def exit_code(error: BaseException) -> int:
    if unavailable(error):
        return UNAVAILABLE
    if isinstance(error, (PartnerbotError, KnowledgeError)):
        return REFUSED
    return BUG


def explain(error: BaseException) -> str:
    """What happened and what to do, in one line."""
    if isinstance(error, (IndexWriteError, PartnerbotError, KnowledgeError)):
        return str(error)
    reason = disk_full_reason(error)
    if reason:
        return message("failure_disk_full", reason=reason)
    return message("failure_unexpected", error=f"{type(error).__name__}: {error}")


def report(error: BaseException) -> int:
    """Print the failure as one line on stderr; its exit code."""
    logger.debug("the command failed", exc_info=error)  # the traceback, at DEBUG only
    text = " ".join(Redactor(environment_secrets())(explain(error)).split())
    if _json_logs():
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "ERROR",
            "logger": logger.name,
            "message": text,
        }
        print(json.dumps(entry, ensure_ascii=False), file=sys.stderr, flush=True)
    else:
        line = Text("error: ", style="red") + Text(printable(text))
        err.print(line, highlight=False, soft_wrap=True)
    return exit_code(error)


def _json_logs() -> bool:
    """Whether log lines are JSON (read from the environment: the settings may be what
    failed)."""
    return os.environ.get("PARTNERBOT_LOG_FORMAT", "").strip().lower() == "json"
