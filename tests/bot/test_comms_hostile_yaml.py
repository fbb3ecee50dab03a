"""Alias bombs in communication and routes files are refused; the good files still register."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.comms.loading import FileRefused, load_communication
from bot.comms.routing import Routes, load_routes
from bot.config import SAMPLES_DIR
from bot.errors import ConfigError
from tests.hostile_files import alias_bomb_yaml

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
ROUTES = SAMPLES_DIR / "comms" / "routes.yml"


def test_a_bomb_communication_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text("id: bomb\n" + alias_bomb_yaml(key="title"), encoding="utf-8")
    result = load_communication(
        path, routes=Routes(path=None), now=datetime(2026, 11, 22, tzinfo=UTC)
    )
    assert isinstance(result, FileRefused)
    (problem,) = result.problems
    assert problem.line > 1 and "alias" in problem.reason and "bad YAML" in problem.reason


def test_a_bomb_routes_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.yml"
    path.write_text(alias_bomb_yaml(key="routes"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routes\.yml:.*alias"):
        load_routes(path)


def test_comms_sync_refuses_the_bomb_and_registers_the_good_file(tmp_path: Path) -> None:
    """The real CLI in its own process: a bomb used to get it OOM-killed."""
    folder = tmp_path / "comms"
    folder.mkdir()
    (folder / "routes.yml").write_text(ROUTES.read_text(encoding="utf-8"), encoding="utf-8")
    send_at = (datetime.now(UTC) + timedelta(days=60)).isoformat(timespec="seconds")
    good = SAMPLE.read_text(encoding="utf-8").replace("2027-01-20T09:00:00+11:00", send_at)
    (folder / "good.yml").write_text(good, encoding="utf-8")  # sent in the future, always
    shutil.copy(SAMPLE.parent / "recipients.csv", folder)  # the list the sample names
    (folder / "bomb.md").write_text(
        f"---\nid: bomb\n{alias_bomb_yaml(key='aims')}---\nBody.\n", encoding="utf-8"
    )
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "comms", "sync", str(folder), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr  # one file refused
    data = json.loads(done.stdout)
    assert data["ids"]["added"] == ["smb-licensing-2027"]
    (failure,) = data["failures"]
    assert failure["path"] == "bomb.md" and "alias" in failure["reason"]
