"""Posting notices to partner channels, platform-neutral.

The core decides *what* to post and *where* (communications notices, change
digests); an adapter-provided `ChannelPoster` decides *how* on its platform.
Every notice carries a delivery key that the platform stores with the message
(Slack message metadata, Discord embed footer / nonce), so after a crash the
core can ask "is this key already posted?" before posting again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

ButtonKind = Literal["acknowledge", "ask"]


@dataclass(frozen=True)
class NoticeButton:
    kind: ButtonKind
    label: str
    value: str  # opaque to adapters: handed back to the core on click


@dataclass(frozen=True)
class Notice:
    """A message to a partner channel. `text` is the full Markdown body."""

    key: str  # delivery key, unique per (thing, channel, notice); stored with the post
    title: str
    text: str
    buttons: tuple[NoticeButton, ...] = ()
    link: str | None = None
    fields: tuple[tuple[str, str], ...] = field(default=())


class ChannelPoster(Protocol):
    """Implemented by each chat adapter; methods may block (called from worker threads)."""

    platform: str

    def post(self, channel: str, notice: Notice) -> str:
        """Post the notice; return the platform's message id. Honour rate limits."""
        ...

    def find(self, channel: str, key: str) -> str | None:
        """The message id of an earlier post carrying this delivery key, if any."""
        ...
