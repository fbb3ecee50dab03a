"""Program changes detected on re-index, and the digests that tell partners about them.

`ProgramChanges` (as `bot.changes`) records the section-level changes of every re-index,
answers "what changed?" from them and notes recent changes under answers;
`publish_digest` / `changes_command` post the digest through the adapters' posters.
"""

from __future__ import annotations

from bot.changes.digest import (
    Digest,
    DigestResult,
    changes_command,
    preview_digest,
    publish_digest,
    publish_digest_as,
)
from bot.changes.records import ChangeRecord, ChangeStore
from bot.changes.service import ProgramChanges

__all__ = [
    "ChangeRecord",
    "ChangeStore",
    "Digest",
    "DigestResult",
    "ProgramChanges",
    "changes_command",
    "preview_digest",
    "publish_digest",
    "publish_digest_as",
]
