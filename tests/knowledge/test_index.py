from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest

from knowledge.chunking import chunk_document, embedding_text
from knowledge.documents import Document
from knowledge.embeddings import default_embedder
from knowledge.errors import DocumentsMissingError, EmbedderMismatchError
from knowledge.index import KnowledgeIndex
from knowledge.loaders import load_folder
from tests.hostile_files import alias_bomb_yaml
from tests.knowledge.test_index_crashes import ROOT, HashEmbedder

DOCS = {
    "tiers.md": "---\ntitle: Tiers\neffective_date: 2026-07-01\n---\n# Tiers\n## Advanced\n"
    "Advanced partners need 10 survey responses by 2027-03-31.\n## Member\n"
    "Member partners need 3 survey responses.\n",
    "billing.md": "# Billing\n## Invoices\nInvoices are issued on the 5th of each month.\n",
    "deals.md": "# Deals\n## Protection\nAn approved deal is protected for 120 days.\n",
}


class CountingEmbedder:
    """The real model, counting what it is asked to embed."""

    def __init__(self) -> None:
        self.inner = default_embedder()
        self.embedded = 0

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts):
        self.embedded += len(texts)
        return self.inner.embed(texts)


class OtherEmbedder(CountingEmbedder):
    @property
    def model_name(self) -> str:
        return "other-model"

    @property
    def dimension(self) -> int:
        return 8

    def embed(self, texts):
        return np.ones((len(texts), 8), dtype=np.float32)


@pytest.fixture
def folder(make_docs: Callable[[dict[str, str]], Path]) -> Path:
    return make_docs(DOCS)


def live_in_chroma(index: KnowledgeIndex, path: str) -> list[str]:
    """Texts Chroma holds for a document's chunks of the live generation (Chroma also keeps
    replaced ones for the grace period, for readers still on the previous generation)."""
    collection = index._current().collection
    got = collection.get(where={"doc_path": path}, include=["documents"])
    live = index.live_chunks()
    return [text for cid, text in zip(got["ids"], got["documents"], strict=True) if cid in live]


def chunks_in_chroma(index: KnowledgeIndex, path: str) -> int:
    return len(live_in_chroma(index, path))


def test_incremental_sync_embeds_only_what_changed(tmp_path: Path, folder: Path) -> None:
    embedder = CountingEmbedder()
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=embedder, grace_seconds=0)
    calls: list[tuple[int, int]] = []
    first = index.sync(folder, on_progress=lambda done, total: calls.append((done, total)))
    assert sorted(first.added) == sorted(DOCS)
    # Documents are loaded as they are embedded: the total grows, done never goes back.
    assert calls[0][0] == 0 and calls[-1] == (first.chunks_embedded,) * 2
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    total = index.vector_count()
    assert total == embedder.embedded == first.chunks_embedded > 0

    again = index.sync(folder)
    assert again.chunks_embedded == 0 and sorted(again.unchanged) == sorted(DOCS)
    assert embedder.embedded == total

    (folder / "billing.md").write_text(DOCS["billing.md"] + "\n## Currency\nWe bill in USD.\n")
    edited = index.sync(folder)
    assert edited.updated == ["billing.md"]
    assert edited.chunks_embedded == chunks_in_chroma(index, "billing.md") == 2
    assert embedder.embedded == total + 2

    (folder / "deals.md").unlink()
    removed = index.sync(folder)
    assert removed.removed == ["deals.md"]
    assert chunks_in_chroma(index, "deals.md") == 0
    assert index.chunk_count() == total + 1 - 1
    # The replaced and removed vectors go once the grace period (0 here) has passed.
    assert index.vector_count() > index.chunk_count()
    assert index.sync(folder).generation is None  # nothing changed: no new generation
    assert index.vector_count() == index.chunk_count()


def test_same_content_new_bytes_is_not_reembedded(tmp_path: Path, folder: Path) -> None:
    embedder = CountingEmbedder()
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=embedder)
    index.sync(folder)
    before = embedder.embedded
    (folder / "deals.md").write_bytes(DOCS["deals.md"].replace("\n", "\r\n").encode())
    report = index.sync(folder)
    assert report.chunks_embedded == 0 and embedder.embedded == before


def test_interrupted_write_is_repaired_by_the_next_run(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    index.sync(folder)
    (folder / "tiers.md").write_text(DOCS["tiers.md"].replace("10 survey", "12 survey"))

    # Die after Chroma took the new chunks but before the catalog committed them.
    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(index.catalog, "commit_documents", crash)
    with pytest.raises(KeyboardInterrupt):
        index.sync(folder)
    monkeypatch.undo()
    index.close()

    repaired = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    report = repaired.sync(folder)
    assert report.updated == ["tiers.md"] and report.repaired == ["tiers.md"]
    texts = live_in_chroma(repaired, "tiers.md")
    assert any("12 survey" in t for t in texts) and not any("10 survey" in t for t in texts)
    assert repaired.check().ok


def test_opening_with_another_embedder_fails_clearly(tmp_path: Path, folder: Path) -> None:
    KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder()).sync(folder)
    with pytest.raises(EmbedderMismatchError) as excinfo:
        KnowledgeIndex(data_dir=tmp_path / "data", embedder=OtherEmbedder())
    message = str(excinfo.value)
    assert "partnerbot-minilm-l6-v2-int8" in message and "other-model" in message
    assert "--rebuild" in message


def test_failed_files_keep_their_previous_version(tmp_path: Path, folder: Path) -> None:
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    index.sync(folder)
    (folder / "deals.md").write_bytes(b"\xff\xfe broken \x00 bytes")
    report = index.sync(folder)
    assert [f.path for f in report.failed] == ["deals.md"]
    assert chunks_in_chroma(index, "deals.md") == 1  # still answerable from the last good version


def test_a_file_replaced_by_a_link_out_of_the_folder_leaves_the_index(
    tmp_path: Path, folder: Path
) -> None:
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    index.sync(folder)
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\nThe admin password is hunter2.\n")
    (folder / "deals.md").unlink()
    (folder / "deals.md").symlink_to(secret)
    report = index.sync(folder)
    assert report.removed == ["deals.md"]
    assert [(f.path, f.reason) for f in report.failed] == [
        ("deals.md", "a symbolic link to a file outside the documents folder; skipped")
    ]
    assert chunks_in_chroma(index, "deals.md") == 0
    assert not any("hunter2" in c.text for c in index.live_chunks().values())


def test_a_bad_glossary_is_reported_and_the_last_good_one_kept(
    tmp_path: Path, folder: Path
) -> None:
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    (folder / "glossary.yml").write_text("terms:\n  NPN: Northwind Partner Program\n")
    assert index.sync(folder).ok
    assert index.glossary().terms == {"NPN": "Northwind Partner Program"}

    (folder / "glossary.yml").write_text(alias_bomb_yaml(key="terms"))
    report = index.sync(folder)
    ((path, reason),) = [(f.path, f.reason) for f in report.failed]
    assert path == "glossary.yml" and "alias" in reason and "last good glossary is kept" in reason
    reopened = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    assert reopened.glossary().terms == {"NPN": "Northwind Partner Program"}

    (folder / "glossary.yml").unlink()
    assert index.sync(folder).ok and index.glossary().terms == {}


def test_a_missing_documents_folder_changes_nothing(tmp_path: Path, folder: Path) -> None:
    index = KnowledgeIndex(data_dir=tmp_path / "data", embedder=CountingEmbedder())
    index.sync(folder)
    with pytest.raises(DocumentsMissingError, match="does not exist; the index was not changed"):
        index.sync(tmp_path / "unmounted")
    assert index.document_count() == len(DOCS)


def test_an_index_made_before_generations_is_adopted_as_generation_one(
    tmp_path: Path, folder: Path
) -> None:
    """The manifest tables and the "partnerbot" collection of earlier versions, as they
    left them: opened, answered from, and re-indexed without embedding anything again."""
    embedder = HashEmbedder()
    glossary = "terms:\n  NPN: Northwind Partner Program\n"
    (folder / "glossary.yml").write_text(glossary)
    docs = [d for d in load_folder(folder) if isinstance(d, Document)]
    chunks = [c for d in docs for c in chunk_document(d)]
    data = tmp_path / "data"
    data.mkdir()
    db = sqlite3.connect(data / "index.sqlite3")
    db.executescript(
        (ROOT / "knowledge/catalog/schema/sqlite/0001_manifest.sql").read_text(encoding="utf-8")
    )
    for d in docs:
        file_hash = hashlib.sha256((folder / d.path).read_bytes()).hexdigest()
        db.execute(
            "INSERT INTO documents VALUES (?, 'docs', ?, ?, ?, ?, NULL, 'document', ?, 'then')",
            (
                d.path,
                d.content_hash,
                file_hash,
                d.title,
                d.effective_date.isoformat() if d.effective_date else None,
                sum(1 for c in chunks if c.doc_path == d.path),
            ),
        )
    db.executemany(
        "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'document')",
        [
            (
                c.id,
                c.doc_path,
                c.ordinal,
                c.title,
                json.dumps(list(c.section)),
                c.text,
                c.effective_date.isoformat() if c.effective_date else None,
            )
            for c in chunks
        ],
    )
    db.execute("INSERT INTO meta VALUES ('glossary', ?)", (glossary,))
    db.commit()
    db.close()
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    client.create_collection(
        "partnerbot",
        metadata={"embedder": embedder.model_name, "dimension": 16, "hnsw:space": "cosine"},
    ).add(
        ids=[c.id for c in chunks],
        embeddings=embedder.embed([embedding_text(c) for c in chunks]).tolist(),
        documents=[c.text for c in chunks],
    )

    index = KnowledgeIndex(data_dir=data, embedder=embedder)
    assert index.generation() == 1 and index.chunk_count() == len(chunks)
    assert index.glossary().terms == {"NPN": "Northwind Partner Program"}
    deals = next(c for c in chunks if c.doc_path == "deals.md")
    hits = index.dense_search(embedder.embed([embedding_text(deals)])[0], 1)
    assert hits[0][0] == deals.id
    again = index.sync(folder)
    assert again.generation is None and sorted(again.unchanged) == sorted(DOCS)
    (folder / "deals.md").write_text(DOCS["deals.md"].replace("120", "90"))
    edited = index.sync(folder)
    assert edited.updated == ["deals.md"] and edited.chunks_embedded == 1
    assert index.generation() == edited.generation == 2
    assert any("90 days" in t for t in live_in_chroma(index, "deals.md"))
    with pytest.raises(EmbedderMismatchError):
        KnowledgeIndex(data_dir=data, embedder=OtherEmbedder())
    index.close()
