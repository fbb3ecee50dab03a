"""Run services (platforms, jobs) until SIGTERM or SIGINT, and stop them within a bound.

Starts run side by side, so one platform that cannot be reached does not hold up the
others; a signal that arrives while a start is still waiting ends it too. Stopping
has one deadline for all services together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.features import Service

logger = logging.getLogger(__name__)

T = TypeVar("T")

STOP_SECONDS = 8.0  # for all services together; `partnerbot serve` exits within 10 s
TASKS_SECONDS = 1.0  # for the tasks left over, cancelled once the services stopped


async def serve(
    services: Sequence[Service],
    *,
    stop: asyncio.Event | None = None,
    stop_seconds: float = STOP_SECONDS,
) -> None:
    """Start the services side by side, wait for a signal (or `stop`), stop them in reverse
    order. A platform still connecting delays no other service (the dispatcher ticks
    meanwhile).

    A signal during the starts ends them too. A service whose start fails (a ConfigError
    saying what to fix) stops every service, then the error is raised.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    # Put back as found when serving ends (the loop would put Python's default back instead
    # of whatever handled the signal before: an embedding program's, an asyncio runner's).
    before = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        # Not the main thread (tests) or not supported: `stop` still works.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    started = list(services)  # each is stopped in any case: it may be half started
    starting: dict[asyncio.Future[Any], Service] = {
        asyncio.create_task(s.start(), name=f"start-{s.name}"): s for s in services
    }
    stopping: asyncio.Future[Any] = asyncio.create_task(stop.wait())
    try:
        pending = set(starting)
        while pending and not stopping.done():
            done, pending = await asyncio.wait(
                pending | {stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            pending.discard(stopping)
            for task in done - {stopping}:
                task.result()  # a failed start is raised here
                logger.info("%s started", starting[task].name)
        await stop.wait()
    finally:
        stopping.cancel()
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        await _stop_all(started, stop_seconds)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
            with contextlib.suppress(TypeError, ValueError):  # (not the main thread)
                if before[sig] is not None:
                    signal.signal(sig, before[sig])


async def _stop_all(services: list[Service], seconds: float) -> None:
    logger.info("shutting down")
    deadline = asyncio.get_running_loop().time() + seconds
    for service in reversed(services):
        left = deadline - asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(service.stop(), timeout=max(left, 0.1))
            logger.info("%s stopped", service.name)
        except TimeoutError:
            logger.warning("%s did not stop in time; leaving it", service.name)
        except Exception:
            logger.exception("%s did not stop cleanly", service.name)


def run(services: Sequence[Service], *, exit_seconds: float = 10.0) -> list[threading.Thread]:
    """Serve on a fresh event loop until stopped. Returns the worker threads still busy
    (a platform call that has not timed out yet) once `exit_seconds` after the stop have
    passed: the caller may exit without them."""
    executor = ThreadPoolExecutor(thread_name_prefix="partnerbot-worker")
    loop = asyncio.new_event_loop()
    loop.set_default_executor(executor)
    stopped_at: list[float] = []
    try:
        loop.run_until_complete(_serve_and_note(services, stopped_at))
    finally:
        try:
            _finish_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()
    deadline = (stopped_at[0] if stopped_at else time.monotonic()) + exit_seconds - 0.5
    busy = [t for t in threading.enumerate() if t.name.startswith("partnerbot-worker")]
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in busy if t.is_alive()]


def _finish_tasks(loop: asyncio.AbstractEventLoop, seconds: float = TASKS_SECONDS) -> None:
    """Cancel the tasks still pending (a chat SDK's own: its event handlers, typing, its
    gateway) and let them end, so none is destroyed while pending when the loop closes."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    done, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=seconds))
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.debug("%s ended with %r while stopping", task.get_name(), task.exception())
    if pending:
        names = ", ".join(sorted(t.get_name() for t in pending))
        logger.warning("%d task(s) would not stop: %s", len(pending), names)


async def _serve_and_note(services: Sequence[Service], stopped_at: list[float]) -> None:
    stop = asyncio.Event()
    waiter = asyncio.create_task(stop.wait())
    waiter.add_done_callback(lambda _: stopped_at.append(time.monotonic()))
    try:
        await serve(services, stop=stop)
    finally:
        stop.set()
        await asyncio.sleep(0)


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
