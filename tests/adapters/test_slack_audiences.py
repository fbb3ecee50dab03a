"""Audiences through real slack-bolt against FakeSlack: who reads a reply decides what it
may draw on. The shipped samples: an Elite-only incentive guide (docs/elite/), the sample
partners file (Harbour IT is Elite, its Slack Connect workspace T0HARBOURIT, its contact
U0HARBOURAMY, its place C0HARBOURIT; Fjord Systems is Advanced) and routes file (C0PARTNERSELITE
is mapped to Elite). Who is in a channel comes from conversations.info (its connected teams)
and is asked again as soon as Slack reports a change (member_joined_channel, channel_shared)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.app import App
from bot.prompts import message
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
        fake.seed_channel(
            "C0HARBOURIT", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0HARBOURIT"]
        )
        async with running_slack(make_app(**slack_settings(fake, "socket")), fake) as driver:
            yield driver


async def reply_text(driver: SlackDriver, event: dict[str, object]) -> str:
    """Deliver an event; the text and blocks of the bot's reply, as one string."""
    before = len(driver.fake.calls_to("chat.postMessage"))
    await driver.event(event)
    calls = await driver.fake.async_wait_for("chat.postMessage", count=before + 1, timeout=60)
    params = calls[-1].params
    return f"{params.get('text')}\n{params.get('blocks')}"


async def command_reply(driver: SlackDriver, text: str, **where: Any) -> dict[str, Any]:
    """Run `/partner <text>`; the private reply (response_url body)."""
    before = len(driver.fake.calls_to("response_url"))
    await driver.command(text, **where)
    calls = await driver.fake.async_wait_for("response_url", count=before + 1, timeout=60)
    return dict(calls[-1].params)


def elite(shown: str) -> bool:
    return GUIDE in shown and SECRET in shown


def leaked(shown: str) -> bool:
    return GUIDE in shown or SECRET in shown or "elite/" in shown


async def test_places_without_access_get_public_documents_and_partners_their_tier(
    slack: SlackDriver,
) -> None:
    for event in (
        mention(QUESTION, channel="C0PARTNERS"),
        direct_message(QUESTION, user="U0STRANGER"),
        mention(QUESTION, channel="C0OTHERS", user="U0HARBOURAMY"),
        mention("what is the Elite incentive guide?", channel="C0PARTNERS"),
    ):
        assert not leaked(shown := await reply_text(slack, event)), shown
    for event in (
        direct_message(QUESTION, user="U0HARBOURAMY"),
        mention(QUESTION, channel="C0SHARED", user="U0SOMEONE"),
        mention(QUESTION, channel="C0HARBOURIT"),  # Harbour IT's own place
    ):
        shown = await reply_text(slack, event)
        assert elite(shown) and "For Elite partners" in shown, shown


async def test_a_partner_s_place_shared_with_another_workspace_is_answered_for_the_public(
    slack: SlackDriver,
) -> None:
    """Found 1 and 7: Harbour IT's place answers for Harbour IT alone while only Harbour IT
    shares it; once an unknown workspace joins (Slack says channel_shared), the very next
    question there is answered for the public; once it leaves, for Harbour IT again."""
    fake = slack.fake
    assert elite(await reply_text(slack, mention(QUESTION, channel="C0HARBOURIT")))
    fake.seed_channel(
        "C0HARBOURIT", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0HARBOURIT", "T0RIVAL"]
    )
    await slack.event(
        {
            "type": "channel_shared",
            "channel": "C0HARBOURIT",
            "connected_team_id": "T0RIVAL",
            "event_ts": "1.1",
        }
    )
    assert not leaked(shown := await reply_text(slack, mention(QUESTION, channel="C0HARBOURIT"))), (
        shown
    )
    fake.seed_channel(
        "C0HARBOURIT", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0HARBOURIT"]
    )
    await slack.event(
        {
            "type": "member_left_channel",
            "channel": "C0HARBOURIT",
            "user": "U0RIVAL",
            "team": "T0RIVAL",
            "event_ts": "1.2",
        }
    )
    assert elite(await reply_text(slack, mention(QUESTION, channel="C0HARBOURIT")))


async def test_partner_ask_answers_for_who_shares_the_channel_and_for_the_asker_in_a_dm(
    slack: SlackDriver,
) -> None:
    """Found 2: `/partner ask` in the Elite channel shared with an unknown workspace answers
    for the public (as a mention there does); in a DM, for the asker's partner."""
    slack.fake.seed_channel(
        "C0PARTNERSELITE", is_ext_shared=True, connected_team_ids=[TEAM_ID, "T0UNKNOWN"]
    )
    shared = await command_reply(slack, f"ask {QUESTION}", channel_id="C0PARTNERSELITE")
    assert not leaked(f"{shared['text']}\n{shared.get('blocks')}"), shared
    mentioned = await reply_text(slack, mention(QUESTION, channel="C0PARTNERSELITE"))
    assert not leaked(mentioned), mentioned
    dm = await command_reply(
        slack, f"ask {QUESTION}", user_id="U0HARBOURAMY", channel_id="DHARBOURAMY"
    )
    assert elite(f"{dm['text']}\n{dm.get('blocks')}"), dm
    stranger = await command_reply(slack, f"ask {QUESTION}", user_id="U0X", channel_id="D0X")
    assert not leaked(f"{stranger['text']}\n{stranger.get('blocks')}"), stranger


async def test_post_to_channel_is_for_the_asker_where_it_was_asked(slack: SlackDriver) -> None:
    """Found 7: "Post to channel" finds the answer by interaction id, but posts it only for the
    person who asked, in the channel it was asked in."""
    private = await command_reply(
        slack, f"ask {QUESTION}", user_id="U0HARBOURAMY", channel_id="C0HARBOURIT"
    )
    assert elite(f"{private['text']}\n{private.get('blocks')}")
    [share] = next(b for b in private["blocks"] if b.get("block_id") == "share")["elements"]

    async def post_as(user: str, channel: str) -> None:
        await slack.click(
            "share_answer", share["value"], user_id=user, channel_id=channel, ephemeral=True
        )

    for user, channel in (("U0FJORDLARS", "C0PARTNERS"), ("U0HARBOURAMY", "C0PARTNERS")):
        before = len(slack.fake.calls_to("response_url"))
        await post_as(user, channel)
        refused = await slack.fake.async_wait_for("response_url", count=before + 1, timeout=30)
        assert refused[-1].params["text"] == message("share_elsewhere")
    assert not slack.fake.calls_to("chat.postMessage")
    await post_as("U0HARBOURAMY", "C0HARBOURIT")
    [posted] = await slack.fake.async_wait_for("chat.postMessage", timeout=30)
    assert posted.params["channel"] == "C0HARBOURIT" and elite(str(posted.params))
