"""Benchmark: time to diff 1,000 changed documents (program-change detection).

Each synthetic document has a dozen sections of prose, a list and a table; its new
version edits a sentence, removes a section, adds one and reformats another (which
must not count). The timed part is exactly what runs after a re-index:
`knowledge.changes.changes_from_sync` over a SyncReport with every document updated.

    .venv/bin/python -m bench.changes_bench [--docs 1000] [--runs 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from knowledge.changes import changes_from_sync
from knowledge.documents import Document, Section
from knowledge.index import DocumentVersion, SyncReport

_VOCABULARY = (
    "partner partners competency requirement customer reference revenue certified "
    "individual exam tier member advanced elite deadline survey response score "
    "discount registration protection benefit license subscription invoice billing "
    "portal program northwind cloud security data migration renewal annual fee"
)
WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
    words.insert(rng.randint(1, len(words) - 1), str(rng.randint(2, 500)))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _section_text(rng: random.Random, kind: int) -> str:
    if kind == 0:
        return "\n".join(f"- {_sentence(rng)}" for _ in range(5))
    if kind == 1:
        rows = [f"| {rng.choice(WORDS)} | {rng.randint(1, 99)} | {rng.choice(WORDS)} |"]
        return "| Tier | Count | Note |\n|---|---|---|\n" + "\n".join(rows * 4)
    return "\n".join(_sentence(rng) for _ in range(rng.randint(4, 8)))


def make_pair(n: int, rng: random.Random) -> tuple[DocumentVersion, Document]:
    """An old version and a new one with 3 content changes and 1 formatting-only edit."""
    sections = [
        Section((f"Part {i}", f"Topic {i}") if i % 3 else (f"Part {i}",), _section_text(rng, i % 4))
        for i in range(12)
    ]
    old = DocumentVersion(
        f"doc-{n:04d}.md", f"hash-{n}", f"Document {n}", date(2026, 7, 1), tuple(sections)
    )
    new_sections = list(sections)
    edited = new_sections[2]
    first, _, rest = edited.text.partition(".")
    new_sections[2] = Section(edited.path, f"{first} and 7 more.{rest}")  # an edited sentence
    del new_sections[5]  # a removed section
    new_sections.append(Section(("Appendix",), _section_text(rng, 2)))  # an added section
    reformatted = new_sections[7]
    new_sections[7] = Section(reformatted.path, "  " + reformatted.text.replace(" ", "  "))
    new = Document(
        path=old.path,
        title=old.title,
        sections=tuple(new_sections),
        effective_date=date(2026, 7, 1),
    )
    return old, new


def make_report(docs: int, seed: int = 7) -> SyncReport:
    rng = random.Random(seed)
    report = SyncReport()
    for n in range(docs):
        old, new = make_pair(n, rng)
        report.updated.append(new.path)
        report.changed.append((old, new))
    return report


def bench_changes(docs: int = 1000, runs: int = 5) -> dict[str, Any]:
    """Median seconds to diff `docs` changed documents over `runs` runs."""
    report = make_report(docs)
    timings: list[float] = []
    cpu: list[float] = []  # process CPU time: the same figure on a busy machine
    found = 0
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        found = len(changes_from_sync(report))
        timings.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    expected = docs * 3
    if found != expected:
        raise AssertionError(f"expected {expected} changes, found {found}")
    return {
        "benchmark": "changes_diff",
        "documents": docs,
        "changes_found": found,
        "runs": runs,
        "median_seconds": round(statistics.median(timings), 4),
        "min_seconds": round(min(timings), 4),
        "median_cpu_seconds": round(statistics.median(cpu), 4),
        "per_document_ms": round(statistics.median(timings) / docs * 1000, 3),
    }


def main() -> None:  # pragma: no cover - command-line entry
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="Also write the result here.")
    args = parser.parse_args()
    result = bench_changes(args.docs, args.runs)
    print(
        f"diff {result['documents']:,} changed documents: median {result['median_seconds']:.3f}s "
        f"over {result['runs']} runs ({result['per_document_ms']:.2f} ms/document, "
        f"CPU {result['median_cpu_seconds']:.3f}s, {result['changes_found']:,} changes found)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
