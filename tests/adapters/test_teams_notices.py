"""Notices and digests on Teams, posted unasked from stored conversation references: a
channel notice as an Adaptive Card with Acknowledge and Ask about this, a private notice in
a partner contact's chat with exactly that partner's customers, a change digest; what the
outbox does when a post's record is lost, when an answer never comes, and when the bot was
removed from a channel. Real Teams SDK against FakeTeams."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.comms.dispatcher import Dispatcher, DispatcherService, TickReport
from bot.comms.registry import RegisterResult
from bot.config import SAMPLES_DIR
from bot.prompts import message
from tests.adapters.teams_harness import TeamsDriver, running_teams, teams_settings
from tests.conftest import SAMPLE_DOCS
from tests.fakes.teams_server import (
    ADMIN,
    ALICE,
    FJORD,
    HARBOUR,
    PARTNER_A,
    SHARED,
    TEAM,
    FakeTeams,
    Fault,
    Posted,
    click,
    personal_chat,
    update,
)
from tests.scenarios.test_comms import (
    ADMINS,
    ANZ,
    COMM_ID,
    EMEA,
    ROUTES,
    SAMPLE,
    Clock,
    before_send,
    write_routes,
)
from tests.scenarios.test_partner_notices import (
    ALL_NAMES,
    CUSTOMERS,
    Crash,
    crash_after_a_direct_message,
)

TITLE = "Northwind Books moves to per-user licensing on 1 March 2027"
TEAMS_ROUTES: dict[str, Any] = {
    "tags": ROUTES["tags"],
    "routes": [{"match": r["match"], "teams": r["memory"]} for r in ROUTES["routes"]],
}
WATTLE = "19:wattle0private@thread.tacv2"
PARTNERS = {
    "partners": [
        {
            "id": "harbour-it",
            "name": "Harbour IT",
            "tier": "Elite",
            "teams": {"teams": [PARTNER_A], "contacts": [HARBOUR.aad], "place": SHARED},
        },
        {"id": "fjord-systems", "name": "Fjord Systems", "teams": {"contacts": [FJORD.aad]}},
        {"id": "wattle-msp", "name": "Wattle Managed Services", "teams": {"place": WATTLE}},
    ]
}
PLACES = {"harbour-it": SHARED, "wattle-msp": WATTLE, "fjord-systems": personal_chat(FJORD)}
CHANNELS = [(TEAM, "General"), (ANZ, "ANZ partners"), (EMEA, "EMEA partners")]
CHANNELS += [(ADMINS, "partnerbot admins"), (SHARED, "Harbour IT"), (WATTLE, "Wattle")]


@pytest.fixture
def fake() -> Iterator[FakeTeams]:
    with FakeTeams() as server:
        server.channels[TEAM] = CHANNELS
        yield server


@pytest.fixture
def comms_app(make_app: Callable[..., App], tmp_path: Path) -> Callable[..., App]:
    """comms_app(index=False, partners=False) → a Teams-configured app with the sample
    communication registered two days before it is sent (inside its lead window)."""

    def build(*, index: bool = False, partners: bool = False, **settings: str) -> App:
        folder = tmp_path / "comms"
        folder.mkdir(exist_ok=True)
        if partners:
            shutil.copy(SAMPLES_DIR / "comms" / "recipients.csv", folder)
            (folder / "partners.yml").write_text(yaml.safe_dump(PARTNERS), encoding="utf-8")
            settings["PARTNERBOT_PARTNERS_FILE"] = str(folder / "partners.yml")
        shutil.copy(SAMPLE, folder / "licensing.yml")
        app = make_app(
            **teams_settings(TEAMS_ADMIN_IDS=ADMIN.aad),
            PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, TEAMS_ROUTES)),
            PARTNERBOT_ADMIN_CHANNELS=f"teams:{ADMINS}",
            **settings,
        )
        app.comms.clock = Clock(before_send(days=2))
        if not index:
            app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
        if not partners:  # (the sample's recipient list tells partners privately)
            data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
            data.pop("recipients")
            (folder / "licensing.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
        assert isinstance(app.comms.add_file(folder / "licensing.yml"), RegisterResult)
        return app

    return build


@asynccontextmanager
async def installed(app: App, fake: FakeTeams, **options: Any) -> AsyncIterator[TeamsDriver]:
    """Teams running, the app installed in the team (its channels known) and by a partner's
    contact in their personal scope."""
    async with running_teams(app, fake, **options) as teams:
        assert (await teams.deliver(update(fake)))[0] == 200
        fjord = update(fake, kind="personal", conversation=personal_chat(FJORD), user=FJORD)
        assert (await teams.deliver(fjord))[0] == 200
        yield teams


async def tick(teams: TeamsDriver, dispatcher: Dispatcher | None = None) -> TickReport:
    """One dispatcher pass, with the posters `partnerbot serve` would give it."""
    if dispatcher is None:
        [service] = [j for j in teams.app.jobs() if isinstance(j, DispatcherService)]
        dispatcher = service.dispatcher
    return await asyncio.to_thread(dispatcher.run_once)


def notices(fake: FakeTeams, place: str) -> list[Posted]:
    """The cards partnerbot posted at the top level of a place (not in a thread)."""
    return [p for p in fake.messages(place) if p.thread is None and p.card is not None]


async def test_a_notice_card_is_acknowledged_per_user_and_asked_about_in_its_thread(
    comms_app: Callable[..., App], fake: FakeTeams
) -> None:
    app = comms_app(index=True)  # the communication is indexed for the answer
    async with installed(app, fake) as teams:
        report = await tick(teams)
        assert sorted(report.posted) == [
            f"pb-comm:{COMM_ID}:r1:first:teams:{c}" for c in (ANZ, EMEA)
        ]
        [notice] = notices(fake, ANZ)
        assert notice.text.startswith("Heads-up: customer email on ") and TITLE in notice.text
        assert set(notice.buttons) == {"acknowledge", "ask"}
        key = f"pb-comm:{COMM_ID}:r1:first:teams:{ANZ}"
        assert app.store.conversations.posted("teams", key) == notice.id  # recorded by its key

        status, thanks = await teams.deliver(click(fake, notice, "acknowledge", user=ALICE))
        assert status == 200 and thanks["value"].startswith(
            f"Thanks — noted that you've seen “{TITLE}”"
        )
        _, again = await teams.deliver(click(fake, notice, "acknowledge", user=ALICE))
        assert "already acknowledged" in again["value"]
        anz = next(c for c in app.comms.reports.status(COMM_ID).channels if c.channel == ANZ)
        assert [a["user"] for a in anz.acks] == [ALICE.aad] and anz.platform == "teams"

        _, pointed = await teams.deliver(click(fake, notice, "ask", user=HARBOUR))
        assert pointed["value"] == message("teams_ask_in_thread")
        [intro] = await fake.wait_for(lambda p: p.thread == notice.id)
        assert intro.conversation == f"{ANZ};messageid={notice.id}"
        assert intro.text.startswith(f"Ask me anything about “{TITLE}”")
        await teams.deliver(click(fake, notice, "ask", user=ALICE))
        _, reply = await teams.ask(
            "can a customer switch early?", conversation=ANZ, thread=notice.id
        )
        assert len([p for p in fake.messages() if p.text.startswith("Ask me anything")]) == 1
    assert reply.text.startswith(f"About “{TITLE}” (comms/{COMM_ID}):")
    stored = app.store.interactions.get(int(reply.buttons["feedback_up"]["value"]))
    assert stored is not None and f"comms/{COMM_ID}" in {s["path"] for s in stored.sources}


async def test_each_partner_gets_its_own_customers_once_on_teams_across_a_crash(
    comms_app: Callable[..., App], fake: FakeTeams, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = comms_app(partners=True)
    async with installed(app, fake) as teams:
        crashing = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        crash_after_a_direct_message(crashing, monkeypatch)
        with pytest.raises(Crash):
            await tick(teams, crashing)
        restarted = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        await tick(teams, restarted)  # what nobody claimed goes out
        assert isinstance(app.comms.clock, Clock)
        app.comms.clock.advance(minutes=3)  # the dead dispatcher's lease runs out
        report = await tick(teams, restarted)
        assert len(report.reconciled) == 1 and report.posted == []  # found by its key
        assert (await tick(teams, restarted)).posted == []

        for partner, place in PLACES.items():
            own = {name for _, name in CUSTOMERS[partner]}
            [notice] = notices(fake, place)
            assert own and all(name in notice.text for name in own)
            assert not {n for n in ALL_NAMES - own if n in notice.text}
        [fjord] = notices(fake, personal_chat(FJORD))
        _, thanks = await teams.deliver(click(fake, fjord, "acknowledge", user=FJORD))
    assert thanks["value"].startswith("Thanks — noted for Fjord Systems that you've seen")
    status = {p.partner_id: p for p in app.comms.reports.status(COMM_ID).partners}
    assert [a["user"] for a in status["fjord-systems"].acks] == [FJORD.aad]
    for channel in (ANZ, EMEA):  # the partner channels' notice names no customer
        [notice] = notices(fake, channel)
        assert not {n for n in ALL_NAMES if n in notice.text}


@pytest.fixture
def edited_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    csat = docs / "csat-requirement.md"
    csat.write_text(csat.read_text().replace("2027-03-31", "2027-06-30"))
    return docs


async def test_a_change_digest_is_posted_to_its_mapped_teams_channel(
    make_app: Callable[..., App], fake: FakeTeams, edited_docs: Path
) -> None:
    app = make_app(
        **teams_settings(TEAMS_ADMIN_IDS=ADMIN.aad),
        PARTNERBOT_DOCS_DIR=str(edited_docs),
        PARTNERBOT_CHANGES_CHANNELS=f"teams:{ANZ}",
    )
    admin = {"kind": "personal", "conversation": personal_chat(ADMIN), "user": ADMIN}
    async with installed(app, fake) as teams:
        await teams.ask("reindex", **admin, mention=False)
        await fake.wait_for(lambda p: "Re-index finished" in p.text and "1 updated" in p.text)
        _, published = await teams.ask("changes publish", **admin, mention=False)
    assert published.text.startswith("Published the digest of") and f"teams:{ANZ}" in published.text
    [digest] = notices(fake, ANZ)
    assert digest.text.startswith("Partner program changes:") and "2027-06-30" in digest.text
    assert digest.buttons == {}  # no buttons on digests


async def test_a_lost_record_is_reconciled_and_a_lost_answer_is_the_window_that_remains(
    comms_app: Callable[..., App], fake: FakeTeams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams cannot look a posted message up by its key, so each post is recorded under its
    key the moment Teams answers. A post whose outbox record is lost (the process dies
    after Teams answered) is found there and not repeated. What remains: an answer that
    never arrives (the process dies during the call, the connection drops, the call times
    out) — then nobody knows whether it was posted, and the outbox posts it again."""
    app = comms_app()
    async with installed(app, fake, timeout=1.0, tries=1) as teams:
        dispatcher = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        record = dispatcher.outbox.record

        def die_after_anz(delivery: Any, *args: Any, **kwargs: Any) -> bool:
            if delivery.channel == ANZ:
                raise Crash
            return record(delivery, *args, **kwargs)

        monkeypatch.setattr(dispatcher.outbox, "record", die_after_anz)
        fake.faults = lambda conv, activity: Fault(hang=2.0) if conv == EMEA else None
        with pytest.raises(Crash):  # ANZ: posted, Teams answered, then the process died
            await tick(teams, dispatcher)
        monkeypatch.undo()
        restarted = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        first = await tick(teams, restarted)  # EMEA: posted, but the answer never came
        assert first.retried == [f"pb-comm:{COMM_ID}:r1:first:teams:{EMEA}"]
        fake.faults = lambda conv, activity: None
        assert isinstance(app.comms.clock, Clock)
        app.comms.clock.advance(minutes=10)  # the dead claim's lease and the backoff pass
        report = await tick(teams, restarted)
    assert report.reconciled == [f"pb-comm:{COMM_ID}:r1:first:teams:{ANZ}"]
    assert len(notices(fake, ANZ)) == 1  # reconciled from the record: not posted again
    assert report.posted == [f"pb-comm:{COMM_ID}:r1:first:teams:{EMEA}"]
    assert len(notices(fake, EMEA)) == 2  # the window that remains: posted twice


async def test_a_channel_the_bot_was_removed_from_is_recorded_and_skipped(
    comms_app: Callable[..., App], fake: FakeTeams
) -> None:
    app = comms_app()
    async with installed(app, fake) as teams:
        fake.removed.add(EMEA)
        report = await tick(teams)
        emea = f"pb-comm:{COMM_ID}:r1:first:teams:{EMEA}"
        assert report.failed == [emea] and report.retried == []  # failed at once, not retried
        ref = app.store.conversations.get("teams", EMEA)
        assert ref is not None and ref.removed_at is not None
        [alert] = notices(fake, ADMINS)
        assert "removed" in alert.text and EMEA in alert.text
        to_emea = lambda: [c for c in fake.calls if c[0] == "POST" and f"/{EMEA}/" in c[1]]  # noqa: E731
        tried = len(to_emea())
        assert isinstance(app.comms.clock, Clock)
        app.comms.clock.advance(days=1.5)  # the reminders fall due
        later = await tick(teams)
        assert [k for k in later.failed if EMEA in k] and len(to_emea()) == tried  # not called
    assert len(notices(fake, ANZ)) == 2 and notices(fake, EMEA) == []
