"""The bundled embedding model, remembering what it embedded for the rest of the session.

Most tests index the same sample documents and ask the same questions; the model's
vectors for a text do not change, so a text embedded once is not embedded again in
another test. tests/conftest.py puts one in the place of the process's default embedder
(knowledge.embeddings.default_embedder) for the session. Batching changes a vector by
rounding only (tests/knowledge/test_embeddings.py); tests about the model itself make a
`MiniLMEmbedder` of their own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from knowledge.embeddings import MiniLMEmbedder

MAX_REMEMBERED = 60_000  # vectors (384 floats each: about 90 MB at most)


class RememberingEmbedder(MiniLMEmbedder):
    """A MiniLMEmbedder that embeds each distinct text once per session."""

    def __init__(self, *, batch_size: int) -> None:
        super().__init__(batch_size=batch_size)
        self._remembered: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_lock = threading.Lock()

    def embed(self, texts: Sequence[str], *, one_core: bool = False) -> np.ndarray:
        with self._memory_lock:
            known = {t: self._remembered[t] for t in texts if t in self._remembered}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            vectors = super().embed(missing, one_core=one_core)
            with self._memory_lock:
                for text, vector in zip(missing, vectors, strict=True):
                    known[text] = vector
                    self._remembered[text] = vector
                while len(self._remembered) > MAX_REMEMBERED:
                    self._remembered.popitem(last=False)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = known[text]
        return out
