"""Change records tell of a change only where its document may be read now, and a digest
marks published only what it posted.

A public folder is indexed (the baseline), a promotion is added (an "added" change, public
then), and the promotion is restricted afterwards — by an `audience:` line, or by moving it
into a folder whose `_audience.yml` restricts it. "What changed?" from the command line and
the next digest to a public channel say nothing of it; readers it is for still hear of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.cli.main import app as cli
from bot.config import Settings
from tests.conftest import TEST_PLATFORMS
from tests.fakes.memory_platform import MemoryPlatform

PUBLIC = """---
title: Deal Registration Rules
---
# Deal Registration Rules
## Protection
An approved registration protects the deal for 120 days.
"""
PROMO = """---
title: Platypus Bonus
{audience}---
# Platypus Bonus
## Bonus
Partners earn the Platypus Bonus of 4% on renewals signed before 30 June.
"""
WORDS = ("Platypus", "platypus.md", "4% on renewals")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def what_changed(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, ["ask", "what changed recently?", "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    return json.dumps(json.loads(result.stdout))


@pytest.mark.parametrize("how", ["front matter", "moved into a restricted folder"])
def test_a_document_restricted_after_a_change_was_recorded_is_not_told_to_the_public(
    tmp_path: Path, how: str
) -> None:
    """Found 3."""
    docs = tmp_path / "docs"
    write(docs / "deals.md", PUBLIC)
    write(docs / "elite" / "_audience.yml", "tiers: [Elite]\n")
    write(docs / "elite" / "guide.md", PUBLIC.replace("Deal Registration", "Elite Guide"))
    env = {"PARTNERBOT_DATA_DIR": str(tmp_path / "data"), "PARTNERBOT_DOCS_DIR": str(docs)}
    runner = CliRunner()
    assert runner.invoke(cli, ["index"], env=env).exit_code == 0  # the baseline
    write(docs / "platypus.md", PROMO.format(audience=""))
    assert runner.invoke(cli, ["index"], env=env).exit_code == 0  # "added", public then
    assert "Platypus" in what_changed(env)
    if how == "front matter":
        write(docs / "platypus.md", PROMO.format(audience="audience: [Elite]\n"))
    else:
        (docs / "platypus.md").rename(docs / "elite" / "platypus.md")
    assert runner.invoke(cli, ["index"], env=env).exit_code == 0
    public = what_changed(env)
    assert not [w for w in WORDS if w in public], public
    assert "Platypus Bonus" in what_changed(env, "--audience", "tiers=Elite")


def test_a_digest_marks_published_only_what_it_posted(tmp_path: Path) -> None:
    """Found 7: a change no channel may be told of stays unpublished, so the Elite channel
    added later gets it; the public channel is never told of it."""
    docs, comms = tmp_path / "docs", tmp_path / "comms"
    write(docs / "deals.md", PUBLIC)
    write(docs / "elite" / "_audience.yml", "tiers: [Elite]\n")
    write(docs / "elite" / "platypus.md", PROMO.format(audience=""))
    routes = {"tags": {"tiers": ["Elite"]}, "audiences": [ELITE_CHANNEL]}
    write(comms / "routes.yml", json.dumps(routes))
    settings = Settings(
        PARTNERBOT_DATA_DIR=tmp_path / "data",  # type: ignore[call-arg]
        PARTNERBOT_DOCS_DIR=docs,
        PARTNERBOT_COMMS_DIR=comms,
    )
    app = App(settings, registry=TEST_PLATFORMS)
    try:
        app.core.reindex(docs)  # the baseline
        write(docs / "elite" / "platypus.md", PROMO.format(audience="").replace("4%", "5%"))
        write(docs / "deals.md", PUBLIC.replace("120 days", "150 days"))
        assert app.core.reindex(docs).ok and len(app.changes.last_run) == 2
        platform = app.add_platform("memory")
        assert isinstance(platform, MemoryPlatform)
        public = app.changes.publish(channels=["memory:C-partners"])
        assert public.ok and public.count == 1
        [told] = platform.in_place("C-partners")
        assert "150 days" in told.rendered and "Platypus" not in told.rendered
        unpublished = app.changes.records.list(unpublished_only=True)
        assert [r.doc_path for r in unpublished] == ["elite/platypus.md"]
        elite = app.changes.publish(channels=["memory:C-partners", "memory:C-elite"])
        assert elite.ok and elite.count == 1
        [posted] = platform.in_place("C-elite")
        assert "5% on renewals" in posted.rendered and len(platform.in_place("C-partners")) == 1
        assert all(r.published_at for r in app.changes.records.list())
    finally:
        app.close()


ELITE_CHANNEL = {"name": "Elite partners", "tags": {"tiers": ["Elite"]}, "memory": ["C-elite"]}
