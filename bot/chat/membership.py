"""Who is present in a place: the organisations a platform says share a channel.

A platform that can tell registers a lookup (`PlatformTraits.organisations`): Slack reads a
Slack Connect channel's connected workspaces, Microsoft Teams the tenants of a shared
channel's members. Each lookup answers the organisations other than the platform's own
(the vendor's workspace or tenant). What a lookup answered is kept `MEMBERSHIP_SECONDS`,
and forgotten at once when the platform reports a change (`changed`: Slack's
member_joined_channel, channel_shared, …), so a workspace that just joined is seen at the
next question, not minutes later.

A lookup that fails, times out or is asked where it cannot run answers `UNKNOWN`: an
organisation nobody lists, so the place is read as the public's (bot/chat/audiences.py).
A platform without a lookup (Discord, the terminal) answers None: its configuration alone
(partner places, the place map) says who reads a channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)

UNKNOWN = "?"  # an organisation the platform could not name
MEMBERSHIP_SECONDS = 15.0
KEPT_PLACES = 10_000

# Looks up the organisations sharing a channel; blocking (called from worker threads).
Lookup = Callable[[str], Iterable[str]]


class Membership:
    """The organisations present in each channel, per platform, as its lookup says."""

    def __init__(
        self, *, seconds: float = MEMBERSHIP_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._lookups: dict[str, Lookup] = {}
        self._kept: dict[tuple[str, str], tuple[float, int, frozenset[str]]] = {}
        # Bumped by `changed`: an answer looked up before a change is not kept after it.
        self._version: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add_platform(self, platform: str, lookup: Lookup | None) -> None:
        with self._lock:
            if lookup is None:
                self._lookups.pop(platform, None)
            else:
                self._lookups[platform] = lookup

    def reports(self, platform: str) -> bool:
        """Whether this platform says who shares its channels."""
        return platform in self._lookups

    def changed(self, platform: str, channel: str) -> None:
        """The platform reported a change of who is in `channel`: ask it again next time."""
        key = (platform, channel)
        with self._lock:
            self._kept.pop(key, None)
            self._version[key] = self._version.get(key, 0) + 1
            while len(self._version) > KEPT_PLACES:
                self._version.pop(next(iter(self._version)))
        logger.debug("%s: who is in %s changed; asking again at the next question", *key)

    def organisations(self, platform: str, channel: str) -> frozenset[str] | None:
        """The organisations besides the platform's own in `channel` (UNKNOWN among them when
        the platform could not tell); None when the platform does not say. Blocking."""
        lookup = self._lookups.get(platform)
        if lookup is None:
            return None
        key, now = (platform, channel), self._clock()
        with self._lock:
            kept = self._kept.get(key)
            version = self._version.get(key, 0)
            if kept is not None and now - kept[0] < self.seconds and kept[1] == version:
                return kept[2]
        try:
            found = frozenset(str(o) for o in lookup(channel) if str(o).strip())
        except Exception as e:  # fail closed: someone we cannot name may read it
            logger.warning(
                "%s: could not tell who shares %s (%r); answering for the public", *key, e
            )
            return frozenset({UNKNOWN})
        with self._lock:
            if self._version.get(key, 0) == version:
                self._kept[key] = (now, version, found)
                while len(self._kept) > KEPT_PLACES:
                    self._kept.pop(next(iter(self._kept)))
        return found
