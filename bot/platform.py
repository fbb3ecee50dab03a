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
import importlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.chat.service import ChatService
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Notice
from bot.posting import ChannelPoster, LoopPoster
from bot.web import Handler

logger = logging.getLogger(__name__)

T = TypeVar("T")


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

    def web_routes(self) -> Mapping[str, Handler]:
        """POST routes this platform answers on `partnerbot serve`'s web server (a
        webhook such as Teams' /api/messages), by path; most platforms have none."""
        ...


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


@dataclass(frozen=True)
class PreviewPart:
    """One piece of a message as a platform shows it: a `heading`, `text` (runs of plain and
    bold text and links), a `field` (label and text), `small` print, a `button`."""

    kind: str
    runs: tuple[tuple[str, str, str | None], ...] = ()  # (text, "b" bold or "", link URL)
    label: str = ""


@dataclass(frozen=True)
class MessagePreview:
    """A notice as one platform will show it (the console's preview), and what it is sent
    as (the payload, JSON) for those who want to check the details."""

    platform: str
    parts: tuple[PreviewPart, ...]
    payload: str


# Markdown as Discord and Teams draw it: [label](url), **bold**.
_MARKDOWN = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)|\*\*([^*\n]+)\*\*")


def markdown_runs(markdown: str) -> tuple[tuple[str, str, str | None], ...]:
    """Markdown as (text, "b" when bold, link) runs: a preview's `PreviewPart.runs`."""
    found: list[tuple[str, str, str | None]] = []
    at = 0
    for m in _MARKDOWN.finditer(markdown):
        if m.start() > at:
            found.append((markdown[at : m.start()], "", None))
        if m.group(2):
            found.append((m.group(1), "", m.group(2)))
        else:
            found.append((m.group(3), "b", None))
        at = m.end()
    if at < len(markdown):
        found.append((markdown[at:], "", None))
    return tuple(found)


@runtime_checkable
class Previewer(Protocol):
    """What a platform's spec offers to show a notice as it will appear there."""

    def preview_notice(self, notice: Notice) -> MessagePreview: ...


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

    def previews(self, notice: Notice, names: Iterable[str] | None = None) -> list[MessagePreview]:
        """The notice as each platform (or each of `names`) will show it, by its own renderer:
        a platform whose spec has `preview_notice` adds itself."""
        shown: list[MessagePreview] = []
        for name in sorted(set(self.names if names is None else names) & set(self.names)):
            spec = self.spec(name)
            if isinstance(spec, Previewer):
                shown.append(spec.preview_notice(notice))
        return shown


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

    def web_routes(self) -> Mapping[str, Handler]:
        return {}

    async def connect(self) -> None:
        raise NotImplementedError

    async def stop_listening(self) -> None:
        return None

    async def close(self) -> None:
        return None


# -- the lifecycle helpers platforms share --------------------------------------------------
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

    def spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

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
    make: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[Exception], bool],
    tries: int = 3,
    wait: Callable[[Exception], float | None] = lambda e: None,
) -> T:
    """Make a platform call; an error `transient` says is passing (a 503, a 429) is retried
    after the delay the platform asked for (`wait`: its Retry-After, at most 30 s), else with
    backoff (0.5 s, 1 s, …); any other error is raised at once."""
    for attempt in range(tries):
        try:
            return await make()
        except Exception as e:
            if attempt == tries - 1 or not transient(e):
                raise
            logger.warning("%s; retrying (%d of %d)", _why(e), attempt + 1, tries - 1)
            asked = wait(e)
            await asyncio.sleep(min(asked, 30.0) if asked is not None else 0.5 * 2**attempt)
    raise AssertionError("unreachable")


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
