"""`partnerbot teams manifest` writes the Teams app package: a manifest.json with what the
manifest schema requires (v1.19: manifestVersion, version, id, developer with its three
URLs, name, description, icons, accentColor), the bot in every scope and shared channels,
commands that exist, and the two icons at the sizes Teams takes."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app as cli
from bot.config import Settings
from tests.fakes.teams_server import APP_ID

REQUIRED = ["manifestVersion", "version", "id", "developer", "name", "description", "icons"]
REQUIRED += ["accentColor"]
URL = "https://partnerbot.northwind.example"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_app_package_has_what_the_schema_requires_and_only_commands_that_exist(
    tmp_path: Path,
) -> None:
    env = {"TEAMS_APP_ID": APP_ID, "TEAMS_PUBLIC_URL": f"{URL}/"}
    out = tmp_path / "partnerbot.zip"
    result = CliRunner().invoke(
        cli, ["teams", "manifest", "--out", str(out), "--terms-url", f"{URL}/terms"], env=env
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        sizes = {name: png_size(package.read(name)) for name in ("color.png", "outline.png")}
    assert all(manifest.get(field) for field in REQUIRED)
    assert manifest["$schema"].endswith("/v1.19/MicrosoftTeams.schema.json")
    assert set(manifest["developer"]) >= {"name", "websiteUrl", "privacyUrl", "termsOfUseUrl"}
    assert manifest["developer"]["termsOfUseUrl"] == f"{URL}/terms"
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    assert re.fullmatch(r"#[0-9A-F]{6}", manifest["accentColor"])
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    assert manifest["id"] == APP_ID and manifest["validDomains"] == ["partnerbot.northwind.example"]
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert "sharedChannels" in manifest["supportedChannelTypes"]
    [commands] = bot["commandLists"]
    assert commands["scopes"] == ["personal"] and 0 < len(commands["commands"]) <= 10
    table = App(Settings(**env)).chat.commands  # type: ignore[arg-type]
    for command in commands["commands"]:
        assert len(command["title"]) <= 32 and len(command["description"]) <= 128
        assert table.get(command["title"]) is not None, command  # a command of the table
    assert {"reindex", "comms status", "help"} <= {c["title"] for c in commands["commands"]}


def test_without_the_public_url_it_says_which_setting_to_give(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["teams", "manifest", "--out", str(tmp_path / "x.zip")], env={"TEAMS_APP_ID": APP_ID}
    )
    assert result.exit_code == 2 and "TEAMS_PUBLIC_URL" in result.output
    assert not (tmp_path / "x.zip").exists()
