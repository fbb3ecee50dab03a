"""Audiences through real slack-bolt against FakeSlack: who reads a reply decides what it
may draw on. The shipped samples: an Elite-only incentive guide (docs/elite/), the sample
partners file (Harbour IT is Elite, its Slack Connect workspace T0HARBOURIT, its contact
U0HARBOURAMY) and routes file. A public channel, a stranger's DM and a channel shared with
an unknown workspace get public documents only; Harbour IT's DM, its Slack Connect
channel (found by the channel's connected teams) get its tier's guide."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import App
from tests.adapters.slack_harness import (
    SlackDriver,
    direct_message,
    mention,
    running_slack,
    slack_settings,
)
from tests.fakes.slack_server import TEAM_ID, FakeSlack

QUESTION = "what incentive do we earn on a net-new customer deal?"
GUIDE = "Elite Partner Incentive Guide"
SECRET = "12% of the first-year subscription value"


@pytest.fixture
async def slack(make_app: Callable[..., App]) -> AsyncIterator[SlackDriver]:
    with FakeSlack() as fake:
        # Slack Connect channels: one shared with Harbour IT's workspace, one with a workspace
        # the partners file does not list.
        fake.seed_channel(
            "C0SHARED", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0HARBOURIT"]
        )
        fake.seed_channel("C0OTHERS", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0UNKNOWN"])
        async with running_slack(make_app(**slack_settings(fake, "socket")), fake) as driver:
            yield driver


async def reply_text(driver: SlackDriver, event: dict[str, object]) -> str:
    """Deliver an event; the text and blocks of the bot's reply, as one string."""
    before = len(driver.fake.calls_to("chat.postMessage"))
    await driver.event(event)
    calls = await driver.fake.async_wait_for("chat.postMessage", count=before + 1, timeout=60)
    params = calls[-1].params
    return f"{params.get('text')}\n{params.get('blocks')}"


async def test_places_without_access_get_public_documents_and_partners_their_tier(
    slack: SlackDriver,
) -> None:
    for event in (
        mention(QUESTION, channel="C0PARTNERS"),
        direct_message(QUESTION, user="U0STRANGER"),
        mention(QUESTION, channel="C0OTHERS", user="U0HARBOURAMY"),
        mention("what is the Elite incentive guide?", channel="C0PARTNERS"),
    ):
        shown = await reply_text(slack, event)
        assert GUIDE not in shown and SECRET not in shown and "elite/" not in shown, shown
    for event in (
        direct_message(QUESTION, user="U0HARBOURAMY"),
        mention(QUESTION, channel="C0SHARED", user="U0SOMEONE"),
        mention(QUESTION, channel="C0HARBOURIT"),  # Harbour IT's own place
    ):
        shown = await reply_text(slack, event)
        assert GUIDE in shown and SECRET in shown and "For Elite partners" in shown, shown
    # The channel's teams are asked once and kept.
    asked = [c.params.get("channel") for c in slack.fake.calls_to("conversations.info")]
    assert asked.count("C0SHARED") == 1 and asked.count("C0OTHERS") == 1
