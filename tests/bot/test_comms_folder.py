"""The communications folder is read like the documents folder: links are followed only
to files inside it, hidden and oversized files are refused with why, and the good files
beside them still register (the real `partnerbot comms sync`)."""

from __future__ import annotations

import os
from pathlib import Path

from knowledge import loaders
from tests.bot.test_comms_ids import folder, registered, sync, write

__all__ = ["folder"]  # the fixture, shared with the id tests


def test_links_out_hidden_and_oversized_files_are_refused_and_the_rest_registers(
    folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = write(outside, "secret.yml", id="secret-2027", title="Not for partners")
    (folder / "link-out.yml").symlink_to(secret)
    (folder / "broken.yml").symlink_to(outside / "missing.yml")
    (folder / "folder-out").symlink_to(outside, target_is_directory=True)
    write(folder, ".hidden.yml", id="hidden-2027", title="Hidden")
    big = write(folder, "big.yml", id="big-2027", title="Big")
    with big.open("ab") as f:  # a sparse file over the limit: refused before it is read
        f.truncate(loaders.MAX_FILE_BYTES + 1)

    code, result = sync(folder)

    assert code == 1
    reasons = {f["path"]: f["reason"] for f in result["failures"]}
    assert set(reasons) == {"link-out.yml", "broken.yml", "folder-out", ".hidden.yml", "big.yml"}
    assert "outside the communications folder" in reasons["link-out.yml"]
    assert "outside the communications folder" in reasons["folder-out"]
    assert "broken" in reasons["broken.yml"]
    assert "hidden" in reasons[".hidden.yml"]
    assert f"the limit is {loaders.MAX_FILE_BYTES // 2**20} MB" in reasons["big.yml"]
    assert set(registered()) == {"smb-licensing-2027", "partner-webinar-2027"}
    assert os.path.exists(secret)  # nothing outside the folder was touched
