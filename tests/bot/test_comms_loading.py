"""Communication files, routes and the notice plan: fast unit tests (no bot, no index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.comms.loading import FileRefused, Loaded, discover, load_communication
from bot.comms.model import Communication
from bot.comms.planning import plan_notices
from bot.comms.routing import ChannelRef, Routes, load_routes
from bot.config import SAMPLES_DIR
from bot.errors import ConfigError

SAMPLE_DIR = SAMPLES_DIR / "comms"
SAMPLE = SAMPLE_DIR / "2026-12-smb-licensing-email.yml"
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ROUTES_YML = """\
tags:
  regions: [ANZ, EMEA]
  segments: [smb, enterprise]
  products: [Northwind Books]
  tiers: [Member, Advanced]
routes:
  - match: {regions: [ANZ], segments: [smb]}
    slack: [C0ANZ]
    discord: ["111"]
  - match: {regions: [EMEA]}
    slack: [C0EMEA]
  - match: {segments: [enterprise]}
    slack: [C0ENT]
  - match: {}
    slack: [C0ALL]
"""
GOOD = """\
id: cloud-prices
title: New Northwind Cloud prices
sender: Northwind Pricing
audience:
  regions: [ANZ]
  segments: [smb]
channel: email
send_at: 2027-02-01T09:00:00+11:00
aims: Tell customers about new prices.
customer_summary: Prices change on 1 April.
customer_pointed_to: Their Northwind partner.
"""


@pytest.fixture
def routes(tmp_path: Path) -> Routes:
    path = tmp_path / "routes.yml"
    path.write_text(ROUTES_YML, encoding="utf-8")
    return load_routes(path)


def load(tmp_path: Path, text: str, routes: Routes, name: str = "c.yml") -> Loaded | FileRefused:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_communication(path, routes=routes, now=NOW)


def refused(result: Loaded | FileRefused) -> list[tuple[int, str]]:
    assert isinstance(result, FileRefused), result
    return [(p.line, p.reason) for p in result.problems]


def test_the_shipped_sample_loads_cleanly_against_the_shipped_routes() -> None:
    routes = load_routes(SAMPLE_DIR / "routes.yml")
    result = load_communication(SAMPLE, routes=routes, now=NOW)
    assert isinstance(result, Loaded) and result.warnings == ()
    comm = result.communication
    assert comm.id == "smb-licensing-2027"
    assert comm.send_at == datetime(2027, 1, 20, 9, 0, tzinfo=comm.send_at.tzinfo)
    assert comm.send_at.utcoffset() == timedelta(hours=11)
    assert comm.points_to_partner and comm.lead_days == (14, 3, 1)
    assert len(comm.talking_points) == 7 and len(comm.faq) == 6
    assert [str(r) for r in routes.channels_for(comm)] == [
        "slack:#partners-anz",
        "discord:1200000000000000001",
        "slack:#partners-emea-smb",
    ]
    assert list(discover(SAMPLE_DIR, routes_path=SAMPLE_DIR / "routes.yml")) == [SAMPLE]
    assert Communication.from_json(comm.to_json()) == comm


def test_missing_send_at_is_refused_with_line_and_reason(tmp_path: Path, routes: Routes) -> None:
    text = GOOD.replace("send_at: 2027-02-01T09:00:00+11:00\n", "")
    [(line, reason)] = refused(load(tmp_path, text, routes))
    assert line == 1 and reason.startswith("missing send_at")


def test_a_date_in_the_past_is_refused_by_the_injected_clock(
    tmp_path: Path, routes: Routes
) -> None:
    text = GOOD.replace("2027-02-01T09:00:00+11:00", "2026-11-01T09:00:00+11:00")
    [(line, reason)] = refused(load(tmp_path, text, routes))
    assert line == 8
    assert reason == (
        "send_at Sun 01 Nov 2026 09:00 UTC+11:00 is in the past "
        "(now Sun 22 Nov 2026 20:00 UTC+11:00)"
    )
    # The same file is fine for a clock before that date.
    path = tmp_path / "c.yml"
    early = load_communication(path, routes=routes, now=datetime(2026, 10, 1, tzinfo=UTC))
    assert isinstance(early, Loaded)


def test_send_at_needs_a_time_and_an_offset(tmp_path: Path, routes: Routes) -> None:
    for value, expected in (
        ("2027-02-01", "has no time"),
        ("2027-02-01T09:00:00", "has no UTC offset"),
        ("next tuesday", "is not an ISO 8601 date-time"),
    ):
        [(line, reason)] = refused(
            load(tmp_path, GOOD.replace("2027-02-01T09:00:00+11:00", value), routes)
        )
        assert line == 8 and expected in reason, reason


def test_unknown_audience_tag_is_refused_on_its_own_line(tmp_path: Path, routes: Routes) -> None:
    text = GOOD.replace("  segments: [smb]\n", "  segments:\n    - smb\n    - micro\n")
    [(line, reason)] = refused(load(tmp_path, text, routes))
    assert line == 8  # the "- micro" item
    assert reason.startswith("unknown audience tag 'micro' in segments (known: enterprise, smb;")


def test_bad_yaml_is_refused_with_its_line(tmp_path: Path, routes: Routes) -> None:
    text = GOOD.replace("aims: Tell customers about new prices.", "aims: [unclosed")
    [(line, reason)] = refused(load(tmp_path, text, routes))
    assert line == 10 and reason.startswith("bad YAML:")


def test_every_problem_is_reported_in_line_order(tmp_path: Path, routes: Routes) -> None:
    text = (
        GOOD.replace("id: cloud-prices", "id: Cloud Prices!")
        .replace("regions: [ANZ]", "regions: [Mars]")
        .replace("customer_summary: Prices change on 1 April.\n", "")
    )
    problems = refused(load(tmp_path, text, routes))
    assert [line for line, _ in problems] == [1, 1, 5]
    reasons = " | ".join(r for _, r in problems)
    assert "id 'Cloud Prices!' must be lower-case" in reasons
    assert "unknown audience tag 'Mars'" in reasons
    assert "missing customer_summary" in reasons


def test_markdown_with_front_matter_uses_the_body_as_the_full_text(
    tmp_path: Path, routes: Routes
) -> None:
    text = (
        "---\n"
        + GOOD.replace("customer_summary: Prices change on 1 April.\n", "")
        + ("---\nDear customer,\n\nPrices change on 1 April.\n")
    )
    result = load(tmp_path, text, routes, name="letter.md")
    assert isinstance(result, Loaded)
    assert result.communication.customer_summary == "Dear customer,"
    assert "Prices change on 1 April." in result.communication.full_text
    # Lines count from the top of the file, front matter included.
    bad = text.replace("send_at: 2027-02-01T09:00:00+11:00", "send_at: 2020-01-01T00:00:00Z")
    [(line, reason)] = refused(load(tmp_path, bad, routes, name="letter.md"))
    assert line == 9 and "in the past" in reason
    [(line, reason)] = refused(load(tmp_path, "no front matter\n", routes, name="x.md"))
    assert line == 1 and "front matter" in reason


def test_not_pointing_to_the_partner_is_allowed_with_a_warning(
    tmp_path: Path, routes: Routes
) -> None:
    text = GOOD.replace("Their Northwind partner.", "The Northwind help centre.")
    result = load(tmp_path, text, routes)
    assert isinstance(result, Loaded)
    assert not result.communication.points_to_partner
    [warning] = result.warnings
    assert "c.yml:11: “New Northwind Cloud prices” does not point customers to their partner" in (
        warning
    )


def test_without_a_routes_file_tags_are_not_checked_but_the_admin_is_told(tmp_path: Path) -> None:
    routes = load_routes(tmp_path / "missing.yml")
    result = load(tmp_path, GOOD.replace("[ANZ]", "[Mars]"), routes)
    assert isinstance(result, Loaded)
    assert any("no routes file" in w for w in result.warnings)


def test_routes_match_on_shared_tags_and_unrestricted_dimensions(routes: Routes) -> None:
    base = load_communication(SAMPLE, routes=Routes(path=None), now=NOW)
    assert isinstance(base, Loaded)
    comm = base.communication  # ANZ + EMEA, smb
    assert [str(r) for r in routes.channels_for(comm)] == [
        "slack:C0ANZ",
        "discord:111",
        "slack:C0EMEA",
        "slack:C0ALL",
    ]
    from dataclasses import replace

    from bot.comms.model import Audience

    everyone = replace(comm, audience=Audience())
    assert len(routes.channels_for(everyone)) == 5
    # No region given: every region's route that does not exclude the segment matches.
    enterprise = replace(comm, audience=Audience(segments=("enterprise",)))
    assert [r.channel for r in routes.channels_for(enterprise)] == ["C0EMEA", "C0ENT", "C0ALL"]


def test_a_broken_routes_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "routes.yml"
    path.write_text("routes:\n  - match: {regions: [ANZ]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routes.yml:\d+: the routes file is not valid YAML"):
        load_routes(path)
    path.write_text("routes:\n  - match: {planets: [Mars]}\n    slack: [C1]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown dimension 'planets'"):
        load_routes(path)


# -- the plan -------------------------------------------------------------------------------------
SEND = datetime(2027, 1, 19, 22, 0, tzinfo=UTC)
A, B = ChannelRef("slack", "C0A"), ChannelRef("slack", "C0B")


def plan(now: datetime, **kw: object) -> list[tuple[str, str, int | None, datetime]]:
    notices = plan_notices(
        send_at=SEND,
        channels=[A, B],
        lead_days=(14, 3, 1),
        now=now,
        **kw,  # type: ignore[arg-type]
    )
    return [(n.ref.channel, n.kind, n.lead_days, n.due_at) for n in notices]


def test_plan_before_the_window_first_at_the_earliest_lead_time() -> None:
    assert plan(NOW)[:3] == [
        ("C0A", "first", 14, SEND - timedelta(days=14)),
        ("C0A", "reminder", 3, SEND - timedelta(days=3)),
        ("C0A", "reminder", 1, SEND - timedelta(days=1)),
    ]
    assert len(plan(NOW)) == 6


def test_plan_inside_the_window_first_at_once_then_the_lead_times_ahead() -> None:
    now = SEND - timedelta(days=5)
    assert plan(now)[:3] == [
        ("C0A", "first", None, now),
        ("C0A", "reminder", 3, SEND - timedelta(days=3)),
        ("C0A", "reminder", 1, SEND - timedelta(days=1)),
    ]
    # A reminder right after the first notice adds nothing.
    close = SEND - timedelta(days=3, hours=-2)
    assert [k for _, k, _, _ in plan(close)][:2] == ["first", "reminder"]
    assert [k for c, k, _, _ in plan(SEND - timedelta(hours=30)) if c == "C0A"] == ["first"]


def test_plan_for_channels_already_told_is_reminders_only() -> None:
    assert [k for c, k, _, _ in plan(NOW, told={A}) if c == "C0A"] == ["reminder"] * 3
    assert next(k for c, k, _, _ in plan(NOW, told={A}) if c == "C0B") == "first"


def test_plan_after_send_at_is_empty_and_ack_reminder_is_optional() -> None:
    assert plan(SEND) == []
    kinds = [k for c, k, _, _ in plan(NOW, ack_reminder_days=5) if c == "C0A"]
    assert kinds == ["first", "reminder", "reminder", "ack_reminder"]
