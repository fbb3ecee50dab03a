"""Acknowledgements ("thanks!", "ok great", "👍"): answered with a short reply, never from
the documents, and never recorded as a question the documents could not answer."""

from __future__ import annotations

import re
import unicodedata

# Words that, on their own, only acknowledge an answer. General chat English, not
# program vocabulary: a message made only of these (and emoji) asks nothing.
_WORDS = frozenset(
    [
        # thanks
        *("thanks", "thank", "thx", "thnx", "tnx", "ty", "tysm", "tyvm", "cheers", "ta"),
        *("appreciated", "appreciate", "again", "so", "much", "very", "a", "lot", "lots"),
        *("you", "all", "for", "the", "info", "answer", "bot", "partnerbot"),
        # agreement
        *("ok", "okay", "k", "kk", "okey", "alright", "allright", "right", "sure", "fine"),
        *("yes", "yep", "yeah", "yup", "got", "it", "gotcha", "understood", "noted"),
        *("clear", "makes", "sense", "np", "no", "worries", "problem", "lol", "haha"),
        # praise
        *("great", "cool", "nice", "perfect", "awesome", "excellent", "brilliant", "good"),
        *("wonderful", "amazing", "super", "lovely", "fantastic", "sweet", "neat"),
        *("that", "this", "helps", "helped", "helpful"),
    ]
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_SHORTCODE = re.compile(r":[a-z0-9_+-]+:")  # Slack / Discord emoji as text, e.g. :+1:
_MAX_WORDS = 8


def _only_symbols(text: str) -> bool:
    """Emoji, punctuation and spaces only (category S*, P*, Z*, plus joiners/selectors)."""
    return all(
        unicodedata.category(ch)[0] in "SPZ" or ch in "\u200d\ufe0f\ufe0e" or ch.isspace()
        for ch in text
    )


def is_acknowledgement(text: str) -> bool:
    """Does this message only thank or acknowledge (no question in it)?"""
    stripped = _SHORTCODE.sub(" ", text.strip())
    if not text.strip():
        return False
    if "?" in stripped:
        return False
    words = [w.lower() for w in _WORD.findall(stripped)]
    rest = _WORD.sub(" ", stripped)
    if not _only_symbols(rest):
        return False  # digits or other characters: something is being said
    if not words:
        return True  # emoji / shortcodes only, e.g. "👍" or ":pray:"
    return len(words) <= _MAX_WORDS and all(w in _WORDS for w in words)
