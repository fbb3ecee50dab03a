"""`partnerbot comms …`, the chat admin commands, and the dispatcher service in `serve`."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app
from bot.comms import model
from bot.comms.dispatcher import build_dispatcher_service
from bot.comms.registry import Communications
from bot.config import SAMPLES_DIR, load_settings
from bot.models import Actor, Notice

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
RECIPIENTS = SAMPLES_DIR / "comms" / "recipients.csv"  # the list the sample names
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture(autouse=True)
def fixed_clock_and_no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Today is 2026-11-22; communications are not embedded (the index is not under test)."""
    monkeypatch.setattr(model, "utc_now", lambda: NOW)
    monkeypatch.setattr(Communications, "refresh_index", lambda self: None)
    monkeypatch.setenv("COLUMNS", "200")


def cli(*args: str) -> Any:
    return runner.invoke(app, ["comms", *args])


def test_preview_of_the_sample_is_a_dry_run_over_the_sample_routes() -> None:
    out = cli("preview", "smb-licensing-2027")
    assert out.exit_code == 0, out.output
    text = out.output
    assert "Northwind Books moves to per-user licensing on 1 March 2027" in text
    assert "sends Wed 20 Jan 2027 09:00 UTC+11:00 (in 59 days) · not registered" in text
    assert "dry run, nothing registered" in text
    for channel in ("#partners-anz", "#partners-emea-smb", "1200000000000000001"):
        assert text.count(channel) == 3
    assert "#partners-americas" not in text
    assert "Wed 06 Jan 2027 09:00 UTC+11:00" in text  # 14 days before
    data = json.loads(cli("preview", "smb-licensing-2027", "--json").stdout)
    assert data["registered"] is False and len(data["notices"]) == 9
    assert data["notices"][0] == {
        "platform": "discord",
        "channel": "1200000000000000001",
        "notice": "first notice (14 days before)",
        "when": "2027-01-05T22:00:00+00:00",
        "status": "would be planned",
    }


def test_add_list_show_reschedule_cancel_round_trip(tmp_path: Path) -> None:
    out = cli("add", str(SAMPLE))
    assert out.exit_code == 0, out.output
    assert "Registered smb-licensing-2027 (revision 1)" in out.output
    assert "planned" in out.output

    listed = cli("list")
    assert "smb-licensing-2027" in listed.output and "scheduled" in listed.output
    assert "first notice (14 days" in listed.output
    [item] = json.loads(cli("list", "--json").stdout)
    assert item["channels"] == 3 and item["next_notice"] == "2027-01-05T22:00:00+00:00"

    shown = cli("show", "smb-licensing-2027")
    assert "History" in shown.output and "added" in shown.output
    assert json.loads(cli("show", "smb-licensing-2027", "--json").stdout)["revision"] == 1

    same = cli("add", str(SAMPLE))
    assert "Unchanged smb-licensing-2027 (revision 1)" in same.output

    moved = cli("reschedule", "smb-licensing-2027", "2027-02-03T09:00:00+11:00")
    assert moved.exit_code == 0, moved.output
    assert "Updated smb-licensing-2027 (revision 2)" in moved.output
    assert "changed: send date" in moved.output
    assert "Wed 20 Jan 2027 09:00 UTC+11:00" in moved.output  # 14 days before the new date

    past = cli("reschedule", "smb-licensing-2027", "2026-01-01T09:00:00+00:00")
    assert past.exit_code == 2 and "is in the past" in past.output
    naive = cli("reschedule", "smb-licensing-2027", "2027-03-01T09:00")
    assert naive.exit_code == 2 and "has no UTC offset" in naive.output

    cancelled = cli("cancel", "smb-licensing-2027")
    assert cancelled.exit_code == 0
    assert "0 channel(s) already told" in cancelled.output
    again = cli("cancel", "smb-licensing-2027")
    assert again.exit_code == 2 and "is cancelled, so it can't be cancelled" in again.output
    unknown = cli("status", "nope")
    assert unknown.exit_code == 2 and "There is no communication with id `nope`" in unknown.output


def test_add_refuses_a_bad_file_with_line_and_reason(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["send_at"] = "2026-11-01T09:00:00+11:00"
    data["audience"]["regions"] = ["ANZ", "Atlantis"]
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = cli("add", str(bad))
    assert out.exit_code == 1
    lines = [line for line in out.output.splitlines() if line.startswith("refused")]
    assert lines[0].startswith("refused bad.yml:7: unknown audience tag 'Atlantis' in regions")
    send_line = bad.read_text().splitlines().index("send_at: '2026-11-01T09:00:00+11:00'") + 1
    assert lines[1].startswith(
        f"refused bad.yml:{send_line}: send_at Sun 01 Nov 2026 09:00 UTC+11:00"
    )
    assert "is in the past" in lines[1]
    assert "smb-licensing-2027" not in cli("list").output

    broken = tmp_path / "broken.yml"
    broken.write_text("id: x\ntitle: [oops\nsend_at: 2027-01-01T00:00:00Z\n", encoding="utf-8")
    out = cli("add", str(broken), "--json")
    assert out.exit_code == 1
    problem = json.loads(out.stdout)["problems"][0]
    assert problem["line"] == 3 and problem["reason"].startswith("bad YAML")


def test_sync_json_reports_counts_and_failures(tmp_path: Path) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    (folder / "good.yml").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(RECIPIENTS, folder)
    (folder / "bad.md").write_text("no front matter here\n", encoding="utf-8")
    (folder / "README.md").write_text("# not a communication\n", encoding="utf-8")
    routes = SAMPLES_DIR / "comms" / "routes.yml"
    (folder / "routes.yml").write_text(routes.read_text(encoding="utf-8"), encoding="utf-8")
    out = runner.invoke(app, ["comms", "sync", str(folder), "--json"])
    assert out.exit_code == 1  # one file was refused
    data = json.loads(out.stdout)
    assert (data["added"], data["failed"], data["unchanged"]) == (1, 1, 0), data
    assert data["failures"][0]["path"] == "bad.md" and data["failures"][0]["line"] == 1
    again = json.loads(runner.invoke(app, ["comms", "sync", str(folder), "--json"]).stdout)
    assert (again["added"], again["unchanged"]) == (0, 1)


# -- chat commands -------------------------------------------------------------------------------
@pytest.fixture
def plain_app() -> Iterator[App]:
    app = App(load_settings())
    yield app
    app.close()


async def test_chat_commands_are_for_admins_and_list_and_cancel(plain_app: App) -> None:
    admin, partner = Actor("slack", "U0ADMIN", is_admin=True), Actor("slack", "U1")
    chat = plain_app.chat
    refused = await chat.run_words("comms list", actor=partner)
    assert "only partnerbot admins can list communications" in refused.text
    assert (await chat.run_words("comms", actor=admin)).text == (
        "No upcoming vendor-to-customer communications are registered."
    )
    plain_app.comms.add_file(SAMPLE)
    listed = (await chat.run_words("comms list", actor=admin)).text
    assert "`smb-licensing-2027` — “Northwind Books moves" in listed
    assert "next: first notice (14 days before)" in listed
    refused = await chat.run_words("comms cancel smb-licensing-2027", actor=partner)
    assert "only partnerbot admins can cancel communications" in refused.text
    assert plain_app.comms.require("smb-licensing-2027").status == "scheduled"
    done = await chat.run_words("comms cancel smb-licensing-2027", actor=admin)
    assert done.text.startswith("Cancelled “Northwind Books moves")
    assert plain_app.comms.history("smb-licensing-2027")[-1]["who"] == "slack:U0ADMIN"
    assert "Usage" in (await chat.run_words("comms frobnicate", actor=admin)).text


# -- the dispatcher as a `serve` job -------------------------------------------------------------
class RecordingPoster:
    platform = "slack"

    def __init__(self) -> None:
        self.posted: list[tuple[str, Notice]] = []

    def post(self, channel: str, notice: Notice) -> str:
        self.posted.append((channel, notice))
        return f"{len(self.posted)}.000"

    def find(self, channel: str, key: str) -> str | None:
        return None

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(user, notice)


async def test_the_dispatcher_job_posts_through_the_platforms_posters(plain_app: App) -> None:
    posters: dict[str, RecordingPoster] = {}
    app = plain_app
    service = build_dispatcher_service(app.comms, app.store, lambda: posters, interval=0.05)
    assert service.name == "comms-dispatcher"
    # Registered inside its window (clock: 2 days before send_at): the first notice is due now.
    model_now = datetime(2027, 1, 17, 22, 0, tzinfo=UTC)
    plain_app.comms.clock = lambda: model_now
    plain_app.comms.add_file(SAMPLE)
    await service.start()
    try:
        await asyncio.sleep(0.1)  # no platform yet: nothing is lost, it waits
        poster = posters["slack"] = RecordingPoster()
        for _ in range(100):
            if len(poster.posted) >= 5:
                break
            await asyncio.sleep(0.02)
    finally:
        await service.stop()
    channels = sorted(c for c, n in poster.posted if n.key.startswith("pb-comm:"))
    assert channels == ["#partners-anz", "#partners-emea-smb"]  # the Discord one waits
    # The sample's partners on Slack are told privately: Harbour IT in its Slack Connect
    # channel, Fjord Systems by a direct message to each contact (partners.yml).
    private = sorted(c for c, n in poster.posted if n.key.startswith("pb-partner:"))
    assert private == ["@U0FJORDINGA", "@U0FJORDLARS", "C0HARBOURIT"]
    notice = poster.posted[0][1]
    assert notice.title.startswith("Heads-up: customer email on Wed 20 Jan 2027")
    assert [b.kind for b in notice.buttons] == ["acknowledge", "ask"]


def test_serve_syncs_the_configured_folder_and_reports_a_bad_file_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "vendor-comms"
    folder.mkdir()
    (folder / "routes.yml").write_text(
        (SAMPLES_DIR / "comms" / "routes.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (folder / "licensing.yml").write_text(SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(RECIPIENTS, folder)
    (folder / "broken.yml").write_text("id: x\ntitle: a: b\n", encoding="utf-8")
    bot = App(load_settings(PARTNERBOT_COMMS_DIR=str(folder)))
    try:
        service = build_dispatcher_service(bot.comms, bot.store, dict)
        with caplog.at_level("WARNING", logger="bot.comms.dispatcher"):
            service.dispatcher.run_once()
            service.dispatcher.run_once()
        assert bot.comms.require("smb-licensing-2027").status == "scheduled"
        refused = [r for r in caplog.records if "communication file refused" in r.getMessage()]
        assert len(refused) == 1 and "broken.yml:2: bad YAML" in refused[0].getMessage()
        (folder / "licensing.yml").unlink()  # removed from the folder (e.g. in git): cancelled
        service.dispatcher.run_once()
        assert bot.comms.require("smb-licensing-2027").status == "cancelled"
    finally:
        bot.close()
