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
import tempfile
from pathlib import Path
from typing import Any

from bench.checkouts import timed_rounds
from bot.evaluation.harness import DEVSETS_DIR, load_devset, percentile

CORPUS = "northwind"
ROUNDS = 15

# Runs inside either checkout: only what both have (App, Settings, Question, core.ask).
_WORKER = """
import json, os, sys, time
from pathlib import Path
from bot.app import App
from bot.config import Settings
from bot.models import Question

data = Path(sys.argv[1]) / str(os.getpid())  # (one data directory per checkout)
corpus, questions = sys.argv[2], json.loads(sys.argv[3])
settings = Settings(PARTNERBOT_DATA_DIR=data, PARTNERBOT_RATE_LIMIT_PER_MINUTE=10**6)
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
    with tempfile.TemporaryDirectory() as tmp:
        timings = timed_rounds(
            _WORKER, str(Path(tmp)), str(devset.corpus), json.dumps(questions), rounds=rounds
        )
    out: dict[str, Any] = {"corpus": CORPUS, "questions": len(questions), "rounds": rounds}
    for name, per_round in timings.items():
        p50 = [percentile(sorted(times), 50) for times in per_round]
        p95 = [percentile(sorted(times), 95) for times in per_round]
        out[name] = {
            "p50_ms": round(statistics.median(p50), 2),
            "p95_ms": round(statistics.median(p95), 2),
        }
    if "baseline" in out:
        for figure in ("p50_ms", "p95_ms"):
            ratio = out["this checkout"][figure] / out["baseline"][figure]
            out[f"{figure[:3]}_ratio_this_to_baseline"] = round(ratio, 3)
    return out
