"""`partnerbot teams …`: the Microsoft Teams app package, from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.session import command_app

teams_app = typer.Typer(help="Microsoft Teams: the app package to upload to Teams.")
console = Console()


@teams_app.command("manifest")
def manifest(
    out: Annotated[Path, typer.Option(help="Where to write the package.")] = Path(
        "partnerbot-teams.zip"
    ),
    version: Annotated[
        str, typer.Option(help="The app's version (raise it on changes).")
    ] = "1.0.0",
    developer: Annotated[str, typer.Option(help="Who publishes the app.")] = "partnerbot",
    privacy_url: Annotated[str | None, typer.Option(help="Default: TEAMS_PUBLIC_URL.")] = None,
    terms_url: Annotated[str | None, typer.Option(help="Default: TEAMS_PUBLIC_URL.")] = None,
) -> None:
    """(Admin) Write the Teams app package: manifest.json (the bot, its commands, personal,
    team and group chat scopes, shared channels) and its icons, from TEAMS_APP_ID and
    TEAMS_PUBLIC_URL."""
    from adapters.teams.manifest import manifest as build
    from adapters.teams.manifest import write_package

    details = {"version": version, "name": developer}
    details |= {k: v for k, v in (("privacy_url", privacy_url), ("terms_url", terms_url)) if v}
    with command_app() as app:
        write_package(out, build(app.settings, app.chat.commands, **details))
    console.print(f"wrote {out}: upload it in Teams (Apps → Manage your apps → Upload an app)")
