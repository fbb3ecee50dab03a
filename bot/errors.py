"""The error hierarchy. A UserError's message is safe to show and says how to fix it."""

from __future__ import annotations

from knowledge.errors import (
    CatalogError,
    IndexUnavailableError,
    IndexWriteError,
    ProviderError,
    disk_full_reason,
)


class PartnerbotError(Exception):
    """Base class for every error partnerbot raises on purpose."""


class UserError(PartnerbotError):
    """Something the user or admin can act on; the message is shown as is."""


class ConfigError(UserError):
    """A missing or invalid setting; the message names the variable and the fix."""


class LLMError(PartnerbotError):
    """The language model could not give a usable reply (the caller falls back)."""


class NotAllowed(UserError):
    """A non-admin tried an admin command."""


class StoreError(UserError):
    """The state database cannot be opened or used as configured; the message says why
    (never with a password)."""


class PlatformRefused(PartnerbotError):
    """The chat platform refused a post (a permission the bot lacks there). The platform
    has said so once, naming what is missing; the message is not worth a traceback."""


class Undeliverable(PartnerbotError):
    """The platform will not take posts to this place any more (the bot was removed from
    it): trying again cannot help, so the post is failed at once and the admins told."""


class Conflict(PartnerbotError):
    """Another process (a replica) wrote the same row at the same moment; whoever runs
    again finds it written."""


def unavailable(error: BaseException) -> bool:
    """Whether something partnerbot depends on failed — a provider, the index store, the
    database, the disk — rather than the request: the same request may work later."""
    dependencies = (
        ProviderError,
        IndexWriteError,
        IndexUnavailableError,
        CatalogError,
        StoreError,
        Conflict,
    )
    return isinstance(error, dependencies) or disk_full_reason(error) is not None
