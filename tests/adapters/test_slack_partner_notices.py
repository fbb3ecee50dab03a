"""Per-partner notices on Slack, real slack_sdk / slack-bolt against FakeSlack: a Slack
Connect channel, a private channel and direct messages to a partner's contacts each get
that partner's customers only, once, across a crash; acknowledgements are per partner."""

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
from tests.adapters.slack_harness import running_slack, slack_settings
from tests.adapters.test_slack import responses
from tests.adapters.test_slack_notices import SLACK_ROUTES, button_value, key_of, notices
from tests.fakes.slack_server import FakeSlack
from tests.scenarios.test_comms import COMM_ID, SAMPLE, Clock, before_send, write_routes
from tests.scenarios.test_partner_notices import (
    ALL_NAMES,
    CUSTOMERS,
    Crash,
    crash_after_a_direct_message,
)

HARBOUR, WATTLE = "C0HARBOUR", "C0WATTLE"  # a Slack Connect channel, a private channel
LARS, INGA = "D0LARS", "D0INGA"  # the DMs FakeSlack opens with U0LARS and U0INGA
PLACES = {"harbour-it": [HARBOUR], "wattle-msp": [WATTLE], "fjord-systems": [LARS, INGA]}
PARTNERS = {
    "partners": [
        {
            "id": "harbour-it",
            "name": "Harbour IT",
            "tier": "Elite",
            "slack": {"teams": ["T0HARBOUR"], "contacts": ["U0AMY"], "place": HARBOUR},
        },
        {
            "id": "fjord-systems",
            "name": "Fjord Systems",
            "slack": {"contacts": ["U0LARS", "U0INGA"]},
        },
        {"id": "wattle-msp", "name": "Wattle Managed Services", "slack": {"place": WATTLE}},
    ]
}


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.seed_channel(HARBOUR, name="harbour-it-northwind", is_ext_shared=True)
        server.seed_channel(WATTLE, name="wattle-private", is_private=True)
        yield server


@pytest.fixture
def app(make_app: Callable[..., App], fake: FakeSlack, tmp_path: Path) -> App:
    folder = tmp_path / "comms"
    folder.mkdir()
    shutil.copy(SAMPLES_DIR / "comms" / "recipients.csv", folder)
    shutil.copy(SAMPLE, folder / "licensing.yml")
    partners = folder / "partners.yml"
    partners.write_text(yaml.safe_dump(PARTNERS, sort_keys=False), encoding="utf-8")
    app = make_app(
        **slack_settings(fake),
        PARTNERBOT_COMMS_ROUTES=str(write_routes(folder, SLACK_ROUTES)),
        PARTNERBOT_PARTNERS_FILE=str(partners),
    )
    app.comms.clock = Clock(before_send(days=2))  # inside the window: first notices at once
    app.comms.refresh_index = lambda: None  # type: ignore[method-assign]
    assert isinstance(app.comms.add_file(folder / "licensing.yml"), RegisterResult)
    return app


def shown(msg: dict[str, Any]) -> str:
    """What a person reads of a message (Slack escapes &, < and > in text)."""
    text = f"{msg['text']}\n{msg['blocks']}"
    return text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


async def test_each_partner_gets_its_own_customers_once_on_slack_across_a_crash(
    app: App, fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_slack(app, fake) as slack:
        crashing = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        crash_after_a_direct_message(crashing, monkeypatch)
        with pytest.raises(Crash):
            await asyncio.to_thread(crashing.run_once)
        restarted = Dispatcher(comms=app.comms, store=app.store, posters=app.posters)
        await asyncio.to_thread(restarted.run_once)  # what nobody claimed goes out
        assert isinstance(app.comms.clock, Clock)
        app.comms.clock.advance(minutes=3)  # the dead dispatcher's lease runs out
        report = await asyncio.to_thread(restarted.run_once)
        assert len(report.reconciled) == 1 and report.posted == []
        assert (await asyncio.to_thread(restarted.run_once)).posted == []

        for partner, places in PLACES.items():
            own = {name for _, name in CUSTOMERS[partner]}
            for place in places:
                [notice] = notices(fake, place)
                assert key_of(notice).startswith(f"pb-partner:{COMM_ID}:r1:first:{partner}:")
                text = shown(notice)
                assert own and all(name in text for name in own)
                assert not {n for n in ALL_NAMES - own if n in text}
        assert "For Harbour IT: 3 customers of yours" in notices(fake, HARBOUR)[0]["text"]
        history = fake.calls_to("conversations.history")
        assert any(c.params.get("channel") in (LARS, INGA) for c in history)  # looked up by key

        clicks = [(HARBOUR, "U0AMY"), (HARBOUR, "U0VENDOR"), (INGA, "U0INGA")]
        for place, user in clicks:
            [notice] = notices(fake, place)
            value = button_value(notice, "notice_acknowledge")
            where = {"channel_id": place, "message_ts": notice["ts"]}
            assert await slack.click("notice_acknowledge", value, user_id=user, **where) == 200
        thanks = await responses(fake, count=3)
    assert thanks[0]["text"].startswith("Thanks — noted for Harbour IT that you've seen")
    assert thanks[2]["text"].startswith("Thanks — noted for Fjord Systems that you've seen")
    status = {p.partner_id: p for p in app.comms.reports.status(COMM_ID).partners}
    assert [a["user"] for a in status["harbour-it"].acks] == ["U0AMY", "U0VENDOR"]
    assert [a["user"] for a in status["fjord-systems"].acks] == ["U0INGA"]
    assert status["wattle-msp"].acks == []
    assert all(s.told_at is not None for s in status.values())
    # The partner channels got the usual notice, which names no customer.
    for channel in ("C0ANZ", "C0EMEA"):
        [notice] = notices(fake, channel)
        assert not {n for n in ALL_NAMES if n in shown(notice)}
