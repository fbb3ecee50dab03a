"""ProgramChanges: record the changes of every re-index, answer from them, publish digests.

It is given narrow parts — the change records, the outbox's deliveries, its settings, an
LLM provider, the running platforms' posters and a clock — never the bot. It is a
feature (bot/features.py): `on_reindex` records, `answer` answers before the documents,
`annotate` notes a recent change under document answers, `commands` are the chat commands.

A digest is published through the outbox (bot/delivery.py), one delivery per channel
under a key made of the records it lists: claimed, re-checked, looked up on the platform
when an earlier attempt may have posted it, posted, recorded. Two processes publishing
the same digest at once post it once; the records are marked published when every
channel has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.changes.answers import answer_from_records, with_change_note
from bot.changes.digest import (
    CHANNELS_VARIABLE,
    Digest,
    DigestResult,
    build_digest,
    parse_channels,
)
from bot.changes.periods import parse_since
from bot.commands import Command, Param
from bot.delivery import Outbox
from bot.errors import ConfigError, PartnerbotError
from bot.features import Feature
from bot.models import Answer, CommandCall, Notice, Question, Reply
from bot.posting import ChannelPoster
from bot.prompts import message
from bot.store import ChangeRecord, ChangeRepository, Delivery, DeliveryRepository, NewDelivery
from knowledge.audience import PUBLIC, Viewer
from knowledge.changes import SyncLike, changes_from_sync

if TYPE_CHECKING:
    from bot.answering.llm import LLMClient
    from bot.config import Settings

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


class ProgramChanges(Feature):
    """Change records, change answers, digests and the `changes` chat commands."""

    name = "changes"

    def __init__(
        self,
        *,
        records: ChangeRepository,
        deliveries: DeliveryRepository,
        settings: ChangesSettings,
        llm: Callable[[], LLMClient | None] = lambda: None,
        posters: Callable[[], Mapping[str, ChannelPoster]] = dict,
        clock: Callable[[], datetime] | None = None,
        readers: Callable[[str, str], Viewer] = lambda platform, channel: PUBLIC,
    ) -> None:
        self.records = records
        # Who reads a channel (bot/chat/audiences.py): its digest lists what they may be told of.
        self.readers = readers
        self.settings = settings
        self.llm = llm
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outbox = Outbox(deliveries=deliveries, clock=lambda: self.clock())
        # The running platforms' posters, by platform (auto-publish, the chat command).
        self.posters = posters
        self.last_run: list[ChangeRecord] = []
        self._paused = False

    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    @property
    def recent_since(self) -> str:
        """The start of "recently" (PARTNERBOT_CHANGES_RECENT_DAYS ago)."""
        start = self.clock() - timedelta(days=self.settings.recent_days)
        return start.astimezone(UTC).date().isoformat()

    # -- feature hooks --------------------------------------------------------------------
    def on_reindex(self, report: SyncLike) -> None:
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

    def annotate(self, question: Question, answer: Answer) -> Answer:
        """Under document answers: mention that a cited section changed recently."""
        try:
            return with_change_note(
                answer, self.records, since=self.recent_since, viewer=question.audience
            )
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
        groups = self._groups(records, targets)
        chosen = list(self.posters().values()) if posters is None else posters
        by_platform = {p.platform: p for p in chosen}
        result = DigestResult(digest=None)
        for ids, targets_ in sorted(groups.items(), key=lambda g: -len(g[0])):
            if not ids:
                logger.info("change digest: nothing %s may be told of", targets_)
                continue
            digest = build_digest(
                [r for r in records if r.id in set(ids)], llm=self.llm(), since=since
            )
            result.digest = result.digest or digest
            self._publish_to(digest, targets_, by_platform, include_published, result)
        if result.digest is None:
            return result
        digest = result.digest
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

    def _groups(
        self, records: Sequence[ChangeRecord], targets: Sequence[tuple[str, str]]
    ) -> dict[tuple[int, ...], list[tuple[str, str]]]:
        """Each channel is told of the changes its readers may be told of (the one audience
        function, `readers`): channels that may read the same changes share one digest."""
        groups: dict[tuple[int, ...], list[tuple[str, str]]] = {}
        for platform, channel in targets:
            sees = self.readers(platform, channel).sees_all
            groups.setdefault(tuple(r.id for r in records if sees(r.audience)), []).append(
                (platform, channel)
            )
        return groups

    def reach(self, records: Sequence[ChangeRecord]) -> list[tuple[str, list[ChangeRecord]]]:
        """Per digest channel ("platform:channel"), the changes a publish would tell it of
        (none: it gets no digest) — what the console shows before an admin posts."""
        targets = parse_channels(self.settings.channels)
        by_id = {r.id: r for r in records}
        shown: list[tuple[str, list[ChangeRecord]]] = []
        for ids, channels in self._groups(records, targets).items():
            shown.extend((f"{p}:{c}", [by_id[i] for i in ids]) for p, c in channels)
        return sorted(shown)

    def _publish_to(
        self,
        digest: Digest,
        channels: Sequence[tuple[str, str]],
        by_platform: Mapping[str, ChannelPoster],
        include_published: bool,
        result: DigestResult,
    ) -> None:
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
            for platform, channel in channels
        ]
        self.outbox.plan(planned)
        for delivery in planned:
            self._post(delivery, by_platform.get(delivery.platform), result)

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

    def commands(self) -> Sequence[Command]:
        since = Param("since", "Only changes detected since this date (YYYY-MM-DD)", "option")
        again = Param("again", "Include changes already published", "flag")
        action = "publish the program-change digest"
        return [
            Command(
                "changes publish",
                "Admins: post the digest of new program changes",
                self._publish_command,
                params=(again, since),
                admin_only=True,
                action=action,
                aliases=("changes",),
            ),
            Command(
                "changes preview",
                "Admins: show the digest without posting it",
                self._preview_command,
                params=(again, since),
                admin_only=True,
                action=action,
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

    def _auto_publish(self) -> None:
        if not self.posters():
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
