"""Who reads a reply (bot/chat/audiences.py): DMs by the asker's profile, partner places, Slack
Connect teams, mapped channels and roles; everything else is the public. The chat core
sets every question's audience from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.chat.audiences import (
    Audiences,
    PlaceMap,
    load_place_map,
    partner_viewer,
    unheld_tags,
    viewer_for_cli,
)
from bot.chat.membership import UNKNOWN, Membership
from bot.errors import ConfigError, UserError
from bot.models import Actor, ChannelRef
from bot.partners import Partner, Partners, Presence
from knowledge.audience import PUBLIC, Audience, Viewer

HARBOUR = Partner(
    "harbour-it",
    "Harbour IT",
    tier="Elite",
    region="ANZ",
    competencies=("Security",),
    presence=(
        Presence("slack", contacts=("U0AMY",), teams=("T0HARBOUR",), place="C0HARBOUR"),
        Presence("discord", contacts=("111",), teams=("900",)),
    ),
)
FJORD = Partner(
    "fjord",
    "Fjord Systems",
    tier="Advanced",
    region="EMEA",
    presence=(Presence("slack", contacts=("U0LARS",), teams=("T0FJORD",)),),
)
PARTNERS = Partners([HARBOUR, FJORD])
VOCABULARY = {"tiers": ["Member", "Advanced", "Elite"], "regions": ["ANZ", "EMEA"]}
ROUTES = {
    "tags": VOCABULARY,
    "audiences": [
        {"name": "Elite partners", "tags": {"tiers": ["Elite"]}, "slack": ["C0ELITE"]},
        {
            "name": "Top tiers",
            "tags": {"tiers": ["Elite", "Advanced"]},
            "discord": ["1200"],
            "discord_roles": ["777"],
        },
    ],
}
ELITE_ONLY = Audience.parse({"tiers": ["Elite"]})
ADVANCED_UP = Audience.parse({"tiers": ["Advanced", "Elite"]})
HARBOUR_ONLY = Audience.parse({"partners": ["harbour-it"]})
ANZ = Audience.parse({"regions": ["ANZ"]})


def write_routes(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "routes.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def audiences(tmp_path: Path) -> Audiences:
    places = load_place_map(write_routes(tmp_path, ROUTES), vocabulary=VOCABULARY)
    return Audiences(partners=lambda: PARTNERS, places=lambda: places)


def test_a_dm_is_read_by_the_asker_its_partner_or_its_roles_else_the_public(
    audiences: Audiences,
) -> None:
    def dm(actor: Actor) -> Viewer:
        return audiences.of_place(actor.platform, "D", asker=actor, direct=True)

    amy = dm(Actor("slack", "U0AMY"))
    assert amy.name == "Harbour IT" and amy.known("tiers") == "Elite"
    assert amy.sees(ELITE_ONLY) and amy.sees(HARBOUR_ONLY) and amy.sees(ANZ)
    lars = dm(Actor("slack", "U0LARS"))
    assert not lars.sees(ELITE_ONLY) and lars.sees(ADVANCED_UP) and not lars.sees(HARBOUR_ONLY)
    assert dm(Actor("slack", "U0WHO")) == PUBLIC
    # A Discord role that stands for tiers, for someone the partners file does not list.
    role = dm(Actor("discord", "222", roles=frozenset({"777"})))
    assert role.sees(ADVANCED_UP) and not role.sees(ELITE_ONLY)
    # Listed by a team (a Discord role id in the partners file): that partner.
    assert dm(Actor("discord", "333", roles=frozenset({"900"}))).sees(HARBOUR_ONLY)


def test_channels_by_partner_place_organisations_present_or_the_routes_file(
    audiences: Audiences,
) -> None:
    assert audiences.of_place("slack", "C0HARBOUR").sees(HARBOUR_ONLY)
    shared = audiences.of_place("slack", "C0SHARED", present=["T0HARBOUR"])
    assert shared.sees(HARBOUR_ONLY) and shared.sees(ELITE_ONLY)
    both = audiences.of_place("slack", "C0BOTH", present=["T0HARBOUR", "T0FJORD"])
    assert both.sees(ADVANCED_UP) and not both.sees(ELITE_ONLY) and not both.sees(HARBOUR_ONLY)
    assert not both.sees(ANZ)  # Fjord's people are in EMEA
    # A workspace nobody lists reads it too: the public, even in a mapped channel.
    assert audiences.of_place("slack", "C0ELITE", present=["T0HARBOUR", "T0X"]) == PUBLIC
    assert audiences.of_place("slack", "C0ELITE").sees(ELITE_ONLY)
    # A mapped channel shared with a partner: what both may read.
    elite_and_fjord = audiences.of_place("slack", "C0ELITE", present=["T0FJORD"])
    assert not elite_and_fjord.sees(ELITE_ONLY) and elite_and_fjord.sees(ADVANCED_UP)
    top = audiences.of_place("discord", "1200")
    assert top.sees(ADVANCED_UP) and not top.sees(ELITE_ONLY) and top.known("tiers") is None
    assert audiences.of_place("slack", "C0RANDOM") == PUBLIC
    assert audiences.of_place("slack", None) == PUBLIC


def test_a_partner_s_place_shared_with_anyone_else_is_not_private(audiences: Audiences) -> None:
    alone = audiences.readers("slack", "C0HARBOUR", present=["T0HARBOUR"])
    assert alone.private_to == "harbour-it" and alone.viewer.sees(HARBOUR_ONLY)
    for others, named in (
        (["T0FJORD"], "Fjord Systems"),
        (["T0HARBOUR", "T0STRANGER"], "T0STRANGER"),
        ([UNKNOWN], "could not name"),
    ):
        shared = audiences.readers("slack", "C0HARBOUR", present=others)
        assert shared.viewer == PUBLIC and shared.private_to is None, others
        assert shared.owner == HARBOUR and named in " ".join(shared.outsiders)
    # A place that is also a channel others read (the partners file refuses that; a routes
    # edit after it was read cannot make it private either).
    routed = Audiences(
        partners=lambda: PARTNERS,
        reserved=lambda: {ChannelRef("slack", "C0HARBOUR"): "a channel of route 'ANZ'"},
    ).readers("slack", "C0HARBOUR")
    assert routed.viewer == PUBLIC and routed.private_to is None
    assert routed.outsiders == ("the readers of a channel of route 'ANZ'",)


def test_who_is_present_is_asked_of_the_platform_kept_briefly_and_asked_again_on_a_change(
    tmp_path: Path,
) -> None:
    now = [0.0]
    members = {"C0HARBOUR": ["T0HARBOUR"], "C0SHARED": ["T0HARBOUR"]}
    asked: list[str] = []

    def lookup(channel: str) -> list[str]:
        asked.append(channel)
        if channel == "C0BROKEN":
            raise TimeoutError("the platform did not answer")
        return members.get(channel, [])

    membership = Membership(seconds=15, clock=lambda: now[0])
    membership.add_platform("slack", lookup)
    audiences = Audiences(partners=lambda: PARTNERS, membership=membership)
    assert audiences.readers("slack", "C0HARBOUR").private_to == "harbour-it"
    assert audiences.of_place("slack", "C0SHARED").sees(HARBOUR_ONLY)
    # A workspace joins: kept until the platform says so (an event), then seen at once.
    members["C0HARBOUR"].append("T0FJORD")
    members["C0SHARED"].append("T0NOBODY")
    assert audiences.readers("slack", "C0HARBOUR").private_to == "harbour-it"
    membership.changed("slack", "C0HARBOUR")
    assert audiences.readers("slack", "C0HARBOUR").private_to is None
    # Without an event, seconds later at the most.
    assert audiences.of_place("slack", "C0SHARED").sees(HARBOUR_ONLY)
    now[0] += 15
    assert audiences.of_place("slack", "C0SHARED") == PUBLIC
    # A lookup that fails reads as an organisation nobody can name: the public.
    assert audiences.of_place("slack", "C0BROKEN") == PUBLIC
    assert audiences.readers("slack", "C0HARBOUR").viewer == PUBLIC
    # Asked once per change or per `seconds`, not per question.
    assert asked == ["C0HARBOUR", "C0SHARED", "C0HARBOUR", "C0SHARED", "C0BROKEN", "C0HARBOUR"]
    # A platform that does not say who is there: its configuration decides.
    assert audiences.of_place("discord", "1200") == PUBLIC


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tags": {"tiers": ["Platinum"]}, "slack": ["C1"]}, "Platinum not among the tiers"),
        ({"tags": {"colours": ["red"]}, "slack": ["C1"]}, "unknown dimension 'colours'"),
        ({"tags": {"tiers": ["Elite"]}, "slack": ["#elite"]}, "give the channel id"),
        ({"tags": {"tiers": ["Elite"]}, "teams": ["C1"]}, "unknown platform 'teams'"),
        ({"slack": ["C1"]}, "'tags' must map dimensions"),
        ({"tags": {"tiers": ["Elite"]}, "slack": ["C0ELITE"]}, "mapped twice"),
    ],
)
def test_a_bad_audiences_section_is_refused_with_the_reason(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    data = {**ROUTES, "audiences": [*ROUTES["audiences"], change]}
    with pytest.raises(ConfigError, match=reason):
        load_place_map(
            write_routes(tmp_path, data), vocabulary=VOCABULARY, platforms=["slack", "discord"]
        )


def test_no_routes_file_or_section_maps_nothing(tmp_path: Path) -> None:
    assert load_place_map(None) == PlaceMap()
    assert load_place_map(write_routes(tmp_path, {"tags": VOCABULARY})) == PlaceMap()


def test_the_command_line_answers_for_the_public_a_partner_or_given_tags() -> None:
    assert viewer_for_cli(partners=PARTNERS) == PUBLIC
    assert viewer_for_cli(partners=PARTNERS, as_partner="harbour-it") == partner_viewer(HARBOUR)
    given = viewer_for_cli(partners=PARTNERS, audience=["tiers=Elite,Advanced", "regions=ANZ"])
    assert given.sees(ADVANCED_UP) and given.sees(ANZ) and not given.sees(ELITE_ONLY)
    for bad, reason in (
        ({"as_partner": "nobody"}, "no partner 'nobody'"),
        ({"audience": ["Elite"]}, "write dimension=tag"),
        ({"audience": ["tiers=Platinum"], "vocabulary": VOCABULARY}, "Platinum is not among"),
        ({"as_partner": "fjord", "audience": ["tiers=Elite"]}, "not both"),
    ):
        with pytest.raises(UserError, match=reason):
            viewer_for_cli(partners=PARTNERS, **bad)


def test_a_channel_of_several_partners_sees_only_what_all_of_them_may() -> None:
    common = Viewer.common([partner_viewer(HARBOUR), partner_viewer(FJORD)], name="both")
    assert common.facts == (("partners", ("fjord", "harbour-it")), ("regions", ("ANZ", "EMEA")),
                            ("tiers", ("Advanced", "Elite")))  # fmt: skip
    assert Viewer.common([partner_viewer(HARBOUR), PUBLIC], name="x").public


def test_an_audience_tag_nobody_holds_is_warned_about(tmp_path: Path) -> None:
    places = load_place_map(write_routes(tmp_path, ROUTES), vocabulary=VOCABULARY)
    documents = [
        ("elite.md", ELITE_ONLY.key),
        ("harbour.md", HARBOUR_ONLY.key),
        ("typo.md", Audience.parse({"tiers": ["Elit"], "regions": ["ANZ"]}).key),
        ("gone.md", Audience.parse({"partners": ["old-partner"]}).key),
        ("any.md", Audience.parse(["Security", "Platinum"]).key),
    ]
    warnings = unheld_tags(documents, PARTNERS, places)
    assert [w.split(":")[0] for w in warnings] == ["any.md", "gone.md", "typo.md"]
    assert "'Platinum'" in warnings[0] and "'partners: old-partner'" in warnings[1]
    assert "'tiers: Elit'" in warnings[2] and "ANZ" not in warnings[2]
