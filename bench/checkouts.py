"""Benchmark workers in this checkout and, side by side, in another one (the previous main).

`PARTNERBOT_BENCH_BASELINE=/path/to/other/checkout` names the other checkout (its own
.venv is used when it has one). A worker is a Python script run with the checkout on
its path; the caller drives the workers in turn, so both see the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def checkouts() -> dict[str, Path]:
    """This checkout, and the baseline when one is named."""
    found = {"this checkout": HERE}
    baseline = os.environ.get("PARTNERBOT_BENCH_BASELINE")
    if baseline:
        found["baseline"] = Path(baseline).resolve()
    return found


def python(checkout: Path) -> str:
    venv = checkout / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def start(checkout: Path, script: str, *args: str, **popen: object) -> subprocess.Popen[str]:
    """Run `script` (Python source) in a checkout, with no PARTNERBOT_ setting inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env["PYTHONPATH"] = str(checkout)
    return subprocess.Popen(  # type: ignore[call-overload]
        [python(checkout), "-c", script, *args],
        cwd=checkout,
        env=env,
        text=True,
        **popen,
    )


def timed_rounds(script: str, *args: str, rounds: int) -> dict[str, list[list[float]]]:
    """Run `script` in every checkout and collect `rounds` rounds from each, in turn.

    The script prints "ready" once set up, then for each line it reads runs one round and
    prints its timings as a JSON list. Returns each checkout's rounds."""
    workers = {
        name: start(checkout, script, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for name, checkout in checkouts().items()
    }
    timings: dict[str, list[list[float]]] = {name: [] for name in workers}
    try:
        for worker in workers.values():
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a benchmark worker failed to start")
        for _ in range(rounds):  # in turn, so every checkout sees the same machine
            for name, worker in workers.items():
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("round\n")
                worker.stdin.flush()
                timings[name].append(json.loads(worker.stdout.readline()))
    finally:
        for worker in workers.values():
            if worker.stdin is not None:
                worker.stdin.close()
            worker.wait(timeout=120)
    return timings
