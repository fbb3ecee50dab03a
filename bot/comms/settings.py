"""What the communications feature reads from the settings, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.comms.model import DEFAULT_LEAD_DAYS
from bot.config import SAMPLES_DIR, Settings
from bot.partners import find_partners_file


@dataclass(frozen=True)
class CommsSettings:
    folder: Path  # PARTNERBOT_COMMS_DIR, else the shipped samples
    routes_path: Path  # PARTNERBOT_COMMS_ROUTES, else <folder>/routes.yml
    lead_days: tuple[int, ...] = DEFAULT_LEAD_DAYS
    ack_reminder_days: int = 0
    recent_days: int = 30
    admin_channels: tuple[str, ...] = ()  # platform:channel
    sync_folder: bool = False  # the dispatcher syncs the folder each tick (a folder is set)
    poll_seconds: float = 30.0
    partners_path: Path | None = None  # PARTNERBOT_PARTNERS_FILE, else one in the folder
    retention_days: int = 14
    partner_ack_reminder_days: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> CommsSettings:
        folder = Path(settings.comms_dir or SAMPLES_DIR / "comms")
        return cls(
            folder=folder,
            routes_path=Path(settings.comms_routes or folder / "routes.yml"),
            lead_days=tuple(settings.comms_lead_days) or DEFAULT_LEAD_DAYS,
            ack_reminder_days=settings.comms_ack_reminder_days,
            recent_days=settings.comms_recent_days,
            admin_channels=tuple(settings.admin_channels),
            sync_folder=settings.comms_dir is not None,
            poll_seconds=settings.comms_poll_seconds,
            partners_path=settings.partners_file or find_partners_file(folder),
            retention_days=settings.recipients_retention_days,
            partner_ack_reminder_days=settings.partner_ack_reminder_days,
        )
