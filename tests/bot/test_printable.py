"""Names from users' files are shown on the terminal, never obeyed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.printable import printable, shown

runner = CliRunner()
EVIL = "evil\x1b[2J\x1b[31m\nfailed forged.md: all good [bold]\u202e"


def test_control_characters_are_shown_as_escapes() -> None:
    assert printable(EVIL) == "evil\\x1b[2J\\x1b[31m\\nfailed forged.md: all good [bold]\\u202e"
    assert printable("line one\nline two\t\x07", keep_lines=True) == "line one\nline two\t\\x07"
    assert shown("[bold]x") == "\\[bold]x"


def test_the_index_report_escapes_file_names_and_reasons(
    make_docs: Callable[[dict[str, str]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    folder = make_docs({"good.md": "# Good\n## Fees\nThe annual fee is USD 495.\n"})
    (folder / f"{EVIL}.md").write_bytes(b"")  # fails: empty
    result = runner.invoke(app, ["index", str(folder)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    lines = result.stdout.splitlines()
    assert not any(line.startswith("failed forged.md") for line in lines)
    (failed,) = [line for line in lines if line.startswith("failed")]
    assert failed == f"failed {printable(EVIL)}.md: the file is empty"


def test_comms_sync_escapes_the_names_of_refused_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    folder = tmp_path / "comms"
    folder.mkdir()
    (folder / f"{EVIL}.yml").write_text("id: x\ntitle: [unclosed\n", encoding="utf-8")
    result = runner.invoke(app, ["comms", "sync", str(folder)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    (refused,) = [line for line in result.stderr.splitlines() if line.startswith("refused")]
    assert refused.startswith(f"refused {printable(EVIL)}.yml:")
