from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.config import SAMPLES_DIR
from bot.core import PartnerBot
from bot.evaluation import answerer_fn, dense_baseline_fn, evaluate, load_questions, normalise

DEVSET = SAMPLES_DIR / "devset.jsonl"


def test_devset_is_big_and_varied_enough() -> None:
    items = load_questions(DEVSET)
    kinds = [i.type for i in items]
    assert len(items) >= 40
    assert sum(1 for i in items if not i.answerable) >= 6
    assert sum(1 for i in items if len(i.turns) > 1) >= 8
    assert "contradiction" in kinds
    docs = {p.name for p in (SAMPLES_DIR / "docs").glob("*.md")}
    assert all(set(i.gold_paths) <= docs for i in items)


def test_fact_matching_ignores_case_whitespace_and_punctuation() -> None:
    assert normalise("USD  120,000.") in normalise("the threshold is usd 120,000 per year")
    assert normalise("2027-03-31") in normalise("by 2027-03-31.")
    assert normalise("4.2") in normalise("an average of 4.2 or more")


def test_eval_on_a_subset_stays_above_floors(bot: PartnerBot) -> None:
    """Floors well below the targets: noise cannot fail this, a broken retriever does."""
    items = load_questions(DEVSET)[::2]
    metrics = evaluate(items, answerer_fn(bot.answerer), name="partnerbot").metrics()
    baseline = evaluate(items, dense_baseline_fn(bot.answerer), name="dense").metrics()
    assert metrics["recall@5"] >= 0.85
    assert metrics["mrr"] >= 0.7
    assert metrics["fact_coverage"] >= 0.6
    assert metrics["abstention_recall"] >= 0.6
    assert metrics["answerable_wrongly_abstained"] <= 3
    assert metrics["mrr"] >= baseline["mrr"]
    assert baseline["fact_coverage"] is None  # retrieval-only: no answer to score


def test_eval_command_writes_json_and_a_side_by_side_table(
    indexed_samples: Path, tmp_path: Path, monkeypatch
) -> None:
    import shutil

    shutil.copytree(indexed_samples, tmp_path / "d")
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(tmp_path / "d"))
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(DEVSET.read_text().splitlines()[:6]))
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", str(subset), "--output", str(out), "--calibrate"])
    assert result.exit_code == 0, result.output
    assert "dense-top5" in result.stdout and "recall@5" in result.stdout
    data = json.loads(out.read_text())
    assert set(data) == {"partnerbot", "dense-top5"}
    assert len(data["partnerbot"]["questions"]) == 6
    assert "calibrated abstention threshold" in result.stdout
