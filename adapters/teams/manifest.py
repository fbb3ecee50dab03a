"""The Teams app package (`partnerbot teams manifest`): manifest.json from the settings and the
command table, and the two icons, zipped to upload in Teams (Apps → Manage your apps)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.commands import Command
from bot.config import Settings
from bot.errors import ConfigError
from bot.prompts import message

VERSION = "1.19"  # of the manifest schema
ICONS = ("color.png", "outline.png")  # 192×192 in colour; 32×32 white on transparent


def manifest(settings: Settings, commands: Iterable[Command], **developer: str) -> dict[str, Any]:
    """The manifest: the bot in personal chats, teams (shared and private channels too) and
    group chats; the commands it takes in the personal chat; `developer`: name, privacy and
    terms URLs (default: TEAMS_PUBLIC_URL)."""
    app_id, url = settings.teams_app_id, settings.teams_public_url
    for name, value, why in (
        ("TEAMS_APP_ID", app_id, "the Azure Bot's Microsoft App ID"),
        ("TEAMS_PUBLIC_URL", url, "the https address Teams reaches partnerbot at"),
    ):
        if not value:
            raise ConfigError(message("config_teams_manifest", name=name, why=why))
    listed = [{"title": c.name, "description": c.description[:128]} for c in commands][:10]
    about = "Answers partner-program questions from the program documents, with sources."
    return {
        "$schema": f"https://developer.microsoft.com/json-schemas/teams/v{VERSION}/MicrosoftTeams.schema.json",
        "manifestVersion": VERSION,
        "version": developer.get("version", "1.0.0"),
        "id": app_id,
        "developer": {
            "name": developer.get("name", "partnerbot"),
            "websiteUrl": url,
            "privacyUrl": developer.get("privacy_url") or url,
            "termsOfUseUrl": developer.get("terms_url") or url,
        },
        "name": {"short": "partnerbot", "full": "partnerbot: partner program answers"},
        "description": {
            "short": about[:80],
            "full": f"{about} Tells partners ahead of time "
            "about what the vendor sends their customers.",
        },
        "icons": {"color": ICONS[0], "outline": ICONS[1]},
        "accentColor": "#2C3E50",
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": ["personal"], "commands": listed}],
            }
        ],
        "supportedChannelTypes": ["sharedChannels", "privateChannels"],
        "validDomains": [urlsplit(str(url)).hostname],
    }


def write_package(path: Path, app_manifest: dict[str, Any]) -> Path:
    """The zip Teams takes: manifest.json and the icons at its root."""
    icons = files("adapters").joinpath("teams")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(app_manifest, indent=2, ensure_ascii=False))
        for icon in ICONS:
            package.writestr(icon, icons.joinpath(icon).read_bytes())
    return path
