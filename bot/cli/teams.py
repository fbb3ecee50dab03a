"""`partnerbot teams …`: the Microsoft Teams app package, from the settings.

The manifest template is adapters/teams/manifest.json; this fills in the bot's app id, the
public address (its domain is the app's one valid domain), the version, the developer's
pages and the commands of the command table (taken in the personal chat)."""

from __future__ import annotations

import json
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from bot.cli.session import command_app
from bot.commands import Command
from bot.config import Settings
from bot.errors import ConfigError
from bot.prompts import message

teams_app = typer.Typer(help="Microsoft Teams: the app package to upload to Teams.")
console = Console()
ICONS = ("color.png", "outline.png")  # 192×192 in colour; 32×32 white on transparent


def app_manifest(settings: Settings, commands: list[Command], **page: str) -> dict[str, Any]:
    """manifest.json for these settings; `page`: version, developer, privacy, terms."""
    app_id, url = settings.teams_app_id, settings.teams_public_url
    for name, value, why in (
        ("TEAMS_APP_ID", app_id, "the Azure Bot's Microsoft App ID"),
        ("TEAMS_PUBLIC_URL", url, "the https address Teams reaches partnerbot at"),
    ):
        if not value:
            raise ConfigError(message("config_teams_manifest", name=name, why=why))
    template = files("adapters").joinpath("teams/manifest.json").read_text(encoding="utf-8")
    manifest: dict[str, Any] = json.loads(template)
    manifest |= {"id": app_id, "version": page["version"], "validDomains": [urlsplit(url).hostname]}
    manifest["developer"] |= {"name": page["developer"], "websiteUrl": url}
    manifest["developer"] |= {
        "privacyUrl": page["privacy"] or url,
        "termsOfUseUrl": page["terms"] or url,
    }
    [bot] = manifest["bots"]
    bot["botId"] = app_id
    listed = [{"title": c.name, "description": c.description[:128]} for c in commands]
    bot["commandLists"][0]["commands"] = listed[:10]  # (Teams lists at most ten)
    return manifest


@teams_app.command("manifest")
def manifest(
    out: Annotated[Path, typer.Option(help="Where to write the package.")] = Path(
        "partnerbot-teams.zip"
    ),
    version: Annotated[
        str, typer.Option(help="The app's version: raise it on a change.")
    ] = "1.0.0",
    developer: Annotated[str, typer.Option(help="Who publishes the app.")] = "partnerbot",
    privacy_url: Annotated[str, typer.Option(help="Default: TEAMS_PUBLIC_URL.")] = "",
    terms_url: Annotated[str, typer.Option(help="Default: TEAMS_PUBLIC_URL.")] = "",
) -> None:
    """(Admin) Write the Teams app package: manifest.json (the bot in personal chats, teams,
    shared channels and group chats; its commands) and its icons, from TEAMS_APP_ID and
    TEAMS_PUBLIC_URL."""
    page = {"version": version, "developer": developer, "privacy": privacy_url, "terms": terms_url}
    with command_app() as app:
        data = app_manifest(app.settings, list(app.chat.commands), **page)
    icons = files("adapters").joinpath("teams")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
        for icon in ICONS:
            package.writestr(icon, icons.joinpath(icon).read_bytes())
    console.print(f"wrote {out}: upload it in Teams (Apps → Manage your apps → Upload an app)")
