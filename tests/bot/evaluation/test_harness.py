from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from bot.cli.main import app
from bot.core import PartnerBot
from bot.evaluation.harness import (
    DEVSETS_DIR,
    answerer_fn,
    dense_baseline_fn,
    discover_devsets,
    evaluate,
    fact_found,
    load_devset,
    normalise,
)

NORTHWIND = DEVSETS_DIR / "northwind"


def test_every_shipped_dev_set_is_big_varied_and_points_at_real_documents() -> None:
    devsets = {d.name: d for d in discover_devsets()}
    assert {"northwind", "datadog"} <= set(devsets)
    for devset in devsets.values():
        items = devset.items
        assert devset.corpus is not None and devset.corpus.is_dir()
        assert len(devset.one_turn) >= 40, devset.name
        assert sum(1 for i in items if not i.answerable) >= 6, devset.name
        assert sum(1 for i in items if len(i.turns) == 2) >= 8, devset.name
        assert sum(1 for i in items if len(i.turns) >= 3) >= 10, devset.name
        assert len({i.id for i in items}) == len(items), f"{devset.name}: duplicate ids"
        for item in items:
            for path in item.gold_paths:
                assert (devset.corpus / path).is_file(), f"{devset.name} {item.id}: {path}"
            assert bool(item.answer_facts) == item.answerable, f"{devset.name} {item.id}"


def test_every_shipped_dev_set_has_held_out_questions_of_both_kinds() -> None:
    for devset in discover_devsets():
        heldout = devset.heldout
        assert sum(1 for i in heldout if i.answerable) >= 8, devset.name
        assert sum(1 for i in heldout if not i.answerable) >= 3, devset.name
        # At least eight near misses in all: held out and in the questions fitted on.
        assert sum(1 for i in (*heldout, *devset.items) if not i.answerable) >= 8, devset.name
        assert not {i.id for i in heldout} & {i.id for i in devset.items}, devset.name
        assert devset.corpus is not None
        for item in heldout:
            for path in item.gold_paths:
                assert (devset.corpus / path).is_file(), f"{devset.name} {item.id}: {path}"
            facts = [(devset.corpus / p).read_text() for p in item.gold_paths]
            for fact in item.answer_facts:
                assert any(fact_found(fact, text) for text in facts), f"{item.id}: {fact}"
        # Never part of what the weights are fitted on.
        assert all(p.name != "heldout.jsonl" for p in devset.question_files)


def test_vendored_corpus_keeps_its_attribution_and_license() -> None:
    datadog = DEVSETS_DIR / "datadog"
    source = (datadog / "SOURCE.md").read_text()
    assert "BSD-3-Clause" in source and "github.com/DataDog/documentation" in source
    assert "Copyright (c) 2017-present, Datadog" in (datadog / "LICENSE").read_text()


def test_fact_matching_ignores_case_whitespace_and_punctuation() -> None:
    assert normalise("USD  120,000.") in normalise("the threshold is usd 120,000 per year")
    assert fact_found("2027-03-31", "by 2027-03-31.")
    assert fact_found("4.2", "an average of 4.2 or more")
    # A long fact may be reworded a little, but never with another figure.
    fact = "MSP: 2 DPN Sales Specialists, 2 DPN Tech Specialists, 1 DPN Support Specialist"
    assert fact_found(
        fact,
        "Program: MSP; Requirements: 2 DPN Sales Specialists, 2 DPN Tech "
        "Specialists*, 1 DPN Support Specialist",
    )
    assert not fact_found(fact, "MSP needs 3 DPN Sales Specialists and 1 Support Specialist")
    assert not fact_found("USD 10,000", "USD 3,000")


def test_a_dev_set_dropped_into_the_folder_is_picked_up(tmp_path: Path) -> None:
    root = tmp_path / "devsets"
    shutil.copytree(NORTHWIND, root / "northwind")
    (root / "northwind" / "devset.yml").write_text(
        f"corpus: {(NORTHWIND / '../../samples/docs').resolve()}\n"
    )
    other = root / "acme"
    (other / "corpus").mkdir(parents=True)
    (other / "corpus" / "tiers.md").write_text("# Tiers\n\nAcme has two tiers: Blue and Red.\n")
    (other / "questions.jsonl").write_text(
        json.dumps(
            {
                "id": "a1",
                "question": "acme tiers?",
                "gold_paths": ["tiers.md"],
                "answer_facts": ["Blue and Red"],
            }
        )
        + "\n"
    )
    found = {d.name: d for d in discover_devsets(root)}
    assert set(found) == {"acme", "northwind"}
    assert found["acme"].corpus == other / "corpus"
    assert [i.id for i in found["acme"].items] == ["a1"]


def test_eval_on_a_subset_stays_above_floors(bot: PartnerBot) -> None:
    """Floors well below the targets: noise cannot fail this, a broken retriever does."""
    items = load_devset(NORTHWIND).items[::2]
    metrics = evaluate(items, answerer_fn(bot.answerer), name="partnerbot").metrics()
    baseline = evaluate(items, dense_baseline_fn(bot.answerer), name="dense").metrics()
    assert metrics["recall@5"] >= 0.85
    assert metrics["mrr"] >= 0.7
    assert metrics["answer_facts"] >= 0.5
    assert metrics["context_facts"] >= 0.8
    assert metrics["followup_recall@5"] >= 0.8
    assert metrics["unanswerable_abstained"] >= 3
    assert metrics["wrongly_abstained_share"] <= 0.15
    assert metrics["mrr"] >= baseline["mrr"]
    assert baseline["answer_facts"] is None  # retrieval-only: no answer to score


def test_eval_command_prints_every_corpus_side_by_side_and_writes_json(
    indexed_samples: Path, tmp_path: Path, monkeypatch
) -> None:
    # Two small dev sets over the already indexed samples (so nothing is embedded again).
    data = tmp_path / "d"
    sets = []
    lines = (NORTHWIND / "questions.jsonl").read_text().splitlines()
    for name, picked in (
        ("first", lines[0:4] + lines[40:43]),
        ("second", lines[4:8] + lines[43:47]),
    ):
        shutil.copytree(indexed_samples, data / name)
        folder = tmp_path / "sets" / name
        folder.mkdir(parents=True)
        (folder / "devset.yml").write_text(
            f"corpus: {(NORTHWIND / '../../samples/docs').resolve()}\n"
        )
        (folder / "questions.jsonl").write_text("\n".join(picked) + "\n")
        sets.append(str(folder))
    # Held-out questions: measured and printed, never fitted on.
    (tmp_path / "sets" / "first" / "heldout.jsonl").write_text("\n".join(lines[8:11]) + "\n")
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(data))
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["eval", *sets, "--output", str(out), "--calibrate"])
    assert result.exit_code == 0, result.output
    for column in ("first", "first LOCO", "first dense", "second", "second dense"):
        assert column in result.stdout
    assert "recall@5" in result.stdout and "context_facts" in result.stdout
    assert "Abstention trade-off" in result.stdout
    results = json.loads(out.read_text())
    assert set(results["corpora"]) == {"first", "second"}
    first = results["corpora"]["first"]
    assert len(first["questions"]) == 7
    assert {"partnerbot", "leave_one_out", "dense"} <= set(first)
    assert "first held-out" in result.stdout
    assert len(first["heldout_questions"]) == 3
    assert first["heldout"]["questions"] == 3 and "heldout_leave_one_out" in first
    assert "second held-out" not in result.stdout
