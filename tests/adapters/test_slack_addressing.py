"""A bot that knows when it is addressed, through real slack-bolt against FakeSlack (Found 7
and 8): in a thread it opened it answers questions, not people talking to each other (and
logs no gap for them); a DM conversation keeps its subject over three turns; broadcast
mentions in front of a question do not change what it asks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import App
from tests.adapters.slack_harness import (
    SlackDriver,
    channel_message,
    direct_message,
    mention,
    running_slack,
    slack_settings,
)
from tests.adapters.test_slack import posted, settle
from tests.fakes.slack_server import FakeSlack

CSAT = "whats the CSAT rule for gold partners?"


@pytest.fixture
async def slack(make_app: Callable[..., App]) -> AsyncIterator[SlackDriver]:
    with FakeSlack() as fake:
        async with running_slack(make_app(**slack_settings(fake, "socket")), fake) as driver:
            yield driver


async def test_in_its_thread_the_bot_answers_questions_not_chatter(slack: SlackDriver) -> None:
    fake = slack.fake
    first = mention(CSAT)
    await slack.event(first)
    await posted(fake, thread_ts=first["ts"])
    for chatter in ("lol same here", "<@U0PEER> did you see this?", "I'll ask Amy tomorrow"):
        await slack.event(channel_message(chatter, user="U0OTHER", thread_ts=first["ts"]))
    await settle(slack)
    assert len(await posted(fake, thread_ts=first["ts"])) == 1  # no reply to any of them
    await slack.event(channel_message("and for member tier?", thread_ts=first["ts"]))
    [_, follow] = await posted(fake, thread_ts=first["ts"], count=2)
    assert "2027-06-30" in follow.params["text"]
    gaps = [g.question for g in slack.app.store.interactions.gap_report().abstentions]
    assert not [g for g in gaps if "lol" in g or "Amy" in g or "see this" in g], gaps


async def test_a_dm_conversation_keeps_its_subject_over_three_turns(slack: SlackDriver) -> None:
    fake = slack.fake
    for count, text in enumerate((CSAT, "and for member tier?", "and elite?"), start=1):
        event = direct_message(text, user="U0ASKER")
        await slack.event(event)
        replies = await posted(fake, channel=event["channel"], count=count, timeout=60)
    member, elite = replies[1].params["text"], replies[2].params["text"]
    assert "3 responses" in member and "2027-06-30" in member, member
    assert "25 survey responses" in elite and "4.5" in elite, elite


async def test_broadcast_mentions_before_a_question_do_not_change_it(slack: SlackDriver) -> None:
    fake = slack.fake
    fee = "what is the annual fee for member partners"
    plain, loud = mention(fee), mention(f"<!channel> <!here> {fee}")
    await slack.event(plain)
    [answer] = await posted(fake, thread_ts=plain["ts"])
    await slack.event(loud)
    [same] = await posted(fake, thread_ts=loud["ts"])
    assert same.params["text"] == answer.params["text"]
    assert "Not in the program documents" not in same.params["text"]
