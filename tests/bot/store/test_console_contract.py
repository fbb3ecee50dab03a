"""The console's repositories (people, sessions, API tokens, idempotency keys, audit trail,
failed sign-ins, signing key, gap marks, index runs) on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import Answer, Citation, Question
from bot.store import Ack, NewDelivery, PartnerAck, Recipient, Store
from knowledge.audience import Viewer
from tests.bot.store.conftest import OpenStore
from tests.bot.store.test_contract import comm

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_users_are_added_changed_and_disabled_which_ends_their_sessions(store: Store) -> None:
    c = store.console
    assert c.put_user(email="ana@x.com", role="editor", name="Ana", password_hash="h1", now=T0)
    assert not c.put_user(email="ana@x.com", role="admin", name="Ana", password_hash=None, now=T0)
    user = c.user("ana@x.com")
    assert user is not None and (user.role, user.password_hash, user.disabled) == (
        "admin",
        "h1",
        False,
    )
    c.add_session(
        "s1", email="ana@x.com", via="password", now=T0, expires_at=T0 + timedelta(hours=8)
    )
    assert c.session("s1", now=T0 + timedelta(hours=1)) is not None
    assert c.disable_user("ana@x.com", now=T0)
    assert c.session("s1", now=T0 + timedelta(hours=1)) is None
    assert [u.email for u in c.users()] == ["ana@x.com"] and c.users()[0].disabled


def test_a_session_expires_and_one_replica_sees_the_other_s_sessions(
    store: Store, open_another: OpenStore
) -> None:
    store.console.add_session(
        "s2", email="b@x.com", via="oidc", now=T0, expires_at=T0 + timedelta(hours=1)
    )
    other = open_another()
    seen = other.console.session("s2", now=T0 + timedelta(minutes=59))
    assert seen is not None and (seen.email, seen.via) == ("b@x.com", "oidc")
    assert other.console.session("s2", now=T0 + timedelta(hours=1)) is None  # expired: gone
    assert store.console.session("s2", now=T0) is None
    store.console.add_session(
        "s3", email="b@x.com", via="password", now=T0, expires_at=T0 + timedelta(hours=1)
    )
    store.console.end_session("s3")
    assert store.console.session("s3", now=T0) is None


def test_tokens_are_found_by_hash_noted_when_used_and_revoked_once(store: Store) -> None:
    c = store.console
    token = c.add_token(
        name="Marketo", token_hash="th", prefix="pbt_abcd", created_by="a@x", now=T0
    )
    used = c.token("th", now=T0 + timedelta(minutes=5))
    assert used is not None and used.id == token.id and used.active
    assert used.last_used_at == T0 + timedelta(minutes=5)
    assert c.token("other", now=T0) is None
    assert c.revoke_token(token.id, who="a@x", now=T0)
    assert not c.revoke_token(token.id, who="a@x", now=T0)
    revoked = c.token("th", now=T0)
    assert revoked is not None and not revoked.active and revoked.revoked_by == "a@x"
    assert [t.name for t in c.tokens()] == ["Marketo"]


def test_an_idempotency_key_is_claimed_once_across_replicas(
    store: Store, open_another: OpenStore
) -> None:
    assert store.console.begin_call(1, "k1", request_hash="r", now=T0) is None
    other = open_another()
    pending = other.console.begin_call(1, "k1", request_hash="r", now=T0)
    assert pending is not None and pending.status == 0
    store.console.finish_call(1, "k1", status=201, response='{"id": "x"}')
    done = other.console.begin_call(1, "k1", request_hash="r", now=T0)
    assert done is not None and (done.status, done.response) == (201, '{"id": "x"}')
    assert other.console.begin_call(2, "k1", request_hash="r", now=T0) is None  # per token
    store.console.forget_call(2, "k1")
    assert store.console.begin_call(2, "k1", request_hash="r", now=T0) is None


def test_the_audit_trail_lists_changes_newest_first(store: Store) -> None:
    for i in range(3):
        store.console.audit(
            who="console:a@x", action="edit", subject=f"c{i}", before="{}", after='{"t": 1}', now=T0
        )
    trail = store.console.audit_trail()
    assert [e.subject for e in trail] == ["c2", "c1", "c0"]
    assert [e.subject for e in store.console.audit_trail(subject="c1")] == ["c1"]
    assert [e.subject for e in store.console.audit_trail(before_id=trail[0].id)] == ["c1", "c0"]


def test_failed_sign_ins_are_counted_in_a_window_and_cleared(store: Store) -> None:
    for i in range(3):
        store.console.note_failure(["email:a@x", "addr:1.2.3.4"], now=T0 + timedelta(seconds=i))
    assert store.console.failures("email:a@x", since=T0) == 3
    assert store.console.failures("email:a@x", since=T0 + timedelta(seconds=2)) == 1
    store.console.clear_failures("email:a@x")
    assert store.console.failures("email:a@x", since=T0) == 0
    assert store.console.failures("addr:1.2.3.4", since=T0) == 1  # older ones forgotten


def test_the_signing_key_is_made_once_and_shared(store: Store, open_another: OpenStore) -> None:
    first = store.console.secret("session", make="one")
    assert open_another().console.secret("session", make="two") == first == "one"


def test_gap_marks_and_index_runs(store: Store) -> None:
    store.gap_marks.mark("how do i x", doc_path="docs/x.md", who="a@x", now=T0)
    store.gap_marks.mark("how do i x", doc_path="docs/y.md", who="b@x", now=T0)
    [mark] = store.gap_marks.all().values()
    assert (mark.doc_path, mark.marked_by) == ("docs/y.md", "b@x")
    assert store.gap_marks.unmark("how do i x") and not store.gap_marks.unmark("how do i x")
    store.index_runs.record(
        at=T0,
        generation=3,
        counts={"added": 2, "failed": 1},
        failed=[("bad.pdf", "encrypted")],
        seconds=1.5,
    )
    [run] = store.index_runs.recent()
    assert (run.generation, run.counts["added"], run.failed) == (3, 2, (("bad.pdf", "encrypted"),))


def test_unanswered_questions_carry_their_audience_and_ratings(store: Store) -> None:
    elite = Viewer.holding({"tiers": ("Elite",), "partners": ("harbour",)}, name="Harbour")
    closest = Citation(1, "CSAT", "Tiers", "csat.md", effective_date=None, score=0.2, cited=False)
    abstained = Answer(text="I don't know", citations=(closest,), abstained=True, confidence=0.1)
    answered = Answer(text="Yes.", citations=(closest,), abstained=False, confidence=0.9)
    q = Question("gold csat?", asker="U1", place="C1", platform="slack", audience=elite)
    first = store.interactions.record(q, abstained)
    second = store.interactions.record(
        Question("fee?", asker="U2", place="C1", platform="discord"), answered
    )
    store.interactions.record(Question("ok?", asker="U2", place="C1", platform="discord"), answered)
    store.interactions.record_feedback(
        interaction_id=second, user="U2", rating=-1, platform="discord"
    )
    found = store.interactions.unanswered(since="2000")
    assert {f.interaction_id for f in found} == {first, second}
    by_id = {f.interaction_id: f for f in found}
    assert by_id[first].abstained and by_id[first].audience["tiers"] == ("Elite",)
    assert by_id[first].sources[0]["path"] == "csat.md"
    assert by_id[second].downvoted and not by_id[second].abstained


def test_counts_and_pages_of_communications(store: Store) -> None:
    for i in range(3):
        store.comms.insert(comm(f"c{i}", send_at=T0 + timedelta(days=i)))
    page, total = store.comms.page(since=T0 + timedelta(hours=1), statuses=None, offset=0, limit=1)
    assert total == 2 and [c.id for c in page] == ["c1"]
    for key, channel in (("k1", "C1"), ("k2", "C2")):
        store.deliveries.plan(
            NewDelivery(
                key=key,
                feature="comms",
                subject="c0",
                kind="first",
                platform="slack",
                channel=channel,
                due_at=T0,
                revision=1,
            ),
            now=T0,
        )
    d = store.deliveries.claim_key("k1", owner="o", now=T0, until=T0 + timedelta(minutes=1))
    assert d is not None
    store.deliveries.mark_posted(
        d.id, owner="o", message_id="m", at=T0, late=False, reconciled=False
    )
    store.comms.add_ack(Ack("c0", "slack", "C1", "U1", "t", "k1"))
    store.comms.add_ack(Ack("c0", "slack", "C1", "U2", "t", "k1"))
    store.recipients.replace(
        "c0", [Recipient("x1", "X", "p1"), Recipient("x2", "Y", "p2"), Recipient("x3", "Z", "")]
    )
    store.deliveries.plan(
        NewDelivery(
            key="pk",
            feature="comms-partner",
            subject="c0",
            kind="first",
            platform="slack",
            channel="C9",
            due_at=T0,
            revision=1,
            detail={"partner": "p3"},
        ),
        now=T0,
    )
    store.comms.add_partner_ack(PartnerAck("c0", "p1", "slack", "U3", "t", "pk"))
    counts = store.comms.counts(["c0", "c1"], telling=("first", "reminder", "updated"))
    c0 = counts["c0"]
    assert (c0.channels_told, c0.channels_acknowledged) == (1, 1)
    assert (c0.partners_affected, c0.partners_told, c0.partners_acknowledged) == (3, 0, 1)
    assert counts["c1"].channels_told == 0
    store.comms.set_edited_by("c1", "console:a@x")
    got = store.comms.get("c1")
    assert got is not None and got.edited_by == "console:a@x"
