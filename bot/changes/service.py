"""ProgramChanges: program-change detection as a feature of the bot.

On every re-index it records the section-level changes; it answers "what changed?"
from the records, notes a recent change under document answers, and posts the digest
(chat command, CLI, or automatically) through the running platforms' posters. It gets
the narrow parts it needs from the composition root, never the bot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cached_property

from bot.changes.answers import answer_from_records, with_change_note
from bot.changes.digest import Digest, DigestResult, preview_digest, publish_digest
from bot.changes.periods import parse_since
from bot.changes.records import ChangeRecord, ChangeStore
from bot.commands import Command, Param
from bot.config import Settings
from bot.features import Feature
from bot.llm import LLMClient
from bot.models import Answer, ChannelRef, CommandCall, Question, Reply
from bot.platform import ChannelPoster
from bot.prompts import message
from bot.state import Store
from knowledge.changes import SyncLike, changes_from_sync

logger = logging.getLogger(__name__)

Posters = Callable[[], Mapping[str, ChannelPoster]]


class ProgramChanges(Feature):
    """Change records, change answers, digests and the `changes` chat commands."""

    name = "changes"

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        llm: Callable[[], LLMClient | None] = lambda: None,
        posters: Posters = dict,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.llm = llm
        self.posters = posters
        self.clock = clock or (lambda: datetime.now(UTC))
        self.last_run: list[ChangeRecord] = []
        self._paused = False

    @cached_property
    def records(self) -> ChangeStore:
        return ChangeStore(self.store)

    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    @property
    def recent_since(self) -> str:
        """The start of "recently" (PARTNERBOT_CHANGES_RECENT_DAYS ago)."""
        start = self.clock() - timedelta(days=self.settings.changes_recent_days)
        return start.astimezone(UTC).date().isoformat()

    @property
    def channels(self) -> list[ChannelRef]:
        """PARTNERBOT_CHANGES_CHANNELS (checked when the settings were loaded)."""
        return [ChannelRef.parse(spec) for spec in self.settings.changes_channels]

    # -- feature hooks --------------------------------------------------------------------
    def on_reindex(self, report: SyncLike) -> None:
        """Diff every changed document and store the changes (see `last_run`)."""
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
            if self.settings.changes_auto_publish:
                self._auto_publish()

    def answer(self, question: Question) -> Answer | None:
        """ "What changed this quarter?" from the records."""
        return answer_from_records(
            question,
            self.records,
            today=self.clock().astimezone(UTC).date(),
            recent_days=self.settings.changes_recent_days,
        )

    def annotate(self, question: Question, answer: Answer) -> Answer:
        """Mention that a cited section changed recently."""
        try:
            return with_change_note(answer, self.records, since=self.recent_since)
        except Exception:
            logger.exception("could not check the cited sections for recent changes")
            return answer

    def commands(self) -> Sequence[Command]:
        since = Param("since", "Only changes detected since this date (YYYY-MM-DD)", "option")
        again = Param("again", "Include changes already published", "flag")
        return [
            Command(
                "changes publish",
                "Admins: post the digest of new program changes",
                self._publish_command,
                params=(again, since),
                admin_only=True,
                action="publish the program-change digest",
                aliases=("changes",),
            ),
            Command(
                "changes preview",
                "Admins: show the digest without posting it",
                self._preview_command,
                params=(again, since),
                admin_only=True,
                action="publish the program-change digest",
            ),
        ]

    def _publish_command(self, call: CommandCall) -> Reply:
        since = parse_since(call.text("since")) if call.text("since") else None
        logger.info("change digest publish requested by %s", call.actor.who)
        result = self.publish(since=since, include_published=call.flag("again"))
        return Reply(text=result.summary(), private=True)

    def _preview_command(self, call: CommandCall) -> Reply:
        since = parse_since(call.text("since")) if call.text("since") else None
        digest = self.preview(since=since, include_published=call.flag("again"))
        text = digest.text if digest else message("changes_nothing_to_publish")
        return Reply(text=text, private=True)

    # -- publishing -----------------------------------------------------------------------
    def preview(
        self, *, since: str | None = None, include_published: bool = False
    ) -> Digest | None:
        return preview_digest(
            self.records, llm=self.llm(), since=since, include_published=include_published
        )

    def publish(
        self,
        posters: Mapping[str, ChannelPoster] | None = None,
        *,
        since: str | None = None,
        include_published: bool = False,
    ) -> DigestResult:
        """Post the digest through the given posters (default: the running platforms')."""
        return publish_digest(
            self.records,
            self.posters() if posters is None else posters,
            channels=self.channels,
            now=self.now,
            llm=self.llm(),
            since=since,
            include_published=include_published,
        )

    def _auto_publish(self) -> None:
        if not self.posters():
            logger.warning(
                "PARTNERBOT_CHANGES_AUTO_PUBLISH is on but no chat platform is running here; "
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
