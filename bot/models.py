"""The contract between platforms and the core: typed values in, typed values out.

A platform adapter builds these from its events (who, where, what was said or
clicked) and renders what comes back (`Answer`, `Reply`, `ButtonReply`, `Notice`);
it never sees Chroma, SQL or prompts. Nothing here imports anything of the project
but the error types and the audience types (knowledge/audience.py, which imports
nothing), so every module may use these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from bot.errors import ConfigError
from knowledge.audience import PUBLIC, Viewer

AnswerKind = Literal[
    "answer", "acknowledgement", "empty", "too_long", "rate_limited", "notice", "error"
]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, on which platform. `team` and `roles` say where they belong
    (a Slack workspace or Discord guild, Discord role ids) for audience rules."""

    platform: str
    id: str
    is_admin: bool = False
    team: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def who(self) -> str:
        """The one way a person is named in logs and records: `platform:id`."""
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True, slots=True)
class Topic:
    """What a thread is about (e.g. a communication), carried as data, never read from text.

    Stored with the thread when it is opened ("Ask about this"); questions asked there
    carry it, so the feature that owns `kind` can answer them.
    """

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Topic | None:
        kind, sep, ident = text.partition(":")
        return cls(kind, ident) if sep and kind and ident else None


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message in the conversation (thread history)."""

    role: Literal["user", "bot"]
    text: str


@dataclass(frozen=True, slots=True, init=False)
class Question:
    """A question for the core: the text, who asks, where, the conversation so far, the
    thread's topic, and who will read the reply (`audience`: what they may be shown; the
    public unless the chat service resolved more, bot/chat/audiences.py).
    `Question("text", asker=…, platform=…)` is shorthand for an actor."""

    text: str
    actor: Actor
    place: str  # channel, "channel/thread" or DM id, as the platform names it
    history: tuple[Turn, ...]
    topic: Topic | None
    audience: Viewer

    def __init__(
        self,
        text: str,
        asker: str | None = None,
        place: str = "",
        history: Sequence[Turn] = (),
        platform: str | None = None,
        is_admin: bool | None = None,
        *,
        actor: Actor | None = None,
        topic: Topic | None = None,
        audience: Viewer = PUBLIC,
    ) -> None:
        if actor is None:
            actor = Actor(platform or "cli", asker or "anonymous", bool(is_admin))
        elif asker is not None or platform is not None or is_admin is not None:
            raise TypeError("give either actor= or asker/platform/is_admin, not both")
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "actor", actor)
        object.__setattr__(self, "place", place)
        object.__setattr__(self, "history", tuple(history))
        object.__setattr__(self, "topic", topic)
        object.__setattr__(self, "audience", audience)

    @property
    def asker(self) -> str:
        return self.actor.id

    @property
    def platform(self) -> str:
        return self.actor.platform

    @property
    def is_admin(self) -> bool:
        return self.actor.is_admin


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source the answer rests on."""

    number: int
    title: str
    section: str
    path: str
    url: str | None = None
    effective_date: date | None = None
    score: float = 0.0
    cited: bool = True
    text: str = ""  # the passage text given to the composer

    @property
    def label(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    confidence: float = 0.0
    as_of: date | None = None
    # Every retrieved passage in rank order (cited or not), for --json and reports.
    sources: tuple[Citation, ...] = field(default=())
    question: str = ""
    # What the reply is (`ask --json` prints it as "kind"): "answer" from the documents
    # (abstaining or not); "acknowledgement", the short reply to "thanks!"; a refusal of
    # the request itself: "empty", "too_long", "rate_limited", or "notice" (any other);
    # "error", the short apology after a failure.
    kind: AnswerKind = "answer"
    interaction_id: int | None = None
    standalone_query: str = ""

    @property
    def cited(self) -> tuple[Citation, ...]:
        return tuple(c for c in self.citations if c.cited)


# -- what platforms hand the chat service --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Place:
    """Where a message is: a channel (or DM), and the thread in it, if any.

    On platforms where a thread is a channel of its own (Discord) `thread` stays None.
    """

    channel: str
    thread: str | None = None

    def __str__(self) -> str:
        return f"{self.channel}/{self.thread}" if self.thread else self.channel


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """Something a person wrote, as the platform delivered it.

    `text` has the bot's mention removed. `addressed`: a mention or a DM; False for a
    follow-up the bot overheard in a thread. `delivery_id` is the platform's id of this
    delivery (kept across its retries), `message_id` the message's own id.
    """

    text: str
    actor: Actor
    place: Place
    message_id: str
    addressed: bool = True
    direct: bool = False
    delivery_id: str | None = None
    # Who else reads the place, as far as the platform says (bot/chat/audiences.py): the channel
    # a thread channel belongs to (Discord), the external teams a channel is shared with
    # (Slack Connect).
    parent: str | None = None
    shared_with: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Conversation:
    """The conversation a message continues, read by the platform: earlier turns (oldest
    first) and whether the bot took part in it."""

    turns: tuple[Turn, ...] = ()
    bot_present: bool = False


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A command from the command table with its parameters, by name."""

    name: str
    actor: Actor
    args: Mapping[str, str | bool] = field(default_factory=dict)
    place: Place | None = None
    direct: bool = False  # run in a DM with the bot: its replies are read by the asker alone

    def text(self, name: str) -> str:
        value = self.args.get(name)
        return value.strip() if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return self.args.get(name) is True


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core wants shown: a rendered `answer`, or `text` in Markdown (bold,
    [text](url) links). `private`: only the person who asked sees it."""

    text: str = ""
    answer: Answer | None = None
    private: bool = False


ButtonAction = Literal["feedback_up", "feedback_down", "share", "acknowledge", "ask"]


@dataclass(frozen=True, slots=True)
class ButtonClick:
    """A click on one of the bot's buttons: the action and the value it was posted with."""

    action: str
    value: str
    actor: Actor
    channel: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ButtonReply:
    """The core's reply to a click. `open_thread`: post `text` in a thread on the clicked
    message (the chat service posts it once per thread) and remember `topic` for the
    questions asked there; otherwise show `text` privately. `share`: post this answer."""

    text: str = ""
    open_thread: bool = False
    topic: Topic | None = None
    share: Answer | None = None


# -- what the core posts to partner channels -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class NoticeButton:
    kind: Literal["acknowledge", "ask"]
    label: str
    value: str  # opaque to platforms: handed back to the core on click


@dataclass(frozen=True, slots=True)
class Notice:
    """A message to a partner channel. `text` is the full Markdown body; `key` is the
    delivery key the platform stores with the post so a retry can find it."""

    key: str
    title: str
    text: str
    buttons: tuple[NoticeButton, ...] = ()
    link: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


# -- where a platform posts without being asked (Teams conversation references) -------------------
@dataclass(frozen=True, slots=True)
class ConversationRef:
    """A place as the core names it (`place`: a channel id, `@<user>` for a person's own
    chat) and what the platform needs to post there unasked: the conversation id and the
    service URL it is reached at. `removed_at`: the bot was taken out of it (posts are
    skipped until it is added back)."""

    platform: str
    place: str
    conversation_id: str
    service_url: str
    kind: str = ""  # "channel", "personal", "groupChat"
    tenant: str = ""
    team: str = ""  # the team a channel belongs to
    updated_at: datetime | None = None
    removed_at: datetime | None = None


# -- channels in settings and routes -------------------------------------------------------------
_PLATFORM_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True, slots=True, order=True)
class ChannelRef:
    """A channel on one platform, written `platform:channel` ("slack:#partners")."""

    platform: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel}"

    @classmethod
    def parse(cls, spec: str, *, platforms: Iterable[str] | None = None) -> ChannelRef:
        """The one parser of `platform:channel`. With `platforms`, an unknown platform is an
        error too. Raises ConfigError with a message that says what is wrong."""
        platform, sep, channel = spec.strip().partition(":")
        platform, channel = platform.strip().lower(), channel.strip()
        if not sep or not _PLATFORM_NAME.fullmatch(platform):
            raise ConfigError(f"{spec!r} is not platform:channel, e.g. slack:#partners")
        return cls.of(platform, channel, platforms=platforms, spec=spec)

    @classmethod
    def of(
        cls,
        platform: str,
        channel: str,
        *,
        platforms: Iterable[str] | None = None,
        spec: str | None = None,
    ) -> ChannelRef:
        """A ref from its two parts (as routes.yml writes them), checked like `parse`."""
        platform, channel = platform.strip().lower(), channel.strip()
        shown = spec if spec is not None else f"{platform}:{channel}"
        known = sorted(platforms) if platforms is not None else None
        if known is not None and platform not in known:
            raise ConfigError(
                f"{shown!r}: unknown platform {platform!r} (known: {', '.join(known)})"
            )
        if not channel or any(c.isspace() for c in channel) or channel in ("#", "@"):
            raise ConfigError(f"{shown!r}: {channel!r} is not a channel name or id")
        return cls(platform, channel)
