"""Translate Slack events into core terms: which messages to answer, question text, history.

No SDK calls here: these functions read event and message dicts as Slack delivers them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.models import Turn

# Message subtypes that are still a person talking to us; every other subtype
# (message_changed, message_deleted, bot_message, channel_join, ...) is ignored.
ANSWERABLE_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share"})
MAX_HISTORY_TURNS = 10

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SPACES = re.compile(r"[ \t]{2,}")


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """Remove mentions of the bot (`<@UBOT>` / `<@UBOT|name>`) and tidy the spaces."""
    if bot_user_id:
        text = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return _SPACES.sub(" ", text).strip()


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and any(m == bot_user_id for m in _MENTION.findall(text or ""))


def is_from_bot(msg: Mapping[str, Any], *, bot_user_id: str | None, bot_id: str | None) -> bool:
    """Was this message posted by this app (by user id or bot id)?"""
    return bool(
        (bot_user_id and msg.get("user") == bot_user_id) or (bot_id and msg.get("bot_id") == bot_id)
    )


def is_person_message(event: Mapping[str, Any]) -> bool:
    """A message a person typed: not from any bot, not an edit, deletion or join notice."""
    if event.get("bot_id") or event.get("bot_profile"):
        return False
    if event.get("subtype") not in ANSWERABLE_SUBTYPES:
        return False
    return bool(event.get("user")) and bool(event.get("channel")) and bool(event.get("ts"))


def is_direct_message(event: Mapping[str, Any]) -> bool:
    channel_type = event.get("channel_type")
    if channel_type:
        return channel_type == "im"
    return str(event.get("channel", "")).startswith("D")


def is_thread_reply(event: Mapping[str, Any]) -> bool:
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def history_from_messages(
    messages: Iterable[Mapping[str, Any]],
    *,
    before_ts: str,
    bot_user_id: str | None,
    bot_id: str | None,
    limit: int = MAX_HISTORY_TURNS,
) -> tuple[Turn, ...]:
    """Earlier turns (oldest first) from Slack messages: ours are "bot", the rest "user"."""
    turns: list[Turn] = []
    cutoff = float(before_ts)
    for msg in sorted(messages, key=lambda m: float(m.get("ts", "0"))):
        if float(msg.get("ts", "0")) >= cutoff:
            continue
        if msg.get("subtype") not in ANSWERABLE_SUBTYPES and msg.get("subtype") != "bot_message":
            continue
        mine = is_from_bot(msg, bot_user_id=bot_user_id, bot_id=bot_id)
        if not mine and (msg.get("bot_id") or msg.get("subtype") == "bot_message"):
            continue  # other bots are not part of the conversation
        text = strip_mention(str(msg.get("text") or ""), bot_user_id)
        if text:
            turns.append(Turn("bot" if mine else "user", text))
    return tuple(turns[-limit:])


def bot_in_thread(
    messages: Iterable[Mapping[str, Any]], *, bot_user_id: str | None, bot_id: str | None
) -> bool:
    return any(is_from_bot(m, bot_user_id=bot_user_id, bot_id=bot_id) for m in messages)


def event_key(body: Mapping[str, Any]) -> str | None:
    """The de-duplication key of a delivery: Slack keeps event_id across retries."""
    event_id = body.get("event_id")
    return f"slack:event:{event_id}" if event_id else None


def message_key(team_id: str | None, channel: str, ts: str) -> str:
    """One key per Slack message, so app_mention + message.channels answer once."""
    return f"slack:message:{team_id or '-'}:{channel}:{ts}"
