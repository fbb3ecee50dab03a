"""Which verified HTTP bodies are requests partnerbot takes from Slack, before Bolt or a
listener reads them: valid JSON that is not an object, an event without its fields or
actions that are not a list are refused (400), never handed on to fail."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Top-level types Bolt answers itself (the Request URL check, rate-limit notices).
PASSED_ON = frozenset({"url_verification", "app_rate_limited"})
_TS = re.compile(r"\d{1,12}(\.\d{1,9})?")
# Fields the listeners read as text, when present.
EVENT_TEXT = ("type", "user", "channel", "text", "subtype", "channel_type", "bot_id")
EVENT_TS = ("ts", "thread_ts")


def problem(body: Any) -> str | None:
    """Why a verified body is not a request partnerbot handles; None when it is one."""
    if not isinstance(body, dict):
        return f"the body is {type(body).__name__}, not an object"
    if body.get("ssl_check"):
        return None
    if "command" in body:
        return _command(body)
    kind = body.get("type")
    if kind == "event_callback":
        if bad := _not_text(body, ("event_id", "team_id")):
            return f"field {bad!r} is not text"
        return _event(body.get("event"))
    if kind == "block_actions":
        return _actions(body)
    if isinstance(kind, str) and kind in PASSED_ON:
        return None
    return "not a request partnerbot handles"


def _event(event: Any) -> str | None:
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "an event callback without an event"
    if bad := _not_text(event, EVENT_TEXT):
        return f"event field {bad!r} is not text"
    for name in EVENT_TS:
        if event.get(name) is not None and not _is_ts(event[name]):
            return f"event field {name!r} is not a Slack timestamp"
    return None


def _command(body: Mapping[str, Any]) -> str | None:
    if bad := _not_text(body, ("command", "text", "user_id", "channel_id", "response_url")):
        return f"command field {bad!r} is not text"
    return _response_url(body)


def _actions(body: Mapping[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block actions without a list of actions"
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            return "an action without an action_id"
        if bad := _not_text(action, ("value",)):
            return f"action field {bad!r} is not text"
    for name in ("user", "channel", "container", "message"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name!r} is not an object"
    message = body.get("message") or {}
    container = body.get("container") or {}
    for name, value in (
        ("message.ts", message.get("ts")),
        ("message.thread_ts", message.get("thread_ts")),
        ("container.message_ts", container.get("message_ts")),
    ):
        if value is not None and not _is_ts(value):
            return f"{name!r} is not a Slack timestamp"
    if bad := _not_text(body.get("user") or {}, ("id",)) or _not_text(
        body.get("channel") or {}, ("id",)
    ):
        return f"{bad!r} is not text"
    return _response_url(body)


def _response_url(body: Mapping[str, Any]) -> str | None:
    url = body.get("response_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        return "the response_url is not a URL"
    return None


def _not_text(fields: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """The first of these fields that is there but not text."""
    return next(
        (n for n in names if fields.get(n) is not None and not isinstance(fields[n], str)), None
    )


def _is_ts(value: Any) -> bool:
    return isinstance(value, str) and _TS.fullmatch(value) is not None
