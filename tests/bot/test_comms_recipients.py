"""Recipient lists: a CSV beside the communication file or inline, bounded and validated
with line numbers; a bad list refuses the communication and changes nothing."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.comms import recipients
from bot.comms.loading import FileRefused, Loaded, load_communication
from bot.comms.recipients import INLINE, RecipientList, source_hash, split
from bot.comms.routing import load_routes
from bot.config import SAMPLES_DIR
from bot.partners import load_partners
from bot.store import Recipient

SAMPLE = SAMPLES_DIR / "comms" / "2026-12-smb-licensing-email.yml"
ROUTES = load_routes(SAMPLES_DIR / "comms" / "routes.yml")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
HEADER = "customer_id,customer_name,partner_id\n"


def comm_file(folder: Path, csv_text: str | None = None, **changes: object) -> Path:
    """The sample communication in `folder`, with `recipients.csv` holding `csv_text`."""
    folder.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data.update(changes)
    path = folder / "comm.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if csv_text is not None:
        (folder / "recipients.csv").write_text(csv_text, encoding="utf-8")
    return path


def load(path: Path) -> Loaded | FileRefused:
    return load_communication(path, routes=ROUTES, now=NOW)


def reasons(result: Loaded | FileRefused) -> list[str]:
    assert isinstance(result, FileRefused), result
    return [f"{p.line}: {p.reason}" for p in result.problems]


def test_the_sample_names_its_recipient_list_which_stays_out_of_the_communication() -> None:
    loaded = load(SAMPLE)
    assert isinstance(loaded, Loaded) and loaded.recipients is not None
    listed = loaded.recipients
    assert (listed.source, len(listed.recipients)) == ("recipients.csv", 11)
    assert listed.counts() == {
        "harbour-it": 3,
        "wattle-msp": 2,
        "fjord-systems": 4,
        "": 1,
        "tulip-tech": 1,
    }
    comm = loaded.communication
    assert (comm.recipients_file, comm.recipients_digest) == ("recipients.csv", listed.digest)
    assert "Bondi" not in comm.to_json()  # a digest, never the customers
    partners = load_partners(SAMPLES_DIR / "comms" / "partners.yml")
    by = split(listed.counts(), partners)
    assert (by.partners, by.blank, by.unlisted) == (
        {"fjord-systems": 4, "harbour-it": 3, "wattle-msp": 2},
        1,
        {"tulip-tech": 1},
    )
    assert (by.unknown, by.total) == (2, 11)


def test_an_inline_list_and_a_csv_with_extra_columns_read_the_same(tmp_path: Path) -> None:
    inline = load(
        comm_file(
            tmp_path / "a",
            recipients=[
                {"customer_id": "C-2", "customer_name": "Tasman Freight", "partner_id": "Fjord"},
                {"customer_id": "C-1", "customer_name": "Bondi Bakery", "partner_id": ""},
            ],
        )
    )
    csv_text = "Customer_ID,email,customer_name,partner_id\nC-1,a@b.example,Bondi Bakery,\n"
    csv_text += "C-2,c@d.example,Tasman Freight,fjord\n\nC-2,c@d.example,Tasman Freight,fjord\n"
    beside = load(comm_file(tmp_path / "b", csv_text, recipients="recipients.csv"))
    assert isinstance(inline, Loaded) and isinstance(beside, Loaded)
    assert inline.recipients is not None and beside.recipients is not None
    assert inline.recipients.source == INLINE
    assert inline.recipients.digest == beside.recipients.digest  # order and case do not count
    assert beside.recipients.recipients == (
        Recipient("C-1", "Bondi Bakery", ""),
        Recipient("C-2", "Tasman Freight", "fjord"),
    )
    assert any("column(s) email ignored (not stored)" in w for w in beside.warnings)
    assert any("1 repeated customer row(s) ignored" in w for w in beside.warnings)


@pytest.mark.parametrize(
    "csv_text,expected",
    [
        ("customer_id,name\nC-1,A\n", "recipients.csv:1: the header must name customer_id, "),
        (HEADER + "C-1,A,x\n,B,y\n", "recipients.csv:3: customer_id is empty"),
        (
            HEADER + "C-1,A,harbour-it\nC-2,B,x\nC-1,A,fjord\n",
            "recipients.csv:4: customer C-1 is listed at recipients.csv:2 for partner harbour-it "
            "and here for fjord: a customer has one partner of record",
        ),
        (HEADER + f"C-1,{'x' * 201},y\n", "recipients.csv:2: customer_name must be one line"),
        (HEADER + 'C-1,"two\nlines",y\n', "recipients.csv:3: customer_name must be one line"),
        (HEADER + 'C-1,"unclosed\n', "recipients.csv:"),
    ],
)
def test_a_bad_list_refuses_the_communication_naming_the_list_line(
    tmp_path: Path, csv_text: str, expected: str
) -> None:
    path = comm_file(tmp_path, csv_text, recipients="recipients.csv")
    problems = reasons(load(path))
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "recipients:" in t)
    assert any(p.startswith(f"{line}: {expected}") for p in problems), problems


def test_a_list_outside_the_folder_missing_or_not_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text(HEADER + "C-1,A,x\n", encoding="utf-8")
    folder = tmp_path / "comms"
    cases = {
        "../secret.csv": "outside the communication's folder; refused",
        "nowhere.csv": "does not exist beside the communication file",
        "list.txt": "is not a .csv file",
        "/etc/passwd.csv": "does not exist",
    }
    for name, reason in cases.items():
        problems = reasons(load(comm_file(folder, recipients=name)))
        assert any(reason in p for p in problems), (name, problems)
    os.symlink(tmp_path / "secret.csv", folder / "link.csv")
    problems = reasons(load(comm_file(folder, recipients="link.csv")))
    assert any("outside the communication's folder" in p for p in problems)
    problems = reasons(load(comm_file(folder, recipients={"file": "x.csv"})))
    assert any("a CSV file name beside this file, or a list" in p for p in problems)


def test_a_list_past_its_bounds_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recipients, "MAX_RECIPIENTS", 3)
    rows = "".join(f"C-{i},Customer {i},x\n" for i in range(5))
    problems = reasons(load(comm_file(tmp_path / "a", HEADER + rows, recipients="recipients.csv")))
    assert any("more than 3 recipients; split the communication" in p for p in problems)
    monkeypatch.setattr(recipients, "MAX_BYTES", 100)
    problems = reasons(load(comm_file(tmp_path / "b", HEADER + rows, recipients="recipients.csv")))
    assert any("a recipient list is at most 100" in p for p in problems)
    monkeypatch.setattr(recipients, "MAX_BYTES", 1_000_000)
    monkeypatch.setattr(recipients, "MAX_RECIPIENTS", 100)
    bad = "".join(f",Customer {i},x\n" for i in range(30))
    problems = reasons(load(comm_file(tmp_path / "c", HEADER + bad, recipients="recipients.csv")))
    assert len(problems) == 21 and problems[-1].endswith("… and 10 more")


def test_editing_only_the_list_changes_the_files_hash(tmp_path: Path) -> None:
    path = comm_file(tmp_path, HEADER + "C-1,A,x\n", recipients="recipients.csv")
    data = path.read_bytes()
    before = source_hash(path, data, "recipients.csv")
    assert source_hash(path, data, None) != before
    (tmp_path / "recipients.csv").write_text(HEADER + "C-1,A,y\n", encoding="utf-8")
    assert source_hash(path, data, "recipients.csv") != before
    (tmp_path / "recipients.csv").unlink()
    assert source_hash(path, data, "recipients.csv") not in (before, source_hash(path, data, None))


def test_sync_registers_an_edit_of_the_list_alone_as_a_change(tmp_path: Path) -> None:
    folder = tmp_path / "comms"
    folder.mkdir()
    shutil.copy(SAMPLES_DIR / "comms" / "routes.yml", folder)
    comm_file(folder, HEADER + "C-1,Bondi Bakery,harbour-it\n", recipients="recipients.csv")
    env = {"PARTNERBOT_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    first = json.loads(runner.invoke(cli, ["comms", "sync", str(folder), "--json"], env=env).stdout)
    assert first["added"] == 1
    same = json.loads(runner.invoke(cli, ["comms", "sync", str(folder), "--json"], env=env).stdout)
    assert same["unchanged"] == 1
    (folder / "recipients.csv").write_text(HEADER + "C-1,Bondi Bakery,fjord\n", encoding="utf-8")
    again = json.loads(runner.invoke(cli, ["comms", "sync", str(folder), "--json"], env=env).stdout)
    assert again["updated"] == 1
    show = runner.invoke(cli, ["comms", "show", "smb-licensing-2027", "--json"], env=env)
    assert "Bondi" not in show.stdout
    history = json.loads(show.stdout)["history"]
    assert history[-1]["detail"].endswith("changed: recipient list")
    preview = json.loads(
        runner.invoke(cli, ["comms", "preview", "smb-licensing-2027", "--json"], env=env).stdout
    )
    assert preview["recipients"]["unknown_partner"] == {
        "total": 1,
        "blank": 0,
        "not_in_partners_file": {"fjord": 1},
    }
    assert "Bondi" not in json.dumps(preview)


def test_comms_help_documents_the_recipient_list() -> None:
    out = CliRunner().invoke(cli, ["comms", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    text = " ".join(out.output.split())
    assert "recipients: recipients.csv" in text
    assert "customer_id, customer_name, partner_id" in text
    assert "PARTNERBOT_PARTNERS_FILE" in text and "PARTNERBOT_RECIPIENTS_RETENTION_DAYS" in text


def test_a_recipient_list_digest_ignores_order() -> None:
    a = RecipientList("x.csv", (Recipient("1", "A", "p"), Recipient("2", "B", "")))
    b = RecipientList("y.csv", (Recipient("2", "B", ""), Recipient("1", "A", "p")))
    c = RecipientList("x.csv", (Recipient("1", "A", "q"), Recipient("2", "B", "")))
    assert a.digest == b.digest != c.digest
