"""Notices on Discord across a crash: the dispatcher posts through the real discord.py to
FakeDiscord; a crash between posting and recording is reconciled by the key in the embed
footer; the Acknowledge button is recorded per user and channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.comms.dispatcher import Dispatcher
from tests.adapters.discord_harness import discord_settings, running_discord
from tests.fakes.discord_server import FakeDiscord, fake_discord
from tests.scenarios.test_comms import (
    COMM_ID,
    Clock,
    before_send,
    write_comm,
    write_routes,
)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with fake_discord() as server:
        yield server


class Crash(BaseException):
    """Stands for the process dying between the post and its record."""


def notices_in(fake: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    return [
        m
        for m in fake.bot_messages(channel)
        if any(
            str(e.get("footer", {}).get("text", "")).startswith("partnerbot · ")
            for e in m.get("embeds", [])
        )
    ]


async def test_discord_notice_survives_a_crash_and_records_acknowledgements(
    fake: FakeDiscord,
    make_app: Callable[..., App],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = fake.partner_channel_id
    routes = {
        "tags": {
            "regions": ["ANZ", "EMEA"],
            "segments": ["smb"],
            "products": ["Northwind Books"],
            "tiers": ["Member", "Advanced"],
        },
        "routes": [{"match": {"regions": ["ANZ"]}, "discord": [str(channel)]}],
    }
    folder = tmp_path / "comms"
    folder.mkdir()
    app = make_app(
        **discord_settings(fake), PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, routes))
    )
    clock = Clock(before_send(days=2))  # registered inside the window: first notice at once
    app.comms.clock = clock
    app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
    app.comms.add_file(write_comm(folder))

    async with running_discord(app):
        posters = app.posters
        crashing = Dispatcher(comms=app.comms, store=app.store, posters=posters)

        def die(*args: Any, **kwargs: Any) -> None:
            raise Crash

        monkeypatch.setattr(crashing.outbox, "record", die)
        with pytest.raises(Crash):
            await asyncio.to_thread(crashing.run_once)
        [posted] = notices_in(fake, channel)
        embed = posted["embeds"][0]
        key = f"pb-comm:{COMM_ID}:r1:first:discord:{channel}"
        assert embed["footer"]["text"] == f"partnerbot · {key}"
        assert "Northwind Books moves to per-user licensing" in embed["title"]
        assert "contact their Northwind partner" in embed["description"]

        restarted = Dispatcher(comms=app.comms, store=app.store, posters=posters)
        clock.advance(minutes=3)  # the dead dispatcher's lease runs out
        report = await asyncio.to_thread(restarted.run_once)
        assert report.reconciled == [key] and report.posted == []
        assert len(notices_in(fake, channel)) == 1  # one message per delivery key
        [delivery] = [d for d in app.comms.deliveries(COMM_ID) if d.kind == "first"]
        assert (delivery.status, delivery.message_id) == ("posted", posted["id"])

        buttons = posted["components"][0]["components"]
        ack_id = buttons[0]["custom_id"]
        assert ack_id == f"notice:acknowledge:comm:{delivery.id}"
        assert buttons[1]["custom_id"] == f"notice:ask:comm:{delivery.id}"
        click = fake.component_click(ack_id, message_id=int(posted["id"]))
        [hook] = await fake.wait_for(
            ("POST", rf"^/webhooks/{fake.application_id}/{click['token']}$")
        )
        assert hook.json["content"].startswith("Thanks — noted that you've seen")

        clock.set(before_send(days=1))
        report = await asyncio.to_thread(restarted.run_once)
        assert len(report.posted) == 1
        reminder = notices_in(fake, channel)[-1]["embeds"][0]
        assert "in 1 day" in reminder["description"]

    status = app.comms.reports.status(COMM_ID)
    [row] = status.channels
    assert [a["user"] for a in row.acks] == [str(fake.user_id)]
    assert [n["notice"] for n in row.notices] == [
        "first notice (at once)",
        "reminder (1 day before)",
    ]
