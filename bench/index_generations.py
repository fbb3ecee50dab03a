"""Index generations: questions during a re-index, index memory, a replica's rebuild at 100k.

- `ask_reindex`: one process; 20 questions while it idles, then 20 while a full
  re-index (`reindex(rebuild=True)`, the real embedder) runs in the same process,
  round after round; p50/p95 of each and the ratio. With PARTNERBOT_BENCH_BASELINE the
  same runs in that checkout too, rounds in turn (bench/checkouts.py).
- `index_rss`: `KnowledgeIndex.sync` of a generated folder of 1,000 and 3,000
  documents (10 chunks each) in a process of its own; its peak RSS (and that of the
  parser processes it started). Vectors are replayed (bench/corpus.py): the real
  model is loaded, but embedding 30,000 chunks for real would take 15 minutes.
- `lexical100k`: 100,000 chunks in a catalog on a real PostgreSQL (and on SQLite, side
  by side): how long a replica takes to follow a new generation — read the chunks,
  build BM25, learn the retriever's vocabulary and heading index — and how questions
  answered from the previous generation meanwhile fare.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.checkouts import checkouts, start
from bot.evaluation.harness import percentile

ROUNDS = 3
QUESTIONS_PER_PHASE = 20

# Runs inside either checkout: only APIs both have (Settings, PartnerBot, Question, reindex).
_ASK_WORKER = r"""
import json, shutil, sys, threading, time
from pathlib import Path
from bot.config import Settings
from bot.core import PartnerBot
from bot.models import Question

data, folder = sys.argv[1], sys.argv[2]
questions, per_phase = json.loads(sys.argv[3]), int(sys.argv[4])
bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=Path(data)))
bot.rate_limiter.per_minute = 10**9
bot.reindex(Path(folder))
for q in questions:
    bot.ask(Question(q))

def phase():
    times = []
    for i in range(per_phase):
        started = time.perf_counter()
        bot.ask(Question(questions[i % len(questions)]))
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.1)
    return times

print("ready", flush=True)
for line in sys.stdin:
    idle = phase()
    done = threading.Event()
    took = []
    def run():
        started = time.perf_counter()
        bot.reindex(Path(folder), rebuild=True)
        took.append(time.perf_counter() - started)
        done.set()
    runner = threading.Thread(target=run)
    runner.start()
    time.sleep(0.3)
    during = phase()
    overlapped = not done.is_set()
    runner.join()
    result = {"idle": idle, "during": during, "overlapped": overlapped, "reindex_s": took[0]}
    print(json.dumps(result), flush=True)
"""

# Peak RSS is the process's own high-water mark (VmHWM): getrusage's ru_maxrss would start
# from the parent's peak, which a child inherits.
_RSS_WORKER = r"""
import json, resource, sys, time
from pathlib import Path
from bench.corpus import ReplayEmbedder
from knowledge.index import KnowledgeIndex

def peak_mb():
    with open("/proc/self/status") as f:
        return round(next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024)

data, folder = Path(sys.argv[1]), Path(sys.argv[2])
server = {"chroma_host": sys.argv[3], "chroma_port": int(sys.argv[4])} if len(sys.argv) > 3 else {}
embedder = ReplayEmbedder()
before = peak_mb()
index = KnowledgeIndex(data_dir=data, embedder=embedder, **server)
started = time.perf_counter()
report = index.sync(folder)
seconds = time.perf_counter() - started
print(json.dumps({
    "documents": len(report.added),
    "chunks": report.chunks_embedded,
    "seconds": round(seconds, 1),
    "peak_rss_mb": peak_mb(),
    "rss_before_index_mb": before,
    "children_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
}))
"""

ASK_QUESTIONS = [
    "whats the new CSAT rule for gold?? deadline?",
    "how many internal use licenses do advanced partners get",
    "what is the annual fee for member partners",
    "which comps replaced app dev and devops",
    "how do i reset my laptop password",
]


def bench_ask_reindex(rounds: int = ROUNDS) -> dict[str, Any]:
    """Ask latency idle vs during a full re-index in the same process."""
    from bench.corpus import SAMPLES, write_corpus

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        subprocess.run(["cp", "-r", str(SAMPLES), str(folder)], check=True)
        # More to embed, so a full re-index lasts the 20 questions (about 10 s).
        write_corpus(folder / "generated", documents=40, chunks_per_doc=5)
        workers = {
            name: start(
                checkout,
                _ASK_WORKER,
                str(Path(tmp) / name.replace(" ", "-")),
                str(folder),
                json.dumps(ASK_QUESTIONS),
                str(QUESTIONS_PER_PHASE),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for name, checkout in checkouts().items()
        }
        for worker in workers.values():
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a benchmark worker failed to start")
        per_round: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
        for _ in range(rounds):
            for name, worker in workers.items():
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("round\n")
                worker.stdin.flush()
                per_round[name].append(json.loads(worker.stdout.readline()))
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=120)
    out: dict[str, Any] = {"questions_per_phase": QUESTIONS_PER_PHASE, "rounds": rounds}
    for name, results in per_round.items():
        idle = [percentile(r["idle"], 95) for r in results]
        during = [percentile(r["during"], 95) for r in results]
        out[name] = {
            "idle_p50_ms": round(statistics.median(percentile(r["idle"], 50) for r in results), 1),
            "idle_p95_ms": round(statistics.median(idle), 1),
            "during_p50_ms": round(
                statistics.median(percentile(r["during"], 50) for r in results), 1
            ),
            "during_p95_ms": round(statistics.median(during), 1),
            "p95_ratio_during_to_idle": round(
                statistics.median(d / i for d, i in zip(during, idle, strict=True)), 2
            ),
            "rounds_overlapping_the_whole_phase": sum(r["overlapped"] for r in results),
            "reindex_s": round(statistics.median(r["reindex_s"] for r in results), 1),
        }
    return out


def bench_index_rss(sizes: tuple[int, ...] = (1000, 3000)) -> dict[str, Any]:
    """Peak RSS of an index run over 1,000 and 3,000 generated documents, with the embedded
    vector store (whose vectors live in the indexing process) and with a Chroma server."""
    from bench.corpus import write_corpus
    from tests.chroma_server import ChromaProcess

    out: dict[str, Any] = {"chunks_per_document": 10, "vectors": "replayed"}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = Path(tmp) / f"docs-{size}"
            write_corpus(folder, documents=size, chunks_per_doc=10)
            for store in ("embedded", "server"):
                for name, checkout in checkouts().items():
                    chroma = ChromaProcess().start() if store == "server" else None
                    where = (chroma.host, str(chroma.port)) if chroma else ()
                    try:
                        worker = start(
                            checkout,
                            _RSS_WORKER,
                            str(Path(tmp) / f"data-{size}-{store}-{name.replace(' ', '-')}"),
                            str(folder),
                            *where,
                            stdout=subprocess.PIPE,
                        )
                        output, _ = worker.communicate(timeout=3600)
                    finally:
                        if chroma is not None:
                            chroma.stop()
                    if worker.returncode != 0:
                        raise RuntimeError(f"the index memory worker failed in {checkout}")
                    figures = json.loads(output.strip().splitlines()[-1])
                    out.setdefault(f"{name}, {store} Chroma", {})[str(size)] = figures
    return out


def bench_lexical_rebuild(chunks: int = 100_000, questions: int = 20) -> dict[str, Any]:
    """How long a replica takes to follow a generation of 100k chunks, and questions
    answered from the previous one meanwhile."""
    from tests.chroma_server import ChromaProcess
    from tests.postgres_server import PostgresServer

    server = PostgresServer().start()
    chroma = ChromaProcess().start()
    try:
        url = server.create_database("bench")
        return {
            "chunks": chunks,
            "postgresql": _follow_figures(url, chroma, chunks, questions),
            "sqlite": _follow_figures(None, chroma, chunks, questions),
        }
    finally:
        chroma.stop()
        server.stop()


def _follow_figures(url: str | None, chroma: Any, chunks: int, questions: int) -> dict[str, Any]:
    from bench.corpus import sample_chunk_texts
    from bot.config import Settings
    from bot.core import PartnerBot
    from bot.models import Question
    from knowledge.background import giving_way, lowest_priority
    from knowledge.catalog import DocumentEntry, open_catalog
    from knowledge.documents import Chunk
    from knowledge.embeddings import default_embedder
    from knowledge.index import KnowledgeIndex
    from knowledge.vectors import ChromaServer, VectorStore

    embedder = default_embedder()
    templates = sample_chunk_texts()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        writer_dir = Path(tmp) / "writer"
        writer_dir.mkdir()
        catalog = open_catalog(url, data_dir=writer_dir)
        server = ChromaServer(chroma.host, chroma.port)
        vectors = VectorStore(data_dir=writer_dir, server=server)

        def generation(tag: str) -> float:
            """Write a generation of `chunks` chunks (texts only: no vectors needed to
            measure the lexical side) and switch to it; seconds taken."""
            started = time.perf_counter()
            name, _ = vectors.create(prefix=catalog.catalog_id(), embedder=embedder)
            live = catalog.live()
            number = catalog.begin(
                collection=name,
                embedder=embedder.model_name,
                dimension=embedder.dimension,
                rebuild=True,
                glossary="",
            ).number
            if live is not None:
                catalog.retire(number, [d.path for d in catalog.documents(live.number)])
            per_doc = 5
            for d in range(0, chunks // per_doc, 500):
                batch = []
                entries = []
                for doc in range(d, min(d + 500, chunks // per_doc)):
                    path = f"{tag}/doc-{doc:06d}.md"
                    for o in range(per_doc):
                        text = templates[rng.randrange(len(templates))].split("\n", 1)[-1]
                        batch.append(
                            Chunk(
                                id=f"{tag}{doc:06d}-{o:04d}",
                                doc_path=path,
                                title=f"Generated document {doc}",
                                section=(f"Section {o}",),
                                text=text,
                                ordinal=o,
                            )
                        )
                    entries.append(
                        DocumentEntry(
                            path,
                            "docs",
                            tag,
                            tag,
                            f"Generated document {doc}",
                            None,
                            None,
                            "document",
                            per_doc,
                            "now",
                        )
                    )
                catalog.add_chunks(number, batch)
                catalog.commit_documents(number, entries, [], history=1)
            catalog.switch(number, glossary="")
            return time.perf_counter() - started

        write_s = generation("a")
        # A replica with a data directory of its own (SQLite: the catalog is the writer's).
        replica_dir = writer_dir if url is None else Path(tmp) / "replica"
        settings = Settings(PARTNERBOT_DATA_DIR=replica_dir)  # type: ignore[call-arg]
        index = KnowledgeIndex(
            data_dir=replica_dir, embedder=embedder, catalog_url=url, chroma=server
        )
        bot = PartnerBot(settings, index=index)
        bot.rate_limiter.per_minute = 10**9
        started = time.perf_counter()
        bot.ask(Question("what is the annual fee for member partners"))  # first load + derive
        cold_s = time.perf_counter() - started

        generation("b")
        timings: dict[str, float] = {}
        real_lexical = index._lexical_for

        def timed_lexical(number: int, table: dict[str, Any]) -> Any:
            t = time.perf_counter()
            result = real_lexical(number, table)
            timings["bm25_s"] = time.perf_counter() - t
            return result

        index._lexical_for = timed_lexical  # type: ignore[method-assign,assignment]
        idle = _ask_times(bot, Question, questions)
        done = threading.Event()
        follow: list[float] = []

        def poll() -> None:  # as the follower thread does
            lowest_priority()
            t = time.perf_counter()
            with giving_way():
                index.poll()
            follow.append(time.perf_counter() - t)
            done.set()

        thread = threading.Thread(target=poll)
        thread.start()
        during: list[float] = []
        while not done.is_set() and len(during) < 200:
            during.extend(_ask_times(bot, Question, 1))
        thread.join()
        answered_from_new = index.generation()
        bot.close()
        catalog.close()
        vectors.close()
    return {
        "write_generation_s": round(write_s, 1),
        "first_load_s": round(cold_s, 1),
        "follow_new_generation_s": round(follow[0], 1),
        "of_which_bm25_s": round(timings.get("bm25_s", 0.0), 1),
        "questions_answered_while_following": len(during),
        "ask_idle_p95_ms": round(percentile(idle, 95), 1),
        "ask_while_following_p95_ms": round(percentile(during, 95), 1) if during else None,
        "generation_after": answered_from_new,
    }


def _ask_times(bot: Any, question_type: Any, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        bot.ask(question_type(ASK_QUESTIONS[i % len(ASK_QUESTIONS)]))
        times.append((time.perf_counter() - started) * 1000)
    return times
