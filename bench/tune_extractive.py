"""How the extractive composer's few constants were chosen, reproducibly.

    python -m bench.tune_extractive [--data DIR]

Data: every dev set under knowledge/devsets/ (answerable items). For each, the
passages the answerer hands the composer are computed once; then every combination
of the grid below composes all answers, and the answer-fact share is printed per
corpus with the mean, best first. bot/answering/extractive.py ships the best (mean first, then
worst corpus; on a tie the shorter answers). Measured 2026-11-30 on the three dev sets:
RANK_PRIOR 0.5, HEADING_WEIGHT 0.5, PART_WORDS 70, SECOND_PART_SHARE 0.5, FIGURE_BONUS
0.2 (mean 0.755, worst corpus 0.694). Nothing is chosen per corpus.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path
from typing import Any

import bot.answering.extractive as extractive
from bot.config import Settings
from bot.evaluation.harness import discover_devsets, fact_found
from bot.evaluation.suite import EvalSuite
from bot.models import Question, Turn

GRID: dict[str, list[Any]] = {
    "RANK_PRIOR": [0.1, 0.3, 0.5, 0.8],
    "HEADING_WEIGHT": [0.15, 0.3, 0.5],
    "PART_WORDS": [50, 70, 90, 120],
    "SECOND_PART_SHARE": [0.4, 0.5, 0.6],
    "FIGURE_BONUS": [0.1, 0.2],
}


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(argv[argv.index("--data") + 1]) if "--data" in argv else Path(tmp)
        suite = EvalSuite(
            Settings(PARTNERBOT_DATA_DIR=data),  # type: ignore[call-arg]
            discover_devsets(),
            data_root=data,
        )
        suite.open()
        prepared = []
        for run in suite.runs:
            answerer = run.bot.answerer
            rows = []
            for item in run.devset.items:
                if not item.answerable:
                    continue
                history = tuple(Turn("user", t) for t in item.turns[:-1])
                query = answerer.standalone_query(Question(item.turns[-1], history=history))
                retrieval = answerer.retriever.search(query, k=answerer.top_k)
                passages = answerer.retriever.widen(retrieval.passages)
                rows.append((query, passages, item.answer_facts))
            prepared.append((run.name, answerer.extractive, rows))
        results = []
        for values in itertools.product(*GRID.values()):
            for name, value in zip(GRID, values, strict=True):
                setattr(extractive, name, value)
            shares = {}
            for corpus, composer, rows in prepared:
                found = total = 0
                for query, passages, facts in rows:
                    composition = composer.compose(query, passages)
                    text = composition.text if composition else ""
                    found += sum(fact_found(f, text) for f in facts)
                    total += len(facts)
                shares[corpus] = round(found / max(total, 1), 3)
            mean = sum(shares.values()) / len(shares)
            chosen = dict(zip(GRID, values, strict=True))
            results.append((round(mean, 3), min(shares.values()), chosen, shares))
        suite.close()
    for row in sorted(results, key=lambda r: (-r[0], -r[1]))[:15]:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
