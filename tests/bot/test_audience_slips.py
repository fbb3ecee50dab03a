"""Authoring slips never publish a restricted document (Found 4), through the command line.

Each slip below restricts one document to Elite partners in a way an author might write
it. `partnerbot index` either reads the restriction (the public is never answered from
the document; Elite readers are) or refuses the document naming the file and line (it is
not searchable at all) — never indexes it as public.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app as cli

runner = CliRunner()


@dataclass(frozen=True)
class Slip:
    name: str
    files: dict[str, str]  # path → text (a "->" text: a symbolic link to that path)
    codeword: str  # only the restricted document says it
    read: bool  # True: the restriction is read; False: the document is refused


def doc(codeword: str, meta: str = "", *, fence: str = "---") -> str:
    return (
        f"{fence}\ntitle: {codeword} Bonus\n{meta}---\n# {codeword} Bonus\n## Amount\n"
        f"Elite partners earn the {codeword} Bonus of 6% on renewals, claimed with form "
        f"{codeword[:3].upper()}-4711.\n"
    )


SLIPS = (
    Slip(
        "a .yaml folder file",
        {"a/_audience.yaml": "tiers: [Elite]\n", "a/x.md": doc("Numbat")},
        "Numbat",
        True,
    ),
    Slip(
        "a capitalised folder file",
        {"b/_Audience.YML": "tiers: [Elite]\n", "b/x.md": doc("Quoll")},
        "Quoll",
        True,
    ),
    Slip(
        "an audience: key around the folder file",
        {"c/_audience.yml": "Audience:\n  tier: [Elite]\n", "c/x.md": doc("Bilby")},
        "Bilby",
        True,
    ),
    Slip(
        "a fence with a trailing space",
        {"d.md": doc("Dingo", "audience: [Elite]\n", fence="--- ")},
        "Dingo",
        True,
    ),
    Slip("Audience: capitalised", {"e.md": doc("Echidna", "Audience: [Elite]\n")}, "Echidna", True),
    Slip(
        "the plural audiences:",
        {"f.md": doc("Galah", "audiences:\n  tiers: [Elite]\n")},
        "Galah",
        True,
    ),
    Slip(
        "a link from a public folder to a restricted file",
        {
            "g/_audience.yml": "tiers: [Elite]\n",
            "g/x.md": doc("Wallaby"),
            "public/x.md": "-> g/x.md",
        },
        "Wallaby",
        True,
    ),
    Slip(
        "a near-name folder file",
        {"h/_audiences.yml": "tiers: [Elite]\n", "h/x.md": doc("Cassowary")},
        "Cassowary",
        False,
    ),
    Slip(
        "front matter without fences",
        {
            "i.md": "title: Kookaburra Bonus\naudience: [Elite]\n\n"
            + doc("Kookaburra").split("---", 2)[2]
        },
        "Kookaburra",
        False,
    ),
    Slip(
        "two audience keys",
        {"j.md": doc("Wombat", "audience: [Elite]\nAudiences: everyone\n")},
        "Wombat",
        False,
    ),
)
PUBLIC = {
    "deals.md": "# Deal Registration\n## Protection\nAn approved deal is protected for 120 days.\n"
}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("-> "):
            os.symlink(root / text[3:], path)
        else:
            path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Every slip in one documents folder, indexed; then one more restricted file indexed on
    its own. (The environment and the index's failures, by path.)"""
    root = tmp_path_factory.mktemp("slips")
    docs = root / "docs"
    write(docs, PUBLIC)
    for slip in SLIPS:
        write(docs, slip.files)
    env = {"PARTNERBOT_DATA_DIR": str(root / "data"), "PARTNERBOT_DOCS_DIR": str(docs)}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = runner.invoke(cli, ["index", "--json"], env=env)
        report = json.loads(result.stdout)
        failures = {f["path"]: f["reason"] for f in report["failures"]}
        # Indexing one file of a restricted folder applies its folder's audience.
        write(docs, {"a/single.md": doc("Platypus")})
        single = runner.invoke(cli, ["index", str(docs / "a" / "single.md"), "--json"], env=env)
        assert single.exit_code == 0, single.output
        assert json.loads(single.stdout)["added"] == 1
        yield env, failures


def ask(env: dict[str, str], question: str, *args: str) -> str:
    result = runner.invoke(cli, ["ask", question, "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.name)
def test_a_slip_is_read_or_refused_never_public(
    indexed: tuple[dict[str, str], dict[str, str]], slip: Slip
) -> None:
    env, failures = indexed
    question = f"what is the {slip.codeword} Bonus on renewals?"
    public = ask(env, question)
    assert slip.codeword not in public and "4711" not in public, public
    elite = ask(env, question, "--audience", "tiers=Elite")
    refused = [
        path for path in failures if any(path.startswith(f.split("/")[0]) for f in slip.files)
    ]
    if slip.read:
        assert slip.codeword in elite and not refused, (elite, failures)
    else:  # refused, naming why; nobody is answered from it
        assert slip.codeword not in elite and refused, failures


def test_the_refusals_name_the_file_and_line(
    indexed: tuple[dict[str, str], dict[str, str]],
) -> None:
    _, failures = indexed
    assert (
        failures["h/x.md"] == "h/_audiences.yml: looks like an audience file; name it _audience.yml"
    )
    assert failures["i.md"].startswith("line 2: an audience outside the front matter")
    assert "gives the audience twice" in failures["j.md"]


def test_one_file_of_a_restricted_folder_indexed_alone_keeps_its_folder_s_audience(
    indexed: tuple[dict[str, str], dict[str, str]],
) -> None:
    env, _ = indexed
    question = "what is the Platypus Bonus on renewals?"
    assert "Platypus" not in ask(env, question)
    assert "a/single.md" in ask(env, question, "--audience", "tiers=Elite")
