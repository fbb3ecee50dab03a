"""Work that gives way to questions: index runs and generation loads in a process that
answers questions run in threads of the lowest CPU priority.

Linux keeps a niceness per thread, so a question's thread (normal priority) gets the
processor first and its latency stays near idle, while the work takes what is left.
Elsewhere the work runs at normal priority. While such work runs, the interpreter also
hands its lock between threads every millisecond instead of every five, so a question
waits less for the lock the work's Python code holds.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
LOWEST = 19
SWITCH_SECONDS = 0.001

_lock = threading.Lock()
_working = 0
_interval = sys.getswitchinterval()  # the interval before the first work began
_shortened = _interval  # the interval the work set


@contextmanager
def giving_way() -> Iterator[None]:
    """While background work runs (an index run, the follower loading a generation): a short
    switch interval. After the last one ends, the interval it found is put back, unless
    someone else changed it meanwhile (theirs is kept)."""
    global _working, _interval, _shortened
    with _lock:
        if _working == 0:
            _interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_interval, SWITCH_SECONDS))
            _shortened = sys.getswitchinterval()
        _working += 1
    try:
        yield
    finally:
        with _lock:
            _working -= 1
            if _working == 0 and sys.getswitchinterval() == _shortened:
                sys.setswitchinterval(_interval)


def lowest_priority() -> None:
    """Give this thread, and only this one, the lowest CPU priority (for good: call it only
    in a thread made for such work)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST)
    except OSError as e:
        logger.debug("could not lower the priority of %s: %s", threading.current_thread().name, e)


def in_background(fn: Callable[[], T], *, name: str = "index-run") -> T:
    """Run fn in a thread of its own at the lowest priority and wait for it (its result,
    or its exception)."""
    result: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        lowest_priority()
        try:
            with giving_way():
                result.append(fn())
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
