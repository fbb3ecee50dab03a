"""`ask` latency on a real dev corpus, side by side with another checkout.

The Datadog dev corpus is indexed with the real embedder, then its one-turn
questions are answered in-process, round after round. With
`PARTNERBOT_BENCH_BASELINE=/path/to/other/checkout` (a checkout with its own .venv,
e.g. the previous main) the same is measured there too: both run as worker processes
and take rounds in turn, so the two figures share the machine's conditions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.evaluation.harness import DEVSETS_DIR, load_devset, percentile

CORPUS = "datadog"
ROUNDS = 7

# Runs inside either checkout: only APIs both have (Settings, PartnerBot, Question).
_WORKER = """
import json, sys, time
from pathlib import Path
from bot.config import Settings
from bot.core import PartnerBot
from bot.models import Question

data, corpus, questions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=Path(data)))
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


def _python(checkout: Path) -> str:
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def bench_ask_corpus(rounds: int = ROUNDS) -> dict[str, Any]:
    devset = load_devset(DEVSETS_DIR / CORPUS)
    questions = [i.turns[0] for i in devset.one_turn]
    here = Path(__file__).resolve().parent.parent
    checkouts = {"this checkout": here}
    baseline = os.environ.get("PARTNERBOT_BENCH_BASELINE")
    if baseline:
        checkouts["baseline"] = Path(baseline).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        workers = {}
        for name, checkout in checkouts.items():
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            env = {k: v for k, v in env.items() if not k.startswith("PARTNERBOT_")}
            workers[name] = subprocess.Popen(
                [
                    _python(checkout),
                    "-c",
                    _WORKER,
                    str(Path(tmp) / name.replace(" ", "-")),
                    str(devset.corpus),
                    json.dumps(questions),
                ],
                cwd=checkout,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        for worker in workers.values():
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a benchmark worker failed to start")
        per_round: dict[str, list[tuple[float, float]]] = {name: [] for name in workers}
        for _ in range(rounds):  # in turn, so both see the same machine
            for name, worker in workers.items():
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("round\n")
                worker.stdin.flush()
                times = sorted(json.loads(worker.stdout.readline()))
                per_round[name].append((percentile(times, 50), percentile(times, 95)))
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=60)
    out: dict[str, Any] = {"corpus": CORPUS, "questions": len(questions), "rounds": rounds}
    for name, figures in per_round.items():
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
