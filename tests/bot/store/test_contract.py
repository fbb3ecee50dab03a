"""The store contract: what every backend must do, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Answer, Citation, Question
from bot.store import (
    Ack,
    ConversationRef,
    NewDelivery,
    PartnerAck,
    Recipient,
    Store,
    StoredCommunication,
)
from knowledge.changes import SectionChange, SentenceEdit
from tests.bot.store.conftest import OpenStore

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def comm(
    comm_id: str, *, send_at: datetime = T0 + timedelta(days=10), **kw: object
) -> StoredCommunication:
    values: dict[str, object] = {
        "id": comm_id,
        "title": f"Title {comm_id}",
        "data": json.dumps({"id": comm_id}),
        "content_hash": "h1",
        "send_at": send_at,
        "status": "scheduled",
        "revision": 1,
        "epoch": 1,
        "source": f"/comms/{comm_id}.yml",
        "file_hash": "f1",
        "warnings": ("no partner named",),
        "registered_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    return StoredCommunication(**values)  # type: ignore[arg-type]


def delivery(key: str, *, subject: str = "c1", due: datetime = T0, **kw: object) -> NewDelivery:
    values: dict[str, object] = {
        "key": key,
        "feature": "comms",
        "subject": subject,
        "kind": "first",
        "platform": "slack",
        "channel": f"#{key}",
        "due_at": due,
        "revision": 1,
        "lead_days": 14,
        "detail": {"note": "ü"},
    }
    values.update(kw)
    return NewDelivery(**values)  # type: ignore[arg-type]


def lease(now: datetime = T0) -> dict[str, datetime]:
    return {"now": now, "until": now + timedelta(minutes=2)}


# -- interactions, feedback, gaps -------------------------------------------------------------
def test_an_interaction_is_stored_with_its_sources_and_read_back(store: Store) -> None:
    citation = Citation(1, "CSAT", "Tiers", "csat.md", effective_date=None, score=0.7, cited=True)
    answer = Answer(text="Gold needs 4.", citations=(citation,), confidence=0.81, abstained=False)
    question = Question("gold csat?", asker="U1", place="C1", platform="slack")
    first = store.interactions.record(question, answer)
    second = store.interactions.record(question, answer)
    assert second > first
    got = store.interactions.get(first)
    assert got is not None
    assert (got.question, got.answer, got.platform, got.asker, got.place) == (
        "gold csat?",
        "Gold needs 4.",
        "slack",
        "U1",
        "C1",
    )
    assert got.abstained is False and got.confidence == pytest.approx(0.81)
    assert got.sources[0]["path"] == "csat.md" and got.sources[0]["cited"] is True
    assert store.interactions.get(999_999) is None


def test_a_second_rating_by_the_same_user_replaces_the_first(store: Store) -> None:
    iid = store.interactions.record(Question("q?"), Answer(text="a"))
    assert store.interactions.record_feedback(
        interaction_id=iid, user="U1", rating=1, platform="slack"
    )
    assert store.interactions.record_feedback(
        interaction_id=iid, user="U1", rating=-5, platform="slack"
    )
    assert store.interactions.record_feedback(
        interaction_id=iid, user="U2", rating=1, platform="discord"
    )
    assert not store.interactions.record_feedback(
        interaction_id=iid + 100, user="U1", rating=1, platform="slack"
    )
    ratings = {(f.user, f.rating, f.platform) for f in store.interactions.feedback()}
    assert ratings == {("U1", -1, "slack"), ("U2", 1, "discord")}


def test_the_questions_of_one_place_are_read_back_oldest_first(store: Store) -> None:
    def ask(text: str, place: str, platform: str = "teams") -> None:
        question = Question(text, asker="A1", place=place, platform=platform)
        store.interactions.record(question, Answer(text=f"answer to {text}"))

    for n in range(5):
        ask(f"q{n}", "19:c/r1")
    ask("elsewhere", "19:c/r2")
    ask("other platform", "19:c/r1", platform="slack")
    since = T0 - timedelta(days=3650)
    got = store.interactions.in_place("teams", "19:c/r1", since=since, limit=3)
    assert got == [("q2", "answer to q2"), ("q3", "answer to q3"), ("q4", "answer to q4")]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert store.interactions.in_place("teams", "19:c/r1", since=later, limit=3) == []


def test_the_gap_report_counts_questions_ignoring_case_and_spacing(store: Store) -> None:
    for text in ("Free summit tickets?", "free summit tickets?  ", "other?"):
        store.interactions.record(Question(text), Answer(text="no", abstained=True))
    iid = store.interactions.record(Question("bad one"), Answer(text="wrong"))
    store.interactions.record_feedback(interaction_id=iid, user="U", rating=-1, platform="slack")
    report = store.interactions.gap_report()
    assert [(g.count, g.question.strip().lower()) for g in report.abstentions] == [
        (2, "free summit tickets?"),
        (1, "other?"),
    ]
    assert [(g.question, g.answer, g.count) for g in report.downvoted] == [("bad one", "wrong", 1)]
    assert report.as_json()["totals"] == {"abstentions": 3, "downvoted": 1}
    assert store.interactions.gap_report(since="2999-01-01").abstentions == ()


# -- processed events --------------------------------------------------------------------------
def test_an_event_is_first_seen_once_also_by_another_process(
    store: Store, open_another: OpenStore
) -> None:
    assert store.events.first_time("slack:event:1")
    assert not store.events.first_time("slack:event:1")
    replica = open_another()
    assert not replica.events.first_time("slack:event:1")
    assert replica.events.first_time("slack:event:2")


def test_concurrent_first_sightings_admit_exactly_one(
    store: Store, open_another: OpenStore
) -> None:
    stores = [store, open_another(), open_another()]
    wins: list[bool] = []
    lock = threading.Lock()

    def race(s: Store) -> None:
        for n in range(20):
            won = s.events.first_time(f"discord:message:{n}")
            with lock:
                wins.append(won)

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 20 and len(wins) == 60


# -- chat threads ---------------------------------------------------------------------------------
def test_a_thread_is_remembered_and_gets_its_topic_once(
    store: Store, open_another: OpenStore
) -> None:
    key = "slack:T1:C1:171.0001"
    assert not store.threads.known(key) and store.threads.topic(key) is None
    store.threads.remember(key)
    assert store.threads.known(key) and store.threads.topic(key) is None
    assert store.threads.set_topic(key, "comms:c1")  # the first intro wins
    assert not store.threads.set_topic(key, "comms:c2")
    store.threads.remember(key)  # answering there again keeps the topic
    replica = open_another()
    assert replica.threads.topic(key) == "comms:c1" and replica.threads.known(key)
    assert not replica.threads.set_topic(key, "comms:c1")
    assert replica.threads.set_topic("discord:G1:42:43", "comms:c3")
    assert store.threads.topic("discord:G1:42:43") == "comms:c3"


# -- conversation references ------------------------------------------------------------------
def ref(
    place: str,
    *,
    service_url: str = "https://smba.example/emea/",
    kind: str = "channel",
    team: str = "team-1",
) -> ConversationRef:
    return ConversationRef("teams", place, f"conv-{place}", service_url, kind, "t-vendor", team)


def test_a_conversation_reference_is_kept_updated_removed_and_added_back(
    open_another: OpenStore,
) -> None:
    store, other = open_another(), open_another()
    conversations = store.conversations
    assert conversations.remember(ref("19:general"), at=T0)
    assert not conversations.remember(ref("19:general"), at=T0 + timedelta(minutes=1))
    assert conversations.remember(ref("19:sales"), at=T0)
    assert conversations.remember(ref("@u1", kind="personal", team=""), at=T0)
    got = other.conversations.get("teams", "19:general")  # another process sees it
    assert got is not None and (got.conversation_id, got.service_url, got.kind) == (
        "conv-19:general",
        "https://smba.example/emea/",
        "channel",
    )
    assert got.updated_at == T0 and got.removed_at is None
    moved = ref("19:general", service_url="https://smba.example/amer/")
    assert conversations.remember(moved, at=T0 + timedelta(hours=1))
    assert (store.conversations.get("teams", "19:general") or got).service_url.endswith("/amer/")

    assert conversations.mark_team_removed("teams", "team-1", at=T0 + timedelta(days=1)) == 2
    assert conversations.mark_removed("teams", "@u1", at=T0 + timedelta(days=1))
    assert not conversations.mark_removed("teams", "@u1", at=T0 + timedelta(days=2))
    assert not conversations.mark_removed("teams", "@nobody", at=T0)
    removed = conversations.get("teams", "19:sales")
    assert removed is not None and removed.removed_at == T0 + timedelta(days=1)
    assert conversations.remember(ref("19:sales"), at=T0 + timedelta(days=3))  # added back
    back = conversations.get("teams", "19:sales")
    assert back is not None and back.removed_at is None
    assert conversations.get("slack", "19:sales") is None


def test_a_post_is_recorded_once_per_key_and_found_by_another_process(
    open_another: OpenStore,
) -> None:
    store, other = open_another(), open_another()
    assert store.conversations.posted("teams", "comms:c1:first:C1") is None
    store.conversations.record_post("teams", "comms:c1:first:C1", "m-1", at=T0)
    store.conversations.record_post("teams", "comms:c1:first:C1", "m-2", at=T0)  # a duplicate
    assert other.conversations.posted("teams", "comms:c1:first:C1") == "m-1"
    assert other.conversations.posted("slack", "comms:c1:first:C1") is None


# -- communications ------------------------------------------------------------------------------
def test_a_communication_round_trips_and_updates(store: Store) -> None:
    store.comms.insert(comm("b", send_at=T0 + timedelta(days=20)))
    store.comms.insert(comm("a"))
    got = store.comms.get("a")
    assert got == comm("a")
    assert [c.id for c in store.comms.all()] == ["a", "b"]  # by send date
    store.comms.update(comm("a", revision=2, status="updated", title="New", warnings=()))
    updated = store.comms.get("a")
    assert updated is not None
    assert (updated.revision, updated.status, updated.title, updated.warnings) == (
        2,
        "updated",
        "New",
        (),
    )
    store.comms.set_source("a", source=None, file_hash="f2")
    store.comms.set_status("b", "cancelled", at=T0 + timedelta(hours=1))
    assert store.comms.get("a").file_hash == "f2"  # type: ignore[union-attr]
    assert store.comms.get("b").updated_at == T0 + timedelta(hours=1)  # type: ignore[union-attr]
    assert store.comms.get("missing") is None


def test_communications_due_to_send_are_the_active_ones_past_their_date(store: Store) -> None:
    store.comms.insert(comm("past", send_at=T0 - timedelta(minutes=1)))
    store.comms.insert(comm("cancelled", send_at=T0 - timedelta(days=1), status="cancelled"))
    store.comms.insert(comm("future"))
    assert store.comms.due_to_send(T0) == ["past"]


def test_history_and_acknowledgements(store: Store) -> None:
    store.comms.insert(comm("c1"))
    store.comms.add_history("c1", at=T0, action="added", who="cli", detail="revision 1")
    store.comms.add_history("c1", at=T0, action="cancelled", who="U0", detail="2 channels")
    assert [h.action for h in store.comms.history("c1")] == ["added", "cancelled"]
    ack = Ack("c1", "slack", "#anz", "U1", "2026-12-01T09:00:00+00:00", "k1")
    assert store.comms.add_ack(ack)
    assert not store.comms.add_ack(ack)  # the same user again
    assert store.comms.add_ack(Ack("c1", "slack", "#anz", "U2", "2026-12-01T10:00:00+00:00", "k1"))
    assert [a.user for a in store.comms.acks("c1")] == ["U1", "U2"]
    assert store.comms.acknowledged("c1", "slack", "#anz")
    assert not store.comms.acknowledged("c1", "slack", "#emea")


def test_partner_acknowledgements_are_per_partner_and_person(store: Store) -> None:
    store.comms.insert(comm("c1"))
    at = "2026-12-01T09:00:00+00:00"
    assert store.comms.add_partner_ack(PartnerAck("c1", "harbour-it", "slack", "U1", at, "k1"))
    assert not store.comms.add_partner_ack(PartnerAck("c1", "harbour-it", "slack", "U1", at, "k2"))
    assert store.comms.add_partner_ack(PartnerAck("c1", "harbour-it", "discord", "9", at, "k3"))
    assert store.comms.add_partner_ack(PartnerAck("c1", "fjord", "slack", "U1", at, "k4"))
    acks = store.comms.partner_acks("c1")
    assert [(a.partner_id, a.platform, a.user, a.delivery_key) for a in acks] == [
        ("fjord", "slack", "U1", "k4"),
        ("harbour-it", "discord", "9", "k3"),
        ("harbour-it", "slack", "U1", "k1"),
    ]
    assert store.comms.partner_acknowledged("c1", "fjord")
    assert not store.comms.partner_acknowledged("c1", "redgum")
    assert not store.comms.partner_acknowledged("c2", "fjord")
    assert store.comms.acks("c1") == []  # channel acknowledgements are another thing


def test_a_recipient_list_is_replaced_counted_read_per_partner_and_deleted(store: Store) -> None:
    store.comms.insert(comm("c1", send_at=T0))
    store.comms.insert(comm("c2", send_at=T0 + timedelta(days=5)))
    many = [Recipient(f"C{i:04d}", f"Customer {i}", "fjord") for i in range(1200)]
    store.recipients.replace("c1", many)  # more rows than one INSERT takes
    assert store.recipients.counts("c1") == {"fjord": 1200}
    listed = [
        Recipient("C-2", "bondi Bakery", "harbour-it"),
        Recipient("C-1", "Äpfel & Co", "harbour-it"),
        Recipient("C-3", "Tasman Freight", ""),
        Recipient("C-4", "Lisbon Tiles", "fjord"),
    ]
    store.recipients.replace("c1", listed)
    store.recipients.replace("c2", listed[:1])
    assert store.recipients.counts("c1") == {"harbour-it": 2, "": 1, "fjord": 1}
    harbour = store.recipients.for_partner("c1", "harbour-it")
    assert [r.customer_name for r in harbour] == ["bondi Bakery", "Äpfel & Co"]  # casefolded
    assert store.recipients.for_partner("c1", "") == [Recipient("C-3", "Tasman Freight", "")]
    assert store.recipients.for_partner("c1", "nobody") == []
    assert store.recipients.expired(T0 - timedelta(seconds=1)) == []
    assert store.recipients.expired(T0) == ["c1"]
    assert store.recipients.expired(T0 + timedelta(days=9)) == ["c1", "c2"]
    assert store.recipients.delete("c1") == 4
    assert store.recipients.counts("c1") == {} and store.recipients.expired(T0) == []
    assert store.recipients.counts("c2") == {"harbour-it": 1}  # another list is untouched
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.recipients.replace("c2", [])
        raise RuntimeError("boom")
    assert store.recipients.counts("c2") == {"harbour-it": 1}


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.comms.insert(comm("c1"))
        tx.deliveries.plan(delivery("k1"), now=T0)
        raise RuntimeError("boom")
    assert store.comms.get("c1") is None and store.deliveries.by_key("k1") is None
    with store.transaction() as tx:
        tx.comms.insert(comm("c1"))
        tx.deliveries.plan(delivery("k1"), now=T0)
        assert tx.comms.get("c1", for_update=True) is not None
    assert store.comms.get("c1") is not None and store.deliveries.by_key("k1") is not None


# -- the outbox ----------------------------------------------------------------------------------
def test_planning_is_idempotent_by_key(store: Store) -> None:
    assert store.deliveries.plan(delivery("k2", due=T0 + timedelta(hours=1)), now=T0)
    assert store.deliveries.plan(delivery("k1"), now=T0)
    assert not store.deliveries.plan(delivery("k1", channel="#elsewhere"), now=T0)
    rows = store.deliveries.for_subject("comms", "c1")
    assert [d.key for d in rows] == ["k1", "k2"]  # in due order
    first = rows[0]
    assert (first.status, first.attempts, first.channel, first.detail) == (
        "planned",
        0,
        "#k1",
        {"note": "ü"},
    )
    assert store.deliveries.get(first.id) == first == store.deliveries.by_key("k1")


def test_due_deliveries_respect_due_time_backoff_and_expired_claims(store: Store) -> None:
    for key, due in (("now", T0), ("later", T0 + timedelta(days=1))):
        store.deliveries.plan(delivery(key, due=due), now=T0)
    assert [d.key for d in store.deliveries.due("comms", T0)] == ["now"]
    assert store.deliveries.due("changes", T0) == []
    claimed = store.deliveries.claim_next("comms", platforms=["slack"], owner="A", **lease())
    assert claimed is not None and claimed.key == "now" and claimed.attempts == 1
    assert store.deliveries.due("comms", T0 + timedelta(minutes=1)) == []  # the lease holds
    expired = T0 + timedelta(minutes=3)
    assert [d.key for d in store.deliveries.due("comms", expired)] == ["now"]
    assert store.deliveries.retry_later(claimed.id, owner="A", note="503", not_before=expired)
    assert store.deliveries.due("comms", T0 + timedelta(minutes=2)) == []  # backing off
    assert [d.key for d in store.deliveries.due("comms", expired)] == ["now"]


def test_claims_go_one_delivery_at_a_time_in_due_order_to_one_owner(store: Store) -> None:
    store.deliveries.plan(delivery("k2", due=T0 - timedelta(minutes=1)), now=T0)
    store.deliveries.plan(delivery("k1", due=T0 - timedelta(minutes=2)), now=T0)
    store.deliveries.plan(delivery("d1", platform="discord"), now=T0)
    a = store.deliveries.claim_next("comms", platforms=["slack"], owner="A", **lease())
    b = store.deliveries.claim_next("comms", platforms=["slack"], owner="B", **lease())
    assert (a and a.key, b and b.key) == ("k1", "k2")
    assert a is not None and (a.status, a.claimed_by) == ("claimed", "A")
    assert store.deliveries.claim_next("comms", platforms=["slack"], owner="C", **lease()) is None
    assert store.deliveries.claim_next("comms", platforms=[], owner="C", **lease()) is None
    d = store.deliveries.claim_next("comms", platforms=["discord", "slack"], owner="C", **lease())
    assert d is not None and d.key == "d1"


def test_only_the_owner_renews_records_or_releases_a_claim(store: Store) -> None:
    store.deliveries.plan(delivery("k1"), now=T0)
    claimed = store.deliveries.claim_next("comms", platforms=["slack"], owner="A", **lease())
    assert claimed is not None
    assert not store.deliveries.renew(claimed.id, owner="B", **lease())
    assert store.deliveries.renew(claimed.id, owner="A", **lease(T0 + timedelta(minutes=1)))
    late = T0 + timedelta(minutes=10)  # the lease ran out: renewing is refused
    assert not store.deliveries.renew(claimed.id, owner="A", **lease(late))
    assert not store.deliveries.mark_posted(
        claimed.id, owner="B", message_id="m", at=T0, late=False, reconciled=False
    )
    assert store.deliveries.mark_posted(
        claimed.id, owner="A", message_id="m1", at=T0, late=True, reconciled=True
    )
    posted = store.deliveries.get(claimed.id)
    assert posted is not None
    assert (posted.status, posted.message_id, posted.late, posted.reconciled) == (
        "posted",
        "m1",
        True,
        True,
    )
    assert posted.posted_at == T0 and posted.claimed_until is None
    assert store.deliveries.claim_key("k1", owner="B", **lease(late)) is None  # posted stays


def test_a_claim_by_key_is_refused_while_another_holds_it_and_taken_over_after(
    store: Store,
) -> None:
    store.deliveries.plan(delivery("k1"), now=T0)
    first = store.deliveries.claim_key("k1", owner="A", **lease())
    assert first is not None and first.attempts == 1
    assert store.deliveries.claim_key("k1", owner="B", **lease()) is None
    assert store.deliveries.claim_key("nope", owner="B", **lease()) is None
    taken = store.deliveries.claim_key("k1", owner="B", **lease(T0 + timedelta(minutes=5)))
    assert taken is not None and (taken.claimed_by, taken.attempts) == ("B", 2)


def test_release_failure_and_retry(store: Store) -> None:
    for key in ("k1", "k2", "k3"):
        store.deliveries.plan(delivery(key), now=T0)
    claims = [
        store.deliveries.claim_next("comms", platforms=["slack"], owner="A", **lease())
        for _ in range(3)
    ]
    k1, k2, k3 = (c.id for c in claims if c is not None)
    assert store.deliveries.mark_failed(k2, owner="A", note="channel_not_found")
    assert store.deliveries.retry_later(k3, owner="A", note="503", not_before=T0)
    assert store.deliveries.release("A") == 1  # only k1 was still claimed
    released = store.deliveries.get(k1)
    assert released is not None
    assert (released.status, released.claimed_by, released.attempts) == ("planned", None, 0)
    failed, retried = store.deliveries.get(k2), store.deliveries.get(k3)
    assert failed is not None and (failed.status, failed.note) == ("failed", "channel_not_found")
    assert retried is not None and (retried.status, retried.attempts) == ("planned", 1)
    assert retried.not_before == T0


def test_superseding_and_which_channels_were_told(store: Store) -> None:
    store.deliveries.plan(delivery("first-anz", channel="#anz"), now=T0)
    store.deliveries.plan(delivery("first-emea", channel="#emea"), now=T0)
    store.deliveries.plan(delivery("alert", kind="alert", channel="#admins"), now=T0)
    store.deliveries.plan(
        delivery("reminder-anz", channel="#anz", kind="reminder", due=T0 + timedelta(days=9)),
        now=T0,
    )
    claimed = store.deliveries.claim_next("comms", platforms=["slack"], owner="A", **lease())
    assert claimed is not None and claimed.key == "first-anz"
    store.deliveries.mark_posted(
        claimed.id, owner="A", message_id="m1", at=T0, late=False, reconciled=False
    )
    told = store.deliveries.told_channels(
        "comms", "c1", min_revision=1, kinds=("first", "reminder", "updated")
    )
    assert told == {("slack", "#anz")}
    assert store.deliveries.told_channels("comms", "c1", min_revision=2, kinds=("first",)) == set()
    last = store.deliveries.last_posted("comms", "c1", "slack", "#anz", ("first", "updated"))
    assert last is not None and last.message_id == "m1"
    assert store.deliveries.supersede_planned("comms", "c1", note="cancelled") == 2
    statuses = {d.key: d.status for d in store.deliveries.for_subject("comms", "c1")}
    assert statuses == {
        "first-anz": "posted",
        "first-emea": "superseded",
        "alert": "planned",  # admin alerts still go
        "reminder-anz": "superseded",
    }
    store.deliveries.set_status(store.deliveries.by_key("alert").id, "stale", note="x")  # type: ignore[union-attr]
    assert store.deliveries.by_key("alert").status == "stale"  # type: ignore[union-attr]


def test_three_workers_on_separate_connections_claim_each_delivery_once(
    store: Store, open_another: OpenStore
) -> None:
    for n in range(60):
        store.deliveries.plan(delivery(f"k{n:02}", due=T0 - timedelta(seconds=n)), now=T0)
    workers = {"A": store, "B": open_another(), "C": open_another()}
    claimed: dict[str, list[str]] = {name: [] for name in workers}

    def work(name: str, s: Store) -> None:
        while True:
            d = s.deliveries.claim_next("comms", platforms=["slack"], owner=name, **lease())
            if d is None:
                return
            claimed[name].append(d.key)

    threads = [threading.Thread(target=work, args=item) for item in workers.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [key for keys in claimed.values() for key in keys]
    assert sorted(every) == sorted(f"k{n:02}" for n in range(60))  # each once, none lost


# -- program changes -----------------------------------------------------------------------------
CHANGE = SectionChange(
    "competency.md",
    "Competencies",
    ("Security", "Requirements"),
    "changed",
    (SentenceEdit("3 certified people.", "4 certified people."), SentenceEdit(None, "New.")),
    datetime(2026, 10, 1).date(),
)


def test_change_records_are_added_listed_published_and_deleted(store: Store) -> None:
    old = store.changes.add([CHANGE], detected_at="2026-08-01T00:00:00+00:00")
    new = store.changes.add(
        [CHANGE, SectionChange("deals.md", "Deals", (), "added", (), None)],
        detected_at="2026-11-01T00:00:00+00:00",
    )
    assert store.changes.count() == 3
    [first] = old
    assert (first.section, first.kind, first.effective_date) == (
        ("Security", "Requirements"),
        "changed",
        datetime(2026, 10, 1).date(),
    )
    assert [(e.before, e.after) for e in first.edits] == [
        ("3 certified people.", "4 certified people."),
        (None, "New."),
    ]
    assert store.changes.get([r.id for r in new]) == new
    assert [r.id for r in store.changes.list(since="2026-10-01")] == [r.id for r in new]
    assert [r.id for r in store.changes.list(until="2026-10-01")] == [first.id]
    assert [r.doc_path for r in store.changes.list(doc_path="deals.md")] == ["deals.md"]
    assert [r.id for r in store.changes.list(limit=2)] == [r.id for r in new]
    assert store.changes.latest() == new[-1]
    store.changes.mark_published([first.id], digest_key="d1", at="2026-11-02T00:00:00+00:00")
    assert [r.id for r in store.changes.list(unpublished_only=True)] == [r.id for r in new]
    assert store.changes.get([first.id])[0].published_at == "2026-11-02T00:00:00+00:00"
    store.changes.delete([r.id for r in new])
    assert store.changes.count() == 1 and store.changes.get([]) == []
