"""ProgramChanges: record the changes of every re-index, answer from them, publish digests.

It is given narrow parts — the change records, the outbox's deliveries, its settings, an
LLM provider and a clock — never the bot. Its hooks (`record_sync` after a re-index,
`answer` before the document answerer, `note` under document answers) are wired by the
composition root. Running chat adapters register their poster in `posters` for digests.

A digest is published through the outbox (bot/delivery.py), one delivery per channel
under a key made of the records it lists: claimed, re-checked, looked up on the platform
when an earlier attempt may have posted it, posted, recorded. Two processes publishing
the same digest at once post it once; the records are marked published when every
channel has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.admin import require_admin
from bot.changes.answers import answer_from_records, with_change_note
from bot.changes.digest import (
    CHANNELS_VARIABLE,
    Digest,
    DigestResult,
    build_digest,
    parse_channels,
)
from bot.changes.periods import parse_since
from bot.delivery import Outbox
from bot.errors import ConfigError, PartnerbotError, UserError
from bot.models import Answer, Question
from bot.notify import ChannelPoster, Notice
from bot.prompts import message
from bot.store import ChangeRecord, ChangeRepository, Delivery, DeliveryRepository, NewDelivery
from knowledge.changes import SyncLike, changes_from_sync

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.llm import LLMClient

logger = logging.getLogger(__name__)

FEATURE = "changes"  # the outbox rows of digests


@dataclass(frozen=True)
class ChangesSettings:
    channels: tuple[str, ...] = ()  # PARTNERBOT_CHANGES_CHANNELS, platform:channel
    auto_publish: bool = False
    recent_days: int = 90

    @classmethod
    def from_settings(cls, settings: Settings) -> ChangesSettings:
        return cls(
            channels=tuple(settings.changes_channels),
            auto_publish=settings.changes_auto_publish,
            recent_days=settings.changes_recent_days,
        )


class ProgramChanges:
    """Change records, change answers and digests."""

    def __init__(
        self,
        *,
        records: ChangeRepository,
        deliveries: DeliveryRepository,
        settings: ChangesSettings,
        llm: Callable[[], LLMClient | None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.records = records
        self.settings = settings
        self.llm = llm
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outbox = Outbox(deliveries=deliveries, clock=lambda: self.clock())
        # Chat adapters register their poster here when they start (auto-publish, chat command).
        self.posters: list[ChannelPoster] = []
        self.last_run: list[ChangeRecord] = []
        self._paused = False

    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    @property
    def recent_since(self) -> str:
        """The start of "recently" (PARTNERBOT_CHANGES_RECENT_DAYS ago)."""
        start = self.clock() - timedelta(days=self.settings.recent_days)
        return start.astimezone(UTC).date().isoformat()

    # -- hooks ----------------------------------------------------------------------------
    def record_sync(self, report: SyncLike) -> None:
        """After a re-index: diff every changed document and store the changes (`last_run`)."""
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
            if self.settings.auto_publish:
                self._auto_publish()

    def answer(self, question: Question) -> Answer | None:
        """Before the documents: "what changed this quarter?" from the records."""
        return answer_from_records(
            question,
            self.records,
            today=self.clock().astimezone(UTC).date(),
            recent_days=self.settings.recent_days,
        )

    def note(self, question: Question, answer: Answer) -> Answer:
        """Under document answers: mention that a cited section changed recently."""
        try:
            return with_change_note(answer, self.records, since=self.recent_since)
        except Exception:
            logger.exception("could not check the cited sections for recent changes")
            return answer

    # -- digests ----------------------------------------------------------------------------
    def select(
        self, *, since: str | None = None, include_published: bool = False
    ) -> list[ChangeRecord]:
        return self.records.list(since=since, unpublished_only=not include_published)

    def preview(
        self, *, since: str | None = None, include_published: bool = False
    ) -> Digest | None:
        """The digest `publish` would post, without posting or marking anything."""
        records = self.select(since=since, include_published=include_published)
        return build_digest(records, llm=self.llm(), since=since) if records else None

    def publish(
        self,
        posters: Sequence[ChannelPoster] | None = None,
        *,
        since: str | None = None,
        include_published: bool = False,
        channels: Sequence[str] | None = None,
    ) -> DigestResult:
        """Post one digest of the unpublished (or, with include_published, all) changes.

        `channels` defaults to PARTNERBOT_CHANGES_CHANNELS; each is "platform:channel" and
        goes through the poster of that platform (default: the registered posters).
        Records are marked published only when every channel has the digest, so a failed
        channel is retried by the next publish.
        """
        targets = parse_channels(self.settings.channels if channels is None else channels)
        if not targets:
            raise ConfigError(message("changes_no_channels", variable=CHANNELS_VARIABLE))
        records = self.select(since=since, include_published=include_published)
        if not records:
            return DigestResult(digest=None)
        digest = build_digest(records, llm=self.llm(), since=since)
        result = DigestResult(digest=digest)
        by_platform = {p.platform: p for p in (self.posters if posters is None else posters)}
        # The key makes a retry find the earlier post; asking for published changes again
        # is a new publication, so it gets a key of its own.
        publication = digest.key if not include_published else f"{digest.key}@{self.now()}"
        planned = [
            NewDelivery(
                key=f"changes:{publication}:{platform}:{channel}",
                feature=FEATURE,
                subject=publication,
                kind="digest",
                platform=platform,
                channel=channel,
                due_at=self.clock(),
                detail={"title": digest.title, "text": digest.text},
            )
            for platform, channel in targets
        ]
        self.outbox.plan(planned)
        for delivery in planned:
            self._post(delivery, by_platform.get(delivery.platform), result)
        if result.ok:
            self.records.mark_published(
                [r.id for r in records], digest_key=digest.key, at=self.now()
            )
        logger.info(
            "change digest %s: %d changes, posted=%d already=%d failed=%d in flight=%d",
            digest.key,
            len(records),
            len(result.posted),
            len(result.already),
            len(result.failed),
            len(result.in_flight),
        )
        return result

    def _post(
        self, planned: NewDelivery, poster: ChannelPoster | None, result: DigestResult
    ) -> None:
        spec = f"{planned.platform}:{planned.channel}"
        if poster is None:
            result.failed.append((spec, message("changes_no_poster", platform=planned.platform)))
            return
        claimed = self.outbox.claim(planned.key)
        if claimed is None:  # posted before, or another process is posting it now
            known = self.outbox.deliveries.by_key(planned.key)
            if known is not None and known.status == "posted":
                result.already.append((spec, known.message_id or ""))
            else:
                result.in_flight.append((spec, message("changes_being_posted")))
            return

        def compose(d: Delivery) -> Notice:
            return Notice(key=d.key, title=str(d.detail["title"]), text=str(d.detail["text"]))

        try:
            outcome = self.outbox.deliver(claimed, poster, compose)
        except PartnerbotError as e:  # the platform said no: the reason is in the message
            logger.warning("posting the change digest to %s failed: %s", spec, e)
            self.outbox.retry_later(claimed, str(e), after=timedelta(0))
            result.failed.append((spec, str(e)))
            return
        except Exception as e:  # one channel failing must not stop the others
            logger.exception("posting the change digest to %s failed", spec)
            self.outbox.retry_later(claimed, str(e) or type(e).__name__, after=timedelta(0))
            result.failed.append((spec, str(e) or type(e).__name__))
            return
        if outcome.status == "posted":
            result.posted.append((spec, outcome.message_id or ""))
        elif outcome.status == "reconciled":
            result.already.append((spec, outcome.message_id or ""))
        else:
            result.in_flight.append((spec, message("changes_being_posted")))

    def publish_as(
        self,
        posters: Sequence[ChannelPoster] | None = None,
        *,
        is_admin: bool,
        who: str,
        since: str | None = None,
        include_published: bool = False,
    ) -> DigestResult:
        """Publish on behalf of a chat user; NotAllowed unless they are an admin."""
        require_admin(is_admin=is_admin, who=who, action="publish the program-change digest")
        logger.info("change digest publish requested by %s", who)
        return self.publish(posters, since=since, include_published=include_published)

    def command(
        self,
        args: str,
        *,
        is_admin: bool,
        who: str,
        posters: Sequence[ChannelPoster] | None = None,
    ) -> str:
        """The chat command (`/partner changes …`, `/changes …`): returns the reply text.

        Empty → publish new changes; `preview` → show the digest without posting;
        `again` → publish every change again; `since YYYY-MM-DD` narrows any of these.
        """
        words = args.split()
        preview = "preview" in words
        again = "again" in words or "all" in words
        since: str | None = None
        if "since" in words:
            index = words.index("since")
            if index + 1 >= len(words):
                raise UserError(message("changes_command_usage"))
            since = parse_since(words[index + 1])
        unknown = [w for w in words if w not in {"preview", "again", "all", "since", "publish"}]
        if since is not None:
            unknown = [w for w in unknown if w != words[words.index("since") + 1]]
        if unknown:
            raise UserError(message("changes_command_usage"))
        require_admin(is_admin=is_admin, who=who, action="publish the program-change digest")
        if preview:
            digest = self.preview(since=since, include_published=again)
            return digest.text if digest else message("changes_nothing_to_publish")
        return self.publish_as(
            posters, is_admin=is_admin, who=who, since=since, include_published=again
        ).summary()

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
