"""A communication's id is its identity: no file can take over a registered one, and a
file's id cannot silently change (both refused with the files and the fix named)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli.main import app
from bot.comms.registry import Communications
from bot.config import SAMPLES_DIR, load_settings
from bot.store import open_store

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
ROUTES = SAMPLES_DIR / "comms" / "routes.yml"
COMM_ID = "smb-licensing-2027"
TITLE = "Northwind Books moves to per-user licensing on 1 March 2027"


def write(folder: Path, name: str, **changes: Any) -> Path:
    """The sample communication, sent a month from now (the real clock: the CLI runs it)."""
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    send_at = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    data.update({"send_at": send_at.isoformat(), **changes})
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "vendor-comms"
    folder.mkdir()
    (folder / "routes.yml").write_text(ROUTES.read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(SAMPLE.parent / "recipients.csv", folder)  # the list the sample names
    write(folder, "licensing.yml")
    write(folder, "webinar.yml", id="partner-webinar-2027", title="Partner webinar invitation")
    return folder


def registered() -> dict[str, tuple[str, str, str | None]]:
    """id → (title, status, source file name), read straight from the state store."""
    store = open_store(load_settings().database)
    try:
        rows = store.comms.all()
    finally:
        store.close()
    return {
        r.id: (json.loads(r.data)["title"], r.status, Path(r.source).name if r.source else None)
        for r in rows
    }


runner = CliRunner()


@pytest.fixture
def no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Communications, "refresh_index", lambda self: None)


def sync(folder: Path) -> tuple[int, dict[str, Any]]:
    out = runner.invoke(app, ["comms", "sync", str(folder), "--json"])
    return out.exit_code, json.loads(out.stdout)


def test_a_new_file_reusing_a_registered_id_is_refused_and_hijacks_nothing(folder: Path) -> None:
    code, first = sync(folder)
    assert code == 0 and first["added"] == 2, first
    before = registered()
    assert before[COMM_ID] == (TITLE, "scheduled", "licensing.yml")

    # A new file that sorts first takes the registered id with other content.
    write(folder, "a-price-rise.yml", title="Prices rise 40% on 1 March 2027")
    code, hijack = sync(folder)
    assert code == 1
    refused = {f["path"]: f["reason"] for f in hijack["failures"]}
    assert set(refused) == {
        "a-price-rise.yml",
        "licensing.yml",
    }  # both files, each naming the other
    assert "also used by licensing.yml" in refused["a-price-rise.yml"]
    assert "also used by a-price-rise.yml" in refused["licensing.yml"]
    assert hijack["ids"]["unchanged"] == ["partner-webinar-2027"]  # the good file beside them
    assert hijack["cancelled"] == 0 and hijack["updated"] == 0
    assert registered() == before  # the registered communication is untouched

    # The stray file removed: the real communication is still scheduled, never cancelled.
    (folder / "a-price-rise.yml").unlink()
    code, after = sync(folder)
    assert code == 0 and after["cancelled"] == 0, after
    assert registered() == before


@pytest.mark.usefixtures("no_embedding")
def test_an_id_changed_in_a_file_is_refused_while_the_old_one_is_scheduled(folder: Path) -> None:
    assert sync(folder)[0] == 0
    write(folder, "licensing.yml", id="smb-licensing-2027-v2")
    code, result = sync(folder)
    assert code == 1
    [failure] = result["failures"]
    assert failure["path"] == "licensing.yml"
    assert "id changed from smb-licensing-2027 to smb-licensing-2027-v2" in failure["reason"]
    assert "partnerbot comms cancel smb-licensing-2027" in failure["reason"]
    state = registered()
    assert state[COMM_ID][1] == "scheduled" and "smb-licensing-2027-v2" not in state
    # The admin cancels the old one on purpose; then the new id registers.
    cancelled = runner.invoke(app, ["comms", "cancel", COMM_ID])
    assert cancelled.exit_code == 0, cancelled.output
    code, result = sync(folder)
    assert code == 0 and result["ids"]["added"] == ["smb-licensing-2027-v2"], result
    state = registered()
    assert state[COMM_ID][1] == "cancelled" and state["smb-licensing-2027-v2"][1] == "scheduled"


@pytest.mark.usefixtures("no_embedding")
def test_a_renamed_file_keeps_its_communication(folder: Path) -> None:
    assert sync(folder)[0] == 0
    (folder / "licensing.yml").rename(folder / "2027-licensing.yml")
    code, result = sync(folder)
    assert code == 0 and result["cancelled"] == 0, result
    assert registered()[COMM_ID] == (TITLE, "scheduled", "2027-licensing.yml")


@pytest.mark.usefixtures("no_embedding")
def test_comms_add_cannot_take_over_an_id_registered_from_another_file(
    folder: Path, tmp_path: Path
) -> None:
    assert sync(folder)[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    stray = write(elsewhere, "stray.yml", title="Something else entirely", recipients=None)
    out = runner.invoke(app, ["comms", "add", str(stray), "--json"])
    assert out.exit_code == 1
    [problem] = json.loads(out.stdout)["problems"]
    assert problem["reason"].startswith(f"id {COMM_ID} is already registered from ")
    assert str(folder / "licensing.yml") in problem["reason"]
    assert registered()[COMM_ID] == (TITLE, "scheduled", "licensing.yml")
