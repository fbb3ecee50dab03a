"""When an overheard message is for the bot: in a thread it is part of, people also talk
to each other ("lol same here", "<@U0AMY> did you see this?", "I'll ask Amy tomorrow").
Only a question or a request is answered there; the rest is left alone, and so is not
answered "Not in the program documents" nor logged as a knowledge gap.

A message is for the bot when it does not address another person (a mention of someone
else, a name followed by a comma) and it asks: it ends with a question mark, or opens
with a question word, an auxiliary that starts a question, a request ("tell me", "list"),
or a follow-up marker ("and …", "what about …").
"""

from __future__ import annotations

import re

# A mention of a person as the platforms write it (Slack, Discord), the bot's removed.
_MENTION = re.compile(r"<@!?&?[A-Z0-9]+(?:\|[^>]*)?>|(?<!\w)@\w+", re.IGNORECASE)
_OPENERS = frozenset(
    {
        *("what", "whats", "what's", "how", "hows", "how's", "when", "where", "which", "who"),
        *("whom", "whose", "why", "is", "are", "was", "were", "am", "can", "could", "do"),
        *("does", "did", "should", "shall", "will", "would", "may", "might", "must", "has"),
        *("have", "had", "any", "anything", "and", "also", "or", "so", "plus", "tell"),
        *("explain", "list", "show", "give", "describe", "compare", "summarise", "summarize"),
        *("define", "please", "pls", "help", "deadline", "difference"),
    }
)
_WORD = re.compile(r"[a-z']+")


def asks_the_bot(text: str) -> bool:
    """Is an overheard message a question or request for the bot (not chatter)?"""
    if _MENTION.search(text):
        return False  # said to someone else
    plain = text.strip()
    if not plain:
        return False
    if plain.rstrip(" )*_~\"'").endswith("?"):
        return True
    words = _WORD.findall(plain.casefold())
    return bool(words) and words[0] in _OPENERS
