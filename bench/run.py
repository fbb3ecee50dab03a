"""`make bench`: measured figures, printed as a table and written to bench/results/.

Sections (run all, or name some: `python -m bench.run index ask`):
  index  raw embedder throughput vs `partnerbot index` throughput on the same chunks
  noop   no-op re-index of 1,000 generated documents
  ask    in-process `ask` latency at 1k and 10k chunks
  ask_corpus  in-process `ask` latency on the indexed Datadog dev corpus (and, with
         PARTNERBOT_BENCH_BASELINE=<checkout>, the same on that checkout, in turn)
  ask_app  `ask` p50/p95 through the composed app with the sample routes and partners files,
         on the Northwind dev corpus (and, with PARTNERBOT_BENCH_BASELINE, that checkout's)
  slack  ack and answer latency for 50 concurrent mentions (HTTP mode, local stand-in)
  discord  ack and answer latency for 50 concurrent /ask (local stand-in)
  teams  ack and answer latency for 30 concurrent channel mentions (local stand-in)
  changes  time to diff 1,000 changed documents
  hostile  `partnerbot index` on both bombs, a link out and two good files: time, peak RSS
  ask_reindex  `ask` p50/p95 idle vs during a full re-index in the same process (and, with
         PARTNERBOT_BENCH_BASELINE, the same on that checkout, in turn)
  index_rss  peak RSS of an index run over 1,000 and 3,000 generated documents (embedded
         Chroma and a Chroma server; baseline too)
  lexical100k  a replica following a 100,000-chunk generation (PostgreSQL and SQLite)
  audiences  `ask` p50/p95 with audiences at 10k and 100k chunks beside no audiences (the
         public, a partner, a narrow viewer), a new viewer's first question, Chroma `where`
Medians over repeated runs; every figure in one process, side by side.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.evaluation.harness import percentile

RESULTS = Path(__file__).resolve().parent / "results"
console = Console()


def bench_index(repeats: int = 3) -> dict[str, Any]:
    from bench.corpus import SAMPLES, sample_chunk_texts
    from knowledge.embeddings import default_embedder
    from knowledge.index import KnowledgeIndex

    embedder = default_embedder()
    texts = sample_chunk_texts()
    embedder.embed(texts[:8])  # warm up
    raw, indexed = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.embed(texts)
        raw.append(len(texts) / (time.perf_counter() - started))
        with tempfile.TemporaryDirectory() as tmp:
            index = KnowledgeIndex(data_dir=Path(tmp), embedder=embedder)
            started = time.perf_counter()
            report = index.sync(SAMPLES)
            indexed.append(report.chunks_embedded / (time.perf_counter() - started))
            index.close()
    raw_m, idx_m = statistics.median(raw), statistics.median(indexed)
    return {
        "chunks": len(texts),
        "raw_embedder_chunks_per_s": round(raw_m, 2),
        "index_chunks_per_s": round(idx_m, 2),
        "ratio_index_to_raw": round(idx_m / raw_m, 3),
        "runs": repeats,
    }


def bench_noop(documents: int = 1000, repeats: int = 5) -> dict[str, Any]:
    from bench.corpus import ReplayEmbedder, write_corpus
    from knowledge.index import KnowledgeIndex

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        write_corpus(folder, documents=documents)
        index = KnowledgeIndex(data_dir=Path(tmp) / "data", embedder=ReplayEmbedder())
        first = index.sync(folder)
        times = []
        for _ in range(repeats):
            report = index.sync(folder)
            assert report.chunks_embedded == 0 and len(report.unchanged) == documents
            times.append(report.seconds)
        index.close()
    return {
        "documents": documents,
        "first_index_s": round(first.seconds, 2),
        "noop_reindex_s_median": round(statistics.median(times), 3),
        "noop_reindex_s_max": round(max(times), 3),
        "runs": repeats,
    }


QUESTIONS = [
    "whats the new CSAT rule for gold?? deadline?",
    "how many internal use licenses do advanced partners get",
    "min deal size for deal reg?",
    "which comps replaced app dev and devops",
    "cloud billing credit limit for new MSPs?",
    "when is the first elite intake announced",
    "how do i reset my laptop password",
    "what currencies does cloud billing invoice in",
]


def bench_ask(sizes: tuple[int, ...] = (1000, 10000), rounds: int = 25) -> dict[str, Any]:
    from bench.corpus import SAMPLES, ReplayEmbedder, write_corpus
    from bot.config import Settings
    from bot.core import PartnerBot
    from bot.models import Question
    from knowledge.embeddings import default_embedder
    from knowledge.index import KnowledgeIndex

    out: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "docs"
            shutil.copytree(SAMPLES, folder)
            write_corpus(folder / "generated", documents=size // 5, chunks_per_doc=5)
            data = Path(tmp) / "data"
            build = KnowledgeIndex(data_dir=data, embedder=ReplayEmbedder())
            build.sync(folder)
            chunks = build.chunk_count()
            build.close()
            index = KnowledgeIndex(data_dir=data, embedder=default_embedder())
            bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=data), index=index)  # type: ignore[call-arg]
            bot.rate_limiter.per_minute = 10**9
            for q in QUESTIONS:  # warm-up: load BM25, caches
                bot.answerer.answer(Question(q))
            latencies = []
            for _ in range(rounds):
                for q in QUESTIONS:
                    started = time.perf_counter()
                    bot.answerer.answer(Question(q))
                    latencies.append((time.perf_counter() - started) * 1000)
            bot.close()
        out[f"{size}"] = {
            "chunks": chunks,
            "asks": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
        }
    return out


def _optional(name: str, module: str, func: str) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        import importlib

        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as e:
            return {"skipped": f"{name} benchmark not available ({e})"}
        return fn()

    return run


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "index": bench_index,
    "noop": bench_noop,
    "ask": bench_ask,
    "ask_corpus": _optional("ask_corpus", "bench.ask_corpus", "bench_ask_corpus"),
    "ask_app": _optional("ask_app", "bench.ask_app", "bench_ask_app"),
    "slack": _optional("slack", "bench.chat_bench", "bench_slack"),
    "discord": _optional("discord", "bench.chat_bench", "bench_discord"),
    "teams": _optional("teams", "bench.chat_bench", "bench_teams"),
    "changes": _optional("changes", "bench.changes_bench", "bench_changes"),
    "hostile": _optional("hostile", "bench.hostile_bench", "bench_hostile"),
    "ask_reindex": _optional("ask_reindex", "bench.index_generations", "bench_ask_reindex"),
    "index_rss": _optional("index_rss", "bench.index_generations", "bench_index_rss"),
    "lexical100k": _optional("lexical100k", "bench.index_generations", "bench_lexical_rebuild"),
    "audiences": _optional("audiences", "bench.audiences_bench", "bench_audiences"),
    "console": _optional("console", "bench.console_bench", "bench_console"),
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    unknown = [w for w in wanted if w not in SECTIONS]
    if unknown:
        console.print(
            f"unknown section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}"
        )
        return 2
    results: dict[str, Any] = {
        "machine": {
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    for name in wanted:
        console.print(f"[bold]bench {name}…[/bold]")
        started = time.perf_counter()
        results[name] = SECTIONS[name]()
        results[name]["bench_seconds"] = round(time.perf_counter() - started, 1)
    table = Table(title="partnerbot benchmarks")
    table.add_column("section")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in wanted:
        for key, value in _flatten(results[name]):
            table.add_row(name, key, str(value))
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    console.print(f"written to {path}")
    return 0


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
