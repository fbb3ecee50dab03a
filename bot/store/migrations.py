"""Versioned schema migrations of the state store (the mechanism: knowledge/migrations.py).

`bot/store/schema/<backend>/NNNN_name.sql` are applied in order at start, each in
its own transaction together with its row in `schema_version`; a database whose
version is newer than the newest file is refused (an older partnerbot must not
write to a schema it does not know).
"""

from __future__ import annotations

from bot.errors import StoreError
from knowledge import migrations as _migrations
from knowledge.migrations import Migration, statements

__all__ = ["VERSION_TABLE", "Migration", "load_migrations", "pending", "statements"]

VERSION_TABLE = _migrations.version_table("schema_version")


def load_migrations(backend: str) -> list[Migration]:
    """The backend's migrations in version order (numbered 1, 2, 3… without gaps)."""
    return _migrations.load_migrations("bot.store", backend)


def pending(current: int, migrations: list[Migration], *, where: str) -> list[Migration]:
    """The migrations still to apply; a database newer than this code is refused."""
    latest = _migrations.newer_than_known(current, migrations)
    if latest is not None:
        raise StoreError(
            f"the state database at {where} has schema version {current}, newer than this "
            f"partnerbot knows (version {latest}): upgrade partnerbot, or point "
            "PARTNERBOT_DATABASE_URL at another database"
        )
    return [m for m in migrations if m.version > current]
