"""The communications tables, kept in the bot's state database (bot/state.py Store).

comms            one row per communication: its current data, status and revision
comm_deliveries  one row per planned notice (communication × channel × notice),
                 with its delivery key, due time, lifecycle and platform message id
comm_acks        who acknowledged a communication, per platform channel
comm_history     what happened to a communication, for `comms show`

Delivery lifecycle:

    planned ──claim──▶ claimed ──post+record──▶ posted
       │                  │ (lease expires: reclaimed; the key is looked up
       │                  │  on the platform before posting again)
       │                  └──error──▶ planned (retry later) … ▶ failed
       ├──▶ superseded   (rescheduled, edited or cancelled before it went out)
       ├──▶ skipped      (overdue behind a later notice; acknowledged already)
       └──▶ stale        (send_at passed before it could go out: admins alerted)

Times are stored as UTC ISO 8601 strings, which sort as they compare.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.state import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS comms (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    send_at TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    source TEXT,
    file_hash TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    registered_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS comm_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    comm_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    lead_days INTEGER,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL,
    not_before TEXT,
    claimed_by TEXT,
    claimed_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    posted_at TEXT,
    late INTEGER NOT NULL DEFAULT 0,
    reconciled INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}',
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comm_deliveries_due ON comm_deliveries(status, due_at);
CREATE INDEX IF NOT EXISTS comm_deliveries_comm ON comm_deliveries(comm_id, platform, channel);
CREATE TABLE IF NOT EXISTS comm_acks (
    comm_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    user TEXT NOT NULL,
    at TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    PRIMARY KEY (comm_id, platform, channel, user)
);
CREATE TABLE IF NOT EXISTS comm_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    comm_id TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    who TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""

# Deliveries that tell a channel about the communication (vs. cancel it or alert admins).
TELLING_KINDS = ("first", "reminder", "updated")


def ensure_schema(store: Store) -> None:
    with store.transaction() as db:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)


def iso(dt: datetime) -> str:
    """The stored form of a time: UTC, seconds, '+00:00'."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def notice_name(kind: str, lead_days: int | None = None, what: str = "") -> str:
    """'first-14d', 'reminder-3d', 'updated', 'alert-stale', …: the notice part of a key."""
    name = kind if not what else f"{kind}-{what}"
    return name if lead_days is None else f"{name}-{lead_days}d"


def delivery_key(comm_id: str, revision: int, notice: str, platform: str, channel: str) -> str:
    """Unique per (communication revision, notice, channel); stored with the post."""
    return f"pb-comm:{comm_id}:r{revision}:{notice}:{platform}:{channel}"


def button_value(delivery_id: int) -> str:
    """What a notice's buttons carry: short (Discord custom ids hold 100 characters)."""
    return f"comm:{delivery_id}"


def delivery_id_of(value: str) -> int | None:
    prefix, _, number = value.partition(":")
    return int(number) if prefix == "comm" and number.isdigit() else None
