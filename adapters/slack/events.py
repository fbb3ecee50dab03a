"""Which Slack messages are for the bot, and the conversation as turns (no SDK calls)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.models import Conversation, Turn

Event = Mapping[str, Any]

# Subtypes that are still a person talking; every other one (message_changed, bot_message,
# channel_join, …) is ignored.
ANSWERABLE_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share"})

# Who reads a channel changed: a person joined or left, it was shared or unshared.
MEMBERSHIP_EVENTS = (
    "member_joined_channel",
    "member_left_channel",
    "channel_shared",
    "channel_unshared",
)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPACES = re.compile(r"[ \t]{2,}")


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove mentions of the bot (`<@UBOT>` / `<@UBOT|name>`) and tidy the spaces."""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return _SPACES.sub(" ", text).strip()


def mentions(text: str | None, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and bot_user_id in _MENTION.findall(text or "")


def is_person_message(event: Event) -> bool:
    """A message a person typed: not from any bot, not an edit, deletion or join notice."""
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    if event.get("subtype") not in ANSWERABLE_SUBTYPES:
        return False
    return all(event.get(k) for k in ("user", "channel", "ts"))


def is_direct(event: Event) -> bool:
    if event.get("channel_type"):
        return event.get("channel_type") == "im"
    return str(event.get("channel", "")).startswith("D")


def is_direct_command(command: Event) -> bool:
    """A slash command run in a DM with the bot."""
    channel = str(command.get("channel_id", ""))
    return command.get("channel_name") == "directmessage" or channel.startswith("D")


def route(event: Event, bot_user_id: str | None) -> tuple[str | None, bool] | None:
    """(the thread to answer in, addressed), or None: not for the bot. A mention is answered
    in its thread (its copy as a channel message is ignored), a DM in the DM; a thread
    reply without a mention is a follow-up the bot overheard."""
    if not is_person_message(event):
        return None
    thread = event.get("thread_ts")
    if event.get("type") == "app_mention":
        return thread or event["ts"], True
    if is_direct(event):
        return thread, True
    if thread and thread != event.get("ts") and not mentions(event.get("text"), bot_user_id):
        return thread, False
    return None


def conversation(
    messages: Iterable[Event], before_ts: str, me: str | None, bot: str | None
) -> Conversation:
    """Earlier messages as turns (oldest first; the bot's (user `me` or bot id `bot`) are
    "bot", people's "user", other bots' left out), and whether the bot took part."""
    turns: list[Turn] = []
    present = False
    for msg in sorted(messages, key=lambda m: float(m.get("ts", "0"))):
        mine = bool((me and msg.get("user") == me) or (bot and msg.get("bot_id") == bot))
        present = present or mine
        if float(msg.get("ts", "0")) >= float(before_ts):
            continue
        if not mine and (msg.get("bot_id") or msg.get("subtype") not in ANSWERABLE_SUBTYPES):
            continue
        text = strip_mention(str(msg.get("text") or ""), me)
        turns.append(Turn("bot" if mine else "user", text))
    return Conversation(tuple(turns), bot_present=present)
