"""Discord message or slash command → core `Question` (text, asker, admin flag, earlier turns).

Earlier turns come from the thread the bot started (its starter message, the
question that starter answered, and the thread's messages) or, elsewhere, from
the chain of replies the message belongs to.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import discord

from bot.config import Settings
from bot.models import Question, Turn

logger = logging.getLogger(__name__)

MAX_TURNS = 12  # earlier turns handed to the core
HISTORY_MESSAGES = 30  # thread messages read to find them
REPLY_CHAIN_HOPS = 8
ANSWERED_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def strip_mention(text: str, bot_id: int) -> str:
    """The message text without the bot's ``<@id>`` / ``<@!id>`` mention(s)."""
    return re.sub(rf"<@!?{bot_id}>", " ", text).strip()


def is_admin(settings: Settings, user: discord.abc.User) -> bool:
    """Admins are the configured user ids, or members holding a configured role."""
    if str(user.id) in settings.discord_admin_user_ids:
        return True
    roles = getattr(user, "roles", ())  # only a guild Member has roles
    admin_roles = set(settings.discord_admin_role_ids)
    return any(str(role.id) in admin_roles for role in roles)


def bot_message_text(msg: discord.Message) -> str:
    """What the bot said in a message: its content and embed descriptions (not the sources)."""
    parts = [msg.content] + [e.description or "" for e in msg.embeds]
    return "\n\n".join(p for p in parts if p.strip())


def is_bot_thread(channel: Any, me: discord.abc.Snowflake) -> bool:
    return isinstance(channel, discord.Thread) and channel.owner_id == me.id


def is_addressed(message: discord.Message, me: discord.ClientUser) -> bool:
    """Whether the bot should answer: a DM, a mention, or a follow-up in its thread / reply chain.

    Without the message-content intent a guild message that does not mention the bot
    arrives with empty content, so only mentions and DMs can be answered there.
    """
    if message.author.bot or message.type not in ANSWERED_TYPES:
        return False
    if message.guild is None or me in message.mentions:
        return True
    if not message.content.strip():
        return False
    if is_bot_thread(message.channel, me):
        return True
    ref = message.reference
    resolved = ref.resolved if ref is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == me.id


async def question_from_message(
    message: discord.Message, me: discord.ClientUser, settings: Settings
) -> Question:
    return Question(
        text=strip_mention(message.content, me.id),
        asker=str(message.author.id),
        place=str(message.channel.id),
        history=await conversation_history(message, me),
        platform="discord",
        is_admin=is_admin(settings, message.author),
    )


def question_from_interaction(
    interaction: discord.Interaction[Any], text: str, settings: Settings
) -> Question:
    return Question(
        text=text,
        asker=str(interaction.user.id),
        place=str(interaction.channel_id or ""),
        platform="discord",
        is_admin=is_admin(settings, interaction.user),
    )


async def conversation_history(
    message: discord.Message, me: discord.ClientUser
) -> tuple[Turn, ...]:
    """Earlier turns of the conversation ``message`` continues (oldest first)."""
    try:
        if is_bot_thread(message.channel, me):
            earlier = await _thread_messages(message)
        else:
            earlier = await _reply_chain(message)
    except discord.HTTPException as e:
        # History is a help, not a requirement: answer without it.
        logger.warning("could not read the conversation of message %s: %s", message.id, e)
        return ()
    return to_turns(earlier, me)


def to_turns(messages: list[discord.Message], me: discord.abc.Snowflake) -> tuple[Turn, ...]:
    """Messages (oldest first) → turns; consecutive messages of one side are merged."""
    turns: list[Turn] = []
    role: Literal["user", "bot"]
    for msg in messages:
        if msg.author.id == me.id:
            role, text = "bot", bot_message_text(msg)
        elif msg.author.bot:
            continue
        else:
            role, text = "user", strip_mention(msg.content, me.id)
        if not text:
            continue
        if turns and turns[-1].role == role:
            turns[-1] = Turn(role, f"{turns[-1].text}\n\n{text}")
        else:
            turns.append(Turn(role, text))
    return tuple(turns[-MAX_TURNS:])


async def _thread_messages(message: discord.Message) -> list[discord.Message]:
    thread = message.channel
    assert isinstance(thread, discord.Thread)
    before = [m async for m in thread.history(limit=HISTORY_MESSAGES, before=message)]
    before.reverse()
    starter = await _starter(thread)
    if starter is None:
        return before
    # The starter is the bot's answer in the parent channel; it replied to the first question.
    question = await _referenced(starter)
    return [m for m in (question, starter) if m is not None] + before


async def _starter(thread: discord.Thread) -> discord.Message | None:
    """The parent-channel message the thread was started from (same id), if any."""
    if thread.starter_message is not None:
        return thread.starter_message
    parent = thread.parent
    if not isinstance(parent, discord.TextChannel):
        return None  # forum posts start with their own first message, inside the thread
    try:
        return await parent.fetch_message(thread.id)
    except discord.NotFound:
        return None  # a thread started without a message


async def _reply_chain(message: discord.Message) -> list[discord.Message]:
    chain: list[discord.Message] = []
    current = message
    for _ in range(REPLY_CHAIN_HOPS):
        previous = await _referenced(current)
        if previous is None:
            break
        chain.append(previous)
        current = previous
    chain.reverse()
    return chain


async def _referenced(message: discord.Message) -> discord.Message | None:
    """The message ``message`` replies to: from the event, the cache, or one fetch."""
    ref = message.reference
    if ref is None or ref.message_id is None or message.type != discord.MessageType.reply:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    if ref.cached_message is not None:
        return ref.cached_message
    if isinstance(ref.resolved, discord.DeletedReferencedMessage):
        return None
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.NotFound:
        return None
