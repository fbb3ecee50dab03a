"""The platform contract, and the registry of platforms by name.

A chat platform is an adapter package (adapters/<name>/) that exports `PLATFORM`, a
`PlatformSpec`: whether the settings configure it, and how to build its `Platform`
around the shared `ChatService`. A running `Platform` is a service (start/stop) with a
`ChannelPoster` through which the core posts notices and digests.

Only the composition root (bot/app.py) names platforms, as one registry line each;
nothing else in bot/ or knowledge/ imports an adapter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.chat import ChatService
from bot.config import Settings
from bot.errors import ConfigError, PartnerbotError
from bot.metrics import Metrics
from bot.models import Notice
from bot.serve import Inflight, start_or_keep_trying

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ChannelPoster(Protocol):
    """Posts the core's notices on one platform. Methods block: the core calls them from
    worker threads; they honour the platform's rate limits and raise PartnerbotError."""

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


class MeteredPoster:
    """A ChannelPoster that counts what is posted through it, and the posts that fail
    (`partnerbot_notices_posted_total`, `partnerbot_notices_failed_total`)."""

    def __init__(self, poster: ChannelPoster, *, metrics: Metrics) -> None:
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

    def _counted(self, post: Callable[[], str]) -> str:
        try:
            message_id = post()
        except Exception:
            self.metrics.notice_failed(self.platform)
            raise
        self.metrics.notice_posted(self.platform)
        return message_id


class Platform(Protocol):
    """A running chat platform: started and stopped by `partnerbot serve`."""

    name: str
    poster: ChannelPoster

    @property
    def connected(self) -> bool:
        """Whether the platform is reachable right now (for readiness checks)."""
        ...

    async def start(self) -> None:
        """Connect (or start listening) and return once running; a ConfigError says why not."""
        ...

    async def stop(self) -> None: ...


class PlatformSpec(Protocol):
    """What an adapter package exports as `PLATFORM`."""

    name: str

    def configured(self, settings: Settings) -> bool:
        """Whether the settings ask for this platform (e.g. its token is set)."""
        ...

    def build(self, chat: ChatService, settings: Settings, **options: Any) -> Platform:
        """The platform, not yet started; a ConfigError names a missing or bad setting.
        `listen=False`: only post (a one-off job such as `changes publish`), take no events.
        Other `options` override settings (tests point the platform at local stand-ins)."""
        ...


class PlatformRegistry:
    """Platform names → the adapter modules that implement them (imported on first use)."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._specs: dict[str, PlatformSpec] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._modules))

    def spec(self, name: str) -> PlatformSpec:
        if name not in self._modules:
            raise ConfigError(f"unknown platform {name!r} (known: {', '.join(self.names)})")
        if name not in self._specs:
            module = importlib.import_module(self._modules[name])
            spec: PlatformSpec = module.PLATFORM
            if spec.name != name:
                raise ConfigError(f"{self._modules[name]} implements {spec.name!r}, not {name!r}")
            self._specs[name] = spec
        return self._specs[name]

    def configured(self, settings: Settings) -> list[PlatformSpec]:
        """The platforms the settings configure, in name order."""
        return [self.spec(n) for n in self.names if self.spec(n).configured(settings)]


class LoopPoster:
    """A `ChannelPoster` for a platform whose client is async: the blocking methods (called
    from worker threads) run the `*_async` ones on the platform's event loop, with a bound.

    Channels written `#name` are looked up once (`lookup_channel`); posts to one channel
    are spaced `per_channel_interval` seconds apart. A platform attaches its running loop
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
        return self._run(self.post_direct_async(user, notice))

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
        """A `#name` as the platform's channel id (looked up once); anything else as is."""
        if channel.startswith("#") and channel not in self._ids:
            found = await self.lookup_channel(channel[1:])
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

    async def post_direct_async(self, user: str, notice: Notice) -> str:
        raise PartnerbotError(f"{self.platform} cannot post direct messages")

    async def lookup_channel(self, name: str) -> str | None:
        return None

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
            future.cancel()  # the caller retries; `find` then spots a post that did get through
            raise PartnerbotError(
                f"{self.platform} did not answer within {self.timeout:.0f} s"
            ) from e
        except concurrent.futures.CancelledError as e:
            raise PartnerbotError(f"{self.platform}: the call was given up (shutting down)") from e
        finally:
            with self._calls_lock:
                self._calls.discard(future)


class PlatformBase:
    """The lifecycle every chat platform shares, around three platform-specific steps:

    - `connect()`: log in and start receiving events. A ConfigError (a rejected token, a
      port in use) stops `partnerbot serve`; any other error means "not reachable yet"
      and is retried in the background, so a stop never waits for the platform.
    - `stop_listening()`: take no new events;
    - `close()`: release the connection, once answers in flight have been posted.
    """

    name = ""
    poster: LoopPoster
    retry_delay = 1.0  # seconds before the first retry of an unreachable platform (then doubled)

    def __init__(self, chat: ChatService, settings: Settings, *, listen: bool = True) -> None:
        self.chat, self.settings, self.listen = chat, settings, listen
        self.inflight = Inflight()
        self._connected = False
        self._retry: asyncio.Task[None] | None = None
        self._refusals: set[tuple[str, str]] = set()

    @property
    def connected(self) -> bool:
        """Reachable right now (readiness): connected (set by `connect`, cleared on stop)
        and, where the platform can tell, its connection still up (`link_up`)."""
        return self._connected and self.link_up()

    @connected.setter
    def connected(self, value: bool) -> None:
        self._connected = value

    def link_up(self) -> bool:
        """Whether the connection is up now (a platform that reconnects by itself says)."""
        return True

    async def start(self) -> None:
        self.poster.attach(asyncio.get_running_loop())
        self._retry = await start_or_keep_trying(
            self.name, self.connect, first_delay=self.retry_delay
        )

    async def stop(self) -> None:
        self.connected = False
        self.poster.detach()
        if self._retry is not None:
            self._retry.cancel()
        await self.stop_listening()
        await self.inflight.drain(timeout=3.0)
        await self.close()

    def log_refusal(self, where: str, reason: str) -> None:
        """The platform refused to post (e.g. a missing permission): one warning per place
        and reason, not one per message."""
        if (where, reason) not in self._refusals:
            self._refusals.add((where, reason))
            logger.warning("%s: %s in %s", self.name, reason, where)

    async def connect(self) -> None:
        raise NotImplementedError

    async def stop_listening(self) -> None:
        return None

    async def close(self) -> None:
        return None
