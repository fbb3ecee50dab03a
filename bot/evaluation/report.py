"""`partnerbot eval`: measure every dev corpus and print the figures side by side.

Per corpus: partnerbot with the shipped weights, partnerbot leave-one-corpus-out
(fitted without that corpus: the estimate for documents we have never seen) and the
dense-only baseline. `--calibrate` adds the abstention trade-off per corpus; `--fit`
refits the weights on every corpus together first and saves them, naming the sets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bot.config import Settings
from bot.errors import UserError
from bot.evaluation.calibration import tradeoff
from bot.evaluation.distractors import crowded
from bot.evaluation.harness import (
    DEVSETS_DIR,
    DevSet,
    EvalReport,
    discover_devsets,
    load_devset,
    load_questions,
    outcome_json,
)
from bot.evaluation.suite import EvalSuite
from knowledge.ranking import WEIGHTS_FILE, load_weights

# Rows of the table, in order, with how each is shown.
ROWS = (
    "questions",
    "recall@1",
    "recall@3",
    "recall@5",
    "mrr",
    "followup_recall@5",
    "three_turn_recall@5",
    "answer_facts",
    "answer_facts_verbatim",
    "context_facts",
    "wrongly_abstained_share",
    "unanswerable_abstained",
    "latency_ms_p50",
    "latency_ms_p95",
)
CURVE = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def resolve_sets(sets: Sequence[str], docs: Path | None) -> list[DevSet]:
    """Dev sets named on the command line (folders, names, or one .jsonl with --docs)."""
    if not sets:
        found = discover_devsets()
        if not found:
            raise UserError(f"no dev sets under {DEVSETS_DIR}")
        return found
    out = []
    for spec in sets:
        path = Path(spec)
        if path.suffix == ".jsonl":
            # With --docs: index that folder for it; without: ask the configured index.
            out.append(DevSet(path.stem, docs, load_questions(path), (path,)))
        elif path.is_dir():
            out.append(load_devset(path))
        elif (DEVSETS_DIR / spec).is_dir():
            out.append(load_devset(DEVSETS_DIR / spec))
        else:
            raise UserError(f"{spec}: no such dev set folder or questions file")
    return out


def run_eval(
    settings: Settings,
    sets: Sequence[str],
    *,
    docs: Path | None,
    baseline: bool,
    loco: bool,
    glossary: bool,
    fit: bool,
    output: Path,
    calibrate: bool,
    console: Console,
    distractors: int = 0,
) -> None:
    # Wide enough for three corpora side by side, also when piped to a file.
    console = Console(width=max(console.width, 160), highlight=False)
    devsets = resolve_sets(sets, docs)
    suite = EvalSuite(settings, devsets, data_root=settings.data_dir, glossary=glossary)
    try:
        _open(suite, console)
        if fit:
            weights = suite.fit()
            weights.save(WEIGHTS_FILE, provenance=[_provenance(d) for d in devsets])
            load_weights.cache_clear()
            console.print(f"fitted on {', '.join(weights.fitted_on)}; written to {WEIGHTS_FILE}")
        reports = suite.run()
        heldout = suite.run(heldout=True)
        held_out, heldout_loco = suite.leave_one_out() if loco else ({}, {})
        dense = suite.baseline() if baseline else {}
    finally:
        suite.close()

    weights = load_weights()
    columns: list[tuple[str, EvalReport]] = []
    for name in reports:
        columns.append((name, reports[name]))
        if name in held_out:
            columns.append((f"{name} LOCO", held_out[name]))
        if name in dense:
            columns.append((f"{name} dense", dense[name]))
    title = "Evaluation per corpus" + ("" if glossary else " (without glossaries)")
    print_table(console, title, columns)
    console.print(
        "[dim]recall/MRR: one-turn answerable questions; follow-up: 2+ turns; answer and "
        "context facts: all answerable items; LOCO: weights and threshold fitted without "
        f"that corpus. Shipped weights fitted on: {', '.join(weights.fitted_on) or '-'}; "
        f"abstention threshold {weights.confidence.threshold}.[/dim]"
    )
    if heldout:
        print_heldout(console, heldout, heldout_loco)
    if calibrate:
        print_tradeoff(console, reports, weights.confidence.threshold)
    crowded: dict[str, EvalReport] = {}
    if distractors:
        crowded = run_crowded(settings, devsets, distractors, console=console, alone=reports)
    write_json(
        output,
        reports,
        held_out,
        dense,
        weights.confidence.threshold,
        crowded,
        heldout=heldout,
        heldout_loco=heldout_loco,
    )
    console.print(f"JSON written to {output}")


def _open(suite: EvalSuite, console: Console) -> None:
    sizes = {d.name: len(d.items) for d in suite.devsets}
    for name, report in suite.open():
        c = report.counts()
        console.print(
            f"[dim]{name}: {sizes[name]} questions; index "
            f"+{c['added']} ~{c['updated']} -{c['removed']} ={c['unchanged']} "
            f"failed {c['failed']}[/dim]"
        )


def run_crowded(
    settings: Settings,
    devsets: Sequence[DevSet],
    count: int,
    *,
    console: Console,
    alone: Mapping[str, EvalReport],
) -> dict[str, EvalReport]:
    """Every dev set's questions again, over one index of all dev corpora and `count`
    generated off-topic documents: what a crowded documents folder costs."""
    folder = settings.data_dir / f"crowded-{count}-docs"
    sets = crowded(list(devsets), count, folder)
    suite = EvalSuite(settings, sets, data_root=settings.data_dir)
    try:
        _open(suite, console)
        reports = suite.run()
    finally:
        suite.close()
    table = Table(title=f"One index: every dev corpus and {count} off-topic documents")
    table.add_column("metric")
    pairs = []
    for d in devsets:
        crowded_name = f"{d.name}+{count}"
        if d.name in alone and crowded_name in reports:
            pairs.append((d.name, alone[d.name].metrics(), reports[crowded_name].metrics()))
            table.add_column(f"{d.name} alone", justify="right")
            table.add_column(f"{d.name} crowded", justify="right")
            table.add_column("change", justify="right")
    for key in ("recall@1", "recall@5", "mrr", "followup_recall@5", "answer_facts"):
        cells = []
        for _, a, c in pairs:
            before, after = a.get(key), c.get(key)
            change = (
                f"{after - before:+.3f}"
                if isinstance(before, float) and isinstance(after, float)
                else "—"
            )
            cells.extend([str(before), str(after), change])
        table.add_row(key, *cells)
    console.print(table)
    return reports


def print_table(console: Console, title: str, columns: Sequence[tuple[str, EvalReport]]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    metrics = []
    for name, report in columns:
        table.add_column(name, justify="right")
        metrics.append(report.metrics())
    for key in ROWS:
        cells = []
        for m in metrics:
            value = m.get(key)
            if key == "unanswerable_abstained":
                cells.append(f"{value}/{m['unanswerable']}")
            elif value is None or (key.startswith("answer_facts") and m["answerable"] == 0):
                cells.append("—")
            else:
                cells.append(str(value))
        table.add_row(key, *cells)
    console.print(table)


def print_heldout(
    console: Console,
    heldout: Mapping[str, EvalReport],
    heldout_loco: Mapping[str, EvalReport],
) -> None:
    """The held-out questions (heldout.jsonl: never used for fitting), with the shipped
    weights and with the weights fitted without their corpus."""
    columns: list[tuple[str, EvalReport]] = []
    for name, report in heldout.items():
        columns.append((f"{name} held-out", report))
        if name in heldout_loco:
            columns.append((f"{name} held-out LOCO", heldout_loco[name]))
    print_table(console, "Held-out questions (never used for fitting)", columns)


def print_tradeoff(console: Console, reports: Mapping[str, EvalReport], threshold: float) -> None:
    """Per corpus, what each threshold would do: wrongly abstained share, unanswerable caught."""
    table = Table(title="Abstention trade-off (wrongly abstained · unanswerable abstained)")
    table.add_column("threshold", justify="right")
    for name in reports:
        table.add_column(name, justify="right")
    for t, row in tradeoff(reports, sorted({*CURVE, threshold})):
        mark = " ← shipped" if t == threshold else ""
        table.add_row(
            f"{t:.4g}{mark}",
            *(f"{w:.0%} · {r}/{n}" for w, r, n in (row[name] for name in reports)),
        )
    console.print(table)


def _provenance(devset: DevSet) -> dict[str, Any]:
    """Which data the weights were fitted on: the set's name and its question files' hashes."""
    hashes = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in devset.question_files
    }
    return {"name": devset.name, "questions": len(devset.items), "sha256": hashes}


def write_json(
    path: Path,
    reports: Mapping[str, EvalReport],
    held_out: Mapping[str, EvalReport],
    dense: Mapping[str, EvalReport],
    threshold: float,
    crowded: Mapping[str, EvalReport] | None = None,
    *,
    heldout: Mapping[str, EvalReport] | None = None,
    heldout_loco: Mapping[str, EvalReport] | None = None,
) -> None:
    data: dict[str, Any] = {"threshold": threshold, "corpora": {}}
    if crowded:
        data["crowded"] = {name: report.metrics() for name, report in crowded.items()}
    for name, report in reports.items():
        entry: dict[str, Any] = {
            "partnerbot": report.metrics(),
            "questions": [outcome_json(o) for o in report.outcomes],
        }
        if name in held_out:
            entry["leave_one_out"] = held_out[name].metrics()
        if name in dense:
            entry["dense"] = dense[name].metrics()
        if heldout and name in heldout:
            entry["heldout"] = heldout[name].metrics()
            entry["heldout_questions"] = [outcome_json(o) for o in heldout[name].outcomes]
        if heldout_loco and name in heldout_loco:
            entry["heldout_leave_one_out"] = heldout_loco[name].metrics()
        data["corpora"][name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
