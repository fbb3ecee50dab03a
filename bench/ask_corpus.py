"""`ask` latency on a real dev corpus, side by side with another checkout.

The Datadog dev corpus is indexed with the real embedder, then its one-turn
questions are answered in-process, round after round. With
`PARTNERBOT_BENCH_BASELINE=/path/to/other/checkout` (a checkout with its own .venv,
e.g. the previous main) the same is measured there too: both run as worker processes
and take rounds in turn, so the two figures share the machine's conditions.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.checkouts import timed_rounds
from bot.evaluation.harness import DEVSETS_DIR, load_devset, percentile

CORPUS = "datadog"
ROUNDS = 7

# Runs inside either checkout: only APIs both have (Settings, PartnerBot, Question).
_WORKER = """
import json, os, sys, time
from pathlib import Path
from bot.config import Settings
from bot.core import PartnerBot
from bot.models import Question

data = Path(sys.argv[1]) / str(os.getpid())  # (one data directory per checkout)
corpus, questions = sys.argv[2], json.loads(sys.argv[3])
bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=data))
bot.reindex(Path(corpus))
for q in questions:  # warm up: BM25, caches
    bot.answerer.answer(Question(q))
print("ready", flush=True)
for line in sys.stdin:
    times = []
    for q in questions:
        started = time.perf_counter()
        bot.answerer.answer(Question(q))
        times.append((time.perf_counter() - started) * 1000)
    print(json.dumps(times), flush=True)
"""


def bench_ask_corpus(rounds: int = ROUNDS) -> dict[str, Any]:
    devset = load_devset(DEVSETS_DIR / CORPUS)
    questions = [i.turns[0] for i in devset.one_turn]
    with tempfile.TemporaryDirectory() as tmp:
        timings = timed_rounds(
            _WORKER, str(Path(tmp)), str(devset.corpus), json.dumps(questions), rounds=rounds
        )
    out: dict[str, Any] = {"corpus": CORPUS, "questions": len(questions), "rounds": rounds}
    for name, per_round in timings.items():
        figures = [(percentile(sorted(t), 50), percentile(sorted(t), 95)) for t in per_round]
        out[name] = {
            "p50_ms": round(statistics.median(f[0] for f in figures), 1),
            "p95_ms": round(statistics.median(f[1] for f in figures), 1),
            "p95_ms_per_round": [round(f[1], 1) for f in figures],
        }
    if "baseline" in out:
        out["p95_ratio_this_to_baseline"] = round(
            out["this checkout"]["p95_ms"] / out["baseline"]["p95_ms"], 2
        )
    return out
