"""What every composer returns: a cited answer over the passages it was given.

The extractive composer (default, no key; bot/answering/extractive.py) quotes the block of the
documents that best answers; the LLM composer (bot/answering/grounded.py) writes a grounded
answer and checks it sentence by sentence. Either way: no citation, no claim.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Composition:
    """A composed answer: text with [n] markers, n = 1-based index into the passages given."""

    text: str
    cited: tuple[int, ...]  # passage indexes (1-based) the text cites, in order of appearance
    superseded: tuple[tuple[int, int], ...] = ()  # (newer, older) passage indexes
