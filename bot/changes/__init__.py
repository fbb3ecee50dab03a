"""Program changes detected on re-index, and the digests that tell partners about them.

`ProgramChanges` records the section-level changes of every re-index, answers "what
changed?" from them, notes recent changes under answers, and publishes the digest
through the outbox (bot/delivery.py).
"""

from __future__ import annotations

from bot.changes.digest import Digest, DigestResult, build_digest
from bot.changes.service import ChangesSettings, ProgramChanges

__all__ = ["ChangesSettings", "Digest", "DigestResult", "ProgramChanges", "build_digest"]
