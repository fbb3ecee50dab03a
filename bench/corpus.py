"""Synthetic corpora for benchmarks, built from the sample documents.

Embedding 10,000 chunks for real takes about ten minutes on two cores, and the
cost being measured (search, no-op sync) does not depend on what the vectors
mean. So large corpora reuse the real vectors of the sample chunks, with a
little noise, under the real embedder's name; queries are embedded for real.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from knowledge.chunking import chunk_all, embedding_text
from knowledge.documents import Chunk
from knowledge.embeddings import default_embedder
from knowledge.loaders import load_folder, partition

SAMPLES = Path(__file__).resolve().parent.parent / "knowledge" / "samples" / "docs"


def sample_chunks() -> list[Chunk]:
    docs, _ = partition(load_folder(SAMPLES))
    return chunk_all(docs)


def sample_chunk_texts() -> list[str]:
    return [embedding_text(c) for c in sample_chunks()]


class ReplayEmbedder:
    """Same name and dimension as the real model; vectors of the nearest sample chunk + noise."""

    def __init__(self, seed: int = 7) -> None:
        self.real = default_embedder()
        self._templates = sample_chunk_texts()
        self._vectors = self.real.embed(self._templates)
        self._rng = np.random.default_rng(seed)

    @property
    def model_name(self) -> str:
        return self.real.model_name

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            m = re.search(r"template (\d+)", text)
            base = self._vectors[int(m.group(1)) % len(self._vectors)] if m else self._vectors[0]
            v = base + self._rng.normal(0, 0.02, self.dimension).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out


def write_corpus(folder: Path, *, documents: int, chunks_per_doc: int = 1, seed: int = 1) -> None:
    """Markdown documents whose sections are sample chunk texts (tagged with their template)."""
    rng = random.Random(seed)
    templates = sample_chunk_texts()
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(documents):
        parts = [f"---\ntitle: Generated document {d}\neffective_date: 2026-01-01\n---\n"]
        for s in range(chunks_per_doc):
            t = rng.randrange(len(templates))
            body = templates[t].split("\n", 1)[-1]
            parts.append(
                f"## Section {s} template {t}\nDocument {d} section {s} template {t}.\n{body}\n"
            )
        (folder / f"doc-{d:05d}.md").write_text("\n".join(parts), encoding="utf-8")
