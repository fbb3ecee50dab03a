"""The contract types: the one `platform:channel` parser, questions and their actor, topics."""

from __future__ import annotations

import dataclasses

import pytest

from bot.errors import ConfigError
from bot.models import Actor, ChannelRef, Question, Topic, Turn

KNOWN = ("discord", "slack")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("slack:#partners", ChannelRef("slack", "#partners")),
        (" Slack : C0123 ", ChannelRef("slack", "C0123")),
        ("discord:123456789012345678", ChannelRef("discord", "123456789012345678")),
    ],
)
def test_channel_ref_parses_platform_and_channel(spec: str, expected: ChannelRef) -> None:
    assert ChannelRef.parse(spec, platforms=KNOWN) == expected
    assert str(expected) == f"{expected.platform}:{expected.channel}"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("#partners", "is not platform:channel"),
        ("slack:", "is not a channel name or id"),
        ("slack:#", "is not a channel name or id"),
        ("slack:#two words", "is not a channel name or id"),
        (":C0123", "is not platform:channel"),
        ("sl@ck:C0123", "is not platform:channel"),
        ("slak:#partners", "unknown platform 'slak' (known: discord, slack)"),
    ],
)
def test_channel_ref_refuses_malformed_or_unknown(spec: str, says: str) -> None:
    with pytest.raises(
        ConfigError, match=f"^'{spec}'.*" + says.replace("(", r"\(").replace(")", r"\)")
    ):
        ChannelRef.parse(spec, platforms=KNOWN)


def test_channel_ref_without_known_platforms_checks_the_syntax_only() -> None:
    assert ChannelRef.parse("teams:General") == ChannelRef("teams", "General")
    assert ChannelRef.of("Slack", " #x ") == ChannelRef("slack", "#x")
    assert sorted([ChannelRef("slack", "b"), ChannelRef("discord", "a")])[0].platform == "discord"


def test_question_carries_an_actor_and_the_short_form_still_works() -> None:
    short = Question("what changed?", asker="U1", platform="slack", is_admin=True)
    assert short.actor == Actor("slack", "U1", is_admin=True)
    assert (short.asker, short.platform, short.is_admin) == ("U1", "slack", True)
    assert Question("q").actor == Actor("cli", "anonymous")
    full = Question(
        "q", actor=Actor("discord", "42", roles=frozenset({"7"})), history=[Turn("user", "x")]
    )
    assert full.history == (Turn("user", "x"),) and full.actor.roles == {"7"}
    assert dataclasses.replace(full, text="other").actor == full.actor
    with pytest.raises(TypeError):
        Question("q", asker="U1", actor=Actor("slack", "U1"))


def test_actor_who_is_the_one_format() -> None:
    assert Actor("slack", "U0PARTNER").who == "slack:U0PARTNER"
    assert Actor("discord", "123", team="9").who == "discord:123"


def test_topic_round_trips_through_text() -> None:
    topic = Topic("comms", "smb-licensing-2027")
    assert str(topic) == "comms:smb-licensing-2027"
    assert Topic.parse(str(topic)) == topic
    assert Topic.parse("") is None and Topic.parse("comms") is None
