"""The `partnerbot` commands (typer): main.py holds the command table, session.py opens
the configured app for one command, comms.py and changes.py the features' groups."""

from bot.cli.main import app

__all__ = ["app"]
