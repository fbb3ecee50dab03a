"""Mentions in text the bot composes are neutralised, so a reply never pings anyone.

Slack (`<!channel>`, `<!here>`, `<@U123>`, `<!subteam^S1|@team>`) and Discord
(`@everyone`, `@here`, `<@123>`, `<@!123>`, `<@&role>`) mentions become plain text: an
at sign, a zero-width space, and the name, readable but inert on every platform.
"""

from __future__ import annotations

import re

_ZWSP = "\u200b"
_MARKUP = re.compile(
    r"<!(?:subteam\^\w+\|@?(?P<team>[^>]*)|(?P<special>channel|here|everyone)(?:\|[^>]*)?)>"
    r"|<@(?P<user>[!&]?\w+)(?:\|[^>]*)?>",
    re.IGNORECASE,
)
_PLAIN = re.compile(r"(?<![\w/.@-])@(?P<name>everyone|here|channel)\b", re.IGNORECASE)


def _inert(m: re.Match[str]) -> str:
    name = m.group("team") or m.group("special") or m.group("user") or "someone"
    return f"@{_ZWSP}{name}"


def neutralise_mentions(text: str) -> str:
    """The text with every platform mention made inert."""
    text = _MARKUP.sub(_inert, text)
    return _PLAIN.sub(lambda m: f"@{_ZWSP}{m.group('name')}", text)


_ANY_MENTION = re.compile(
    r"<!(?:subteam\^\w+(?:\|[^>]*)?|channel|here|everyone)(?:\|[^>]*)?>"
    r"|<@[!&]?\w+(?:\|[^>]*)?>"
    r"|(?<![\w/.@-])@(?:everyone|here|channel)\b",
    re.IGNORECASE,
)


def without_mentions(text: str) -> str:
    """A question without the mentions it carries (`<!channel> <!here> what is …?` asks what
    it asks without them): they say who is told, not what is asked."""
    return " ".join(_ANY_MENTION.sub(" ", text).split())
