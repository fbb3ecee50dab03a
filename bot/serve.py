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
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.errors import ConfigError
from bot.features import Service

logger = logging.getLogger(__name__)

T = TypeVar("T")

STOP_SECONDS = 8.0  # for all services together; `partnerbot serve` exits within 10 s


async def serve(
    services: Sequence[Service],
    *,
    stop: asyncio.Event | None = None,
    stop_seconds: float = STOP_SECONDS,
) -> None:
    """Start the services in order, wait for a signal (or `stop`), stop them in reverse.

    A signal during a start ends it too. A service whose start fails (a ConfigError
    saying what to fix) stops the ones already started, then the error is raised.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        # Not the main thread (tests) or not supported: `stop` still works.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Service] = []
    stopping = asyncio.create_task(stop.wait())
    try:
        for service in services:
            starting = asyncio.create_task(service.start(), name=f"start-{service.name}")
            started.append(service)  # stopped in any case: it may be half started
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                break
            starting.result()
            logger.info("%s started", service.name)
        await stop.wait()
    finally:
        stopping.cancel()
        await _stop_all(started, stop_seconds)
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


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
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()
    deadline = (stopped_at[0] if stopped_at else time.monotonic()) + exit_seconds - 0.5
    busy = [t for t in threading.enumerate() if t.name.startswith("partnerbot-worker")]
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in busy if t.is_alive()]


async def _serve_and_note(services: Sequence[Service], stopped_at: list[float]) -> None:
    stop = asyncio.Event()
    waiter = asyncio.create_task(stop.wait())
    waiter.add_done_callback(lambda _: stopped_at.append(time.monotonic()))
    try:
        await serve(services, stop=stop)
    finally:
        stop.set()
        await asyncio.sleep(0)


class Inflight:
    """Work a platform started for requests (answers being worked on), so that stopping
    can let it finish briefly instead of cutting replies off."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def track(self) -> None:
        """Count the running task (a listener) as in flight until it ends."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        pending = [t for t in self._tasks if t is not asyncio.current_task()]
        if pending:
            logger.info("waiting for %d request(s) in flight", len(pending))
            await asyncio.wait(pending, timeout=timeout)


async def start_or_keep_trying(
    name: str, connect: Callable[[], Awaitable[None]], *, first_delay: float = 1.0
) -> asyncio.Task[None] | None:
    """Connect now; if the platform cannot be reached (anything but a ConfigError), keep
    trying in the background with backoff (up to 30 s apart). Returns that task, if any;
    cancelling it (on stop) ends the attempts."""
    try:
        await connect()
        return None
    except ConfigError:
        raise
    except Exception as e:
        logger.warning("%s: cannot connect yet (%s); retrying in the background", name, _why(e))

    async def keep_trying() -> None:
        delay = first_delay
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            try:
                await connect()
                return
            except ConfigError as e:
                logger.error("%s: %s", name, e)
                return
            except Exception as e:
                logger.warning(
                    "%s: still cannot connect (%s); next try in %.0f s", name, _why(e), delay
                )

    return asyncio.create_task(keep_trying(), name=f"{name}-connect")


async def retrying(
    make: Callable[[], Awaitable[T]], *, transient: Callable[[Exception], bool], tries: int = 3
) -> T:
    """Make a platform call; an error `transient` says is passing (a 503) is retried with
    backoff (0.5 s, 1 s, …), any other is raised at once."""
    for attempt in range(tries):
        try:
            return await make()
        except Exception as e:
            if attempt == tries - 1 or not transient(e):
                raise
            logger.warning("%s; retrying (%d of %d)", _why(e), attempt + 1, tries - 1)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
