"""The same index and the same questions give byte-identical `ask --json` output, whether the
machine is idle or every core is busy: nothing a time budget, sampling or a race decides
changes what is retrieved or answered (docs/answering.md).

100 questions: the Northwind devset's own (answered from the sample documents) and the AWS
Marketplace devset's (mostly not answerable from them: abstentions and their closest
documents must be stable too). Each run is a fresh `partnerbot ask --json --batch` process,
so nothing it embedded or ranked is remembered from the other run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVSETS = ROOT / "knowledge" / "devsets"
QUESTIONS = 100
BURNER = "while True:\n    pass\n"  # one busy core


def questions() -> list[str]:
    asked: list[str] = []
    for corpus in ("northwind", "aws-marketplace"):
        lines = (DEVSETS / corpus / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        asked += [json.loads(line)["question"] for line in lines if line.strip()]
    assert len(asked) >= QUESTIONS
    return asked[:QUESTIONS]


@pytest.fixture
def busy_cores() -> Iterator[None]:
    """Every core of the machine kept busy while the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()


def ask_all(data_dir: Path, batch: Path) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")},
        "PARTNERBOT_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "--json", "--batch", str(batch)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_same_questions_get_byte_identical_answers_idle_and_under_load(
    indexed_samples: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(indexed_samples, data_dir)
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps({"question": q}) for q in questions()) + "\n")

    idle = ask_all(data_dir, batch)
    request.getfixturevalue("busy_cores")
    busy = ask_all(data_dir, batch)

    answers = [json.loads(line) for line in idle.splitlines()]
    assert len(answers) == QUESTIONS
    kinds = {a["kind"] for a in answers}
    assert "answer" in kinds and any(a["abstained"] for a in answers)  # both kinds compared
    differing = [
        n
        for n, (a, b) in enumerate(zip(idle.splitlines(), busy.splitlines(), strict=True))
        if a != b
    ]
    assert differing == [], f"{len(differing)} of {QUESTIONS} answers changed under load"
