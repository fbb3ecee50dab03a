"""`python -m bot.cli …` runs the `partnerbot` command."""

from bot.cli.main import app

app()
