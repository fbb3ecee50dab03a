"""The partners file: who is who (by id, person, team, place), validated line by line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from bot.config import SAMPLES_DIR
from bot.errors import ConfigError
from bot.models import Actor, ChannelRef
from bot.partners import Partners, PartnersFile, find_partners_file, load_partners
from tests.hostile_files import alias_bomb_yaml

PLATFORMS = ("slack", "discord")
TAGS = {"tiers": ["Member", "Advanced", "Elite"], "regions": ["ANZ", "EMEA"]}

YAML = """\
partners:
  - id: harbour-it
    name: Harbour IT
    tier: Elite
    region: ANZ
    competencies: [Cloud Infrastructure, Security]
    slack:
      teams: [T0HARBOUR]
      contacts: [U0AMY]
      place: C0HARBOUR
  - id: Fjord-Systems
    name: Fjord Systems
    tier: Advanced
    slack:
      contacts: [U0LARS, U0INGA]
  - id: wattle-msp
    name: Wattle Managed Services
    tier: Member
    competencies: Modern Work
    discord:
      teams: ["301"]
      contacts: ["311"]
      place: "321"
"""

CSV = """\
id,name,tier,region,competencies,slack_teams,slack_contacts,slack_place,discord_teams,discord_contacts,discord_place
harbour-it,Harbour IT,Elite,ANZ,Cloud Infrastructure; Security,T0HARBOUR,U0AMY,C0HARBOUR,,,
Fjord-Systems,Fjord Systems,Advanced,,,,U0LARS;U0INGA,,,,

wattle-msp,Wattle Managed Services,Member,,Modern Work,,,,301,311,321
"""


def write(tmp_path: Path, text: str, name: str = "partners.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, **kw: object) -> str:
    with pytest.raises(ConfigError) as e:
        load_partners(path, platforms=PLATFORMS, **kw)  # type: ignore[arg-type]
    return str(e.value)


@pytest.mark.parametrize("name,text", [("partners.yml", YAML), ("partners.csv", CSV)])
def test_a_partners_file_tells_who_is_who_in_yaml_or_csv(
    tmp_path: Path, name: str, text: str
) -> None:
    partners = load_partners(write(tmp_path, text, name), platforms=PLATFORMS, vocabulary=TAGS)
    assert [p.id for p in partners] == ["harbour-it", "fjord-systems", "wattle-msp"]
    harbour = partners.get("HARBOUR-IT")
    assert harbour is not None and harbour.name == "Harbour IT"
    assert (harbour.tier, harbour.region, harbour.competencies) == (
        "Elite",
        "ANZ",
        ("Cloud Infrastructure", "Security"),
    )
    assert harbour.tags() == {
        "tiers": ("Elite",),
        "regions": ("ANZ",),
        "competencies": ("Cloud Infrastructure", "Security"),
    }
    assert harbour.places == (ChannelRef("slack", "C0HARBOUR"),)
    fjord = partners.get("fjord-systems")
    assert fjord is not None and fjord.places == () and fjord.region == ""
    assert fjord.contacts == (Actor("slack", "U0LARS"), Actor("slack", "U0INGA"))
    wattle = partners.get("wattle-msp")
    assert wattle is not None and wattle.competencies == ("Modern Work",)
    # Who is this person, this team, this place?
    assert partners.for_actor(Actor("slack", "U0INGA")) is fjord
    assert partners.for_actor(Actor("slack", "U0SOMEONE", team="T0HARBOUR")) is harbour
    assert partners.for_actor(Actor("discord", "999", team="1", roles=frozenset({"301"}))) is wattle
    assert partners.for_actor(Actor("slack", "U0SOMEONE", team="T0VENDOR")) is None
    assert partners.for_actor(Actor("discord", "U0AMY")) is None  # ids are per platform
    assert partners.for_team("slack", "T0HARBOUR") is harbour
    assert partners.for_place("discord", "321") is wattle
    assert partners.for_place("slack", "321") is None
    assert partners.for_contact("discord", "311") is wattle


def test_a_person_whose_roles_point_at_two_partners_is_nobody(tmp_path: Path) -> None:
    """Guessing could show one partner another's customers: two matches is no match."""
    partners = load_partners(write(tmp_path, YAML), platforms=PLATFORMS)
    extra = load_partners(
        write(
            tmp_path,
            YAML + '  - id: other\n    name: Other\n    discord:\n      teams: ["302"]\n',
        ),
        platforms=PLATFORMS,
    )
    both = Actor("discord", "999", roles=frozenset({"301", "302"}))
    assert extra.for_actor(both) is None
    assert partners.for_actor(both) is partners.get("wattle-msp")  # only one is a partner there
    contact = Actor("discord", "311", roles=frozenset({"301", "302"}))
    assert extra.for_actor(contact) is extra.get("wattle-msp")  # a listed contact is certain


def test_every_problem_is_refused_with_its_line_and_reason(tmp_path: Path) -> None:
    text = """\
partners:
  - id: harbour-it
    name: Harbour IT
    tier: Gold
    slack:
      contacts: [U0AMY]
      place: C0HARBOUR
      chanel: C0TYPO
  - id: harbour-it
    name: Harbour Again
  - id: bad id!
    name: Bad
  - id: no-name
  - id: teams-2
    name: Teams
    teams: [T1]
    slack:
      contacts: [U0AMY]
      place: "@U0AMY"
  - id: listy
    name: [a, b]
    region: [ANZ, EMEA]
"""
    reason = refused(write(tmp_path, text), vocabulary=TAGS)
    path = tmp_path / "partners.yml"
    for expected in (
        f"{path}:4: unknown tier 'Gold' (known tiers: Advanced, Elite, Member)",
        f"{path}:8: slack: unknown field 'chanel' (use contacts, teams, place)",
        f"{path}:9: id harbour-it is also listed for harbour-it (line 2)",
        f"{path}:11: id 'bad id!' must be letters, digits",
        f"{path}:13: missing or bad name",
        f"{path}:16: unknown field or platform 'teams'",
        f"{path}:14: contact slack:U0AMY is also listed for harbour-it (line 2)",
        f"{path}:19: slack.place '@U0AMY' is a person: list people as contacts",
        f"{path}:21: missing or bad name",
        f"{path}:22: region must be one name",
    ):
        assert expected in reason, (expected, reason)
    assert reason.startswith("the partners file is refused — ")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("partners: {id: x}\n", ":1: the partners file is a mapping with a `partners:` list"),
        ("partners:\n  - just a name\n", ":2: each partner is a mapping"),
        ("partners:\n  - id: x\n    name: [unclosed\n", "the partners file is not valid YAML"),
        (alias_bomb_yaml(key="partners"), "refused (an alias bomb?)"),
    ],
)
def test_a_broken_yaml_file_is_refused_naming_the_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in refused(write(tmp_path, text))


def test_a_csv_with_an_unknown_column_or_a_duplicate_place_is_refused(tmp_path: Path) -> None:
    bad_column = "id,name,slack_channel\nx,X,C1\n"
    assert ":1: unknown column 'slack_channel'" in refused(write(tmp_path, bad_column, "p.csv"))
    other_platform = "id,name,teams_place\nx,X,C1\n"
    assert "unknown column 'teams_place'" in refused(write(tmp_path, other_platform, "p.csv"))
    no_name = "id,tier\nx,Elite\n"
    assert "must name at least the columns id and name" in refused(
        write(tmp_path, no_name, "p.csv")
    )
    same_place = "id,name,slack_place\na,A,C1\nb,B,C1\n"
    assert "p.csv:3: place slack:C1 is also listed for a (line 2)" in refused(
        write(tmp_path, same_place, "p.csv")
    )


def test_no_file_means_no_partners_and_the_folder_default_is_found(tmp_path: Path) -> None:
    assert len(load_partners(None)) == 0 and Partners().for_actor(Actor("slack", "U1")) is None
    assert find_partners_file(tmp_path) is None
    write(tmp_path, CSV, "partners.csv")
    assert find_partners_file(tmp_path) == tmp_path / "partners.csv"
    assert find_partners_file(SAMPLES_DIR / "comms") == SAMPLES_DIR / "comms" / "partners.yml"


def test_the_sample_partners_file_has_three_organisations_one_per_tier() -> None:
    routes_tags = {"tiers": ["Member", "Advanced", "Elite"], "regions": ["ANZ", "EMEA"]}
    partners = load_partners(
        SAMPLES_DIR / "comms" / "partners.yml",
        platforms=(*PLATFORMS, "teams"),
        vocabulary=routes_tags,
    )
    assert sorted(p.tier for p in partners) == ["Advanced", "Elite", "Member"]
    harbour = partners.get("harbour-it")
    assert harbour is not None and (on := harbour.on("teams")) is not None and on.teams


def test_an_edit_is_read_again_and_a_broken_one_fails_closed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, YAML)
    file = PartnersFile(path, platforms=PLATFORMS)
    assert len(file.check()) == 3
    first = file.version
    assert file.get() is file.get()  # not read again while unchanged
    path.write_text(YAML.replace("Harbour IT", "Harbour IT Group"), encoding="utf-8")
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    renamed = file.get().get("harbour-it")
    assert renamed is not None and renamed.name == "Harbour IT Group"
    assert file.version != first

    # A broken edit: no partner is known (replies for the public, no private notice), never
    # the version before it; the admin is told once.
    path.write_text(YAML + "  - id: broken\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing or bad name"):
        file.get()
    with caplog.at_level(logging.WARNING, logger="bot.partners"):
        assert len(file.get_or_none()) == 0
        assert len(file.get_or_none()) == 0
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "missing or bad name" in warned[0]
    assert "no partner is known until it is fixed" in warned[0]
    assert file.version is None
    assert file.problem is not None and "missing or bad name" in file.problem

    path.write_text(YAML, encoding="utf-8")  # fixed: read again
    assert file.get().get("harbour-it") is not None and file.problem is None
    assert file.version is not None


def test_comms_partners_lists_where_each_partner_is_told_or_refuses_the_file(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from bot.cli.main import app as cli

    env = {"PARTNERBOT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    out = CliRunner().invoke(cli, ["comms", "partners", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["file"] == str(SAMPLES_DIR / "comms" / "partners.yml")
    assert {p["partner"]: p["told_in"] for p in data["partners"]} == {
        "harbour-it": ["slack C0HARBOURIT"],
        "fjord-systems": ["slack DM to U0FJORDLARS", "slack DM to U0FJORDINGA"],
        "wattle-msp": ["discord 1300000000000000321"],
    }
    broken = write(tmp_path, YAML.replace("    name: Harbour IT\n", ""))
    env["PARTNERBOT_PARTNERS_FILE"] = str(broken)
    out = CliRunner().invoke(cli, ["comms", "partners"], env=env)
    assert out.exit_code == 2  # a configuration error
    assert f"{broken}:2: missing or bad name" in " ".join(out.output.split())


def test_a_place_that_others_read_is_refused_naming_the_line(tmp_path: Path) -> None:
    """Found 5: a partner's place may not be a route channel, a tier (mapped) channel, an admin
    channel or another partner's place; `comms partners` (and `serve`) refuse such a file."""
    from typer.testing import CliRunner

    from bot.cli.main import app as cli

    holes = (
        YAML.replace("place: C0HARBOUR", "place: C0PARTNERSELITE")  # the Elite channel
        .replace(
            "    slack:\n      contacts: [U0LARS, U0INGA]",
            "    slack:\n      contacts: [U0LARS, U0INGA]\n      place: '#partners-anz'",
        )  # a route's channel
        .replace('place: "321"', 'place: "1200000000000000001"')  # a route's Discord channel
        + "  - id: copycat\n    name: Copycat\n    slack:\n      place: C0PARTNERSELITE\n"
    )
    env = {
        "PARTNERBOT_DATA_DIR": str(tmp_path / "data"),
        "PARTNERBOT_PARTNERS_FILE": str(write(tmp_path, holes)),
        "COLUMNS": "300",
    }
    out = CliRunner().invoke(cli, ["comms", "partners"], env=env)
    shown = " ".join(out.output.split())
    assert out.exit_code == 2, out.output
    assert "yml:10: slack.place C0PARTNERSELITE is also the Elite partners channel" in shown
    assert "partners.yml:16: slack.place #partners-anz is also a channel of route" in shown
    assert "discord.place 1200000000000000001 is also a channel of route" in shown
    assert "place slack:C0PARTNERSELITE is also listed for harbour-it" in shown
    # The same file without those places is fine.
    env["PARTNERBOT_PARTNERS_FILE"] = str(write(tmp_path, YAML, "good.yml"))
    assert CliRunner().invoke(cli, ["comms", "partners"], env=env).exit_code == 0
