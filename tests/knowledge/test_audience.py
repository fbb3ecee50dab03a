"""Audiences: who may read a document (front matter forms) and who sees it (viewers)."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.audience import EVERYTHING, PUBLIC, Audience, AudienceError, Viewer

HARBOUR = Viewer.holding(
    {
        "tiers": ["Elite"],
        "regions": ["ANZ"],
        "competencies": ["Cloud Infrastructure", "Security"],
        "partners": ["harbour-it"],
    },
    name="Harbour IT",
)
FJORD = Viewer.holding(
    {"tiers": ["Advanced"], "regions": ["EMEA"], "competencies": ["Data & AI"]}, name="Fjord"
)
ELITE_OR_ADVANCED = Viewer.of([("tiers", ["Elite", "Advanced"])], name="#partners-top")


def audience(value: Any) -> Audience:
    return Audience.parse(value)


def test_not_saying_means_everyone_and_everyone_can_be_said() -> None:
    values: tuple[Any, ...] = (None, "", [], {}, {"tiers": []})
    for value in values:
        parsed = audience(value)
        assert parsed.public and not parsed.given and parsed.key == ""
    said = audience("everyone")
    assert said.public and said.given and said.key == ""
    assert audience(["Everyone"]).given


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (True, "'audience' must be a list of names"),
        ([["Elite"]], "'audience' must be a list of names"),
        ({"tiers": {"x": 1}}, "'audience.tiers' must be a list of names"),
        (["everyone", "Elite"], "'everyone' cannot be listed with other tags"),
        ([f"t{i}" for i in range(101)], "101 tags; at most 100"),
        (["x" * 101], "longer than 100 characters"),
        ({"any": ["Elite"]}, "is not a name"),
    ],
)
def test_an_audience_that_cannot_be_read_is_refused_with_the_reason(
    value: Any, reason: str
) -> None:
    with pytest.raises(AudienceError, match=reason):
        audience(value)


def test_the_key_is_canonical_and_read_back() -> None:
    a = audience({"Tiers": ["Elite", "Advanced", " advanced "], "regions": "ANZ"})
    b = audience({"regions": ["ANZ"], "tiers": ["Advanced", "Elite"]})
    assert a.key == b.key  # order, spacing and repeats (in any case) do not matter
    assert Audience.from_key(a.key).key == a.key
    assert audience("Elite, Advanced").key == audience(["Advanced", "Elite"]).key
    assert audience({"tiers": ["Elite"]}).describe() == "tiers Elite"
    assert audience(["Elite", "Advanced"]).describe() == "Advanced or Elite"


def test_an_unreadable_stored_key_keeps_the_document_from_everyone_but_an_admin() -> None:
    broken = Audience.from_key("{not json")
    assert not broken.public
    assert not HARBOUR.sees(broken) and not PUBLIC.sees(broken)
    assert EVERYTHING.sees(broken)


def test_a_plain_list_is_anyone_holding_one_of_its_tags_of_any_dimension() -> None:
    listed = audience(["elite", "EMEA"])  # case does not matter
    assert HARBOUR.sees(listed)  # tier Elite
    assert FJORD.sees(listed)  # region EMEA
    assert not PUBLIC.sees(listed)
    assert audience(["harbour-it"]).key and HARBOUR.sees(audience(["harbour-it"]))
    assert not FJORD.sees(audience(["harbour-it"]))


def test_a_mapping_needs_one_tag_of_every_dimension_or_a_named_partner() -> None:
    elite_anz = audience({"tiers": ["Elite"], "regions": ["ANZ"]})
    assert HARBOUR.sees(elite_anz)
    assert not Viewer.holding({"tiers": ["Elite"], "regions": ["EMEA"]}, name="x").sees(elite_anz)
    security = audience({"competencies": ["Security"]})
    assert HARBOUR.sees(security)  # one of its competencies is enough
    assert not FJORD.sees(security)
    or_fjord = audience({"tiers": ["Elite"], "partners": ["fjord-systems"]})
    fjord = Viewer.holding({"tiers": ["Advanced"], "partners": ["fjord-systems"]}, name="f")
    assert HARBOUR.sees(or_fjord) and fjord.sees(or_fjord) and not FJORD.sees(or_fjord)
    only_partner = audience({"partners": ["harbour-it"]})
    assert HARBOUR.sees(only_partner) and not ELITE_OR_ADVANCED.sees(only_partner)


def test_a_channel_of_several_tiers_sees_what_every_one_of_them_may_read() -> None:
    assert ELITE_OR_ADVANCED.sees(audience({"tiers": ["Elite", "Advanced"]}))
    assert ELITE_OR_ADVANCED.sees(audience(["Elite", "Advanced", "Member"]))
    assert not ELITE_OR_ADVANCED.sees(audience({"tiers": ["Elite"]}))  # Advanced members too
    assert not ELITE_OR_ADVANCED.sees(
        audience({"tiers": ["Elite", "Advanced"], "regions": ["ANZ"]})
    )


def test_the_public_sees_public_documents_only_and_an_unknown_tag_reaches_nobody() -> None:
    assert PUBLIC.sees(audience(None)) and PUBLIC.sees(audience("everyone"))
    assert PUBLIC.public and not HARBOUR.public
    typo = audience({"tiers": ["Elit"]})
    assert not any(v.sees(typo) for v in (PUBLIC, HARBOUR, FJORD, ELITE_OR_ADVANCED))
    assert EVERYTHING.sees(typo)


def test_a_viewer_knows_its_one_tier_and_equal_viewers_share_a_key() -> None:
    assert HARBOUR.known("tiers") == "Elite"
    assert ELITE_OR_ADVANCED.known("tiers") is None  # two options: no one tier
    assert PUBLIC.known("tiers") is None
    again = Viewer.holding(
        {
            "partners": ["harbour-it"],
            "competencies": ["Security", "Cloud Infrastructure"],
            "regions": ["ANZ"],
            "tiers": ["Elite"],
        },
        name="another name",
    )
    assert again.key == HARBOUR.key and again.key != FJORD.key != PUBLIC.key
