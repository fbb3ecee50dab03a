"""Score another checkout (e.g. the previous main) on the dev sets, as a new user would.

    python -m bench.checkout_eval /path/to/checkout [--data DIR]

For every dev set: `partnerbot index CORPUS`, then `partnerbot ask --json --batch` with
its questions (earlier turns as `previous`), and again with its held-out questions when it
has any (a column of their own), run with that checkout's own code and
.venv; the answers are scored with this checkout's metrics (bot/evaluation/harness.py), so
both sides are measured the same way. Prints one table, writes bench/results/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.evaluation.harness import EvalItem, EvalOutcome, EvalReport, Response, discover_devsets
from bot.evaluation.report import ROWS

RESULTS = Path(__file__).resolve().parent / "results"


def run_checkout(checkout: Path, data_root: Path) -> dict[str, EvalReport]:
    python = checkout / ".venv" / "bin" / "python"
    reports = {}
    for devset in discover_devsets():
        if devset.corpus is None:
            continue
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
        env.update(
            PARTNERBOT_DATA_DIR=str(data_root / devset.name),
            PARTNERBOT_RATE_LIMIT_PER_MINUTE="1000000",  # older versions limited --batch too
            PYTHONPATH=str(checkout),
        )
        cli = [str(python), "-m", "bot.cli"]
        subprocess.run(
            [*cli, "index", str(devset.corpus)],
            cwd=checkout,
            env=env,
            check=False,
            capture_output=True,
        )
        reports[devset.name] = _ask(cli, checkout, env, devset.name, devset.items)
        if devset.heldout:
            name = f"{devset.name} held-out"
            reports[name] = _ask(cli, checkout, env, name, devset.heldout)
    return reports


def _ask(
    cli: list[str], checkout: Path, env: dict[str, str], name: str, items: list[EvalItem]
) -> EvalReport:
    """Every question through that checkout's `ask --json --batch`, scored here."""
    lines = "".join(
        json.dumps({"question": i.turns[-1], "previous": i.turns[:-1]}) + "\n" for i in items
    )
    started = time.perf_counter()
    done = subprocess.run(
        [*cli, "ask", "--json", "--batch", "-"],
        cwd=checkout,
        env=env,
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    per_question = (time.perf_counter() - started) / max(len(items), 1)
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(answers) != len(items):
        raise RuntimeError(f"{name}: {len(answers)} answers for {len(items)}")
    report = EvalReport(name)
    for item, a in zip(items, answers, strict=True):
        sources = a.get("sources", [])
        response = Response(
            ranked_paths=list(dict.fromkeys(s["path"] for s in sources)),
            abstained=bool(a.get("abstained")),
            answer=a.get("answer", ""),
            context=[s["text"] for s in sources[:8] if "text" in s],
        )
        report.outcomes.append(EvalOutcome(item, response, per_question))
    return report


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    checkout = Path(argv[0]).resolve()
    console = Console(width=160)
    with tempfile.TemporaryDirectory() as tmp:
        data_root = Path(argv[argv.index("--data") + 1]) if "--data" in argv else Path(tmp)
        reports = run_checkout(checkout, data_root)
    table = Table(title=f"Dev sets answered by {checkout} (scored by this checkout)")
    table.add_column("metric")
    for name in reports:
        table.add_column(name, justify="right")
    metrics = {name: r.metrics() for name, r in reports.items()}
    for key in ROWS:
        if key.startswith("latency"):
            continue  # batch wall time per question, not comparable with in-process latency
        table.add_row(key, *(str(m.get(key)) for m in metrics.values()))
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "checkout-eval.json"
    path.write_text(json.dumps({"checkout": str(checkout), "metrics": metrics}, indent=2))
    console.print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
