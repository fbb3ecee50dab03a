"""`ask` latency through the composed app, as `partnerbot ask` and a chat question run it.

The app is built from the default settings (the sample communications folder, so its
routes file and partners file are in use), the Northwind dev corpus is indexed, and
its one-turn questions are asked with `app.core.ask`, round after round. With
`PARTNERBOT_BENCH_BASELINE=/path/to/other/checkout` (e.g. the previous main, with its own
.venv) the same is measured there: both run as worker processes taking rounds in turn,
so the two figures share the machine's conditions.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.checkouts import checkouts, start
from bot.evaluation.harness import DEVSETS_DIR, load_devset, percentile

CORPUS = "northwind"
ROUNDS = 15

# Runs inside either checkout: only what both have (App, Settings, Question, core.ask).
_WORKER = """
import json, sys, time
from pathlib import Path
from bot.app import App
from bot.config import Settings
from bot.models import Question

data, corpus, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
settings = Settings(PARTNERBOT_DATA_DIR=Path(data), PARTNERBOT_RATE_LIMIT_PER_MINUTE=10**9)
app = App(settings)
app.core.reindex(Path(corpus))
for q in questions:  # warm up: BM25, caches
    app.core.ask(Question(q))
print("ready", flush=True)
for line in sys.stdin:
    times = []
    for q in questions:
        started = time.perf_counter()
        app.core.ask(Question(q))
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps(times), flush=True)
app.close()
"""


def bench_ask_app(rounds: int = ROUNDS) -> dict[str, Any]:
    devset = load_devset(DEVSETS_DIR / CORPUS)
    questions = [i.turns[0] for i in devset.one_turn]
    per_round: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workers = {
            name: start(
                checkout,
                _WORKER,
                str(Path(tmp) / name.replace(" ", "-")),
                str(devset.corpus),
                json.dumps(questions),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for name, checkout in checkouts().items()
        }
        try:
            for worker in workers.values():
                assert worker.stdout is not None
                if worker.stdout.readline().strip() != "ready":
                    raise RuntimeError("a benchmark worker failed to start")
            per_round = {name: [] for name in workers}
            for _ in range(rounds):  # in turn, so both see the same machine
                for name, worker in workers.items():
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write("round\n")
                    worker.stdin.flush()
                    times = sorted(json.loads(worker.stdout.readline()))
                    per_round[name].append((percentile(times, 50), percentile(times, 95)))
        finally:
            for worker in workers.values():
                if worker.stdin is not None:
                    worker.stdin.close()
                worker.wait(timeout=120)
    out: dict[str, Any] = {"corpus": CORPUS, "questions": len(questions), "rounds": rounds}
    for name, figures in per_round.items():
        out[name] = {
            "p50_ms": round(statistics.median(f[0] for f in figures), 2),
            "p95_ms": round(statistics.median(f[1] for f in figures), 2),
        }
    if "baseline" in out:
        for figure in ("p50_ms", "p95_ms"):
            ratio = out["this checkout"][figure] / out["baseline"][figure]
            out[f"{figure[:3]}_ratio_this_to_baseline"] = round(ratio, 3)
    return out
