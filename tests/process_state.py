"""What a test must leave as it found it: threads, the switch interval, signal handlers, the
environment, the working directory, logging and the asyncio event loop policy.

`left_as_found` is the autouse fixture tests/conftest.py turns on for every test: it takes
a `ProcessState` before the test and fails the test when the state after it (its fixtures
torn down) differs, naming each difference. Threads a test started get a moment to finish
(a server being shut down, an executor's last worker); one still running is a leak.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Threads a test started are joined for up to this long before they count as left running.
THREAD_GRACE_SECONDS = 5.0
# Set by pytest itself for each phase of a test.
PYTEST_VARIABLES = ("PYTEST_CURRENT_TEST",)


def _logging_state() -> dict[str, tuple[int, bool, tuple[tuple[int, bool], ...]]]:
    """Each logger's level, whether it propagates, and its handlers (id, and whether it is a
    NullHandler), pytest's own capture handlers left out: pytest adds and removes them
    around every phase of a test."""
    loggers: list[tuple[str, logging.Logger]] = [("", logging.getLogger())]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            loggers.append((name, logger))
    state: dict[str, tuple[int, bool, tuple[tuple[int, bool], ...]]] = {}
    for name, logger in loggers:
        handlers = tuple(
            (id(h), isinstance(h, logging.NullHandler))
            for h in logger.handlers
            if not type(h).__module__.startswith("_pytest")
        )
        state[name] = (logger.level, logger.propagate, handlers)
    return state


def _without_null(
    state: tuple[int, bool, tuple[tuple[int, bool], ...]] | None,
) -> tuple[int, bool, tuple[tuple[int, bool], ...]] | None:
    """A logger's state without its NullHandlers: a library imported late adds one to its
    own logger (discord.py does), which changes nothing anyone sees."""
    if state is None:
        return None
    level, propagate, handlers = state
    return level, propagate, tuple(h for h in handlers if not h[1])


def _signal_handlers() -> dict[str, object]:
    handlers: dict[str, object] = {}
    for sig in signal.valid_signals():
        try:
            handlers[signal.Signals(sig).name] = signal.getsignal(sig)
        except (ValueError, OSError):  # not a signal this platform names
            continue
    if threading.current_thread() is threading.main_thread():
        fd = signal.set_wakeup_fd(-1)  # (read by setting it; put back at once)
        signal.set_wakeup_fd(fd)
        handlers["wakeup fd"] = fd
    return handlers


@dataclass(frozen=True)
class ProcessState:
    """The process-wide state a test may change and must put back."""

    threads: frozenset[threading.Thread]
    switch_interval: float
    signals: dict[str, object]
    environment: dict[str, str]
    cwd: str
    logging: dict[str, tuple[int, bool, tuple[tuple[int, bool], ...]]]
    loop_policy: object

    @classmethod
    def capture(cls) -> ProcessState:
        return cls(
            threads=frozenset(t for t in threading.enumerate() if t.is_alive()),
            switch_interval=sys.getswitchinterval(),
            signals=_signal_handlers(),
            environment={k: v for k, v in os.environ.items() if k not in PYTEST_VARIABLES},
            cwd=os.getcwd(),
            logging=_logging_state(),
            loop_policy=asyncio.get_event_loop_policy(),
        )

    def changes_since(self, before: ProcessState) -> list[str]:
        """Each difference from `before`, in words (empty: left as found)."""
        found: list[str] = []
        for t in sorted(self.threads - before.threads, key=lambda t: t.name):
            found.append(f"thread {t.name!r} ({type(t).__name__}, daemon={t.daemon}) still runs")
        if self.switch_interval != before.switch_interval:
            found.append(f"switch interval {before.switch_interval} became {self.switch_interval}")
        for name in sorted(set(self.signals) | set(before.signals)):
            if self.signals.get(name) != before.signals.get(name):
                found.append(f"signal handler of {name} changed: {self.signals.get(name)!r}")
        for key in sorted(set(self.environment) | set(before.environment)):
            if self.environment.get(key) != before.environment.get(key):
                found.append(f"environment variable {key} changed")  # (its value may be secret)
        if self.cwd != before.cwd:
            found.append(f"working directory {before.cwd} became {self.cwd}")
        for name in sorted(set(self.logging) | set(before.logging)):
            was, now = before.logging.get(name), self.logging.get(name)
            if was is None:  # made meanwhile: a library imported late may set it up
                if now is not None and not all(null for _, null in now[2]):
                    found.append(f"logger {name!r} was made with a handler")
            elif _without_null(now) != _without_null(was):
                found.append(f"logger {name or 'root'!r}: level, propagation or handlers changed")
        if self.loop_policy is not before.loop_policy:
            found.append("the asyncio event loop policy changed")
        return found


def settle(before: ProcessState, *, grace: float | None = None) -> ProcessState:
    """The state now, after giving threads started since `before` up to `grace` seconds
    (default THREAD_GRACE_SECONDS) to end."""
    deadline = time.monotonic() + (THREAD_GRACE_SECONDS if grace is None else grace)
    for thread in set(threading.enumerate()) - before.threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return ProcessState.capture()


@pytest.fixture(autouse=True)
def left_as_found() -> Iterator[None]:
    """Fails a test that leaves a thread running or process-wide state changed."""
    before = ProcessState.capture()
    yield
    changes = settle(before).changes_since(before)
    if changes:
        pytest.fail("the test left the process changed:\n  " + "\n  ".join(changes))
