"""Versioned schema migrations: one folder of numbered SQL files per backend.

`bot/store/schema/<backend>/NNNN_name.sql` are applied in order at start, each in
its own transaction together with its row in `schema_version`; a database whose
version is newer than the newest file is refused (an older partnerbot must not
write to a schema it does not know).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from bot.errors import StoreError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(backend: str) -> list[Migration]:
    """The backend's migrations in version order (numbered 1, 2, 3… without gaps)."""
    folder = files("bot.store").joinpath("schema", backend)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"bot/store/schema/{backend}: migrations must be numbered 1, 2, 3…")
    return found


def statements(sql: str) -> list[str]:
    """A migration's statements (its files hold no ';' or '--' inside string literals)."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def pending(current: int, migrations: list[Migration], *, where: str) -> list[Migration]:
    """The migrations still to apply; a database newer than this code is refused."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StoreError(
            f"the state database at {where} has schema version {current}, newer than this "
            f"partnerbot knows (version {latest}): upgrade partnerbot, or point "
            "PARTNERBOT_DATABASE_URL at another database"
        )
    return [m for m in migrations if m.version > current]
