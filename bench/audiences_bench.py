"""`audiences`: `ask` latency with audiences at 10k and 100k chunks, beside no audiences.

Per size, one generated corpus (documents of 5 chunks copied from the sample documents,
vectors replayed: bench/corpus.py) is written once to Chroma and then catalogued three
times over the same vectors, differing only in who may read each document:

- `none`: every chunk public (no audiences at all);
- `mixed`: a program's documents, ~70% public, the rest for tiers (Elite, Advanced,
  Member), regions (EMEA, ANZ), Elite in EMEA, and 40 named partners;
- `portal`: a partner portal, 8% public and most documents for one of 200 named
  partners, so a Member partner in ANZ reads ~16% of it (the exact in-memory search).

Four configurations answer the same questions in one process, round after round in
turn (`Answerer.answer(Question(…, audience=viewer))`, the full answer path):
the public on `none`; the public and an Elite partner in EMEA on `mixed`; a Member
partner in ANZ on `portal`. Each reports the share of chunks its viewer reads, the
dense search the index takes for it, p50/p95 (medians over rounds), what its first
question cost (per-viewer BM25, vocabulary, heading index, vectors of an exactly
searched part) and the memory that added. Then new viewers, each asking its first
question; and a Chroma `where` filter on the audience (stored in the bench's collection
for this comparison only) beside the index's own dense search.
"""

from __future__ import annotations

import gc
import hashlib
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import SAMPLES, sample_chunks
from bench.run import QUESTIONS
from bot.evaluation.harness import percentile
from knowledge.audience import PUBLIC, Audience, Viewer
from knowledge.chunking import embedding_text
from knowledge.documents import Chunk

SIZES = (10_000, 100_000)
CHUNKS_PER_DOC = 5
ROUNDS = 5
REPEATS = 3  # each question this many times per configuration and round
NEW_VIEWERS = 3
CANDIDATES = 40  # Retriever's default: what dense_search is asked for
NOISE = 0.02


@dataclass(frozen=True)
class Mix:
    """Who may read the documents of a corpus: shares of audiences (front matter form;
    {} is everyone), and a share of documents each for one of `partners` named partners."""

    shared: tuple[tuple[dict[str, list[str]], float], ...]
    partners: int
    partner_share: float


MIXES = {
    "none": Mix((({}, 1.0),), 0, 0.0),
    "mixed": Mix(
        (
            ({}, 0.70),
            ({"tiers": ["Elite"]}, 0.06),
            ({"tiers": ["Elite", "Advanced"]}, 0.05),
            ({"tiers": ["Member"]}, 0.03),
            ({"regions": ["EMEA"]}, 0.04),
            ({"regions": ["ANZ"]}, 0.03),
            ({"tiers": ["Elite"], "regions": ["EMEA"]}, 0.02),
        ),
        partners=40,
        partner_share=0.07,
    ),
    "portal": Mix(
        (
            ({}, 0.08),
            ({"tiers": ["Elite"]}, 0.10),
            ({"tiers": ["Elite", "Advanced"]}, 0.08),
            ({"tiers": ["Member"]}, 0.04),
            ({"regions": ["EMEA"]}, 0.06),
            ({"regions": ["ANZ"]}, 0.04),
            ({"tiers": ["Elite"], "regions": ["EMEA"]}, 0.05),
        ),
        partners=200,
        partner_share=0.55,
    ),
}


def _partner(number: int) -> str:
    return f"p-{number:03d}"


def elite_partner(partner: str) -> Viewer:
    return Viewer.holding(
        {"tiers": ["Elite"], "regions": ["EMEA"], "partners": [partner]}, name=partner
    )


def member_partner(partner: str) -> Viewer:
    return Viewer.holding(
        {"tiers": ["Member"], "regions": ["ANZ"], "partners": [partner]}, name=partner
    )


# label: (corpus, how its viewer is made: None is the public)
CONFIGS = {
    "none": ("none", None),
    "public": ("mixed", None),
    "partner": ("mixed", elite_partner),
    "narrow": ("portal", member_partner),
}


@dataclass
class Corpus:
    """The generated chunks of one size, and each corpus's audience key per document."""

    chunks: list[Chunk]
    templates: list[int]  # per chunk: the sample chunk it copies (its vector is replayed)
    paths: list[str]
    audiences: dict[str, list[str]]  # corpus -> key per document, in `paths` order

    def partners_with_documents(self, corpus: str) -> list[str]:
        found = {
            p for key in self.audiences[corpus] for p in Audience.from_key(key).tags("partners")
        }
        return sorted(found)


def bench_audiences(sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    from knowledge.embeddings import default_embedder

    embedder = default_embedder()
    samples = sample_chunks()
    vectors = embedder.embed([embedding_text(c) for c in samples])
    out: dict[str, Any] = {
        "vectors": "replayed (questions embedded for real)",
        "rounds": ROUNDS,
        "asks_per_round": len(QUESTIONS) * REPEATS,
    }
    for size in sizes:
        out[str(size)] = _bench_size(size, embedder, samples, vectors)
    return out


def _generate(size: int, samples: list[Chunk], seed: int = 11) -> Corpus:
    rng = random.Random(seed)
    by_doc: dict[str, list[int]] = {}
    for i, chunk in enumerate(samples):
        by_doc.setdefault(chunk.doc_path, []).append(i)
    groups = list(by_doc.values())
    chunks: list[Chunk] = []
    templates: list[int] = []
    paths: list[str] = []
    for d in range(size // CHUNKS_PER_DOC):
        path = f"generated/doc-{d:06d}.md"
        digest = hashlib.sha1(path.encode()).hexdigest()[:16]
        group = groups[rng.randrange(len(groups))]
        start = rng.randrange(len(group))
        for o in range(CHUNKS_PER_DOC):
            t = group[(start + o) % len(group)]
            chunks.append(
                replace(samples[t], id=f"{digest}-{o:04d}", doc_path=path, ordinal=o, url=None)
            )
            templates.append(t)
        paths.append(path)
    audiences = {name: _assign(mix, len(paths), rng) for name, mix in MIXES.items()}
    return Corpus(chunks, templates, paths, audiences)


def _assign(mix: Mix, documents: int, rng: random.Random) -> list[str]:
    keys = [Audience.parse(audience or None).key for audience, _ in mix.shared]
    weights = [share for _, share in mix.shared] + [mix.partner_share]
    out = []
    for _ in range(documents):
        pick = rng.choices(range(len(weights)), weights)[0]
        if pick < len(keys):
            out.append(keys[pick])
        else:
            partner = _partner(rng.randrange(mix.partners))
            out.append(Audience.parse({"partners": [partner]}).key)
    return out


def _metadata(key: str) -> str:
    return key or "public"


def _write_vectors(
    stage: Path, corpus: Corpus, embedder: Any, vectors: np.ndarray, seed: int = 3
) -> str:
    """One Chroma collection of the corpus's replayed vectors (each chunk's audience in
    every corpus kept as metadata, for the `where` comparison only); its name."""
    from knowledge.vectors import CHROMA_BATCH, VectorStore

    rng = np.random.default_rng(seed)
    stage.mkdir(parents=True)
    store = VectorStore(data_dir=stage, server=None)
    try:
        name, collection = store.create(prefix="audbench", embedder=embedder)
        per_doc = {c: corpus.audiences[c] for c in ("mixed", "portal")}
        for start in range(0, len(corpus.chunks), CHROMA_BATCH):
            part = corpus.chunks[start : start + CHROMA_BATCH]
            base = vectors[corpus.templates[start : start + len(part)]]
            noisy = base + rng.normal(0, NOISE, base.shape).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            metadatas: list[Any] = [
                {c: _metadata(keys[(start + i) // CHUNKS_PER_DOC]) for c, keys in per_doc.items()}
                for i in range(len(part))
            ]
            collection.add(ids=[c.id for c in part], embeddings=noisy, metadatas=metadatas)
    finally:
        store.close()
    return name


def _write_catalog(
    data: Path, corpus: Corpus, name: str, collection: str, embedder: Any, glossary: str
) -> None:
    """The catalog of one corpus: its chunks (with its audiences), live as one generation."""
    from knowledge.catalog import DocumentEntry, open_catalog

    catalog = open_catalog(None, data_dir=data)
    try:
        number = catalog.begin(
            collection=collection,
            embedder=embedder.model_name,
            dimension=embedder.dimension,
            rebuild=True,
            glossary=glossary,
        ).number
        keys = corpus.audiences[name]
        batch = 500
        for first in range(0, len(corpus.paths), batch):
            docs = range(first, min(first + batch, len(corpus.paths)))
            chunks = [
                replace(corpus.chunks[d * CHUNKS_PER_DOC + o], audience=keys[d])
                for d in docs
                for o in range(CHUNKS_PER_DOC)
            ]
            entries = [
                DocumentEntry(
                    corpus.paths[d],
                    "docs",
                    f"{name}-{d}",
                    f"{name}-{d}",
                    chunks[(d - first) * CHUNKS_PER_DOC].title,
                    chunks[(d - first) * CHUNKS_PER_DOC].effective_date,
                    None,
                    "document",
                    CHUNKS_PER_DOC,
                    "now",
                    keys[d],
                )
                for d in docs
            ]
            catalog.add_chunks(number, chunks)
            catalog.commit_documents(number, entries, [], history=1)
        catalog.switch(number, glossary=glossary)
    finally:
        catalog.close()


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def _search_path(index: Any, viewer: Viewer) -> tuple[float, str]:
    """The share of chunks a viewer reads, and how the index searches it densely (exactly,
    over the generation's vectors in memory: over all of them, or over its part's rows)."""
    scope = index.scope(viewer)
    return scope.share, "whole generation" if not scope.key else "its part's rows"


class _Asker:
    """One configuration: a bot over one corpus, a viewer, and what its answers showed."""

    def __init__(self, bot: Any, viewer: Viewer, visible: dict[str, bool]) -> None:
        self.bot = bot
        self.viewer = viewer
        self.visible = visible  # document path -> may this viewer read it
        self.leaked = 0
        self.answered = 0
        self.asked = 0

    def ask(self, text: str) -> float:
        from bot.models import Question

        started = time.perf_counter()
        answer = self.bot.answerer.answer(Question(text, audience=self.viewer))
        took = (time.perf_counter() - started) * 1000
        shown = {c.path for c in (*answer.citations, *answer.sources)}
        self.leaked += sum(1 for path in shown if not self.visible.get(path, True))
        self.answered += not answer.abstained
        self.asked += 1
        return took


def _first_question(asker: _Asker) -> tuple[float, float]:
    """Seconds of a viewer's first question, and the memory (MB) it added."""
    gc.collect()
    before = _rss_mb()
    took = asker.ask(QUESTIONS[0]) / 1000
    gc.collect()
    return took, _rss_mb() - before


def _bench_size(
    size: int, embedder: Any, samples: list[Chunk], vectors: np.ndarray
) -> dict[str, Any]:
    from bot.config import Settings
    from bot.core import PartnerBot
    from knowledge.glossary import GLOSSARY_FILE
    from knowledge.index import KnowledgeIndex

    glossary_file = SAMPLES / GLOSSARY_FILE
    glossary = glossary_file.read_text() if glossary_file.exists() else ""
    corpus = _generate(size, samples)
    out: dict[str, Any] = {"chunks": len(corpus.chunks), "documents": len(corpus.paths)}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        stage = Path(tmp) / "vectors"
        collection = _write_vectors(stage, corpus, embedder, vectors)
        out["write_vectors_s"] = round(time.perf_counter() - started, 1)
        indexes: dict[str, KnowledgeIndex] = {}
        bots: dict[str, PartnerBot] = {}
        opened: dict[str, float] = {}
        try:
            for name in MIXES:
                data = Path(tmp) / name
                shutil.copytree(stage / "chroma", data / "chroma")
                _write_catalog(data, corpus, name, collection, embedder, glossary)
                started = time.perf_counter()
                index = KnowledgeIndex(data_dir=data, embedder=embedder)
                index.generation()  # loads the chunks and the whole generation's BM25
                opened[name] = round(time.perf_counter() - started, 1)
                if index.vector_count() != len(corpus.chunks):
                    raise RuntimeError(f"{name}: {index.vector_count()} vectors copied")
                bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=data), index=index)  # type: ignore[call-arg]
                bot.rate_limiter.per_minute = 10**9
                indexes[name], bots[name] = index, bot
            out["open_index_s"] = opened
            visible = {
                name: dict(zip(corpus.paths, keys, strict=True))
                for name, keys in corpus.audiences.items()
            }

            def asker(label: str, partner: str) -> _Asker:
                name, make = CONFIGS[label]
                viewer = make(partner) if make else PUBLIC
                return _Asker(
                    bots[name],
                    viewer,
                    {path: viewer.sees_key(key) for path, key in visible[name].items()},
                )

            partners = {n: corpus.partners_with_documents(n) for n in ("mixed", "portal")}
            askers = {
                label: asker(label, partners[CONFIGS[label][0]][0] if CONFIGS[label][1] else "")
                for label in CONFIGS
            }
            configs: dict[str, dict[str, Any]] = {}
            for label, a in askers.items():
                name = CONFIGS[label][0]
                share, path = _search_path(indexes[name], a.viewer)
                first_s, added_mb = _first_question(a)
                for q in QUESTIONS:  # warm-up
                    a.ask(q)
                configs[label] = {
                    "corpus": name,
                    "viewer": a.viewer.name,
                    "share_read": round(share, 3),
                    "dense_search": path,
                    "first_question_s": round(first_s, 2),
                    "first_question_rss_mb": round(added_mb),
                }
            latencies = _rounds(askers)
            none_p95 = [percentile(t, 95) for t in latencies["none"]]
            for label, per_round in latencies.items():
                p95 = [percentile(t, 95) for t in per_round]
                configs[label] |= {
                    "p50_ms": round(statistics.median(percentile(t, 50) for t in per_round), 1),
                    "p95_ms": round(statistics.median(p95), 1),
                    "p95_vs_none": round(
                        statistics.median(p / n for p, n in zip(p95, none_p95, strict=True)), 2
                    ),
                    "answered": f"{askers[label].answered}/{askers[label].asked}",
                    "restricted_sources_shown": askers[label].leaked,
                }
            out["configs"] = configs
            out["new_viewer"] = _new_viewers(asker, partners)
            out["dense_only"] = _dense_only(indexes, askers, embedder, collection)
        finally:
            for bot in bots.values():
                bot.close()
    return out


def _rounds(askers: dict[str, _Asker]) -> dict[str, list[list[float]]]:
    """Latencies per configuration and round; configurations take turns, in an order that
    rotates every round."""
    labels = list(askers)
    out: dict[str, list[list[float]]] = {label: [] for label in labels}
    for r in range(ROUNDS):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            out[label].append([askers[label].ask(q) for _ in range(REPEATS) for q in QUESTIONS])
    return out


def _new_viewers(asker: Any, partners: dict[str, list[str]]) -> dict[str, Any]:
    """The first question of viewers not seen before (partners not used so far): their
    part's BM25, vocabulary and heading index (and vectors, when searched exactly)."""
    out: dict[str, Any] = {}
    for label in ("partner", "narrow"):
        corpus = CONFIGS[label][0]
        times, added = [], []
        for partner in partners[corpus][1 : 1 + NEW_VIEWERS]:
            took, mb = _first_question(asker(label, partner))
            times.append(took)
            added.append(mb)
        out[label] = {
            "first_question_s": round(statistics.median(times), 2),
            "rss_added_mb": round(statistics.median(added)),
            "viewers": len(times),
        }
    return out


def _dense_only(
    indexes: dict[str, Any], askers: dict[str, _Asker], embedder: Any, collection: str
) -> dict[str, Any]:
    """The dense search alone: the index's own (`dense_search(viewer=)`) beside a Chroma
    query filtered by `where` on the audience, per viewer (median ms over the questions)."""
    queries = embedder.embed(QUESTIONS)
    out: dict[str, Any] = {}
    for label, a in askers.items():
        corpus = CONFIGS[label][0]
        index = indexes[corpus]
        own = []
        for v in queries:
            started = time.perf_counter()
            index.dense_search(v, CANDIDATES, viewer=a.viewer)
            own.append((time.perf_counter() - started) * 1000)
        figures = {"index_ms": round(statistics.median(own), 1)}
        if corpus != "none":
            keys = [_metadata(k) for k in index.scope(a.viewer).audiences]
            chroma = index.vectors.collection(collection)
            where = []
            for v in queries:
                started = time.perf_counter()
                chroma.query(
                    query_embeddings=[v.tolist()],
                    n_results=CANDIDATES,
                    where={corpus: {"$in": keys}},
                    include=["distances"],
                )
                where.append((time.perf_counter() - started) * 1000)
            figures["chroma_where_ms"] = round(statistics.median(where), 1)
            figures["audience_keys_allowed"] = len(keys)
        out[label] = figures
    return out
