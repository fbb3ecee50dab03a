"""What a feature (communications, program changes, …) may add to the bot.

A feature is built by the composition root (bot/app.py) from the narrow parts it
needs and handed to the core and the chat service; neither imports a feature. Each
hook has a do-nothing default, so a feature implements only what it adds:

- `answer(q)`: answer a question only this feature can answer well (else None);
- `annotate(q, a)`: add to an answer from the documents (e.g. "this section changed");
- `on_reindex(report)`: react to a re-index (record changes, re-index its own texts);
- `commands()`: chat commands for the command table;
- `on_button(click)`: handle clicks on buttons it posted (None: not its button);
- `jobs()`: background services `partnerbot serve` runs (e.g. a notice dispatcher).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.commands import Command
from bot.models import Answer, ButtonClick, ButtonReply, Question
from knowledge.index import SyncReport


class Service(Protocol):
    """A long-running part of `partnerbot serve` (a platform or a job)."""

    name: str

    async def start(self) -> None:
        """Return once running (or raise a ConfigError / PartnerbotError saying why not)."""
        ...

    async def stop(self) -> None: ...


class Feature(Protocol):
    name: str

    def answer(self, question: Question) -> Answer | None:
        return None

    def annotate(self, question: Question, answer: Answer) -> Answer:
        return answer

    def on_reindex(self, report: SyncReport) -> None:
        return None

    def commands(self) -> Sequence[Command]:
        return ()

    def on_button(self, click: ButtonClick) -> ButtonReply | None:
        return None

    def jobs(self) -> Sequence[Service]:
        return ()
