"""Communications end to end: register → dispatcher → the in-memory platform's poster.

The clock is injected and jumped from lead time to lead time; the dispatcher is
run one tick at a time (`run_once`), as `partnerbot serve` would every 30 s. How
notices look on Slack and Discord is tested with their real SDKs in tests/adapters/.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot import app as bot_app
from bot import prompts
from bot.app import App
from bot.cli.main import app as cli
from bot.comms import model
from bot.comms.dispatcher import Dispatcher, TickReport
from bot.comms.loading import FileRefused
from bot.comms.registry import RegisterResult
from bot.config import SAMPLES_DIR
from bot.models import Actor, ButtonClick, Question
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform, MemoryPoster, Posted

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
COMM_ID = "smb-licensing-2027"
# The sample's send_at, 2027-01-20T09:00:00+11:00, in UTC.
SEND_AT = datetime(2027, 1, 19, 22, 0, tzinfo=UTC)
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ANZ, EMEA, AMERICAS, ENTERPRISE, ADMINS = "C0ANZ", "C0EMEA", "C0AMER", "C0ENT", "C0ADMINS"
PARTNER_CHANNELS = (ANZ, EMEA, AMERICAS, ENTERPRISE)

ROUTES: dict[str, Any] = {
    "tags": {
        "regions": ["ANZ", "EMEA", "Americas", "Asia"],
        "segments": ["smb", "enterprise"],
        "products": ["Northwind Books", "Northwind Cloud"],
        "tiers": ["Member", "Advanced", "Elite"],
    },
    "routes": [
        {"match": {"regions": ["ANZ"], "segments": ["smb"]}, "memory": [ANZ]},
        {"match": {"regions": ["EMEA"], "segments": ["smb"]}, "memory": [EMEA]},
        {"match": {"regions": ["Americas"]}, "memory": [AMERICAS]},
        {"match": {"segments": ["enterprise"]}, "memory": [ENTERPRISE]},
    ],
}


class Clock:
    """A settable clock for the registry and dispatcher."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def before_send(days: float = 0, **delta: float) -> datetime:
    return SEND_AT - timedelta(days=days, **delta)


def write_comm(folder: Path, name: str = "comm.yml", **changes: Any) -> Path:
    """The sample communication with some fields changed, written to `folder` (without its
    recipient list unless `recipients` is given: these scenarios are about channels)."""
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data.pop("recipients")
    data.update(changes)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def write_routes(folder: Path, routes: dict[str, Any] = ROUTES) -> Path:
    path = folder / "routes.yml"
    path.write_text(yaml.safe_dump(routes, sort_keys=False), encoding="utf-8")
    return path


class World:
    """An app with an injected clock, a dispatcher posting to the in-memory platform."""

    def __init__(self, app: App, clock: Clock, folder: Path) -> None:
        self.app = app
        self.clock = clock
        self.folder = folder
        platform = app.add_platform("memory")
        assert isinstance(platform, MemoryPlatform)
        self.platform: MemoryPlatform = platform
        self.dispatcher: Dispatcher = self.new_dispatcher()

    @property
    def poster(self) -> MemoryPoster:
        assert isinstance(self.platform.poster, MemoryPoster)
        return self.platform.poster

    def new_dispatcher(self) -> Dispatcher:
        """A fresh dispatcher, as after a restart (new owner id, nothing in memory)."""
        return Dispatcher(comms=self.comms, store=self.app.store, posters=self.app.posters)

    @property
    def comms(self) -> Any:
        return self.app.comms

    def register(self, **changes: Any) -> RegisterResult:
        result = self.comms.add_file(write_comm(self.folder, **changes))
        assert isinstance(result, RegisterResult), result
        return result

    def tick(self, at: datetime | None = None) -> TickReport:
        if at is not None:
            self.clock.set(at)
        return self.dispatcher.run_once()

    def posts(self, channel: str) -> list[Posted]:
        return [m for m in self.platform.in_place(channel) if m.notice is not None]

    def texts(self, channel: str) -> list[str]:
        return [m.text for m in self.posts(channel)]

    def keys(self, channel: str) -> list[str]:
        return [m.notice.key for m in self.posts(channel) if m.notice]

    def counts(self) -> dict[str, int]:
        return {c: len(self.posts(c)) for c in (*PARTNER_CHANNELS, ADMINS)}

    async def click(self, notice: Posted, action: str, user: str) -> str:
        """A click on a notice's button; the private reply the person sees."""
        before = len(self.platform.private(user))
        await self.platform.click(notice, action, user=user)
        return self.platform.private(user)[before].text


@pytest.fixture
def world_factory(make_app: Callable[..., App], tmp_path: Path) -> Callable[..., World]:
    def build(*, index: bool = False, **settings: Any) -> World:
        """index=False: communications are not embedded (slow here), for tests not about Q&A."""
        folder = tmp_path / "comms"
        folder.mkdir(exist_ok=True)
        routes = write_routes(folder)
        settings.setdefault("PARTNERBOT_COMMS_ROUTES", str(routes))
        settings.setdefault("PARTNERBOT_ADMIN_CHANNELS", f"memory:{ADMINS}")
        app = make_app(**settings)
        clock = Clock(START)
        app.comms.clock = clock
        if not index:
            app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
        return World(app, clock, folder)

    return build


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    return world_factory()


# -- lead times ----------------------------------------------------------------------------------
def test_each_lead_time_posts_the_right_notice_to_exactly_the_matching_channels(
    world: World,
) -> None:
    result = world.register()
    assert result.action == "added"
    assert not result.warnings
    assert world.tick().posted == []  # 59 days ahead: nothing due yet

    world.tick(before_send(days=14, minutes=1))
    assert world.tick().posted == []  # not yet: due at exactly 14 days before
    report = world.tick(before_send(days=14))
    assert sorted(k.split(":")[-1] for k in report.posted) == [ANZ, EMEA]
    assert world.counts() == {ANZ: 1, EMEA: 1, AMERICAS: 0, ENTERPRISE: 0, ADMINS: 0}

    first = world.posts(ANZ)[0]
    text = first.text
    assert "Northwind Books moves to per-user licensing on 1 March 2027" in text  # what
    assert "Wed 20 Jan 2027 09:00 UTC+11:00" in text and "in 14 days" in text  # when
    assert "smb customers in ANZ, EMEA" in text  # to whom
    assert "per-user licensing replaces per-device licensing" in text  # why (aims)
    assert "USD 14 per user per month" in text  # what customers are told
    assert "contact their Northwind partner" in text  # where customers are pointed
    assert "Run the licence calculator" in text  # talking points
    assert "Late notice" not in text
    assert world.keys(ANZ) == [f"pb-comm:{COMM_ID}:r1:first-14d:memory:{ANZ}"]
    assert [a for a, _ in first.buttons] == ["acknowledge", "ask"]
    assert all(v.startswith("comm:") for _, v in first.buttons)
    assert "**Why it is sent:**" in text  # Markdown, rendered by each platform

    assert world.tick(before_send(days=3, hours=1)).posted == []
    report = world.tick(before_send(days=3))
    assert len(report.posted) == 2 and not report.late
    reminder = world.texts(EMEA)[-1]
    assert reminder.startswith("Reminder: customer email on Wed 20 Jan 2027")
    assert "in 3 days" in reminder and "contact their Northwind partner" in reminder
    assert f"](memory://{EMEA}/" in reminder  # links to the first notice (permalink)
    assert len(reminder) < len(text) / 2  # reminders are short

    report = world.tick(before_send(days=1))
    assert len(report.posted) == 2
    assert "in 1 day" in world.texts(ANZ)[-1]

    world.tick(before_send(hours=-1))  # customers got it
    world.tick(before_send(days=-10))
    assert world.counts() == {ANZ: 3, EMEA: 3, AMERICAS: 0, ENTERPRISE: 0, ADMINS: 0}
    assert world.comms.require(COMM_ID).status == "sent"
    for channel in (ANZ, EMEA):
        keys = world.keys(channel)
        assert len(set(keys)) == 3
        assert [k.split(":")[3] for k in keys] == ["first-14d", "reminder-3d", "reminder-1d"]


def test_registered_inside_the_window_gets_its_first_notice_at_once(world: World) -> None:
    world.clock.set(before_send(days=2))
    result = world.register()
    assert [p.label for p in result.planned if p.ref.channel == ANZ] == [
        "first notice (at once)",
        "reminder (1 day before)",
    ]
    report = world.tick()
    assert len(report.posted) == 2 and not report.late
    assert "in 2 days" in world.texts(ANZ)[0] and "Talking points" in world.texts(ANZ)[0]
    world.tick(before_send(days=1))
    assert world.counts()[ANZ] == 2


# -- reschedule and cancel -----------------------------------------------------------------------
def test_reschedule_after_the_first_notice_posts_updated_and_moves_the_reminders(
    world: World,
) -> None:
    world.register()
    world.tick(before_send(days=14))
    new_send = "2027-02-03T09:00:00+11:00"
    result = world.comms.reschedule(COMM_ID, new_send)
    assert result.action == "updated" and result.changes == ["send date"]
    assert sorted(r.channel for r in result.updated_channels) == [ANZ, EMEA]

    report = world.tick(world.clock.now + timedelta(seconds=30))
    assert len(report.posted) == 2
    updated = world.texts(ANZ)[-1]
    assert updated.startswith("Updated: Northwind Books moves")
    assert "The send date moved** from Wed 20 Jan 2027 09:00 UTC+11:00" in updated
    assert "to Wed 03 Feb 2027 09:00 UTC+11:00" in updated
    assert "contact their Northwind partner" in updated  # still says where customers go

    # The old 3-day and 1-day reminders are gone …
    assert world.tick(before_send(days=3)).posted == []
    assert world.tick(before_send(days=1, hours=1)).posted == []
    # … reminders come at the lead times before the new date; no second "first" notice.
    new_send_at = datetime.fromisoformat(new_send)
    preview = world.comms.reports.preview(COMM_ID)
    assert [(r.notice, r.when, r.status) for r in preview.rows if r.channel == ANZ] == [
        ("first notice (14 days before)", before_send(days=14), "posted"),
        ("updated", before_send(days=14, seconds=-30), "posted"),
        ("reminder (14 days before)", new_send_at - timedelta(days=14), "planned"),
        ("reminder (3 days before)", new_send_at - timedelta(days=3), "planned"),
        ("reminder (1 day before)", new_send_at - timedelta(days=1), "planned"),
    ]
    for days in (14, 3, 1):
        assert len(world.tick(new_send_at - timedelta(days=days)).posted) == 2
    world.tick(new_send_at + timedelta(days=1))
    assert [k.split(":")[2:4] for k in world.keys(ANZ)] == [
        ["r1", "first-14d"],
        ["r2", "updated"],
        ["r2", "reminder-14d"],
        ["r2", "reminder-3d"],
        ["r2", "reminder-1d"],
    ]
    assert world.counts()[ADMINS] == 0


def test_cancel_tells_the_channels_already_told_and_nothing_after(world: World) -> None:
    world.register()
    world.tick(before_send(days=14))
    record, told = world.comms.cancel(COMM_ID, who="U0ADMIN")
    assert record.status == "cancelled" and sorted(r.channel for r in told) == [ANZ, EMEA]
    report = world.tick(world.clock.now + timedelta(minutes=1))
    assert len(report.posted) == 2
    cancelled = world.texts(EMEA)[-1]
    assert cancelled.startswith("Cancelled: Northwind Books moves")
    assert "will not be sent" in cancelled
    for when in (before_send(days=3), before_send(days=1), before_send(days=-1)):
        assert world.tick(when).posted == []
    assert world.counts() == {ANZ: 2, EMEA: 2, AMERICAS: 0, ENTERPRISE: 0, ADMINS: 0}


def test_cancel_before_any_notice_posts_nothing(world: World) -> None:
    world.register()
    _, told = world.comms.cancel(COMM_ID)
    assert told == []
    for when in (before_send(days=14), before_send(days=3), before_send(days=1)):
        assert world.tick(when).posted == []
    assert sum(world.counts().values()) == 0


# -- crashes and downtime ------------------------------------------------------------------------
class Crash(BaseException):
    """Stands for the process dying (not an error the dispatcher could handle)."""


def test_crash_after_the_post_before_the_record_neither_repeats_nor_loses_a_notice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.register()
    world.clock.set(before_send(days=14))
    crashing = world.dispatcher

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(crashing.outbox, "record", die)
    with pytest.raises(Crash):
        crashing.run_once()
    # The platform accepted one post; nothing was recorded; the other channel is still planned
    # (claims are taken one delivery at a time).
    assert sum(world.counts().values()) == 1
    firsts = [d for d in world.comms.deliveries(COMM_ID) if d.kind == "first"]
    assert sorted(d.status for d in firsts) == ["claimed", "planned"]

    restarted = world.new_dispatcher()
    world.dispatcher = restarted
    # The channel nobody claimed goes out at once; the dead owner's claim waits for its lease.
    assert len(world.tick(world.clock.now + timedelta(seconds=30)).posted) == 1
    report = world.tick(world.clock.now + timedelta(minutes=3))  # the dead owner's lease ran out
    assert len(report.reconciled) == 1 and report.posted == []
    # Only the claim taken over was looked up on the platform (and found there).
    assert len(world.poster.finds) == 1
    assert world.counts() == {ANZ: 1, EMEA: 1, AMERICAS: 0, ENTERPRISE: 0, ADMINS: 0}
    firsts = [d for d in world.comms.deliveries(COMM_ID) if d.kind == "first"]
    assert {d.status for d in firsts} == {"posted"}
    assert sorted(d.reconciled for d in firsts) == [False, True]
    # Every message id recorded is the one on the platform.
    for d in firsts:
        [msg] = world.posts(d.channel)
        assert d.message_id == msg.id

    world.tick(before_send(days=3))
    world.tick(before_send(days=1))
    for channel in (ANZ, EMEA):
        assert len(world.keys(channel)) == len(set(world.keys(channel))) == 3


def test_a_failed_post_is_retried_and_looked_up_first(world: World) -> None:
    world.register()
    world.poster.fail_next.append(ConnectionError("internal_error"))
    report = world.tick(before_send(days=14))
    assert len(report.retried) == 1 and len(report.posted) == 1
    assert world.poster.finds == []
    report = world.tick(world.clock.now + timedelta(minutes=2))
    assert len(report.posted) == 1  # after the backoff, and after looking for the key
    assert len(world.poster.finds) == 1
    assert world.counts()[ANZ] == world.counts()[EMEA] == 1


def test_down_across_a_lead_time_sends_the_notice_late_and_marked_late(world: World) -> None:
    world.register()
    report = world.tick(before_send(days=12))  # the 14-day notice was due two days ago
    assert len(report.posted) == len(report.late) == 2
    text = world.texts(ANZ)[0]
    assert "Late notice" in text and "Wed 06 Jan 2027 09:00 UTC+11:00" in text
    assert "in 12 days" in text
    posted = [d for d in world.comms.deliveries(COMM_ID) if d.status == "posted"]
    assert {(d.kind, d.late) for d in posted} == {("first", True)}
    world.tick(before_send(days=3))  # the next lead time is on time again
    assert "Late notice" not in world.texts(ANZ)[-1]


def test_down_across_two_lead_times_sends_only_the_first_notice_late(world: World) -> None:
    world.register()
    report = world.tick(before_send(days=2))
    assert len(report.posted) == 2 and len(report.skipped) == 2  # the 3-day reminders
    assert all(k.split(":")[3] == "first-14d" for k in report.posted)
    world.tick(before_send(days=1))
    assert world.counts()[ANZ] == 2
    assert "Late notice" not in world.texts(ANZ)[1]


def test_down_past_send_at_alerts_the_admins_and_posts_no_stale_news(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.register()
    with caplog.at_level(logging.WARNING, logger="bot.comms"):
        report = world.tick(before_send(days=-1))
    assert report.posted == [f"pb-comm:{COMM_ID}:r1:alert-stale:memory:{ADMINS}"]
    assert len(report.stale) == 6
    assert world.counts() == {ANZ: 0, EMEA: 0, AMERICAS: 0, ENTERPRISE: 0, ADMINS: 1}
    alert = world.texts(ADMINS)[0]
    assert "Partner notices not posted" in alert and COMM_ID in alert
    assert "memory C0ANZ" in alert and "memory C0EMEA" in alert
    assert any("admin alert" in r.getMessage() for r in caplog.records)
    assert world.comms.require(COMM_ID).status == "sent"
    world.tick(before_send(days=-2))
    assert world.counts()[ADMINS] == 1  # told once
    status = world.comms.reports.status(COMM_ID)
    assert {n["status"] for n in status.not_posted} == {"stale"}


# -- acknowledgement and status ------------------------------------------------------------------
async def test_acknowledge_is_recorded_per_user_and_channel_and_status_shows_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.register()
    world.tick(before_send(days=14))
    notice = world.posts(ANZ)[0]

    reply = await world.click(notice, "acknowledge", "U0ALICE")
    assert reply.startswith("Thanks — noted that you've seen “Northwind Books moves")
    assert "already acknowledged" in await world.click(notice, "acknowledge", "U0ALICE")
    await world.click(notice, "acknowledge", "U0BOB")
    await world.platform.click(notice, "ask", user="U0CAROL")
    [intro] = world.platform.replies(notice)
    assert "Ask me anything about “Northwind Books moves" in intro.text
    unknown = await world.app.chat.click(
        ButtonClick("acknowledge", "comm:99999", Actor("memory", "U0X"), ANZ)
    )
    assert "couldn't find" in unknown.text

    status = world.comms.reports.status(COMM_ID)
    anz = next(c for c in status.channels if c.channel == ANZ)
    emea = next(c for c in status.channels if c.channel == EMEA)
    assert [a["user"] for a in anz.acks] == ["U0ALICE", "U0BOB"]
    assert emea.acks == [] and emea.told_at is not None

    # The CLI reads the same database (another process in real life).
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(world.app.settings.data_dir))
    monkeypatch.setenv("PARTNERBOT_COMMS_ROUTES", str(world.app.settings.comms_routes))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(model, "utc_now", world.clock)
    monkeypatch.setattr(bot_app, "PLATFORMS", TEST_PLATFORMS)  # (routes.yml names "memory")
    runner = CliRunner()
    out = runner.invoke(cli, ["comms", "status", COMM_ID])
    assert out.exit_code == 0, out.output
    assert "U0ALICE" in out.output and "U0BOB" in out.output
    assert "told 2 of 2 channel(s) · acknowledged in 1" in out.output
    data = json.loads(runner.invoke(cli, ["comms", "status", COMM_ID, "--json"]).output)
    by_channel = {c["channel"]: c for c in data["channels"]}
    assert [a["user"] for a in by_channel[ANZ]["acknowledged_by"]] == ["U0ALICE", "U0BOB"]
    assert by_channel[EMEA]["acknowledged_by"] == []
    assert by_channel[ANZ]["notices"][0]["notice"] == "first notice (14 days before)"
    assert by_channel[ANZ]["next_notice"] == "reminder (3 days before)"


async def test_acknowledgement_reminder_goes_only_where_nobody_acknowledged(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory(PARTNERBOT_COMMS_ACK_REMINDER_DAYS="5")
    world.register()
    world.tick(before_send(days=14))
    await world.click(world.posts(ANZ)[0], "acknowledge", "U0A")
    report = world.tick(before_send(days=5))
    assert [k.split(":")[-1] for k in report.posted] == [EMEA]
    assert "Nobody in this channel has acknowledged" in world.texts(EMEA)[-1]
    assert len(report.skipped) == 1


# -- questions -----------------------------------------------------------------------------------
def test_questions_about_the_upcoming_communication_are_answered_citing_it(
    world_factory: Callable[..., World],
) -> None:
    world = world_factory(index=True)
    world.register()
    answer = world.app.core.ask(
        Question("what will customers in ANZ be told about the Northwind Books licensing change?")
    )
    assert not answer.abstained, answer.text
    assert f"comms/{COMM_ID}" in {c.path for c in answer.cited}
    assert "2027-01-20" in {str(c.effective_date) for c in answer.cited}

    world.clock.set(datetime(2027, 1, 4, tzinfo=UTC))
    answer = world.app.core.ask(Question("is the vendor emailing my customers this month?"))
    assert answer.text.startswith("Yes — 1 vendor communication(s) to customers this month")
    assert "Wed 20 Jan 2027" in answer.text and "[1]" in answer.text
    assert [c.path for c in answer.cited] == [f"comms/{COMM_ID}"]

    world.clock.set(START)  # November 2026: not this month, but say when
    answer = world.app.core.ask(Question("Is Northwind emailing my customers this month?"))
    assert answer.text.startswith("No — no vendor communication to customers is scheduled")
    assert "The next one:" in answer.text and "Wed 20 Jan 2027 (in 59 days)" in answer.text
    assert [c.path for c in answer.cited] == [f"comms/{COMM_ID}"]


@pytest.mark.parametrize("reworded", [False, True], ids=["as-shipped", "reworded-messages"])
async def test_ask_about_this_thread_questions_are_answered_from_that_communication(
    world_factory: Callable[..., World], monkeypatch: pytest.MonkeyPatch, reworded: bool
) -> None:
    """The thread's topic is data kept with the thread, not read back from the bot's
    wording: rewording every message (prompts/messages.yml) changes nothing."""
    if reworded:
        shipped = dict(prompts._messages())
        shipped = {k: f"{v} (reworded)" for k, v in shipped.items()}
        shipped["comms_ask_intro"] = "Questions about this go here."
        monkeypatch.setattr(prompts, "_messages", lambda: shipped)
    world = world_factory(index=True)
    world.register()
    world.tick(before_send(days=14))
    notice = world.posts(ANZ)[0]
    await world.platform.click(notice, "ask", user="U0C")
    [intro] = world.platform.replies(notice)
    assert ("comms/" in intro.text) is not reworded
    asked = await world.platform.say(
        "can a customer switch early?", user="U0C", channel=ANZ, thread=notice.id, mention=False
    )
    [_, reply] = world.platform.replies(asked)
    assert reply.answer is not None and not reply.answer.abstained, reply.text
    assert reply.text.startswith("About “Northwind Books moves to per-user licensing")
    assert f"comms/{COMM_ID}" in {c.path for c in reply.answer.cited}
    await world.platform.click(notice, "ask", user="U0D")  # a second click: no second intro
    assert len(world.platform.replies(notice)) == 2
    assert world.platform.private("U0D")[-1].text == prompts.message("slack_ask_in_thread")


# -- folder sync and bad files -------------------------------------------------------------------
def test_sync_registers_good_files_refuses_bad_ones_with_line_and_reason(world: World) -> None:
    write_comm(world.folder, "good.yml")
    bad = world.folder / "bad.yml"
    bad.write_text(
        "id: bad-one\ntitle: Bad\naims: x\ncustomer_summary: y\n"
        "audience:\n  regions: [ANZ, Narnia]\nsend_at: 2027-01-20T09:00:00+11:00\n",
        encoding="utf-8",
    )
    result = world.comms.sync_folder(world.folder)
    assert result.added == [COMM_ID]
    [refused] = result.failed
    assert isinstance(refused, FileRefused) and refused.path == "bad.yml"
    assert [(p.line, p.reason.split(" (")[0]) for p in refused.problems] == [
        (6, "unknown audience tag 'Narnia' in regions")
    ]
    again = world.comms.sync_folder(world.folder)
    assert again.unchanged == [COMM_ID] and again.added == [] and len(again.failed) == 1

    # An edit is an update: channels already told get "Updated".
    world.tick(before_send(days=14))
    write_comm(world.folder, "good.yml", aims="A new reason for the email.")
    updated = world.comms.sync_folder(world.folder)
    assert updated.updated == [COMM_ID]
    world.tick(world.clock.now + timedelta(minutes=1))
    assert "changed: aims" in world.texts(ANZ)[-1]

    # Removing the file cancels it.
    (world.folder / "good.yml").unlink()
    assert world.comms.sync_folder(world.folder).cancelled == [COMM_ID]
    world.tick(world.clock.now + timedelta(minutes=1))
    assert world.texts(ANZ)[-1].startswith("Cancelled:")


def test_a_communication_that_does_not_point_to_partners_warns_the_admin(world: World) -> None:
    result = world.register(
        customer_pointed_to="Customers are told to visit the Northwind help centre.",
        points_to_partner=False,
    )
    assert any("does not point customers to their partner" in w for w in result.warnings)
    report = world.tick()
    assert report.posted == [f"pb-comm:{COMM_ID}:r1:alert-no-partner:memory:{ADMINS}"]
    assert "does not point customers to their partner" in world.texts(ADMINS)[0]
