"""Evaluation harness: retrieval and answer quality on a JSONL question set.

Each line: {"id", "question" | "turns", "gold_paths", "answer_facts", "type"};
unanswerable questions have empty gold_paths. Metrics: document recall@1/3/5,
MRR, answer-fact coverage, abstention precision/recall, latency p50/p95.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.answering import Answerer
from bot.errors import UserError
from bot.models import Question, Turn


@dataclass
class EvalItem:
    id: str
    turns: list[str]
    gold_paths: list[str]
    answer_facts: list[str]
    type: str

    @property
    def answerable(self) -> bool:
        return bool(self.gold_paths)


@dataclass
class EvalOutcome:
    item: EvalItem
    ranked_paths: list[str]
    abstained: bool
    answer: str | None  # None: a retrieval-only run (the baseline) composes no answer
    confidence: float
    seconds: float
    facts_found: int = 0

    @property
    def first_gold_rank(self) -> int | None:
        for rank, path in enumerate(self.ranked_paths, start=1):
            if path in self.item.gold_paths:
                return rank
        return None


@dataclass
class EvalReport:
    name: str
    outcomes: list[EvalOutcome] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        answerable = [o for o in self.outcomes if o.item.answerable]
        unanswerable = [o for o in self.outcomes if not o.item.answerable]

        def recall(k: int) -> float:
            hits = [o for o in answerable if (r := o.first_gold_rank) is not None and r <= k]
            return len(hits) / len(answerable) if answerable else 0.0

        mrr = (
            sum(1.0 / r for o in answerable if (r := o.first_gold_rank)) / len(answerable)
            if answerable
            else 0.0
        )
        composed = [o for o in answerable if o.answer is not None]
        total_facts = sum(len(o.item.answer_facts) for o in composed)
        found = sum(o.facts_found for o in composed)
        abstained = [o for o in self.outcomes if o.abstained]
        right_abstentions = [o for o in abstained if not o.item.answerable]
        wrong_abstentions = [o for o in answerable if o.abstained]
        latencies = sorted(o.seconds * 1000 for o in self.outcomes)
        return {
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "recall@1": round(recall(1), 4),
            "recall@3": round(recall(3), 4),
            "recall@5": round(recall(5), 4),
            "mrr": round(mrr, 4),
            "fact_coverage": round(found / total_facts, 4) if total_facts else None,
            "abstention_precision": (
                round(len(right_abstentions) / len(abstained), 4) if abstained else None
            ),
            "abstention_recall": (
                round(len(right_abstentions) / len(unanswerable), 4) if unanswerable else None
            ),
            "unanswerable_abstained": len(right_abstentions),
            "answerable_wrongly_abstained": len(wrong_abstentions),
            "latency_ms_p50": round(percentile(latencies, 50), 1),
            "latency_ms_p95": round(percentile(latencies, 95), 1),
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (interpolated, inclusive); used by eval and every benchmark."""
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1])


def normalise(text: str) -> str:
    """Lower-case, punctuation to spaces, whitespace folded (for fact containment)."""
    return " ".join(re.sub(r"[^\w%$.]+|(?<!\d)\.|\.(?!\d)", " ", text.lower()).split())


def load_questions(path: Path) -> list[EvalItem]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            turns = raw.get("turns") or [raw["question"]]
            items.append(
                EvalItem(
                    id=str(raw.get("id", number)),
                    turns=[str(t) for t in turns],
                    gold_paths=list(raw.get("gold_paths", [])),
                    answer_facts=list(raw.get("answer_facts", [])),
                    type=str(raw.get("type", "factoid")),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise UserError(f"{path}:{number}: not a valid question line ({e})") from None
    return items


# (ranked document paths, abstained, answer text or None for retrieval-only, confidence)
AnswerFn = Callable[[Question], tuple[list[str], bool, str | None, float]]


def answerer_fn(answerer: Answerer) -> AnswerFn:
    def run(question: Question) -> tuple[list[str], bool, str | None, float]:
        answer = answerer.answer(question)
        return [s.path for s in answer.sources], answer.abstained, answer.text, answer.confidence

    return run


def dense_baseline_fn(answerer: Answerer, k: int = 5) -> AnswerFn:
    """Plain dense top-5: no fusion, no glossary, no follow-up rewrite (the comparison)."""
    index = answerer.retriever.index

    def run(question: Question) -> tuple[list[str], bool, str | None, float]:
        vector = index.embedder.embed([question.text])[0]
        hits = index.dense_search(vector, k)
        chunks = index.chunks([cid for cid, _ in hits])
        return [chunks[cid].doc_path for cid, _ in hits if cid in chunks], False, None, 0.0

    return run


def evaluate(items: Sequence[EvalItem], fn: AnswerFn, *, name: str) -> EvalReport:
    report = EvalReport(name)
    for item in items:
        history = tuple(Turn("user", t) for t in item.turns[:-1])
        question = Question(text=item.turns[-1], history=history, platform="cli")
        started = time.perf_counter()
        paths, abstained, text, confidence = fn(question)
        seconds = time.perf_counter() - started
        ranked = list(dict.fromkeys(paths))
        answer_norm = normalise(text or "")
        found = 0 if abstained else sum(1 for f in item.answer_facts if normalise(f) in answer_norm)
        report.outcomes.append(
            EvalOutcome(item, ranked, abstained, text, confidence, seconds, found)
        )
    return report


def calibrate(outcomes: Sequence[EvalOutcome], *, max_wrong: float = 0.05) -> float:
    """The threshold that abstains on the most unanswerable questions while wrongly
    abstaining on at most `max_wrong` of the answerable ones (midpoint between scores)."""
    answerable = sorted(o.confidence for o in outcomes if o.item.answerable)
    allowed = int(max_wrong * len(answerable))
    if not answerable:
        return 0.0
    # Highest threshold that keeps at most `allowed` answerable questions below it.
    ceiling = answerable[allowed]
    below = [o.confidence for o in outcomes if not o.item.answerable and o.confidence < ceiling]
    floor = max(below, default=ceiling - 0.02)
    return round((floor + ceiling) / 2, 4)


def table(reports: Sequence[EvalReport]) -> list[tuple[str, list[str]]]:
    """Rows of metric name → value per report, for a side-by-side table."""
    metrics = [r.metrics() for r in reports]
    return [
        (key, ["n/a" if m[key] is None else str(m[key]) for m in metrics]) for key in metrics[0]
    ]


def write_json(reports: Sequence[EvalReport], path: Path) -> None:
    data = {
        r.name: {
            "metrics": r.metrics(),
            "questions": [
                {
                    "id": o.item.id,
                    "type": o.item.type,
                    "question": o.item.turns[-1],
                    "gold_paths": o.item.gold_paths,
                    "ranked_paths": o.ranked_paths[:5],
                    "first_gold_rank": o.first_gold_rank,
                    "abstained": o.abstained,
                    "confidence": o.confidence,
                    "facts_found": o.facts_found,
                    "facts_total": len(o.item.answer_facts),
                    "answer": o.answer,
                }
                for o in r.outcomes
            ],
        }
        for r in reports
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
