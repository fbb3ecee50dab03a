"""Benchmark workers in this checkout and, side by side, in another one (the previous main).

`PARTNERBOT_BENCH_BASELINE=/path/to/other/checkout` names the other checkout (its own
.venv is used when it has one). A worker is a Python script run with the checkout on
its path; the caller drives the workers in turn, so both see the same machine.
"""

from __future__ import annotations

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
