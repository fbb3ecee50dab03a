"""Per-user sliding-window rate limit, shared by every adapter in the process.

The limit is for chat users, per asker. Questions typed on this machine — `ask`,
`ask --batch`, `eval`, the terminal chat — are the operator's own and never limited.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

# Platforms whose questions come from the operator's own terminal or scripts.
UNLIMITED_PLATFORMS = frozenset({"cli", "console"})


class RateLimiter:
    def __init__(self, *, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """0 if the call may go ahead (and counts it), else seconds until it may."""
        now = self._clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(0.0, 60.0 - (now - hits[0]))
            hits.append(now)
            return 0.0
