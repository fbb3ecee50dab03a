"""An in-memory chat platform for scenario tests: people talk, click and run commands;
the bot answers through the real ChatService and core. No SDK, no network.

It is a platform like any other (`PLATFORM` for the registry, a `Platform`, a
`ChannelPoster`), so scenarios exercise the same paths Slack and Discord do: mentions,
DMs, threads and follow-ups, commands from the command table, buttons, notices.
Messages are kept as `Posted` records; `rendered` is what a person would read.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from bot.chat.service import ButtonUI, ChatService, PlatformTraits
from bot.config import Settings
from bot.layout import Layout, answer_layout, notice_layout
from bot.models import (
    Actor,
    Answer,
    ButtonClick,
    ChatMessage,
    Conversation,
    Notice,
    Place,
    Reply,
    Turn,
)
from bot.platform import PlatformBase
from bot.prompts import message

BOT = "partnerbot"


@dataclass
class Posted:
    """A message on the platform: a person's (`user`) or the bot's (`user` == BOT)."""

    id: str
    channel: str
    thread: str | None
    user: str
    text: str
    answer: Answer | None = None
    notice: Notice | None = None
    private_to: str | None = None  # seen only by this person (ephemeral)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (action, value)

    @property
    def by_bot(self) -> bool:
        return self.user == BOT

    @property
    def layout(self) -> Layout | None:
        if self.answer is not None:
            return answer_layout(self.answer)
        return notice_layout(self.notice) if self.notice is not None else None

    @property
    def rendered(self) -> str:
        """What a person reads: the text, then numbered sources or the closest documents."""
        layout = self.layout
        if layout is None:
            return self.text
        lines = [layout.heading] if layout.heading else []
        lines.append(layout.body)
        if layout.items:
            lines.append(layout.items_heading or "")
            for i in layout.items:
                lines.append(f"[{i.number}] {i.label}" if i.number else f"• {i.label}")
        if layout.note:
            lines.append(layout.note)
        return "\n".join(lines)


class MemoryPoster:
    """`ChannelPoster` into the platform's message list (thread-safe, blocking-free)."""

    platform = "memory"

    def __init__(self, world: MemoryPlatform) -> None:
        self.world = world
        self.fail_next: list[Exception] = []  # raised by the next posts, in order
        self.finds: list[tuple[str, str]] = []  # (channel, key) of every lookup

    def post(self, channel: str, notice: Notice) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        buttons = [(str(b.kind), b.value) for b in notice.buttons]
        text = f"{notice.title}\n{notice.text}"
        posted = self.world.add(direct(channel), None, BOT, text, notice=notice)
        posted.buttons = buttons
        return posted.id

    def find(self, channel: str, key: str) -> str | None:
        self.finds.append((channel, key))
        found = [
            m for m in self.world.in_place(direct(channel)) if m.notice and m.notice.key == key
        ]
        return found[0].id if found else None

    def permalink(self, channel: str, message_id: str) -> str | None:
        return f"memory://{direct(channel)}/{message_id}"

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(f"@{user}", notice)


def direct(channel: str) -> str:
    """`@user` (a direct message to one person) is the DM channel "D-user" here."""
    return f"D-{channel[1:]}" if channel.startswith("@") else channel


class MemoryPlatform(PlatformBase):
    name = "memory"

    def __init__(
        self, chat: ChatService, settings: Settings, *, listen: bool = True, **options: Any
    ) -> None:
        super().__init__(chat, settings, listen=listen)
        self.hears_unmentioned = bool(options.get("hears_unmentioned", True))
        self.admins = set(options.get("admins", ()))
        chat.add_platform(self.name, PlatformTraits(hears_unmentioned=self.hears_unmentioned))
        self.poster = MemoryPoster(self)  # type: ignore[assignment]
        self.messages: list[Posted] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.connected = True  # in memory: there from the start (its posts need no start)

    async def start(self) -> None:
        self.connected = True

    async def stop(self) -> None:
        self.connected = False

    # -- the record -----------------------------------------------------------------------------
    def add(self, channel: str, thread: str | None, user: str, text: str, **extra: Any) -> Posted:
        with self._lock:
            posted = Posted(str(next(self._ids)), channel, thread, user, text, **extra)
            self.messages.append(posted)
        return posted

    def in_place(self, channel: str, thread: str | None = None) -> list[Posted]:
        """Top-level messages of a channel, or the messages of one thread in it."""
        with self._lock:
            return [m for m in self.messages if m.channel == channel and m.thread == thread]

    def by_id(self, message_id: str) -> Posted:
        return next(m for m in self.messages if m.id == message_id)

    def replies(self, to: Posted) -> list[Posted]:
        """The bot's messages in the thread of `to` (or, for a DM, after it)."""
        thread = to.thread or to.id
        return [m for m in self.messages if m.by_bot and m.thread == thread and not m.private_to]

    def private(self, user: str) -> list[Posted]:
        return [m for m in self.messages if m.private_to == user]

    def actor(self, user: str) -> Actor:
        return Actor(self.name, user, is_admin=user in self.admins, team="T-memory")

    # -- people ---------------------------------------------------------------------------------
    async def say(
        self,
        text: str,
        *,
        user: str = "U-alice",
        channel: str = "C-partners",
        thread: str | None = None,
        mention: bool = True,
        delivery: str | None = None,
    ) -> Posted:
        """A person writes; returns their message once the bot has handled it. A mention in a
        channel is answered in a thread on it; a DM (channel "D-…") in the DM."""
        direct = channel.startswith("D-")
        posted = self.add(channel, thread, user, text)
        if not (mention or direct or self.hears_unmentioned):
            return posted  # the platform does not deliver it to the bot
        await self.deliver(posted, mention=mention, delivery=delivery)
        return posted

    async def deliver(
        self, posted: Posted, *, mention: bool = True, delivery: str | None = None
    ) -> None:
        """Deliver a person's message to the bot (again, for a platform's retry)."""
        direct = posted.channel.startswith("D-")
        if not (mention or direct or posted.thread):
            return  # channel chatter that does not mention the bot
        reply_in = None if direct else (posted.thread or posted.id)
        place = Place(posted.channel, posted.thread)
        actor = self.actor(posted.user)
        msg = ChatMessage(posted.text, actor, place, posted.id, mention or direct, direct, delivery)

        async def earlier() -> Conversation:
            before = [m for m in self.in_place(posted.channel, posted.thread) if m is not posted]
            if posted.thread:  # the message the thread started from comes first
                before = [self.by_id(posted.thread), *before]
            before = [m for m in before if not m.private_to and int(m.id) < int(posted.id)]
            turns = tuple(Turn("bot" if m.by_bot else "user", m.text) for m in before)
            return Conversation(turns, bot_present=any(m.by_bot for m in before))

        async def send(reply: Reply) -> Place | None:
            self.add_reply(posted.channel, reply_in, reply)
            return Place(posted.channel, reply_in) if reply_in else None

        await self.chat.respond(msg, send=send, earlier=earlier)

    def add_reply(self, channel: str, thread: str | None, reply: Reply, **extra: Any) -> Posted:
        answer = reply.answer
        text = answer.text if answer is not None else reply.text
        buttons = answer_layout(answer).buttons if answer is not None else ()
        posted = self.add(channel, thread, BOT, text, answer=answer, **extra)
        posted.buttons = [(b.action, b.value) for b in buttons]
        return posted

    async def command(
        self, words: str, *, user: str = "U-alice", channel: str = "C-partners"
    ) -> Posted:
        """`/name …` as words; the reply is private to the person."""
        actor = self.actor(user)

        async def working(text: str) -> None:
            self.add(channel, None, BOT, text, private_to=user)

        reply = await self.chat.run_words(words, actor=actor, place=Place(channel), working=working)
        return self.add_reply(channel, None, reply, private_to=user)

    async def click(self, clicked: Posted, action: str, *, user: str = "U-alice") -> None:
        """A person clicks one of the buttons on a message."""
        [value] = [v for a, v in clicked.buttons if a == action]
        actor = self.actor(user)
        click = ButtonClick(action, value, actor, clicked.channel, clicked.id)

        async def private(text: str) -> None:
            self.add(clicked.channel, clicked.thread, BOT, text, private_to=user)

        async def share(answer: Answer) -> None:
            self.add_reply(clicked.channel, None, Reply(answer=answer))

        async def thread() -> Place | None:
            return Place(clicked.channel, clicked.id)

        async def post(place: Place, text: str) -> None:
            self.add(place.channel, place.thread, BOT, text)

        async def pointed(place: Place, first: bool) -> None:
            if not first:  # the intro is already in the thread
                await private(message("slack_ask_in_thread"))

        await self.chat.press(click, ButtonUI(private, share, thread, post, pointed))


class MemorySpec:
    name = "memory"

    def configured(self, settings: Settings) -> bool:
        return False  # only where a test adds it

    def build(self, chat: ChatService, settings: Settings, **options: Any) -> MemoryPlatform:
        return MemoryPlatform(chat, settings, **options)


PLATFORM = MemorySpec()
