"""Per-partner notices on Discord, real discord.py against FakeDiscord: a partner's private
channel and direct messages to a partner's contacts each get that partner's customers
only, once, across a crash (found again by the key in the embed footer, in a DM too);
acknowledgements are recorded per partner."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.comms.dispatcher import Dispatcher
from bot.comms.registry import RegisterResult
from bot.config import SAMPLES_DIR
from tests.adapters.discord_harness import discord_settings, running_discord
from tests.adapters.test_discord_reconcile import notices_in
from tests.fakes.discord_server import FakeDiscord, fake_discord
from tests.scenarios.test_comms import COMM_ID, SAMPLE, Clock, before_send, write_routes
from tests.scenarios.test_partner_notices import (
    ALL_NAMES,
    CUSTOMERS,
    Crash,
    crash_after_a_direct_message,
)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with fake_discord() as server:
        yield server


def text_of(msg: dict[str, Any]) -> str:
    return "\n".join(f"{e.get('title', '')}\n{e.get('description', '')}" for e in msg["embeds"])


async def test_each_partner_gets_its_own_customers_once_on_discord_across_a_crash(
    fake: FakeDiscord,
    make_app: Callable[..., App],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harbour = fake.add_text_channel("harbour-it-private")
    wattle = fake.add_text_channel("wattle-private")
    bob, alice = fake.user_id, fake.admin_user_id  # Fjord Systems' two contacts, by DM
    partners = {
        "partners": [
            {"id": "harbour-it", "name": "Harbour IT", "discord": {"place": str(harbour)}},
            {
                "id": "fjord-systems",
                "name": "Fjord Systems",
                "discord": {
                    "contacts": [str(bob), str(alice)],
                    "teams": [str(fake.partner_role_id)],
                },
            },
            {
                "id": "wattle-msp",
                "name": "Wattle Managed Services",
                "discord": {"place": str(wattle)},
            },
        ]
    }
    routes = {
        "tags": {
            "regions": ["ANZ", "EMEA"],
            "segments": ["smb"],
            "products": ["Northwind Books"],
            "tiers": ["Member", "Advanced", "Elite"],
        },
        "routes": [{"match": {"regions": ["ANZ"]}, "discord": [str(fake.partner_channel_id)]}],
    }
    folder = tmp_path / "comms"
    folder.mkdir()
    shutil.copy(SAMPLES_DIR / "comms" / "recipients.csv", folder)
    shutil.copy(SAMPLE, folder / "licensing.yml")
    (folder / "partners.yml").write_text(yaml.safe_dump(partners), encoding="utf-8")
    app = make_app(
        **discord_settings(fake),
        PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, routes)),
        PARTNERBOT_PARTNERS_FILE=str(folder / "partners.yml"),
    )
    clock = Clock(before_send(days=2))  # inside the window: first notices at once
    app.comms.clock = clock
    app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
    assert isinstance(app.comms.add_file(folder / "licensing.yml"), RegisterResult)

    async with running_discord(app):
        crashing = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        crash_after_a_direct_message(crashing, monkeypatch)
        with pytest.raises(Crash):
            await asyncio.to_thread(crashing.run_once)
        restarted = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        await asyncio.to_thread(restarted.run_once)  # what nobody claimed goes out
        clock.advance(minutes=3)  # the dead dispatcher's lease runs out
        report = await asyncio.to_thread(restarted.run_once)
        assert len(report.reconciled) == 1 and report.posted == []
        assert (await asyncio.to_thread(restarted.run_once)).posted == []

        dms = {user: fake._dm_channel(user) for user in (bob, alice)}
        places = {"harbour-it": [harbour], "wattle-msp": [wattle], "fjord-systems": [*dms.values()]}
        for partner, channels in places.items():
            own = {name for _, name in CUSTOMERS[partner]}
            for channel in channels:
                [notice] = notices_in(fake, channel)
                footer = notice["embeds"][0]["footer"]["text"]
                assert footer.startswith(f"partnerbot · pb-partner:{COMM_ID}:r1:first:{partner}:")
                assert all(name in text_of(notice) for name in own)
                assert not {n for n in ALL_NAMES - own if n in text_of(notice)}
        [channel_notice] = notices_in(fake, fake.partner_channel_id)
        assert not {n for n in ALL_NAMES if n in text_of(channel_notice)}

        # Acknowledged in Harbour IT's channel, and by Fjord's contact in a DM.
        for channel, user in ((harbour, alice), (dms[bob], bob)):
            [notice] = notices_in(fake, channel)
            ack = notice["components"][0]["components"][0]["custom_id"]
            click = fake.component_click(ack, message_id=int(notice["id"]), user_id=user)
            [hook] = await fake.wait_for(
                ("POST", rf"^/webhooks/{fake.application_id}/{click['token']}$")
            )
            assert hook.json["content"].startswith("Thanks — noted for ")
    status = {p.partner_id: p for p in app.comms.reports.status(COMM_ID).partners}
    assert [a["user"] for a in status["harbour-it"].acks] == [str(alice)]
    assert [a["user"] for a in status["fjord-systems"].acks] == [str(bob)]
    assert status["wattle-msp"].acks == []
