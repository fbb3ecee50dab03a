"""Fixtures for the adapter tests: a fresh database of each backend (SQLite and a real
PostgreSQL), from the store contract tests, for what must hold on both."""

from tests.bot.store.conftest import database_url, open_another  # noqa: F401
