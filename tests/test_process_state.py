"""The fixture that keeps tests from leaking (tests/process_state.py) catches each kind of
leak, and fails the test that leaks."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.process_state import ProcessState

ROOT = Path(__file__).resolve().parent.parent


def test_each_kind_of_change_is_named_and_putting_it_back_clears_it(tmp_path: Path) -> None:
    cli_logger = logging.getLogger("partnerbot")
    before = ProcessState.capture()
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="leaky-follower", daemon=True)
    thread.start()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(interval / 2)
    previous_handler = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    os.environ["PARTNERBOT_LEAKED"] = "secret-value"
    cwd = os.getcwd()
    os.chdir(tmp_path.parent)
    handler = logging.StreamHandler()
    cli_logger.addHandler(handler)
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        changes = ProcessState.capture().changes_since(before)
    finally:
        asyncio.set_event_loop_policy(policy)
        cli_logger.removeHandler(handler)
        os.chdir(cwd)
        del os.environ["PARTNERBOT_LEAKED"]
        signal.signal(signal.SIGUSR1, previous_handler)
        sys.setswitchinterval(interval)
        release.set()
        thread.join()

    text = "\n".join(changes)
    assert "thread 'leaky-follower' (Thread, daemon=True) still runs" in text
    assert f"switch interval {interval} became {interval / 2}" in text
    assert "signal handler of SIGUSR1 changed" in text
    assert "environment variable PARTNERBOT_LEAKED changed" in text
    assert "secret-value" not in text  # a value may be a secret: only the name is said
    assert f"working directory {cwd} became {tmp_path.parent}" in text
    assert "logger 'partnerbot': level, propagation or handlers changed" in text
    assert "the asyncio event loop policy changed" in text
    assert len(changes) == 7
    assert ProcessState.capture().changes_since(before) == []


def test_a_test_that_leaks_fails_and_one_that_cleans_up_passes(tmp_path: Path) -> None:
    """A pytest run of its own, with the fixture on as in this suite."""
    (tmp_path / "conftest.py").write_text(
        "import tests.process_state as state\n"
        "from tests.process_state import left_as_found\n"
        "state.THREAD_GRACE_SECONDS = 0.2\n",
        encoding="utf-8",
    )
    (tmp_path / "test_leaks.py").write_text(
        "import sys, threading\n"
        "stop = threading.Event()\n"
        "def test_leaves_a_follower_running():\n"
        "    threading.Thread(target=stop.wait, name='index-follower', daemon=True).start()\n"
        "def test_leaves_the_switch_interval_changed():\n"
        "    sys.setswitchinterval(0.001)\n"
        "def test_stops_what_it_starts():\n"
        "    done = threading.Event()\n"
        "    thread = threading.Thread(target=done.wait, daemon=True)\n"
        "    thread.start()\n"
        "    done.set()\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rE", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "3 passed, 2 errors" in run.stdout
    assert "ERROR test_leaks.py::test_leaves_a_follower_running" in run.stdout
    assert "thread 'index-follower' (Thread, daemon=True) still runs" in run.stdout
    assert "ERROR test_leaks.py::test_leaves_the_switch_interval_changed" in run.stdout
    assert "became 0.001" in run.stdout
