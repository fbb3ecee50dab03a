"""`ask --json` / `--batch` and `eval`: refusals are marked with "kind", scripts are never
rate-limited (the limit is for chat users, per asker)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.core import PartnerBot
from bot.models import Question
from bot.prompts import message

runner = CliRunner()
QUESTIONS = [
    ("whats the csat rule for advanced?", "2027-03-31"),
    ("how long does deal reg protect a deal", "120 days"),
    ("how much is the elite annual fee", "USD"),
    ("whats the csat rule for member tier?", "2027-06-30"),
]


@pytest.fixture
def data_dir(indexed_samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "cli-data"
    shutil.copytree(indexed_samples, target)
    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(target))
    monkeypatch.setenv("PARTNERBOT_RATE_LIMIT_PER_MINUTE", "1")
    return target


def rate_limited_prefix() -> str:
    return message("rate_limited", limit=1, seconds=0).split("(")[0]


def test_batch_is_never_rate_limited(data_dir: Path) -> None:
    lines = "\n".join(json.dumps({"question": q}) for q, _ in QUESTIONS * 2)
    result = runner.invoke(app, ["ask", "--json", "--batch", "-"], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(out) == len(QUESTIONS) * 2
    for data, (_, fact) in zip(out, QUESTIONS * 2, strict=True):
        assert data["kind"] == "answer"
        assert fact in data["answer"]
        assert rate_limited_prefix() not in data["answer"]


def test_eval_is_never_rate_limited(data_dir: Path, tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"q{n}",
                    "question": q,
                    "gold_paths": [],
                    "answer_facts": [fact],
                    "type": "factual",
                }
            )
            for n, (q, fact) in enumerate(QUESTIONS)
        )
    )
    output = tmp_path / "eval.json"
    result = runner.invoke(app, ["eval", str(questions), "--no-baseline", "--output", str(output)])
    assert result.exit_code == 0, result.output
    results = json.loads(output.read_text())["corpora"]["questions"]
    answers = [q["answer"] for q in results["questions"]]
    assert len(answers) == len(QUESTIONS)
    for answer, (_, fact) in zip(answers, QUESTIONS, strict=True):
        assert fact in answer and rate_limited_prefix() not in answer


def test_chat_users_are_still_rate_limited_per_asker(
    make_bot: Callable[..., PartnerBot],
) -> None:
    bot = make_bot(PARTNERBOT_RATE_LIMIT_PER_MINUTE=1)
    first = bot.ask(Question(QUESTIONS[0][0], platform="slack", asker="U1"))
    second = bot.ask(Question(QUESTIONS[1][0], platform="slack", asker="U1"))
    other = bot.ask(Question(QUESTIONS[1][0], platform="slack", asker="U2"))
    assert first.kind == "answer" and other.kind == "answer"
    assert second.kind == "rate_limited"
    assert second.text.startswith(rate_limited_prefix())


@pytest.mark.parametrize(
    ("question", "kind"),
    [("x" * 5000, "too_long"), ("   ", "empty"), ("thanks!", "acknowledgement")],
)
def test_a_refusal_is_marked_in_the_json(data_dir: Path, question: str, kind: str) -> None:
    result = runner.invoke(app, ["ask", "--json", question])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == kind
    assert set(data) == {"answer", "abstained", "sources", "as_of", "kind"}
    assert data["abstained"] is False and data["sources"] == [] and data["as_of"] is None


def test_batch_marks_refusals_line_by_line(data_dir: Path) -> None:
    lines = "\n".join(
        json.dumps({"question": q})
        for q in ["whats the csat rule for advanced?", "x" * 5000, "ok great", "   "]
    )
    result = runner.invoke(app, ["ask", "--json", "--batch", "-"], input=lines)
    kinds = [json.loads(line)["kind"] for line in result.stdout.strip().splitlines()]
    assert kinds == ["answer", "too_long", "acknowledgement", "empty"]
