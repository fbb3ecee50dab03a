"""`partnerbot index` on a hostile folder: both bombs, a link out, two good files.

Runs the real command in its own process (as an admin would), samples the memory
(PSS) of its whole process tree (the command and the process parsing PDF, DOCX
and HTML) every 20 ms, and checks the two good files are answerable afterwards.
The kernel's peak RSS of the largest process is reported too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.hostile_files import hostile_folder

ROOT = Path(__file__).resolve().parent.parent


def _tree_memory(pid: int) -> int:
    """Proportional set size (PSS) of a process and its descendants, in bytes. A child
    not yet past exec shares its parent's memory (vfork) and is not counted twice."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.extend(children)
        frontier.extend(children)
    total, seen = 0, set()
    for member in tree:
        try:
            with open(f"/proc/{member}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{member}/smaps_rollup") as f:
                pss = next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            continue
        if command in seen:
            continue  # a child between fork and exec: the parent's memory
        seen.add(command)
        total += pss * 1024
    return total


def _one_run(tmp: Path) -> dict[str, Any]:
    folder = tmp / "docs"
    questions = hostile_folder(folder, tmp / "outside")
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bot.cli", "index", "--json", str(folder)]
    started = time.perf_counter()
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = hwm = 0
    while True:  # (its output is small: no pipe fills)
        pid, status, _ = os.wait4(run.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_memory(run.pid))
        hwm = max(hwm, _high_water(run.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    run.returncode = os.waitstatus_to_exitcode(status)
    out, err = run.communicate()
    report = json.loads(out)
    answered = 0
    for question, words in questions.items():
        asked = subprocess.run(
            [sys.executable, "-m", "bot.cli", "ask", "--json", question],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        answered += words in json.loads(asked.stdout)["answer"]
    return {
        "seconds": seconds,
        "peak_tree_pss_mb": peak / 2**20,
        "max_rss_mb": hwm / 2**20,
        "added": report["added"],
        "failed": sorted(f["path"] for f in report["failures"]),
        "answered": answered,
        "exit_code": run.returncode,
        "stderr": err.decode()[-500:],
    }


def _high_water(pid: int) -> int:
    """The process's own peak RSS so far (VmHWM), in bytes. Not wait4's ru_maxrss: a child
    forked from this (large) bench process inherits the parent's peak there."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return 0


def bench_hostile(runs: int = 3) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(_one_run(Path(tmp)))
    last = results[-1]
    return {
        "index_seconds_median": round(statistics.median(r["seconds"] for r in results), 2),
        "index_seconds_max": round(max(r["seconds"] for r in results), 2),
        "peak_memory_mb_median": round(
            statistics.median(r["peak_tree_pss_mb"] for r in results), 1
        ),
        "peak_memory_mb_max": round(max(r["peak_tree_pss_mb"] for r in results), 1),
        # the command's own process: its peak RSS (VmHWM), sampled every 20 ms
        "peak_rss_mb_max": round(max(r["max_rss_mb"] for r in results), 1),
        "good_files_indexed": last["added"],
        "good_files_answerable": last["answered"],
        "reported": ", ".join(last["failed"]),
        "exit_code": last["exit_code"],
        "runs": runs,
    }
