"""Per-partner notices end to end on the in-memory platform: each partner affected by a
communication is told privately, with its own customers and nobody else's, once.

The sample communication (knowledge/samples/comms/) names its recipient list
(recipients.csv: 11 customers; 3 of Harbour IT, 4 of Fjord Systems, 2 of Wattle, one
without a partner and one whose partner is not in the partners file). Here the three
partners are on the in-memory platform: Harbour IT and Wattle in private places, Fjord
Systems (no place) by direct message to each of its two contacts.
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot import app as bot_app
from bot.app import App
from bot.cli.main import app as cli
from bot.comms import model
from bot.comms.dispatcher import Dispatcher, TickReport
from bot.comms.keys import PARTNER_FEATURE
from bot.comms.registry import RegisterResult
from bot.config import SAMPLES_DIR
from bot.models import Actor, Question
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform, MemoryPoster, Posted
from tests.scenarios.test_comms import (
    ANZ,
    COMM_ID,
    EMEA,
    ROUTES,
    SAMPLE,
    START,
    Clock,
    before_send,
    write_routes,
)

HARBOUR, WATTLE = "P-HARBOUR", "P-WATTLE"  # private places
LARS, INGA = "D-U0LARS", "D-U0INGA"  # Fjord Systems' contacts' direct messages
PLACES = {"harbour-it": [HARBOUR], "wattle-msp": [WATTLE], "fjord-systems": [LARS, INGA]}
ADMIN = "U0ADMIN"

PARTNERS: dict[str, Any] = {
    "partners": [
        {
            "id": "harbour-it",
            "name": "Harbour IT",
            "tier": "Elite",
            "region": "ANZ",
            "memory": {"contacts": ["U0AMY"], "teams": ["T0HARBOUR"], "place": HARBOUR},
        },
        {
            "id": "fjord-systems",
            "name": "Fjord Systems",
            "tier": "Advanced",
            "memory": {"contacts": ["U0LARS", "U0INGA"]},
        },
        {
            "id": "wattle-msp",
            "name": "Wattle Managed Services",
            "tier": "Member",
            "memory": {"contacts": ["U0WALLY"], "place": WATTLE},
        },
    ]
}


def sample_customers() -> dict[str, list[tuple[str, str]]]:
    """The sample recipient list by partner of record: [(customer id, name)]."""
    by_partner: dict[str, list[tuple[str, str]]] = {}
    with (SAMPLES_DIR / "comms" / "recipients.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_partner.setdefault(row["partner_id"], []).append(
                (row["customer_id"], row["customer_name"])
            )
    return by_partner


CUSTOMERS = sample_customers()
ALL_NAMES = {name for rows in CUSTOMERS.values() for _, name in rows}


class PartnersWorld:
    """An app whose communications folder holds the sample, its recipients and partners."""

    def __init__(self, app: App, clock: Clock, folder: Path) -> None:
        self.app, self.clock, self.folder = app, clock, folder
        platform = app.add_platform("memory", admins=[ADMIN])
        assert isinstance(platform, MemoryPlatform)
        self.platform: MemoryPlatform = platform
        self.dispatcher: Dispatcher = self.new_dispatcher()

    @property
    def comms(self) -> Any:
        return self.app.comms

    @property
    def poster(self) -> MemoryPoster:
        assert isinstance(self.platform.poster, MemoryPoster)
        return self.platform.poster

    def new_dispatcher(self) -> Dispatcher:
        """A fresh dispatcher, as after a restart (new owner id, nothing in memory)."""
        return Dispatcher(comms=self.comms, store=self.app.store, posters=self.app.posters)

    def register(self, **changes: Any) -> RegisterResult:
        data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
        data.update(changes)
        path = self.folder / "licensing.yml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        result = self.comms.add_file(path)
        assert isinstance(result, RegisterResult), result
        return result

    def write_recipients(self, rows: list[tuple[str, str, str]]) -> None:
        with (self.folder / "recipients.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["customer_id", "customer_name", "partner_id"])
            writer.writerows(rows)

    def tick(self, at: Any = None) -> TickReport:
        if at is not None:
            self.clock.set(at)
        return self.dispatcher.run_once()

    def posts(self, place: str) -> list[Posted]:
        return [m for m in self.platform.in_place(place) if m.notice is not None]

    def texts(self, place: str) -> list[str]:
        return [m.text for m in self.posts(place)]

    def private_counts(self) -> dict[str, int]:
        return {p: len(self.posts(p)) for p in (HARBOUR, WATTLE, LARS, INGA)}


@pytest.fixture
def partners_world(make_app: Callable[..., App], tmp_path: Path) -> Callable[..., PartnersWorld]:
    def build(**settings: Any) -> PartnersWorld:
        folder = tmp_path / "comms"
        folder.mkdir(exist_ok=True)
        shutil.copy(SAMPLES_DIR / "comms" / "recipients.csv", folder)
        settings.setdefault("PARTNERBOT_COMMS_ROUTES", str(write_routes(folder, ROUTES)))
        partners = folder / "partners.yml"
        partners.write_text(yaml.safe_dump(PARTNERS, sort_keys=False), encoding="utf-8")
        settings.setdefault("PARTNERBOT_PARTNERS_FILE", str(partners))
        app = make_app(**settings)
        clock = Clock(START)
        app.comms.clock = clock
        app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
        return PartnersWorld(app, clock, folder)

    return build


@pytest.fixture
def world(partners_world: Callable[..., PartnersWorld]) -> PartnersWorld:
    return partners_world()


def assert_only_own_customers(world: PartnersWorld, partner: str) -> None:
    """Every private notice to this partner names its customers only."""
    own = {name for _, name in CUSTOMERS[partner]}
    for place in PLACES[partner]:
        for text in world.texts(place):
            assert not (ALL_NAMES - own) & {n for n in ALL_NAMES if n in text}, text


# -- told privately, each partner its own customers, once ----------------------------------------
def test_each_partner_is_told_privately_of_exactly_its_own_customers_once(
    world: PartnersWorld,
) -> None:
    result = world.register()
    assert result.action == "added"
    assert world.tick().posted == []  # 59 days ahead: nothing due
    report = world.tick(before_send(days=14))
    private = sorted(k for k in report.posted if k.startswith("pb-partner:"))
    assert [k.split(":", 4)[4] for k in private] == [
        "fjord-systems:memory:@U0INGA",
        "fjord-systems:memory:@U0LARS",
        "harbour-it:memory:P-HARBOUR",
        "wattle-msp:memory:P-WATTLE",
    ]
    assert world.private_counts() == {HARBOUR: 1, WATTLE: 1, LARS: 1, INGA: 1}

    [harbour] = world.posts(HARBOUR)
    assert harbour.notice is not None
    assert harbour.notice.title.startswith(
        "For Harbour IT: 3 customers of yours get an email on Wed 20 Jan 2027 — Northwind Books"
    )
    for customer_id, name in CUSTOMERS["harbour-it"]:
        assert f"• {name} ({customer_id})" in harbour.text
    assert "Wed 20 Jan 2027 09:00 UTC+11:00" in harbour.text and "in 14 days" in harbour.text
    assert "contact their Northwind partner" in harbour.text  # where customers are pointed
    assert "per-user licensing replaces per-device licensing" in harbour.text  # why
    assert "Run the licence calculator" in harbour.text  # talking points
    assert [a for a, _ in harbour.buttons] == ["acknowledge", "ask"]
    assert harbour.notice.fields == (("Your customers on the list", "3"),)
    for partner in PLACES:
        assert_only_own_customers(world, partner)
    for place in (LARS, INGA):  # each contact by DM, the same four customers
        [dm] = world.texts(place)
        assert all(name in dm for _, name in CUSTOMERS["fjord-systems"])
    # The partner channels get the usual notice, which names no customer at all.
    for channel in (ANZ, EMEA):
        [notice] = [m.text for m in world.platform.in_place(channel) if m.notice]
        assert not {n for n in ALL_NAMES if n in notice}

    assert world.tick().posted == [] and world.tick().posted == []  # once
    world.tick(before_send(days=3))
    world.tick(before_send(days=2))  # nobody acknowledged: reminded (default: 2 days before)
    world.tick(before_send(days=1))
    world.tick(before_send(days=-20))
    for place in (HARBOUR, WATTLE, LARS, INGA):
        keys = [m.notice.key for m in world.posts(place) if m.notice]
        assert len(keys) == len(set(keys)) == 4
        assert [k.split(":")[3] for k in keys] == [
            "first-14d",
            "reminder-3d",
            "ack_reminder-2d",
            "reminder-1d",
        ]
    reminder = world.texts(WATTLE)[1]
    assert reminder.startswith("Reminder for Wattle Managed Services: 2 customers of yours")
    assert f"](memory://{WATTLE}/" in reminder  # links to the first notice
    assert "Nobody at Wattle Managed Services has acknowledged" in world.texts(WATTLE)[2]
    for partner in PLACES:
        assert_only_own_customers(world, partner)


# -- restarts ------------------------------------------------------------------------------------
class Crash(BaseException):
    """Stands for the process dying."""


def crash_after_a_direct_message(dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatcher's process dies right after posting a DM, before recording it."""
    record = dispatcher.outbox.record

    def die(delivery: Any, *args: Any, **kwargs: Any) -> bool:
        if delivery.channel.startswith("@"):
            raise Crash
        return record(delivery, *args, **kwargs)

    monkeypatch.setattr(dispatcher.outbox, "record", die)


def test_a_restart_neither_loses_nor_repeats_a_private_notice(
    world: PartnersWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.register()
    world.clock.set(before_send(days=14))
    crashing = world.dispatcher
    crash_after_a_direct_message(crashing, monkeypatch)
    with pytest.raises(Crash):
        crashing.run_once()
    sent = world.private_counts()
    assert sum(sent.values()) >= 1 and (sent[LARS] + sent[INGA]) == 1

    world.dispatcher = world.new_dispatcher()  # the restart
    world.tick(world.clock.now + timedelta(seconds=30))  # what nobody had claimed goes out
    report = world.tick(world.clock.now + timedelta(minutes=3))  # the dead claim's lease ran out
    assert len(report.reconciled) == 1 and report.posted == []
    [(looked_in, key)] = world.poster.finds
    assert looked_in in ("@U0LARS", "@U0INGA") and key.startswith("pb-partner:")
    assert world.private_counts() == {HARBOUR: 1, WATTLE: 1, LARS: 1, INGA: 1}
    firsts = [d for d in world.app.store.deliveries.for_subject(PARTNER_FEATURE, COMM_ID)]
    firsts = [d for d in firsts if d.kind == "first"]
    assert {d.status for d in firsts} == {"posted"} and len(firsts) == 4
    assert sorted(d.reconciled for d in firsts) == [False, False, False, True]
    # A third process, fresh, later on: nothing new is posted.
    world.dispatcher = world.new_dispatcher()
    assert world.tick(world.clock.now + timedelta(minutes=5)).posted == []
    assert world.private_counts() == {HARBOUR: 1, WATTLE: 1, LARS: 1, INGA: 1}


# -- acknowledgements ----------------------------------------------------------------------------
async def test_acknowledgements_are_recorded_per_partner_and_status_shows_them(
    world: PartnersWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.register()
    world.tick(before_send(days=14))
    [harbour] = world.posts(HARBOUR)
    [inga] = world.posts(INGA)
    await world.platform.click(harbour, "acknowledge", user="U0AMY")
    assert world.platform.private("U0AMY")[-1].text.startswith(
        "Thanks — noted for Harbour IT that you've seen “Northwind Books moves"
    )
    await world.platform.click(harbour, "acknowledge", user="U0AMY")
    assert "already acknowledged" in world.platform.private("U0AMY")[-1].text
    await world.platform.click(inga, "acknowledge", user="U0INGA")

    status = {p.partner_id: p for p in world.comms.reports.status(COMM_ID).partners}
    assert [a["user"] for a in status["harbour-it"].acks] == ["U0AMY"]
    assert [a["user"] for a in status["fjord-systems"].acks] == ["U0INGA"]
    assert status["wattle-msp"].acks == []
    assert {p: s.customers for p, s in status.items()} == {
        "harbour-it": 3,
        "fjord-systems": 4,
        "wattle-msp": 2,
    }
    assert all(s.told_at == before_send(days=14) for s in status.values())
    assert status["fjord-systems"].targets == ["memory DM to U0LARS", "memory DM to U0INGA"]

    # The acknowledgement reminder goes only to the partner that has not acknowledged,
    # and to neither of Fjord's contacts (one of them acknowledged for Fjord Systems).
    world.tick(before_send(days=3))
    report = world.tick(before_send(days=2))
    assert [k.split(":")[4:] for k in report.posted] == [["wattle-msp", "memory", WATTLE]]
    assert len(report.skipped) == 3

    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(world.app.settings.data_dir))
    monkeypatch.setenv("PARTNERBOT_COMMS_ROUTES", str(world.app.settings.comms_routes))
    monkeypatch.setenv("PARTNERBOT_PARTNERS_FILE", str(world.app.settings.partners_file))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(model, "utc_now", world.clock)
    monkeypatch.setattr(bot_app, "PLATFORMS", TEST_PLATFORMS)
    runner = CliRunner()
    out = runner.invoke(cli, ["comms", "status", COMM_ID])
    assert out.exit_code == 0, out.output
    assert "partners affected 3 · told 3 · acknowledged 2" in out.output
    assert "Harbour IT" in out.output and "U0AMY" in out.output
    assert not {n for n in ALL_NAMES if n in out.output}  # counts, never customers
    data = json.loads(runner.invoke(cli, ["comms", "status", COMM_ID, "--json"]).output)
    by_partner = {p["partner"]: p for p in data["partners"]}
    assert [a["user"] for a in by_partner["fjord-systems"]["acknowledged_by"]] == ["U0INGA"]
    assert by_partner["wattle-msp"]["notices"][-1]["notice"] == (
        "acknowledgement reminder (2 days before)"
    )


# -- change and cancellation ---------------------------------------------------------------------
def test_a_changed_list_tells_each_partner_its_new_customers_and_the_ones_left_out(
    world: PartnersWorld,
) -> None:
    world.register()
    world.tick(before_send(days=14))
    # Parramatta Physio moves from Harbour IT to Wattle; Fjord Systems' customers leave.
    rows = [(c, n, p) for p, listed in CUSTOMERS.items() for c, n in listed if p != "fjord-systems"]
    rows = [(c, n, "wattle-msp" if c == "NWC-10587" else p) for c, n, p in rows]
    world.write_recipients(rows)
    result = world.register()
    assert result.action == "updated" and result.changes == ["recipient list"]
    assert result.updated_channels == []  # the partner channels never saw the list
    report = world.tick(world.clock.now + timedelta(minutes=1))
    assert all(k.startswith("pb-partner:") for k in report.posted) and len(report.posted) == 4

    harbour = world.texts(HARBOUR)[-1]
    assert harbour.startswith("Updated for Harbour IT: Northwind Books moves")
    assert "changed: your customers on the list" in harbour
    assert "Bondi Beach Bakery" in harbour and "Parramatta Physio" not in harbour
    wattle = world.texts(WATTLE)[-1]
    assert "Parramatta Physio Clinic (NWC-10587)" in wattle and "Fremantle Fish" in wattle
    assert "Bondi Beach Bakery" not in wattle
    for place in (LARS, INGA):
        gone = world.texts(place)[-1]
        assert gone.startswith("No longer for your customers: Northwind Books moves")
        assert not {n for n in ALL_NAMES if n in gone}
    assert [p.customers for p in world.comms.reports.status(COMM_ID).partners] == [None, 2, 3]

    # Fjord Systems hears nothing more; the others get their reminders.
    world.tick(before_send(days=3))
    assert world.private_counts() == {HARBOUR: 3, WATTLE: 3, LARS: 2, INGA: 2}

    # Cancelled: every partner it still concerns hears it, and the list is deleted at once.
    world.comms.cancel(COMM_ID, who=ADMIN)
    assert world.app.store.recipients.counts(COMM_ID) == {}
    world.tick(world.clock.now + timedelta(minutes=1))
    for place in (HARBOUR, WATTLE):
        assert world.texts(place)[-1].startswith("Cancelled: Northwind Books moves")
    world.tick(before_send(days=1))
    assert world.private_counts() == {HARBOUR: 4, WATTLE: 4, LARS: 2, INGA: 2}


def test_a_late_change_of_one_partners_list_tells_only_that_partner_even_after_a_restart(
    world: PartnersWorld,
) -> None:
    world.register()
    world.tick(before_send(days=14))
    world.tick(before_send(days=3))
    world.tick(before_send(days=2))
    world.tick(before_send(days=1))
    before = world.private_counts()
    world.clock.set(before_send(hours=12))  # every lead time has passed
    rows = [(c, n, p) for p, listed in CUSTOMERS.items() for c, n in listed]
    world.write_recipients([r for r in rows if r[0] != "NWC-11041"])  # one of Wattle's left
    assert world.register().changes == ["recipient list"]
    world.dispatcher = world.new_dispatcher()  # a restart re-plans after the partners file
    report = world.tick(world.clock.now + timedelta(minutes=1))
    assert [k.split(":")[3:5] for k in report.posted] == [["updated", "wattle-msp"]]
    assert "Hobart Hardware" not in world.texts(WATTLE)[-1]
    assert world.tick(world.clock.now + timedelta(minutes=1)).posted == []
    after = world.private_counts()
    assert {p: after[p] - before[p] for p in after} == {HARBOUR: 0, WATTLE: 1, LARS: 0, INGA: 0}


def test_a_reschedule_tells_each_partner_with_its_list_and_moves_its_reminders(
    world: PartnersWorld,
) -> None:
    world.register()
    world.tick(before_send(days=14))
    world.comms.reschedule(COMM_ID, "2027-02-03T09:00:00+11:00")
    world.tick(world.clock.now + timedelta(minutes=1))
    updated = world.texts(HARBOUR)[-1]
    assert "changed: send date" in updated and "The send date moved" in updated
    assert all(name in updated for _, name in CUSTOMERS["harbour-it"])
    assert world.tick(before_send(days=3)).posted == []  # the old reminders are gone
    for partner in PLACES:
        assert_only_own_customers(world, partner)


# -- retention -----------------------------------------------------------------------------------
def test_the_recipient_list_is_deleted_after_the_send_date_plus_retention(
    partners_world: Callable[..., PartnersWorld],
) -> None:
    world = partners_world(PARTNERBOT_RECIPIENTS_RETENTION_DAYS="7")
    world.register()
    world.tick(before_send(days=14))
    store = world.app.store
    assert sum(store.recipients.counts(COMM_ID).values()) == 11
    world.tick(before_send(days=-7, minutes=1))  # sent a week ago, less a minute: kept
    assert sum(store.recipients.counts(COMM_ID).values()) == 11
    assert world.comms.reports.status(COMM_ID).recipients.deleted is False
    world.tick(before_send(days=-7))
    assert store.recipients.counts(COMM_ID) == {}
    for partner in ("harbour-it", "fjord-systems", "wattle-msp"):
        assert store.recipients.for_partner(COMM_ID, partner) == []
    summary = world.comms.reports.status(COMM_ID).recipients
    assert summary is not None and summary.deleted
    assert summary.keep_until == before_send(days=-7)
    # What partners were told, and who acknowledged, is still known: counts, not customers.
    status = world.comms.reports.status(COMM_ID).partners
    assert [(p.name, p.customers, p.told_at is not None) for p in status] == [
        ("Fjord Systems", None, True),
        ("Harbour IT", None, True),
        ("Wattle Managed Services", None, True),
    ]
    rows = store.deliveries.for_subject(PARTNER_FEATURE, COMM_ID)
    assert not {n for n in ALL_NAMES if any(n in json.dumps(d.detail) for d in rows)}


# -- customers without a known partner -----------------------------------------------------------
async def test_customers_without_a_known_partner_are_counted_then_told_when_it_is_added(
    world: PartnersWorld,
) -> None:
    world.register()
    summary = world.comms.reports.status(COMM_ID).recipients
    assert summary is not None
    assert (summary.split.blank, summary.split.unlisted, summary.split.unknown) == (
        1,
        {"tulip-tech": 1},
        2,
    )
    preview = world.comms.reports.preview(COMM_ID)
    assert preview.recipients is not None and preview.recipients.split.total == 11
    reply = await world.platform.command(f"comms status {COMM_ID}", user=ADMIN)
    assert "Customers with no known partner: 2 (1 blank, 1 with a partner not in the " in (
        reply.text
    )
    assert "Harbour IT (Elite) — 3 customer(s) — not told yet" in reply.text
    assert not {n for n in ALL_NAMES if n in reply.text}
    refused = await world.platform.command(f"comms status {COMM_ID}", user="U0AMY")
    assert "only partnerbot admins" in refused.text

    world.tick(before_send(days=5))
    # Tulip Tech is added to the partners file: told from the next tick, at once.
    tulip = {"id": "tulip-tech", "name": "Tulip Tech", "memory": {"place": "P-TULIP"}}
    path = world.app.settings.partners_file
    assert path is not None
    path.write_text(
        yaml.safe_dump({"partners": [*PARTNERS["partners"], tulip]}, sort_keys=False), "utf-8"
    )
    report = world.tick(world.clock.now + timedelta(minutes=1))
    assert [k.split(":")[3:] for k in report.posted] == [
        ["first", "tulip-tech", "memory", "P-TULIP"]
    ]
    [notice] = [m.text for m in world.platform.in_place("P-TULIP")]
    assert "Utrecht Uitgeverij BV (NWC-30007)" in notice
    assert not {n for n in ALL_NAMES - {"Utrecht Uitgeverij BV"} if n in notice}
    summary = world.comms.reports.status(COMM_ID).recipients
    assert summary is not None and summary.split.unknown == 1
    assert world.tick(world.clock.now + timedelta(minutes=1)).posted == []


def test_a_partner_removed_from_the_partners_file_is_not_told_and_is_counted_unknown(
    world: PartnersWorld,
) -> None:
    world.register()
    assert world.tick().posted == []  # the partners file is taken in; nothing due yet
    path = world.app.settings.partners_file
    assert path is not None
    kept = [p for p in PARTNERS["partners"] if p["id"] != "wattle-msp"]
    path.write_text(yaml.safe_dump({"partners": kept}, sort_keys=False), "utf-8")
    world.tick(world.clock.now + timedelta(minutes=1))
    wattle = [
        d
        for d in world.app.store.deliveries.for_subject(PARTNER_FEATURE, COMM_ID)
        if d.channel == WATTLE
    ]
    assert wattle and {(d.status, d.note) for d in wattle} == {
        ("superseded", "partners file changed")
    }
    world.tick(before_send(days=14))
    assert world.private_counts() == {HARBOUR: 1, WATTLE: 0, LARS: 1, INGA: 1}
    summary = world.comms.reports.status(COMM_ID).recipients
    assert summary is not None and summary.split.unlisted == {"tulip-tech": 1, "wattle-msp": 2}


# -- nothing leaks through questions, threads or logs --------------------------------------------
async def test_no_customer_reaches_questions_threads_or_the_logs(
    partners_world: Callable[..., PartnersWorld], caplog: pytest.LogCaptureFixture
) -> None:
    world = partners_world()
    del world.app.comms.refresh_index  # communications are indexed here: questions find them
    with caplog.at_level(logging.DEBUG):
        world.register()
        world.tick(before_send(days=14))
        [harbour] = world.posts(HARBOUR)
        await world.platform.click(harbour, "ask", user="U0AMY")
        asked = await world.platform.say(
            "which of my customers get this email?",
            user="U0AMY",
            channel=HARBOUR,
            thread=harbour.id,
            mention=False,
        )
        replies = world.platform.replies(asked)
        answers = [m.text for m in replies]
        cited = {c.path for m in replies if m.answer for c in m.answer.cited}
        for text in (
            "which customers get the Northwind Books licensing email?",
            "is Bondi Beach Bakery getting the per-user licensing email?",
        ):
            answer = world.app.core.ask(Question(text, actor=Actor("memory", "U0LARS")))
            answers.append(answer.text)
            answers.extend(c.text for c in answer.sources)
            cited |= {c.path for c in answer.cited}
    assert len(answers) > 3
    assert f"comms/{COMM_ID}" in cited  # the communication itself was found and cited
    for text in answers:
        assert not {n for n in ALL_NAMES - {"Bondi Beach Bakery Pty Ltd"} if n in text}, text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not {n for n in ALL_NAMES if n in logged}
    stored = world.comms.require(COMM_ID).comm.to_json()
    assert not {n for n in ALL_NAMES if n in stored}
