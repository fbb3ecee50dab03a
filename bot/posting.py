"""The posting contract: how the core posts notices and digests on a platform.

`ChannelPoster` is what the outbox (bot/delivery.py), the communications and the change
digests post through; each platform implements it (`LoopPoster` for a platform whose
client is async). `MeteredPoster` counts what is posted. This module imports nothing
above the contract types, so whatever posts depends on it and not on the chat service.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.errors import PartnerbotError
from bot.models import Notice

T = TypeVar("T")


class Unreachable(PartnerbotError):
    """The platform could not be reached, or did not answer in time (the message says
    which timeout fired): the call may or may not have arrived; worth making again once
    the platform answers."""


class PostCounter(Protocol):
    """Counts posts per platform (bot/monitoring/metrics.py implements it)."""

    def notice_posted(self, platform: str) -> None: ...

    def notice_failed(self, platform: str) -> None: ...


class ChannelPoster(Protocol):
    """Posts the core's notices on one platform. Methods block: the core calls them from
    worker threads; they honour the platform's rate limits and raise PartnerbotError.
    A channel written `@<user id>` is that person's direct messages (post, find, permalink)."""

    platform: str

    def post(self, channel: str, notice: Notice) -> str:
        """Post the notice; return the platform's message id."""
        ...

    def find(self, channel: str, key: str) -> str | None:
        """The message id of an earlier post carrying this delivery key, if any."""
        ...

    def permalink(self, channel: str, message_id: str) -> str | None:
        """A link to a posted message, when the platform has one."""
        ...

    def post_direct(self, user: str, notice: Notice) -> str:
        """Post the notice privately to one person (a DM); return the message id."""
        ...


@runtime_checkable
class Abandons(Protocol):
    """A poster whose calls in flight can be given up (on shutdown, a slow platform)."""

    def abandon(self) -> int:
        """Cancel the calls in flight; their callers get a PartnerbotError at once. Returns
        how many there were."""
        ...


def abandon_calls(poster: object) -> int:
    """Give up the poster's calls in flight, if it can (see `Abandons`)."""
    return poster.abandon() if isinstance(poster, Abandons) else 0


def platform_answers(poster: object) -> bool:
    """Whether the poster's platform answers a light call now (True for a poster that
    cannot tell: trying a post tells)."""
    probe = getattr(poster, "reachable", None)
    return bool(probe()) if callable(probe) else True


class MeteredPoster:
    """A ChannelPoster that counts what is posted through it, and the posts that fail
    (`partnerbot_notices_posted_total`, `partnerbot_notices_failed_total`)."""

    def __init__(self, poster: ChannelPoster, *, metrics: PostCounter) -> None:
        self.poster, self.metrics = poster, metrics
        self.platform = poster.platform

    def post(self, channel: str, notice: Notice) -> str:
        return self._counted(lambda: self.poster.post(channel, notice))

    def post_direct(self, user: str, notice: Notice) -> str:
        return self._counted(lambda: self.poster.post_direct(user, notice))

    def find(self, channel: str, key: str) -> str | None:
        return self.poster.find(channel, key)

    def permalink(self, channel: str, message_id: str) -> str | None:
        return self.poster.permalink(channel, message_id)

    def abandon(self) -> int:
        return abandon_calls(self.poster)

    def reachable(self) -> bool:
        return platform_answers(self.poster)

    def _counted(self, post: Callable[[], str]) -> str:
        try:
            message_id = post()
        except Exception:
            self.metrics.notice_failed(self.platform)
            raise
        self.metrics.notice_posted(self.platform)
        return message_id


class LoopPoster:
    """A `ChannelPoster` for a platform whose client is async: the blocking methods (called
    from worker threads) run the `*_async` ones on the platform's event loop, with a bound.

    Channels written `#name` are looked up once (`lookup_channel`), `@user` as the DM
    channel with that person (`open_direct`); posts to one channel are spaced
    `per_channel_interval` seconds apart. A platform attaches its running loop
    on start and detaches on stop; until then every call fails with a PartnerbotError,
    so the caller retries later. `abandon()` gives up the calls in flight (shutdown).
    """

    platform = ""
    per_channel_interval = 0.0

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.timeout, self._clock, self._sleep = timeout, clock, sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: set[concurrent.futures.Future[Any]] = set()
        self._calls_lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self._next_slot: dict[str, float] = {}

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def abandon(self) -> int:
        """Cancel every call in flight: its worker gets a PartnerbotError now, and the
        request is cancelled on the platform's loop (it may or may not have arrived)."""
        with self._calls_lock:
            calls = list(self._calls)
        return sum(1 for call in calls if call.cancel())

    def post(self, channel: str, notice: Notice) -> str:
        return self._run(self._post(channel, notice))

    def find(self, channel: str, key: str) -> str | None:
        return self._run(self._find(channel, key))

    def permalink(self, channel: str, message_id: str) -> str | None:
        try:
            return self._run(self._permalink(channel, message_id))
        except PartnerbotError:
            return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(f"@{user}", notice)

    def reachable(self) -> bool:
        """Whether the platform answers a light call now (`reachable_async`)."""
        try:
            return bool(self._run(self.reachable_async()))
        except Exception:
            return False

    async def _post(self, channel: str, notice: Notice) -> str:
        target = await self.resolve(channel)
        now = self._clock()
        slot = self._next_slot[target] = max(now, self._next_slot.get(target, now))
        self._next_slot[target] += self.per_channel_interval
        if slot > now:
            await self._sleep(slot - now)
        return await self.post_async(target, notice)

    async def _find(self, channel: str, key: str) -> str | None:
        return await self.find_async(await self.resolve(channel), key)

    async def _permalink(self, channel: str, message_id: str) -> str | None:
        return await self.permalink_async(await self.resolve(channel), message_id)

    async def resolve(self, channel: str) -> str:
        """A `#name` as the platform's channel id, `@user` as the DM channel with that person
        (each looked up once); anything else as is."""
        if channel.startswith(("#", "@")) and channel not in self._ids:
            name = channel[1:]
            found = await (
                self.open_direct(name) if channel[0] == "@" else self.lookup_channel(name)
            )
            if found is None:
                return channel
            self._ids[channel] = found
        return self._ids.get(channel, channel)

    # -- what a platform implements -------------------------------------------------------------
    async def post_async(self, channel: str, notice: Notice) -> str:
        raise NotImplementedError

    async def find_async(self, channel: str, key: str) -> str | None:
        raise NotImplementedError

    async def permalink_async(self, channel: str, message_id: str) -> str | None:
        return None

    async def open_direct(self, user: str) -> str:
        """The id of the direct-message channel with one person (opened if need be)."""
        raise PartnerbotError(f"{self.platform} cannot post direct messages")

    async def lookup_channel(self, name: str) -> str | None:
        return None

    async def reachable_async(self) -> bool:
        """A light call that tells whether the platform answers (bounded by the platform)."""
        return True

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise PartnerbotError(f"{self.platform} is not connected yet; the post will be retried")
        with contextlib.suppress(RuntimeError):  # (no running loop: a worker thread, as it should)
            if asyncio.get_running_loop() is loop:
                coro.close()
                raise PartnerbotError(
                    f"{self.platform} posts block: call them from a worker thread"
                )
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        with self._calls_lock:
            self._calls.add(future)
        try:
            return future.result(self.timeout)
        except TimeoutError as e:
            if future.done():  # the platform client's own timeout: not the one of this wait
                raise
            future.cancel()  # the caller retries; `find` then spots a post that did get through
            raise Unreachable(f"{self.platform} did not answer within {self.timeout:g} s") from e
        except concurrent.futures.CancelledError as e:
            raise PartnerbotError(f"{self.platform}: the call was given up (shutting down)") from e
        finally:
            with self._calls_lock:
                self._calls.discard(future)
