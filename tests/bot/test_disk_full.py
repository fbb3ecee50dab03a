"""The disk fills inside the vector store (embedded Chroma), with the real `partnerbot`
commands: `index` ends with the disk-full message the catalog gives (one line, no
traceback, exit code 3), `ask` still answers from what was indexed before, and with space
back the next `index` repairs what the failed run left half-written.

The store's folder is a small tmpfs mounted in a user and mount namespace of its own
(`unshare --user --map-root-user --mount`, no privilege needed) so only Chroma's writes
meet a full disk; where the kernel allows no such namespace, the commands run with a file
size limit (RLIMIT_FSIZE, `ulimit -f`) instead, which fails Chroma's writes the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from chromadb.errors import InternalError

from knowledge.vectors import VectorStore

ROOT = Path(__file__).resolve().parents[2]
SMALL, ROOMY = "1m", "200m"  # the store's volume: what 3 documents need, and plenty
FILE_LIMIT = 900_000  # bytes, the RLIMIT_FSIZE way
WORDS = [
    "partner",
    "tier",
    "competency",
    "requirement",
    "benefit",
    "deadline",
    "incentive",
    "rebate",
    "deal",
    "registration",
    "certification",
    "exam",
    "customer",
    "renewal",
    "fee",
    "marketing",
    "fund",
    "claim",
    "region",
    "program",
    "portal",
]

# Runs inside the namespace (or with the file size limit): each step's result as JSON.
DRIVER = r"""
import json, os, resource, signal, subprocess, sys
spec = json.loads(sys.argv[1])
chroma, mode = spec["chroma"], spec["mode"]

def limited():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["limit"], spec["limit"]))

def volume(size):
    if mode == "tmpfs":
        how = "remount," if os.path.ismount(chroma) else ""
        subprocess.run(["mount", "-t", "tmpfs", "-o", how + "size=" + size, "tmpfs", chroma],
                       check=True)

results = []
for step in spec["steps"]:
    if step[0] == "volume":
        volume(step[1])
        continue
    if step[0] == "copy":
        for name in os.listdir(step[1]):
            with open(os.path.join(step[1], name)) as f:
                text = f.read()
            with open(os.path.join(step[2], name), "w") as f:
                f.write(text)
        continue
    full = mode == "rlimit" and step[0] == "full"
    done = subprocess.run([sys.executable, "-m", "bot.cli", *step[1:]], capture_output=True,
                          text=True, preexec_fn=limited if full else None)
    results.append({"args": step[1:], "code": done.returncode, "stdout": done.stdout,
                    "stderr": done.stderr})
with open(spec["out"], "w") as f:
    json.dump(results, f)
"""


def namespaces_allowed() -> bool:
    """Whether this user may make a user and mount namespace (and mount a tmpfs in it)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "t", "/mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def write_docs(folder: Path, first: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(first, first + count):
        parts = []
        for s in range(3):
            words = " ".join(WORDS[(i * 7 + s * 3 + w) % len(WORDS)] for w in range(90))
            parts.append(f"## Part {s}\n\n{words}. Fact {i}-{s} is {10 * i + s + 1} days.\n")
        (folder / f"doc-{i:03d}.md").write_text(f"# Document {i}\n\n" + "\n".join(parts))


def test_a_full_disk_in_the_vector_store_is_one_message_and_the_next_run_repairs(
    tmp_path: Path,
) -> None:
    mode = "tmpfs" if namespaces_allowed() else "rlimit"
    docs, more, data = tmp_path / "docs", tmp_path / "more", tmp_path / "data"
    write_docs(docs, 0, 3)
    write_docs(more, 3, 45)
    chroma = data / "chroma"
    chroma.mkdir(parents=True)
    out = tmp_path / "results.json"
    spec: dict[str, Any] = {
        "mode": mode,
        "chroma": str(chroma),
        "limit": FILE_LIMIT,
        "out": str(out),
        "steps": [
            ["volume", SMALL],
            ["run", "index", "--json", str(docs)],  # fits
            ["copy", str(more), str(docs)],
            ["full", "index", str(docs)],  # 45 more documents: the store's disk fills
            ["full", "ask", "--json", "how many days is fact 1-2?"],
            ["volume", ROOMY],  # space back
            ["run", "index", "--json", str(docs)],
            ["run", "index", "--check", "--json"],
            ["run", "ask", "--json", "how many days is fact 1-2?"],
            ["run", "ask", "--json", "how many days is fact 40-1?"],
        ],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTNERBOT_")}
    env |= {"PARTNERBOT_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)}
    prefix = ["unshare", "--user", "--map-root-user", "--mount"] if mode == "tmpfs" else []
    command = [*prefix, sys.executable, "-c", DRIVER, json.dumps(spec)]
    subprocess.run(command, env=env, cwd=tmp_path, check=True, timeout=1200)
    steps = json.loads(out.read_text())
    first, full, asked, repaired, check, old, new = steps
    print(f"the store's disk filled on a {mode} volume")

    assert first["code"] == 0, first["stderr"]
    # The disk fills: `index`, then `ask`, each one line saying so (the store's folder,
    # what to do) and exit code 3 — Chroma cannot be read until what it holds unapplied
    # is written.
    for failed in (full, asked):
        assert failed["code"] == 3 and failed["stdout"] == "", failed
        [line] = failed["stderr"].splitlines()
        assert line.startswith(f"error: the disk holding the index in {chroma} is full ("), line
        assert "Free some space and index again: the next run repairs" in line
    # Space back: the next run repairs and indexes the rest; nothing is lost.
    assert repaired["code"] == 0, repaired["stderr"]
    assert json.loads(repaired["stdout"])["failed"] == 0
    report = json.loads(check["stdout"])
    assert report["ok"] is True and report["documents"] == 48, report
    assert "13 days" in json.loads(old["stdout"])["answer"]  # fact 1-2: indexed before
    assert "402 days" in json.loads(new["stdout"])["answer"]  # fact 40-1: indexed now
    for step in steps:
        assert "Traceback" not in step["stderr"] + step["stdout"]


def test_a_failed_store_write_under_a_file_size_limit_is_a_full_disk(tmp_path: Path) -> None:
    """`ulimit -f` fails Chroma's writes without saying why: the limit is named."""
    import resource

    store = VectorStore(data_dir=tmp_path, server=None)
    failure = InternalError("Error in compaction: Failed to apply logs to the metadata segment")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        assert store.disk_full(failure) is None  # no limit, and room on the disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (10 * 1024**3, hard))
        reason = store.disk_full(failure)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        store.close()
    assert reason == "this process may write files of 10485760 KB at most: ulimit -f"
    assert store.disk_full(RuntimeError("not Chroma's")) is None
