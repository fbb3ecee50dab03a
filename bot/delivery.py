"""The outbox: the one way anything is posted exactly once (notices and digests alike).

    plan ──▶ planned ──claim (one delivery, with a lease)──▶ claimed
                                                │ re-check: still ours? renew the lease
                                                │ reclaimed? find the key on the platform
                                                │ post (the message carries the key)
                                                ▼
                                    posted ◀── record (only while ours)

* **plan**: one row per message (a thing × a channel × a notice), under a unique key;
  planning the same key twice changes nothing.
* **claim** one delivery at a time, with a lease. A worker that dies leaves a claim
  whose lease runs out; the next claim takes it over.
* **re-check** right before the side effect: the claim is still this worker's and
  its lease is renewed for the post. A claim taken over (attempts > 1) is first
  looked up on the platform by its key (`ChannelPoster.find`): found → recorded,
  not posted again.
* **record** the platform's message id, only while the claim is still ours.
* **release** this worker's claims on shutdown, so another worker goes on at once.

Several workers (threads, processes, replicas) may share one store: on SQLite a
claim runs under the database write lock, on PostgreSQL it skips locked rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.models import Notice
from bot.posting import ChannelPoster
from bot.store import DeliveryRepository, NewDelivery
from bot.store.types import Delivery

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    """What `Outbox.deliver` did with one claimed delivery."""

    status: Literal["posted", "reconciled", "withheld", "lost"]
    message_id: str | None = None
    recorded: bool = True  # False: posted, but the claim was lost before recording

    @property
    def on_platform(self) -> bool:
        return self.status in ("posted", "reconciled")


class Outbox:
    """Plans, claims, posts and records deliveries for one worker (`owner`)."""

    def __init__(
        self,
        *,
        deliveries: DeliveryRepository,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        clock: Clock | None = None,
    ) -> None:
        self.deliveries = deliveries
        self.owner = owner or f"worker-{uuid.uuid4().hex[:8]}"
        self.lease = lease
        # None: the system clock, looked up on each call.
        self.clock: Clock | None = clock

    def now(self) -> datetime:
        return (self.clock or system_clock)()

    # -- plan and claim ----------------------------------------------------------------------
    def plan(
        self, planned: Iterable[NewDelivery], *, into: DeliveryRepository | None = None
    ) -> int:
        """Add deliveries (`into` a transaction's repository, else on their own); returns
        how many were new."""
        repo = into or self.deliveries
        now = self.now()
        return sum(1 for d in planned if repo.plan(d, now=now))

    def claim_next(self, feature: str, *, platforms: Sequence[str]) -> Delivery | None:
        """The next due delivery of this feature on one of these platforms, claimed."""
        now = self.now()
        return self.deliveries.claim_next(
            feature, platforms=platforms, owner=self.owner, now=now, until=now + self.lease
        )

    def claim(self, key: str) -> Delivery | None:
        """This delivery, claimed; None when it is posted, settled, or another worker holds it."""
        now = self.now()
        return self.deliveries.claim_key(key, owner=self.owner, now=now, until=now + self.lease)

    # -- post and record ---------------------------------------------------------------------
    def deliver(
        self,
        delivery: Delivery,
        poster: ChannelPoster,
        compose: Callable[[Delivery], Notice | None],
        *,
        late: bool = False,
    ) -> Outcome:
        """Re-check, reconcile, post, record. `compose` renders the notice right before the
        post, or returns None to withhold it (it has then settled the delivery itself).
        A poster's exception propagates: the caller retries or fails the delivery."""
        if not self.renew(delivery):
            logger.warning("delivery %s: claim lost before posting; not posted", delivery.key)
            return Outcome("lost")
        if delivery.attempts > 1:
            # An earlier attempt may have reached the platform: look before posting again.
            found = poster.find(delivery.channel, delivery.key)
            if found:
                recorded = self.record(delivery, found, late=late, reconciled=True)
                return Outcome("reconciled", found, recorded)
        notice = compose(delivery)
        if notice is None:
            return Outcome("withheld")
        message_id = poster.post(delivery.channel, notice)
        # If recording fails (or the process dies here) the claim stays; its lease runs
        # out and the next claim finds the post by its key.
        return Outcome("posted", message_id, self.record(delivery, message_id, late=late))

    def renew(self, delivery: Delivery) -> bool:
        """The re-check: still our claim, lease not run out; extended for the post."""
        now = self.now()
        return self.deliveries.renew(delivery.id, owner=self.owner, now=now, until=now + self.lease)

    def record(
        self, delivery: Delivery, message_id: str, *, late: bool, reconciled: bool = False
    ) -> bool:
        ok = self.deliveries.mark_posted(
            delivery.id,
            owner=self.owner,
            message_id=str(message_id),
            at=self.now(),
            late=late,
            reconciled=reconciled,
        )
        if not ok:
            logger.warning(
                "delivery %s: claim lost before recording; its next claim reconciles", delivery.key
            )
        return ok

    # -- after a failure, and on shutdown ------------------------------------------------------
    def retry_later(self, delivery: Delivery, note: str, *, after: timedelta) -> bool:
        return self.deliveries.retry_later(
            delivery.id, owner=self.owner, note=note[:500], not_before=self.now() + after
        )

    def hold(self, delivery: Delivery, note: str, *, after: timedelta) -> bool:
        """Not posted on purpose (the place may not receive it now): planned again `after`,
        without counting this claim as an attempt."""
        return self.deliveries.retry_later(
            delivery.id,
            owner=self.owner,
            note=note[:500],
            not_before=self.now() + after,
            attempted=False,
        )

    def fail(self, delivery: Delivery, note: str) -> bool:
        return self.deliveries.mark_failed(delivery.id, owner=self.owner, note=note[:500])

    def release(self) -> int:
        """Give back every claim this worker holds (they are planned again at once)."""
        released = self.deliveries.release(self.owner)
        if released:
            logger.info("released %d claimed deliveries (%s)", released, self.owner)
        return released
