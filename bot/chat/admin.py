"""Admin-only operations: one check, used by the core and by every feature's commands."""

from __future__ import annotations

import logging

from bot.errors import NotAllowed
from bot.prompts import message

logger = logging.getLogger(__name__)


def require_admin(*, is_admin: bool, who: str, action: str) -> None:
    """NotAllowed (with a message naming the action) unless the user is an admin."""
    if not is_admin:
        logger.warning("refused admin action %r for %s", action, who)
        raise NotAllowed(message("not_admin", action=action))
