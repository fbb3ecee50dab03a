"""Versioned schema migrations: one folder of numbered SQL files per backend.

`<package>/schema/<backend>/NNNN_name.sql` are applied in order, each in its own
transaction together with its row in the version table; a database whose version is
newer than the newest file is refused (an older partnerbot must not write to a
schema it does not know). Used by the index catalog (knowledge/catalog/) and the
bot's state store (bot/store/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def version_table(name: str) -> str:
    """DDL of the table recording which migrations a database has had."""
    return (
        f"CREATE TABLE IF NOT EXISTS {name} ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )


def load_migrations(package: str, backend: str) -> list[Migration]:
    """The backend's migrations in version order (numbered 1, 2, 3… without gaps)."""
    folder = files(package).joinpath("schema", backend)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package}/schema/{backend}: migrations must be numbered 1, 2, 3…")
    return found


def statements(sql: str) -> list[str]:
    """A migration's statements (its files hold no ';' or '--' inside string literals)."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def newer_than_known(current: int, migrations: list[Migration]) -> int | None:
    """The newest version this code knows, when the database is past it; else None."""
    latest = migrations[-1].version if migrations else 0
    return latest if current > latest else None
