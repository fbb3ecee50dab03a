"""ProgramChanges: program-change detection wired into one PartnerBot.

It registers three hooks on the bot — record the changes of every re-index, answer
change questions from the records, and note a recent change under document answers —
and holds the chat posters that running adapters register for digests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from bot.changes.answers import answer_from_records, with_change_note
from bot.changes.digest import DigestResult, publish_digest
from bot.changes.records import ChangeRecord, ChangeStore
from bot.models import Answer, Question
from bot.notify import ChannelPoster
from knowledge.changes import SyncLike, changes_from_sync

if TYPE_CHECKING:
    from bot.core import PartnerBot

logger = logging.getLogger(__name__)


class ProgramChanges:
    """Change records, change answers and digests for one bot (`bot.changes`)."""

    def __init__(self, bot: PartnerBot, *, clock: Callable[[], datetime] | None = None) -> None:
        self.bot = bot
        self.clock = clock or (lambda: datetime.now(UTC))
        # Chat adapters register their poster here when they start (auto-publish, chat command).
        self.posters: list[ChannelPoster] = []
        self.last_run: list[ChangeRecord] = []
        self._paused = False
        bot.on_reindex.append(self.record_sync)
        bot.special_answerers.append(self.answer)
        bot.answer_notes.append(self.note)

    @cached_property
    def records(self) -> ChangeStore:
        return ChangeStore(self.bot.store)

    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    @property
    def recent_since(self) -> str:
        """The start of "recently" (PARTNERBOT_CHANGES_RECENT_DAYS ago)."""
        start = self.clock() - timedelta(days=self.bot.settings.changes_recent_days)
        return start.astimezone(UTC).date().isoformat()

    # -- hooks ----------------------------------------------------------------------------
    def record_sync(self, report: SyncLike) -> None:
        """on_reindex: diff every changed document and store the changes (see `last_run`)."""
        if self._paused:
            self.last_run = []
            return
        changes = changes_from_sync(report)
        self.last_run = self.records.add(changes, detected_at=self.now()) if changes else []
        if self.last_run:
            logger.info(
                "recorded %d program changes in %d documents",
                len(self.last_run),
                len({r.doc_path for r in self.last_run}),
            )
            if self.bot.settings.changes_auto_publish:
                self._auto_publish()

    def answer(self, question: Question) -> Answer | None:
        """special answerer: "what changed this quarter?" from the records."""
        return answer_from_records(
            question,
            self.records,
            today=self.clock().astimezone(UTC).date(),
            recent_days=self.bot.settings.changes_recent_days,
        )

    def note(self, question: Question, answer: Answer) -> Answer:
        """answer note: mention that a cited section changed recently."""
        try:
            return with_change_note(answer, self.records, since=self.recent_since)
        except Exception:
            logger.exception("could not check the cited sections for recent changes")
            return answer

    # -- publishing -----------------------------------------------------------------------
    def publish(
        self,
        posters: Sequence[ChannelPoster] | None = None,
        *,
        since: str | None = None,
        include_published: bool = False,
    ) -> DigestResult:
        """Post the digest through the given (default: registered) posters."""
        return publish_digest(
            self.bot,
            self.posters if posters is None else posters,
            since=since,
            include_published=include_published,
        )

    def _auto_publish(self) -> None:
        if not self.posters:
            logger.warning(
                "PARTNERBOT_CHANGES_AUTO_PUBLISH is on but no chat adapter is running here; "
                "the changes stay unpublished until `partnerbot changes publish`"
            )
            return
        try:
            result = self.publish()
            logger.info("auto-published change digest: %s", result.summary())
        except Exception:
            logger.exception("auto-publishing the change digest failed")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Re-index without recording changes (e.g. to restore a demo folder)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False
