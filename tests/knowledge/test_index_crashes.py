"""A run killed at any write step is repaired by the next run, and `check` finds nothing left.

The write steps are every Chroma write, every SQLite commit and the BM25 save. For
each step the run dies there (an exception no code catches, then the index object is
abandoned as a killed process would leave it), the files change again or not, and
the next run must leave Chroma, the manifest and the files agreeing exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Document
from knowledge.embeddings import default_embedder
from knowledge.index import KnowledgeIndex
from knowledge.lexical import LexicalIndex
from knowledge.loaders import load_folder

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = {
    "tiers.md": "# Tiers\n## Advanced\nAdvanced partners need 10 survey responses.\n"
    "## Member\nMember partners need 3 survey responses.\n",
    "billing.md": "# Billing\n## Invoices\nInvoices are issued on the 5th of each month.\n",
    "deals.md": "# Deals\n## Protection\nAn approved deal is protected for 120 days.\n",
}
# The run that gets killed: one edit (one chunk fewer), one new file, one deletion.
EDITED_TIERS = "# Tiers\n## Advanced\nAdvanced partners need 12 survey responses.\n"
NEW_FILE = ("mdf.md", "# MDF\n## Claims\nMDF claims are due within 60 days.\n")
KILLED_RUN_FILES = {
    "tiers.md": EDITED_TIERS,
    "billing.md": ORIGINAL["billing.md"],
    NEW_FILE[0]: NEW_FILE[1],
}


class HashEmbedder:
    """Deterministic vectors from the text's hash: fast, and checkable exactly."""

    model_name = "test-hash-embedder"
    dimension = 16

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            v = np.random.default_rng(seed).normal(size=self.dimension).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


class Killed(BaseException):
    """The process died here (nothing may catch it)."""


class Faults:
    """Counts write steps; the run dies just before step `die_at` (1-based)."""

    def __init__(self, die_at: int | None = None) -> None:
        self.die_at = die_at
        self.steps: list[str] = []

    def step(self, name: str) -> None:
        self.steps.append(name)
        if len(self.steps) == self.die_at:
            raise Killed(name)


class _Chroma:
    def __init__(self, real: Any, faults: Faults) -> None:
        self._real, self._faults = real, faults

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name not in ("add", "upsert", "update", "delete"):
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            self._faults.step(f"chroma.{name}")
            return attr(*args, **kwargs)

        return write


class _Db:
    def __init__(self, real: Any, faults: Faults) -> None:
        self._real, self._faults = real, faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def _maybe_step(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if verb == "COMMIT" or (
            verb in ("INSERT", "UPDATE", "DELETE") and not self._real.in_transaction
        ):
            self._faults.step(f"sqlite.{verb.lower()}")

    def execute(self, sql: str, *args: Any) -> Any:
        self._maybe_step(sql)
        return self._real.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._maybe_step(sql)
        return self._real.executemany(sql, *args)


def open_index(data: Path) -> KnowledgeIndex:
    return KnowledgeIndex(data_dir=data, embedder=HashEmbedder())


def write_files(folder: Path, files: dict[str, str]) -> None:
    for path in folder.glob("*.md"):
        path.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def sync_with_faults(
    data: Path, folder: Path, faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(data)
    index._collection = _Chroma(index._collection, faults)
    index._db = _Db(index._db, faults)  # type: ignore[assignment]
    real_save = LexicalIndex.save

    def save(self: LexicalIndex, directory: Path) -> None:
        faults.step("bm25.save")
        real_save(self, directory)

    with monkeypatch.context() as patch:
        patch.setattr(LexicalIndex, "save", save)
        with contextlib.suppress(Killed):  # then abandoned as a killed process leaves it
            index.sync(folder)
    index._db._real.close()  # type: ignore[attr-defined]


def assert_index_matches_files(data: Path, folder: Path) -> None:
    """Manifest == the files' documents; Chroma == the manifest, vectors included."""
    docs = {d.path: d for d in load_folder(folder) if isinstance(d, Document)}
    index = open_index(data)
    try:
        manifest = index._all_chunks()
        expected = {c.id: c for d in docs.values() for c in chunk_document(d)}
        assert {i: (c.text, c.title) for i, c in manifest.items()} == {
            i: (c.text, c.title) for i, c in expected.items()
        }
        got = index._collection.get(include=["documents", "embeddings"])
        chroma = dict(zip(got["ids"], got["documents"], strict=True))
        assert chroma == {i: c.text for i, c in expected.items()}
        vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
        ids = sorted(expected)
        wanted = HashEmbedder().embed([embedding_text(expected[i]) for i in ids])
        np.testing.assert_allclose(np.array([vectors[i] for i in ids]), wanted, atol=1e-6)
        lexical = index.refresh_lexical()
        assert lexical is not None
        check = index.check()
        assert check.ok, check
    finally:
        index.close()


AFTERWARDS: dict[str, Callable[[Path], None]] = {
    # the files stay as the killed run saw them
    "unchanged": lambda folder: None,
    # everything the killed run was writing is undone in the files
    "restored": lambda folder: write_files(folder, ORIGINAL),
    # and edited once more
    "edited_again": lambda folder: write_files(
        folder,
        {
            "tiers.md": EDITED_TIERS.replace("12", "14"),
            "billing.md": ORIGINAL["billing.md"],
            NEW_FILE[0]: NEW_FILE[1].replace("60", "90"),
        },
    ),
}


def test_a_run_killed_at_any_write_step_is_repaired_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()

    def killed_run(name: str, die_at: int | None) -> tuple[Path, Faults]:
        data = tmp_path / name
        write_files(folder, ORIGINAL)
        open_index(data).sync(folder)
        write_files(folder, KILLED_RUN_FILES)
        faults = Faults(die_at)
        sync_with_faults(data, folder, faults, monkeypatch)
        return data, faults

    _, whole = killed_run("whole", None)
    assert len(whole.steps) >= 8, whole.steps  # intents, delete, upsert, commit (x2), bm25
    for die_at in range(1, len(whole.steps) + 1):
        for after, change in AFTERWARDS.items():
            data, faults = killed_run(f"{die_at}-{after}", die_at)
            step = faults.steps[-1]
            change(folder)
            report = open_index(data).sync(folder)
            assert not report.failed, (die_at, step, after)
            try:
                assert_index_matches_files(data, folder)
            except AssertionError as e:
                raise AssertionError(f"killed before step {die_at} ({step}), then {after}") from e


def test_check_finds_and_repairs_damage_no_intent_recorded(tmp_path: Path) -> None:
    """Orphans, lost and altered chunks, however they came about (e.g. an older version)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    write_files(folder, ORIGINAL)
    index = open_index(tmp_path / "data")
    index.sync(folder)
    ids = sorted(index._all_chunks())
    index._collection.delete(ids=[ids[0]])
    index._collection.update(
        ids=[ids[1]], embeddings=[[0.0] * 15 + [1.0]], documents=["something else"]
    )
    index._collection.add(
        ids=["orphan-0001"],
        embeddings=[[1.0] + [0.0] * 15],
        documents=["a chunk of a file long gone"],
        metadatas=[{"doc_path": "gone.md"}],
    )
    report = index.check()
    assert (report.orphans, report.missing, report.mismatched) == (1, 1, 1)
    assert not report.ok and report.documents == 3 and report.chunks == len(ids)
    again = index.check()
    assert again.ok, again
    index.close()
    assert_index_matches_files(tmp_path / "data", folder)


def test_a_rebuild_killed_before_chroma_is_dropped_is_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_files(folder, ORIGINAL)
    data = tmp_path / "data"
    open_index(data).sync(folder)
    index = open_index(data)

    def die(name: str) -> None:
        raise Killed(name)

    monkeypatch.setattr(index._client, "delete_collection", die)
    with pytest.raises(Killed):
        index.rebuild()  # the manifest is empty now; Chroma still holds everything
    index.close()
    write_files(folder, {k: v for k, v in ORIGINAL.items() if k != "deals.md"})
    open_index(data).sync(folder)
    assert_index_matches_files(data, folder)


def cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.parametrize(
    ("killed_after", "then", "repaired"),
    [
        # Chroma took the new chunks, the manifest never heard of them; then tiers.md is put
        # back as the manifest knows it and the new file deleted: both left wrong in Chroma.
        ("upsert", {"tiers.md": ORIGINAL["tiers.md"], "billing.md": ORIGINAL["billing.md"]}, 2),
        # Chroma lost tiers.md's chunks; the file is put back as the manifest knows it.
        ("delete", ORIGINAL, 1),
    ],
    ids=["after-upsert-then-edited-and-deleted", "after-delete-then-restored"],
)
def test_a_really_killed_index_run_is_repaired_by_partnerbot_index(
    tmp_path: Path, killed_after: str, then: dict[str, str], repaired: int
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    data = tmp_path / "data"
    write_files(folder, ORIGINAL)
    index = KnowledgeIndex(data_dir=data, embedder=default_embedder())
    index.sync(folder)
    index.close()
    write_files(folder, KILLED_RUN_FILES)

    killed = cli(
        "-m", "tests.knowledge.kill_index", str(data), str(folder), killed_after, data=data
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    write_files(folder, then)
    run = cli("-m", "bot.cli", "index", "--json", str(folder), data=data)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["repaired"] == repaired
    index = KnowledgeIndex(data_dir=data, embedder=default_embedder())
    try:
        check = index.check()
        assert check.ok, check  # the run left nothing for check to find
        manifest = index._all_chunks()
        assert index.vector_count() == len(manifest)
        # Dense search finds the restored document again.
        query = default_embedder().embed(["How many survey responses do Advanced partners need?"])
        hits = index.dense_search(query[0], 3)
        assert manifest[hits[0][0]].doc_path == "tiers.md"
    finally:
        index.close()
