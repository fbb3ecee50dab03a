"""Which Discord messages are for the bot, and the conversation a message continues: the
bot's thread (its starter, the question that answered, the thread) or the reply chain."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import discord

from bot.models import Conversation, Turn


def strip_mention(text: str, bot_id: int) -> str:
    return re.sub(rf"<@!?{bot_id}>", " ", text).strip()


def is_bot_thread(channel: Any, me: discord.abc.Snowflake) -> bool:
    return isinstance(channel, discord.Thread) and channel.owner_id == me.id


def mentioned(message: discord.Message, me: discord.ClientUser) -> bool:
    return message.guild is None or me in message.mentions


def is_addressed(message: discord.Message, me: discord.ClientUser) -> bool:
    """A DM, a mention, or a follow-up in the bot's thread or reply chain. (Without the
    message-content intent such a follow-up arrives empty and is not seen.)"""
    kinds = (discord.MessageType.default, discord.MessageType.reply)
    if message.author.bot or message.type not in kinds:
        return False
    resolved = message.reference.resolved if message.reference is not None else None
    to_me = isinstance(resolved, discord.Message) and resolved.author.id == me.id
    follow_up = bool(message.content.strip()) and (is_bot_thread(message.channel, me) or to_me)
    return mentioned(message, me) or follow_up


async def conversation(message: discord.Message, me: discord.ClientUser) -> Conversation:
    """Earlier turns (oldest first) of the conversation `message` continues."""
    in_thread = is_bot_thread(message.channel, me)
    earlier = await (_thread_messages(message) if in_thread else _reply_chain(message))
    turns = [
        Turn("bot", "\n\n".join([m.content, *(e.description or "" for e in m.embeds)]).strip())
        if m.author.id == me.id
        else Turn("user", strip_mention(m.content, me.id))
        for m in earlier
        if m.author.id == me.id or not m.author.bot  # (other bots are not the conversation)
    ]
    return Conversation(tuple(turns), bot_present=True)  # (is_addressed let it through)


async def _thread_messages(message: discord.Message) -> list[discord.Message]:
    thread = message.channel
    assert isinstance(thread, discord.Thread)
    before = [m async for m in thread.history(limit=30, before=message)][::-1]
    starter = thread.starter_message
    if starter is None and isinstance(thread.parent, discord.TextChannel):
        # The parent-channel message the thread started from has the thread's id.
        with contextlib.suppress(discord.NotFound):
            starter = await thread.parent.fetch_message(thread.id)
    question = await _referenced(starter) if starter else None  # what the starter answered
    return [m for m in (question, starter) if m is not None] + before


async def _reply_chain(message: discord.Message, hops: int = 8) -> list[discord.Message]:
    chain: list[discord.Message] = []
    current: discord.Message | None = message
    while current is not None and len(chain) < hops:
        current = await _referenced(current)
        chain += [current] if current else []
    return chain[::-1]


async def _referenced(message: discord.Message) -> discord.Message | None:
    """The message `message` replies to: from the event, the cache, or one fetch."""
    ref = message.reference
    if ref is None or ref.message_id is None or message.type != discord.MessageType.reply:
        return None
    if isinstance(ref.resolved, discord.Message | discord.DeletedReferencedMessage):
        return ref.resolved if isinstance(ref.resolved, discord.Message) else None
    if ref.cached_message is not None:
        return ref.cached_message
    with contextlib.suppress(discord.NotFound):
        return await message.channel.fetch_message(ref.message_id)
    return None
