"""ChatService: the conversation rules every chat platform shares.

A platform adapter translates its events into `ChatMessage`, `CommandCall` and
`ButtonClick`, calls this service, and renders what comes back. Everything both
adapters would otherwise write twice lives here: de-duplication of deliveries, the
help words, when an overheard thread message is answered (bot/chat/addressing.py), who
reads the reply (bot/chat/audiences.py), the one history policy, thread topics ("Ask
about this"), button clicks, and running the command table (admin check, errors).
Blocking work (the core, the store) runs in worker threads, so adapters simply await
these methods on their event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.answering.acknowledgements import is_acknowledgement
from bot.answering.mentions import without_mentions
from bot.chat.addressing import asks_the_bot
from bot.chat.admin import require_admin
from bot.chat.audiences import Audiences
from bot.chat.membership import Lookup
from bot.commands import Command, CommandTable, CommandUsageError, Param
from bot.core import PartnerBot, reindex_summary
from bot.errors import PlatformRefused, UserError
from bot.models import (
    Actor,
    Answer,
    ButtonClick,
    ButtonReply,
    ChatMessage,
    CommandCall,
    Conversation,
    Place,
    Question,
    Reply,
    Topic,
    Turn,
)
from bot.prompts import message
from bot.store import (
    ConversationRepository,
    EventRepository,
    InteractionRepository,
    ThreadRepository,
)
from knowledge.audience import Viewer
from knowledge.errors import KnowledgeError

logger = logging.getLogger(__name__)

HISTORY_TURNS = 10  # earlier turns handed to the core, after merging
PARENTS_KEPT = 10_000  # threads whose channel is remembered (Discord)
HELP_WORDS = frozenset({"help", "/help", "?"})
Reader = Callable[[], Awaitable[Conversation]]
Working = Callable[[], AbstractAsyncContextManager[None]]
# Posts a reply where a message is answered; returns the thread it is now in, if any.
Send = Callable[[Reply], Awaitable[Place | None]]


async def _no_pointer(place: Place, first: bool) -> None:
    return None


async def _no_sharing(answer: Answer) -> None:
    raise UserError("this platform shares answers another way")


async def _no_thread() -> Place | None:
    return None


async def _no_post(place: Place, text: str) -> None:
    raise UserError("this platform has no threads to post in")


@dataclass(frozen=True, slots=True)
class ButtonUI:
    """What a platform can do for a click; the chat service decides which (see `press`).

    `private(text)`: show Markdown to the person who clicked only; `share(answer)`: post a
    private answer publicly where it was asked; `thread()`: the thread on the clicked
    message, opened if need be (None: none to be had); `post(place, text)`: post in a
    thread; `pointed(place, first)`: tell the person where to ask (`first`: the intro was
    just posted there).
    """

    private: Callable[[str], Awaitable[None]]
    share: Callable[[Answer], Awaitable[None]] = _no_sharing
    thread: Callable[[], Awaitable[Place | None]] = _no_thread
    post: Callable[[Place, str], Awaitable[None]] = _no_post
    pointed: Callable[[Place, bool], Awaitable[None]] = _no_pointer


class ChatStore(Protocol):
    """The repositories the chat service keeps its state in: delivery de-dupe (events),
    feedback (interactions), threads and their topics; and the platforms' own state
    (conversation references, for a platform that posts to them unasked: Teams)."""

    @property
    def events(self) -> EventRepository: ...

    @property
    def interactions(self) -> InteractionRepository: ...

    @property
    def threads(self) -> ThreadRepository: ...

    @property
    def conversations(self) -> ConversationRepository: ...


def words_usage(command: Command) -> str:
    """How a command is typed where commands are words (Slack `/partner …`, the terminal)."""
    return f"`{command.usage()}`"


@dataclass(frozen=True, slots=True)
class PlatformTraits:
    """What the chat service needs to know about a platform: how its commands are typed,
    and whether it receives thread follow-ups that do not mention the bot."""

    usage: Callable[[Command], str] = words_usage
    hears_unmentioned: bool = True
    # The organisations (workspaces, tenants) besides the platform's own that share a
    # channel, when the platform can say (Slack Connect, Teams shared channels); blocking,
    # called from worker threads: who reads a reply there (bot/chat/membership.py).
    organisations: Lookup | None = None


class ChatService:
    """One per process, shared by every running platform."""

    def __init__(
        self,
        core: PartnerBot,
        *,
        store: ChatStore | None = None,
        history_turns: int = HISTORY_TURNS,
        shareable: int = 500,
        audiences: Audiences | None = None,
    ) -> None:
        self.core = core
        # Who reads each reply (bot/chat/audiences.py); without it every reply is for the public.
        self.audiences = audiences or Audiences()
        self.store: ChatStore = store if store is not None else core.store
        self.history_turns = history_turns
        self.commands = CommandTable(self._core_commands())
        for feature in core.features:
            for command in feature.commands():
                self.commands.add(command)
        self._traits: dict[str, PlatformTraits] = {}
        # Private answers "Post to channel" may publish: by interaction id, with who asked,
        # where, and for whom the answer was made (bot/chat/audiences.py).
        self._shareable: OrderedDict[int, _Shareable] = OrderedDict()
        self._shareable_size = shareable
        self._shareable_lock = threading.Lock()
        # Threads that are channels of their own (Discord) the bot opened, and the channel
        # each is in: its readers are that channel's (bot/chat/audiences.py).
        self._parents: OrderedDict[tuple[str, str], str] = OrderedDict()

    def add_platform(self, name: str, traits: PlatformTraits) -> None:
        self._traits[name] = traits
        self.audiences.membership.add_platform(name, traits.organisations)

    def membership_changed(self, platform: str, channel: str) -> None:
        """The platform reported that who is in `channel` changed (someone joined or left,
        the channel was shared or unshared): the next question there asks again."""
        self.audiences.membership.changed(platform, channel)

    def traits(self, platform: str) -> PlatformTraits:
        return self._traits.get(platform, PlatformTraits())

    # -- conversations --------------------------------------------------------------------------
    async def handle(
        self,
        msg: ChatMessage,
        *,
        earlier: Reader | None = None,
        working: Working | None = None,
    ) -> Reply | None:
        """The reply to a message, or None when the bot should stay quiet (a repeated
        delivery, an overheard "thanks!", a thread the bot is not part of)."""
        platform = msg.actor.platform
        if not await asyncio.to_thread(self._first_time, msg):
            logger.info("%s: skipped a repeated delivery of %s", platform, msg.message_id)
            return None
        if not msg.addressed and is_acknowledgement(msg.text):
            return None
        conversation = Conversation()
        if earlier is not None:
            try:
                conversation = await earlier()
            except Exception as e:  # answer without context rather than not at all
                logger.warning(
                    "%s: could not read the conversation in %s: %r", platform, msg.place, e
                )
        key = thread_key(platform, msg.place)
        known, topic = await asyncio.to_thread(
            lambda: (self.store.threads.known(key), self.store.threads.topic(key))
        )
        if not msg.addressed and not (conversation.bot_present or known):
            return None  # people talking in a thread the bot is not part of
        if not msg.addressed and not asks_the_bot(msg.text):
            return None  # people talking to each other in the bot's thread
        if msg.text.strip().lower() in HELP_WORDS:
            return Reply(text=self.help_text(platform))
        channel = msg.parent or self._parents.get((platform, msg.place.channel))
        audience = await asyncio.to_thread(
            self.audiences.of_place,
            platform,
            channel or msg.place.channel,
            asker=msg.actor,
            direct=msg.direct,
            present=msg.shared_with,
        )
        question = Question(
            without_mentions(msg.text),
            actor=msg.actor,
            place=str(msg.place),
            history=self.history(conversation.turns),
            topic=Topic.parse(topic) if topic else None,
            audience=audience,
        )
        async with working() if working is not None else _nothing():
            answer = await asyncio.to_thread(self.core.ask, question)
        return Reply(answer=answer)

    async def respond(
        self,
        msg: ChatMessage,
        *,
        send: Send,
        earlier: Reader | None = None,
        working: Working | None = None,
    ) -> None:
        """`handle` the message and `send` the reply; on any failure, the apology (the
        traceback goes to the log). A thread the reply went to is remembered."""
        platform = msg.actor.platform
        try:
            reply = await self.handle(msg, earlier=earlier, working=working)
            if reply is not None:
                thread = await send(reply)
                if thread is not None:
                    self._opened(platform, thread, msg.parent or msg.place.channel)
                    await self.replied_in_thread(platform, thread)
        except PlatformRefused as e:  # (the platform named what is missing, once)
            logger.debug("%s: message %s not answered: %s", platform, msg.message_id, e)
        except Exception:
            logger.exception("%s: answering message %s failed", platform, msg.message_id)
            with contextlib.suppress(Exception):
                await send(Reply(text=message("apology")))

    async def recorded(self, msg: ChatMessage) -> Conversation:
        """The conversation so far as the bot recorded it — the questions asked in this thread
        (in a DM: in the last hour) and its answers — for a platform that cannot read a
        thread back (Teams)."""
        place, since = msg.place, datetime.now(UTC) - timedelta(hours=1)
        if not msg.direct:
            since = datetime.fromtimestamp(0, UTC)
        pairs = await asyncio.to_thread(
            self.store.interactions.in_place,
            msg.actor.platform,
            str(place),
            since=since,
            limit=self.history_turns,
        )
        turns = [turn for q, a in pairs for turn in (Turn("user", q), Turn("bot", a))]
        return Conversation(tuple(turns), bot_present=bool(pairs))

    def _opened(self, platform: str, thread: Place, channel: str) -> None:
        """A thread the bot posts in is read by those who read `channel`."""
        if thread.channel != channel and channel:
            self._parents[(platform, thread.channel)] = channel
            self._parents.move_to_end((platform, thread.channel))
            while len(self._parents) > PARENTS_KEPT:
                self._parents.popitem(last=False)

    def _first_time(self, msg: ChatMessage) -> bool:
        """Claim the delivery and the message, so retries and double events answer once."""
        platform = msg.actor.platform
        keys = [f"{platform}:message:{msg.actor.team or '-'}:{msg.place.channel}:{msg.message_id}"]
        if msg.delivery_id:
            keys.insert(0, f"{platform}:event:{msg.delivery_id}")
        return all(self.store.events.first_time(k) for k in keys)

    def history(self, turns: Sequence[Turn]) -> tuple[Turn, ...]:
        """The one history policy: empty turns dropped, so is what people said to each other
        (not a question for the bot, and not answered by it), consecutive turns of one side
        merged, the last `history_turns` kept."""
        merged: list[Turn] = []
        for i, turn in enumerate(turns):
            text = turn.text.strip()
            if not text:
                continue
            answered = i + 1 < len(turns) and turns[i + 1].role == "bot"
            if turn.role == "user" and not answered and not asks_the_bot(text):
                continue
            if merged and merged[-1].role == turn.role:
                merged[-1] = Turn(turn.role, f"{merged[-1].text}\n\n{text}")
            else:
                merged.append(Turn(turn.role, text))
        return tuple(merged[-self.history_turns :])

    async def replied_in_thread(self, platform: str, place: Place) -> None:
        """The bot posted in this thread: it follows up there (even if reading it fails)."""
        await asyncio.to_thread(self.store.threads.remember, thread_key(platform, place))

    def follow_up_hint(self, platform: str) -> str | None:
        """For the bot's first message in a thread, where follow-ups must mention it."""
        return None if self.traits(platform).hears_unmentioned else message("thread_mention_hint")

    # -- buttons --------------------------------------------------------------------------------
    async def click(self, click: ButtonClick) -> ButtonReply:
        """Feedback and "Post to channel" here; every other button to the feature that owns it."""
        try:
            if click.action in ("feedback_up", "feedback_down"):
                return ButtonReply(await asyncio.to_thread(self._feedback, click))
            if click.action == "share":
                return await asyncio.to_thread(self._share, click)
            for feature in self.core.features:
                reply = await asyncio.to_thread(feature.on_button, click)
                if reply is not None:
                    return reply
            return ButtonReply(message("button_unavailable"))
        except UserError as e:
            return ButtonReply(str(e))
        except Exception:
            logger.exception("button %s failed (%s)", click.action, click.actor.who)
            return ButtonReply(message("apology"))

    async def press(self, click: ButtonClick, ui: ButtonUI) -> None:
        """A click, start to end: the reply privately, a shared answer posted, or the thread
        opened with its intro (once per thread). If the platform refuses to post, the person
        is told so privately (and a shared answer stays shareable)."""
        reply = await self.click(click)
        platform = click.actor.platform
        try:
            if reply.share is not None:
                return await ui.share(reply.share)
            place = await ui.thread() if reply.open_thread else None
            if place is None:
                return await ui.private(reply.text)
            self._opened(platform, place, click.channel)
            intro = await self.open_thread(platform, place, reply)
            if intro is not None:
                await ui.post(place, intro)
                await self.replied_in_thread(platform, place)
            return await ui.pointed(place, intro is not None)
        except Exception as e:
            logger.warning("%s: could not post for the %s button: %r", platform, click.action, e)
            if reply.share is not None:
                self._keep_again(click, reply.share)
            with contextlib.suppress(Exception):
                await ui.private(message("could_not_post"))

    def _feedback(self, click: ButtonClick) -> str:
        interaction_id = _int(click.value)
        rating = 1 if click.action == "feedback_up" else -1
        if interaction_id < 0 or not self.store.interactions.record_feedback(
            interaction_id=interaction_id,
            user=click.actor.id,
            rating=rating,
            platform=click.actor.platform,
        ):
            return message("feedback_unknown")
        return message("feedback_thanks_up" if rating > 0 else "feedback_thanks_down")

    async def open_thread(self, platform: str, place: Place, reply: ButtonReply) -> str | None:
        """A button opened (or found) a thread: remember its topic. The text to post there
        the first time (the intro, with the follow-up hint); None once it has been posted."""
        key = thread_key(platform, place)
        first = await asyncio.to_thread(self.store.threads.set_topic, key, str(reply.topic or ""))
        if not first:
            return None
        hint = self.follow_up_hint(platform)
        return f"{reply.text}\n\n{hint}" if hint else reply.text

    def keep_shareable(self, answer: Answer, *, asker: Actor, channel: str, viewer: Viewer) -> None:
        """Keep a private answer for a while, so "Post to channel" can publish it: only its
        asker, only where it was asked, and only while the channel's readers are those it was
        made for (`viewer`)."""
        if answer.interaction_id is None or answer.kind != "answer":
            return
        with self._shareable_lock:
            self._shareable[answer.interaction_id] = _Shareable(answer, asker, channel, viewer.key)
            self._shareable.move_to_end(answer.interaction_id)
            while len(self._shareable) > self._shareable_size:
                self._shareable.popitem(last=False)

    def _share(self, click: ButtonClick) -> ButtonReply:
        """ "Post to channel": the kept answer, if this person asked it here and the channel is
        still read by those it was made for (asked again, bot/chat/audiences.py)."""
        with self._shareable_lock:
            kept = self._shareable.get(_int(click.value))
        if kept is None:
            return ButtonReply(message("share_expired"))
        asker = kept.asker
        if (asker.platform, asker.id, kept.channel) != (
            click.actor.platform,
            click.actor.id,
            click.channel,
        ):
            logger.warning(
                "%s tried to post %s's answer %s in %s (asked in %s); refused",
                click.actor.who,
                asker.who,
                click.value,
                click.channel,
                kept.channel,
            )
            return ButtonReply(message("share_elsewhere"))
        now = self.audiences.of_place(asker.platform, kept.channel, asker=asker)
        if now.key != kept.viewer:
            logger.warning(
                "the readers of %s changed since answer %s; not posted", kept.channel, click.value
            )
            return ButtonReply(message("share_audience_changed"))
        with self._shareable_lock:
            self._shareable.pop(_int(click.value), None)
        return ButtonReply(share=kept.answer)

    def _keep_again(self, click: ButtonClick, answer: Answer) -> None:
        """A shared answer the platform refused to post stays shareable."""
        if answer.interaction_id is None:
            return
        viewer = self.audiences.of_place(click.actor.platform, click.channel, asker=click.actor)
        self.keep_shareable(answer, asker=click.actor, channel=click.channel, viewer=viewer)

    # -- commands -------------------------------------------------------------------------------
    async def run_words(
        self,
        text: str,
        *,
        actor: Actor,
        place: Place | None = None,
        direct: bool = False,
        working: Callable[[str], Awaitable[None]] | None = None,
    ) -> Reply:
        """A command typed as words (`comms cancel ID`); empty or unknown words get the help.
        `direct`: typed in a DM with the bot."""
        try:
            found = self.commands.parse_words(text, actor=actor, place=place, direct=direct)
        except CommandUsageError as e:
            return Reply(text=str(e), private=True)
        if found is None:
            name = text.split()[0] if text.split() else ""
            help_text = self.help_text(actor.platform)
            if not name or name.lower() in HELP_WORDS:
                return Reply(text=help_text, private=True)
            return Reply(
                text=message("unknown_command", name=name) + "\n" + help_text, private=True
            )
        command, call = found
        return await self.run(command, call, working=working)

    async def run(
        self,
        command: Command,
        call: CommandCall,
        *,
        working: Callable[[str], Awaitable[None]] | None = None,
    ) -> Reply:
        """Run a command for `call.actor`: admins only where the table says so; a UserError
        or a problem with the documents or the index (written for the admin who must act)
        is shown as its message, any other failure as the apology (traceback logged)."""
        try:
            if command.admin_only:
                actor = call.actor
                require_admin(is_admin=actor.is_admin, who=actor.who, action=command.action)
            if command.working and working is not None:
                await working(message(command.working))
            reply = await asyncio.to_thread(command.handler, call)
        except (UserError, KnowledgeError) as e:
            logger.info("%s by %s: %s", command.name, call.actor.who, e)
            return Reply(text=str(e), private=True)
        except Exception:
            logger.exception("command %s by %s failed", command.name, call.actor.who)
            return Reply(text=message("apology"), private=True)
        return reply

    def help_text(self, platform: str) -> str:
        """What the bot does and the commands, as they are typed on this platform."""
        traits = self.traits(platform)
        lines = [
            message("help_intro"),
            message("help_follow_up" if traits.hears_unmentioned else "help_follow_up_mention"),
        ]
        lines += [
            message("help_line", usage=traits.usage(c), description=c.description)
            for c in self.commands
        ]
        lines.append(message("help_feedback"))
        return "\n".join(lines)

    def _core_commands(self) -> list[Command]:
        core = self.core

        def ask(call: CommandCall) -> Reply:
            # For the place it is asked in even when only the asker sees the reply: a private
            # answer may be posted to the channel ("Post to channel"); in a DM, for the asker.
            channel = call.place.channel if call.place else None
            audience = self.audiences.of_place(
                call.actor.platform, channel, asker=call.actor, direct=call.direct
            )
            question = Question(
                call.text("question"),
                actor=call.actor,
                place=str(call.place or ""),
                audience=audience,
            )
            answer = core.ask(question)
            if channel and not call.direct:
                self.keep_shareable(answer, asker=call.actor, channel=channel, viewer=audience)
            return Reply(answer=answer, private=call.flag("private"))

        def reindex(call: CommandCall) -> Reply:
            logger.info("re-index requested by %s", call.actor.who)
            return Reply(text=reindex_summary(core.reindex()), private=True)

        def help_(call: CommandCall) -> Reply:
            return Reply(text=self.help_text(call.actor.platform), private=True)

        return [
            Command(
                "ask",
                "Ask about the partner program (answered with sources)",
                ask,
                params=(
                    Param("question", "Your question about the partner program", "text", True),
                    Param("private", "Only you see the answer", "flag"),
                ),
            ),
            Command(
                "reindex",
                "Admins: re-index the program documents",
                reindex,
                admin_only=True,
                action="re-index the documents",
                working="reindex_started",
            ),
            Command("help", "What partnerbot can do", help_),
        ]


@dataclass(frozen=True, slots=True)
class _Shareable:
    answer: Answer
    asker: Actor
    channel: str
    viewer: str  # the key of the viewer the answer was made for


def thread_key(platform: str, place: Place) -> str:
    return f"{platform}:{place}"


def _int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@contextlib.asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield
