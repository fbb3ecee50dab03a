"""PARTNERBOT_DATABASE_URL: which backend holds the bot's state, and where.

    sqlite:///relative/state.sqlite3   sqlite:////absolute/state.sqlite3
    postgresql://user:password@host:5432/dbname   (postgres:// too)

Unset: a SQLite file in the data directory. The password never leaves this module
except to the database driver: `redacted()` is what logs and errors show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from bot.errors import ConfigError

VARIABLE = "PARTNERBOT_DATABASE_URL"
_HELP = (
    f"{VARIABLE} must be sqlite:///path/to/state.sqlite3 or "
    "postgresql://user:password@host:5432/dbname"
)


@dataclass(frozen=True)
class DatabaseUrl:
    backend: str  # sqlite | postgres
    url: str  # as given (holds the password; give it only to the driver)
    path: Path | None = None  # sqlite

    @classmethod
    def sqlite_file(cls, path: Path) -> DatabaseUrl:
        return cls("sqlite", f"sqlite:///{path}", path)

    def redacted(self) -> str:
        """The URL with any password replaced by ***: safe for logs and messages."""
        return redact(self.url)

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.redacted()!r})"

    __str__ = redacted


def redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable database URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{host}" + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_database_url(url: str) -> DatabaseUrl:
    """Check the URL's shape (not whether the database is reachable); ConfigError if bad."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ConfigError(f"{_HELP} (no scheme given)")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(f"{_HELP} (a SQLite URL needs a file path after sqlite:///)")
        path = Path(unquote(rest[1:]))
        if str(path) in ("", ".", ":memory:"):
            raise ConfigError(f"{_HELP} (a SQLite URL needs a file path after sqlite:///)")
        return DatabaseUrl("sqlite", url, path)
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ConfigError(f"{_HELP} (the port is not a number from 1 to 65535)") from None
        if not parts.path.strip("/"):
            raise ConfigError(f"{_HELP} (name the database after the host: …/dbname)")
        return DatabaseUrl("postgres", url)
    raise ConfigError(f"{_HELP} (unknown scheme {scheme!r})")
