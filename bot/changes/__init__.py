"""Program changes detected on re-index, and the digests that tell partners about them.

`ProgramChanges` (a feature of the bot, see bot/features.py) records the section-level
changes of every re-index, answers "what changed?" from them, notes recent changes under
answers, and posts the digest (`publish_digest`) through the platforms' posters.
"""

from __future__ import annotations

from bot.changes.digest import Digest, DigestResult, preview_digest, publish_digest
from bot.changes.records import ChangeRecord, ChangeStore
from bot.changes.service import ProgramChanges

__all__ = [
    "ChangeRecord",
    "ChangeStore",
    "Digest",
    "DigestResult",
    "ProgramChanges",
    "preview_digest",
    "publish_digest",
]
