"""`partnerbot index` on a bad day: a full disk, two runs at once, `--check`."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chromadb.errors import InternalError
from typer.testing import CliRunner

from bot.cli.main import app
from knowledge.catalog.sql import SqlCatalog
from knowledge.index import KnowledgeIndex
from knowledge.index_lock import index_lock
from knowledge.index_writer import IndexWriter
from tests.hostile_files import hostile_folder

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
DOCS = {
    "fees.md": "# Fees\n## Annual fee\nThe Member annual fee is USD 495.\n",
    "deals.md": "# Deals\n## Protection\nAn approved deal is protected for 120 days.\n",
}


@pytest.fixture
def folder(make_docs: Callable[[dict[str, str]], Path]) -> Path:
    return make_docs(DOCS)


def _chroma_full(*args: Any, **kwargs: Any) -> None:
    # What Chroma's embedded store raises when SQLite cannot grow its file.
    raise InternalError("error returned from database: (code: 13) database or disk is full")


def _manifest_full(*args: Any, **kwargs: Any) -> None:
    raise sqlite3.OperationalError("database or disk is full")


def _switch_full(*args: Any, **kwargs: Any) -> None:
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as e:  # as a driver may report it: chained under its own error
        raise RuntimeError("could not write the page") from e


@pytest.mark.parametrize(
    ("target", "attribute", "fault"),
    [
        (IndexWriter, "_upsert", _chroma_full),
        (SqlCatalog, "commit_documents", _manifest_full),
        (SqlCatalog, "switch", _switch_full),
    ],
    ids=["chroma-upsert", "catalog-commit", "generation-switch"],
)
def test_a_full_disk_is_one_clear_message_and_the_next_run_repairs(
    folder: Path, monkeypatch: pytest.MonkeyPatch, target: Any, attribute: str, fault: Any
) -> None:
    assert runner.invoke(app, ["index", str(folder)]).exit_code == 0
    (folder / "fees.md").write_text(DOCS["fees.md"].replace("495", "550"))
    (folder / "mdf.md").write_text("# MDF\n## Claims\nMDF claims are due within 60 days.\n")
    with monkeypatch.context() as patch:
        patch.setattr(target, attribute, fault)
        full = runner.invoke(app, ["index", str(folder)])
    assert full.exit_code == 3  # something it depends on (the disk) failed
    assert "Traceback" not in full.output and "Traceback" not in full.stderr
    message = " ".join(full.stderr.split())
    assert message.startswith("error: the disk holding the index in"), message
    assert "is full" in message and "index again: the next run repairs" in message

    again = runner.invoke(app, ["index", "--json", str(folder)])
    assert again.exit_code == 0, again.output
    check = runner.invoke(app, ["index", "--check", "--json"])
    assert json.loads(check.stdout)["ok"] is True, check.stdout
    answer = runner.invoke(app, ["ask", "--json", "how much is the member annual fee"])
    assert "USD 550" in json.loads(answer.stdout)["answer"]


def test_index_check_reports_and_repairs(folder: Path) -> None:
    assert runner.invoke(app, ["index", str(folder)]).exit_code == 0
    data = Path(os.environ["PARTNERBOT_DATA_DIR"])
    index = KnowledgeIndex(data_dir=data, embedder=_embedder())
    first = sorted(index.live_chunks())[0]
    index._current().collection.delete(ids=[first])  # as a crash in older versions could
    index.close()

    found = runner.invoke(app, ["index", "--check"])
    assert found.exit_code == 0, found.output
    assert "repaired" in found.stdout
    rows = [line.strip("│ ").split("│") for line in found.stdout.splitlines()]
    numbers = [[cell.strip() for cell in row] for row in rows if row[0].strip().isdigit()]
    assert numbers == [["2", "2", "0", "0", "1", "0"]]  # documents, chunks, …, missing 1
    clean = runner.invoke(app, ["index", "--check", "--json"])
    report = json.loads(clean.stdout)
    assert report["ok"] is True and (report["documents"], report["chunks"]) == (2, 2)


def _embedder() -> Any:
    from knowledge.embeddings import default_embedder

    return default_embedder()


def test_a_second_index_run_waits_and_finds_the_work_done(folder: Path, tmp_path: Path) -> None:
    """Two real `partnerbot index` processes on one data directory: one embeds, one waits."""
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot.cli", "index", "--json", str(folder)]
    with index_lock(data):  # both start while the lock is held
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        waiting = [_wait_for(run, b"waiting for it to finish") for run in runs]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(waiting), [err.decode() for _, err in outputs]
    assert [run.returncode for run in runs] == [0, 0], [err.decode() for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sorted(r["added"] for r in reports) == [0, 2]
    assert sorted(r["unchanged"] for r in reports) == [0, 2]


def _wait_for(run: subprocess.Popen[bytes], words: bytes, seconds: float = 120) -> bool:
    """Read the run's stderr until it says these words (False if it ends or time runs out)."""
    assert run.stderr is not None
    deadline = time.monotonic() + seconds
    seen = b""
    while time.monotonic() < deadline:
        line = run.stderr.readline()
        if not line:
            return False
        seen += line
        if words in seen:
            return True
    return False


def test_ask_on_an_empty_index_indexes_the_configured_folder_and_says_so(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARTNERBOT_DOCS_DIR", str(folder))
    monkeypatch.setenv("COLUMNS", "300")  # the path on one line
    result = runner.invoke(app, ["ask", "--json", "how long is an approved deal protected"])
    assert result.exit_code == 0, result.output
    assert f"indexing {folder} first" in " ".join(result.stderr.split())
    assert "sample" not in result.stderr
    assert json.loads(result.stdout)["sources"][0]["path"] == "deals.md"


def test_partnerbot_index_refuses_both_bombs_and_the_link_out_and_indexes_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real CLI in its own process, on a folder that used to hang it or get it killed."""
    folder = tmp_path / "docs"
    questions = hostile_folder(folder, tmp_path / "outside")
    data = tmp_path / "data"
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "index", "--json", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr  # files failed, the run finished
    report = json.loads(done.stdout)
    assert report["added"] == 2 and report["failed"] == 3
    reasons = {f["path"]: f["reason"] for f in report["failures"]}
    assert set(reasons) == {"bomb.md", "bomb.docx", "secret-link.md"}
    assert "alias" in reasons["bomb.md"]
    assert "unpacks to 101 MB of XML" in reasons["bomb.docx"]
    assert "outside the documents folder" in reasons["secret-link.md"]

    monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(data))
    for question, words in questions.items():
        answer = json.loads(runner.invoke(app, ["ask", "--json", question]).stdout)
        assert words in answer["answer"], (question, answer)
        assert "hunter2" not in answer["answer"]
