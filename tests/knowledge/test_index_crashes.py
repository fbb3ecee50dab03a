"""A run killed at any write step is repaired by the next run, and `check` finds nothing left.

The write steps are every Chroma write and every catalog transaction (tests/knowledge/
faults.py). For each step the run dies there (an exception no code catches, then the
index object is abandoned as a killed process would leave it), the files change again
or not, and the next run must leave Chroma, the catalog and the files agreeing exactly.
Until a run switches generations, questions keep the previous generation whole.
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

import numpy as np
import pytest

from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Chunk, Document
from knowledge.embeddings import default_embedder
from knowledge.index import KnowledgeIndex
from knowledge.loaders import load_folder
from tests.knowledge.faults import observe, real_catalog

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


def open_index(data: Path) -> KnowledgeIndex:
    return KnowledgeIndex(data_dir=data, embedder=HashEmbedder())


def write_files(folder: Path, files: dict[str, str]) -> None:
    for path in folder.glob("*.md"):
        path.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def sync_with_faults(data: Path, folder: Path, faults: Faults) -> None:
    index = open_index(data)
    before = index.live_chunks()
    observe(index, before=faults.step)
    with contextlib.suppress(Killed):  # then abandoned as a killed process leaves it
        index.sync(folder)
    if faults.die_at is not None and faults.steps[-1] != "catalog.switch":
        # Killed before the switch: a reader still gets the previous generation, whole.
        assert_answers_from(index, before)
    real_catalog(index).close()


def _key(c: Chunk) -> tuple[str, int, str, str]:
    return c.doc_path, c.ordinal, c.title, c.text


def assert_answers_from(index: KnowledgeIndex, chunks: dict[str, Chunk]) -> None:
    """A reader opening the index now gets exactly these chunks, and Chroma has them all."""
    reader = open_index(index.data_dir)
    try:
        assert {_key(c) for c in reader.live_chunks().values()} == {
            _key(c) for c in chunks.values()
        }
        got = reader._current().collection.get(ids=sorted(reader.live_chunks()))
        assert sorted(got["ids"]) == sorted(reader.live_chunks())
    finally:
        reader.close()


def assert_index_matches_files(data: Path, folder: Path) -> None:
    """Live generation == the files' documents; Chroma == the catalog, vectors included."""
    docs = {d.path: d for d in load_folder(folder) if isinstance(d, Document)}
    index = open_index(data)
    try:
        live = index.live_chunks()
        expected = [c for d in docs.values() for c in chunk_document(d)]
        assert sorted(map(_key, live.values())) == sorted(map(_key, expected))
        ids = sorted(live)
        got = index._current().collection.get(ids=ids, include=["documents", "embeddings"])
        chroma = dict(zip(got["ids"], got["documents"], strict=True))
        assert chroma == {i: c.text for i, c in live.items()}
        vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
        wanted = HashEmbedder().embed([embedding_text(live[i]) for i in ids])
        np.testing.assert_allclose(np.array([vectors[i] for i in ids]), wanted, atol=1e-6)
        assert index.catalog.building() is None  # nothing half-done is left
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


def test_a_run_killed_at_any_write_step_is_repaired_by_the_next(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()

    def killed_run(name: str, die_at: int | None) -> tuple[Path, Faults]:
        data = tmp_path / name
        write_files(folder, ORIGINAL)
        open_index(data).sync(folder)
        write_files(folder, KILLED_RUN_FILES)
        faults = Faults(die_at)
        sync_with_faults(data, folder, faults)
        return data, faults

    _, whole = killed_run("whole", None)
    assert whole.steps == [
        "catalog.begin",
        "catalog.add_chunks",
        "chroma.upsert",
        "catalog.commit_documents",
        "catalog.retire",
        "catalog.switch",
    ], whole.steps
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
    ids = sorted(index.live_chunks())
    collection = index._current().collection
    collection.delete(ids=[ids[0]])
    collection.update(ids=[ids[1]], embeddings=[[0.0] * 15 + [1.0]], documents=["something else"])
    collection.add(
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


def test_a_killed_rebuild_leaves_the_live_generation_answering_and_is_dropped(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_files(folder, ORIGINAL)
    data = tmp_path / "data"
    open_index(data).sync(folder)
    index = open_index(data)
    before = index.live_chunks()
    old_collection = index._current().generation.collection  # type: ignore[union-attr]

    def die(step: str) -> None:
        if step == "catalog.switch":
            raise Killed(step)

    observe(index, before=die)
    with pytest.raises(Killed):
        index.sync(folder, rebuild=True)  # every chunk is in the new collection by now
    real_catalog(index).close()
    assert_answers_from(index, before)

    write_files(folder, {k: v for k, v in ORIGINAL.items() if k != "deals.md"})
    reopened = open_index(data)
    report = reopened.sync(folder)
    assert report.removed == ["deals.md"] and report.repaired == []  # it changed no document
    names = reopened.vectors.names()
    assert names == {old_collection}  # the rebuild's collection is gone
    reopened.close()
    assert_index_matches_files(data, folder)


def cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.mark.parametrize(
    ("killed_after", "then", "repaired"),
    [
        # Chroma took the new chunks, the catalog never committed them; then tiers.md is put
        # back as the live generation knows it and the new file deleted.
        (
            "chroma.upsert",
            {"tiers.md": ORIGINAL["tiers.md"], "billing.md": ORIGINAL["billing.md"]},
            2,
        ),
        # The catalog recorded the chunks as pending; Chroma never got them.
        ("catalog.add_chunks", ORIGINAL, 2),
        # Everything written but the switch: the next run carries on from there.
        ("catalog.commit_documents", KILLED_RUN_FILES, 0),
    ],
    ids=["after-upsert-then-edited-and-deleted", "after-pending-then-restored", "before-switch"],
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
        manifest = index.live_chunks()
        texts = {c.doc_path: c.text for c in manifest.values()}
        assert ("12 survey" in texts["tiers.md"]) == ("12 survey" in then["tiers.md"])
        assert ("mdf.md" in texts) == ("mdf.md" in then)
        # Dense search finds the restored document again.
        query = default_embedder().embed(["How many survey responses do Advanced partners need?"])
        hits = index.dense_search(query[0], 3)
        assert manifest[hits[0][0]].doc_path == "tiers.md"
    finally:
        index.close()
