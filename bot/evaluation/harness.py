"""Evaluation harness: retrieval and answer quality per dev corpus.

A dev set is a folder under `knowledge/devsets/<name>/`:

    SOURCE.md            where the documents come from, and their license
    corpus/              the documents (or `devset.yml` with `corpus: <relative path>`)
    questions.jsonl      one-turn questions; unanswerable ones have empty gold_paths
    followups.jsonl      two-turn conversations: the last turn leans on the first
    conversations.jsonl  three-turn (or longer) conversations
    heldout.jsonl        optional: more questions of any kind that no fitting ever reads,
                         measured beside the others (an honest check of what was fitted)

Each line: {"id", "question" | "turns", "gold_paths", "answer_facts", "type"};
gold paths are relative to the corpus folder, answer facts are near-verbatim phrases
of the gold documents. Any folder dropped there in this format is evaluated too.

Metrics: document recall@1/3/5 and MRR (one-turn answerable questions), follow-up
recall@5 (all multi-turn items) and three-turn recall@5, answer facts (share of the
facts found in the answer), context facts (share found in the passages handed to
the composer: the ceiling for any LLM answer), abstention, latency.
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

import yaml

from bot.answering.answerer import Answerer
from bot.errors import UserError
from bot.models import Question, Turn
from knowledge.lexical import tokenize

DEVSETS_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "devsets"
QUESTION_FILES = ("questions.jsonl", "followups.jsonl", "conversations.jsonl")
HELDOUT_FILE = "heldout.jsonl"
# A fact of at least this many content words counts as found when this share of its
# words (and every figure in it) is in the text; shorter facts must appear verbatim.
FACT_MIN_WORDS = 4
FACT_WORD_SHARE = 0.8


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


@dataclass(frozen=True)
class DevSet:
    """A corpus with its questions, as found under knowledge/devsets/<name>/."""

    name: str
    corpus: Path | None  # None: the index already in the configured data directory
    items: list[EvalItem]
    question_files: tuple[Path, ...] = ()
    heldout: list[EvalItem] = field(default_factory=list)  # never used for fitting
    # The domains its answers may link to (devset.yml `link_domains`, as an admin would set
    # PARTNERBOT_LINK_DOMAINS); none: the corpus's own `url:` domains.
    link_domains: tuple[str, ...] = ()

    @property
    def one_turn(self) -> list[EvalItem]:
        return [i for i in self.items if len(i.turns) == 1]


@dataclass
class Response:
    """What one system did with one question."""

    ranked_paths: list[str]
    abstained: bool
    answer: str | None  # None: a retrieval-only run (the baseline) composes no answer
    confidence: float = 0.0
    context: list[str] = field(default_factory=list)  # passage texts handed to the composer
    signals: dict[str, float] = field(default_factory=dict)  # confidence inputs
    # Every candidate passage: (document path, text, ranking features).
    candidates: list[tuple[str, str, list[float]]] = field(default_factory=list)


@dataclass
class EvalOutcome:
    item: EvalItem
    response: Response
    seconds: float

    @property
    def ranked_paths(self) -> list[str]:
        return self.response.ranked_paths

    @property
    def abstained(self) -> bool:
        return self.response.abstained

    @property
    def confidence(self) -> float:
        return self.response.confidence

    @property
    def first_gold_rank(self) -> int | None:
        return first_gold_rank(self.ranked_paths, self.item.gold_paths)

    @property
    def facts_found(self) -> int:
        if self.abstained or self.response.answer is None:
            return 0
        return sum(1 for f in self.item.answer_facts if fact_found(f, self.response.answer))

    @property
    def facts_verbatim(self) -> int:
        if self.abstained or self.response.answer is None:
            return 0
        text = normalise(self.response.answer)
        return sum(1 for f in self.item.answer_facts if normalise(f) in text)

    @property
    def context_facts_found(self) -> int:
        context = "\n".join(self.response.context)
        return sum(1 for f in self.item.answer_facts if fact_found(f, context))


def first_gold_rank(ranked_paths: Sequence[str], gold: Sequence[str]) -> int | None:
    for rank, path in enumerate(dict.fromkeys(ranked_paths), start=1):
        if path in gold:
            return rank
    return None


@dataclass
class EvalReport:
    name: str
    outcomes: list[EvalOutcome] = field(default_factory=list)

    def metrics(self, *, threshold: float | None = None) -> dict[str, Any]:
        """Every metric; `threshold` re-decides abstention from the recorded confidence
        (how leave-one-corpus-out figures are computed without answering again)."""

        def abstained(o: EvalOutcome) -> bool:
            return o.abstained if threshold is None else o.confidence < threshold

        one_turn = [o for o in self.outcomes if len(o.item.turns) == 1 and o.item.answerable]
        multi = [o for o in self.outcomes if len(o.item.turns) > 1 and o.item.answerable]
        three = [o for o in multi if len(o.item.turns) >= 3]
        answerable = [o for o in self.outcomes if o.item.answerable]
        unanswerable = [o for o in self.outcomes if not o.item.answerable]
        composed = [o for o in answerable if o.response.answer is not None]

        def recall(items: list[EvalOutcome], k: int) -> float | None:
            if not items:
                return None
            hits = [o for o in items if (r := o.first_gold_rank) is not None and r <= k]
            return round(len(hits) / len(items), 4)

        def share(found: int, total: int) -> float | None:
            return round(found / total, 4) if total else None

        total_facts = sum(len(o.item.answer_facts) for o in composed)
        facts = sum(o.facts_found for o in composed if not abstained(o))
        verbatim = sum(o.facts_verbatim for o in composed if not abstained(o))
        context_total = sum(len(o.item.answer_facts) for o in answerable if o.response.context)
        context = sum(o.context_facts_found for o in answerable if o.response.context)
        wrong = [o for o in answerable if abstained(o)]
        right = [o for o in unanswerable if abstained(o)]
        latencies = sorted(o.seconds * 1000 for o in self.outcomes)
        mrr = (
            round(sum(1.0 / r for o in one_turn if (r := o.first_gold_rank)) / len(one_turn), 4)
            if one_turn
            else None
        )
        return {
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "recall@1": recall(one_turn, 1),
            "recall@3": recall(one_turn, 3),
            "recall@5": recall(one_turn, 5),
            "mrr": mrr,
            "followup_recall@5": recall(multi, 5),
            "three_turn_recall@5": recall(three, 5),
            "answer_facts": share(facts, total_facts),
            "answer_facts_verbatim": share(verbatim, total_facts),
            "context_facts": share(context, context_total),
            "answerable_wrongly_abstained": len(wrong),
            "wrongly_abstained_share": share(len(wrong), len(answerable)),
            "unanswerable_abstained": len(right),
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


def fact_found(fact: str, text: str) -> bool:
    """A fact is in a text verbatim (after normalising), or, when it has at least
    FACT_MIN_WORDS content words, with FACT_WORD_SHARE of them and all its figures."""
    if normalise(fact) in normalise(text):
        return True
    words = set(tokenize(fact))
    if len(words) < FACT_MIN_WORDS:
        return False
    have = set(tokenize(text))
    if any(re.search(r"\d", w) and w not in have for w in words):
        return False
    return len(words & have) / len(words) >= FACT_WORD_SHARE


# -- loading ------------------------------------------------------------------------------
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
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise UserError(f"{path}:{number}: not a valid question line ({e})") from None
    return items


def load_devset(folder: Path) -> DevSet:
    """A dev set folder: its corpus and the questions of every question file it has."""
    folder = Path(folder)
    corpus = folder / "corpus"
    config = folder / "devset.yml"
    domains: tuple[str, ...] = ()
    if config.is_file():
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise UserError(f"{config}: expected a mapping such as 'corpus: ../docs'")
        if data.get("corpus"):
            corpus = (folder / str(data["corpus"])).resolve()
        domains = tuple(str(d) for d in data.get("link_domains") or ())
    if not corpus.is_dir():
        raise UserError(f"{folder}: no corpus/ folder (or devset.yml naming one)")
    files = tuple(folder / name for name in QUESTION_FILES if (folder / name).is_file())
    items = [item for path in files for item in load_questions(path)]
    if not items:
        raise UserError(f"{folder}: no question files ({', '.join(QUESTION_FILES)})")
    heldout = folder / HELDOUT_FILE
    return DevSet(
        folder.name,
        corpus,
        items,
        files,
        load_questions(heldout) if heldout.is_file() else [],
        domains,
    )


def discover_devsets(root: Path = DEVSETS_DIR) -> list[DevSet]:
    """Every dev set under root, by name."""
    return [
        load_devset(folder)
        for folder in sorted(Path(root).iterdir())
        if folder.is_dir() and any((folder / n).is_file() for n in QUESTION_FILES)
    ]


# -- running ------------------------------------------------------------------------------
AnswerFn = Callable[[Question], Response]


def answerer_fn(answerer: Answerer) -> AnswerFn:
    def run(question: Question) -> Response:
        answer, trace = answerer.answer_with_trace(question)
        return Response(
            ranked_paths=[s.path for s in answer.sources],
            abstained=answer.abstained,
            answer=answer.text,
            confidence=answer.confidence,
            context=[s.text for s in answer.sources[: answerer.top_k]],
            signals=trace.signals,
            candidates=trace.candidates,
        )

    return run


def dense_baseline_fn(answerer: Answerer, k: int = 5) -> AnswerFn:
    """Plain dense top-5: no fusion, no vocabulary, no follow-up rewrite (the comparison)."""
    index = answerer.retriever.index

    def run(question: Question) -> Response:
        vector = index.embedder.embed([question.text])[0]
        hits = index.dense_search(vector, k, viewer=question.audience)  # (the public's)
        chunks = index.chunks([cid for cid, _ in hits])
        found = [chunks[cid] for cid, _ in hits if cid in chunks]
        return Response(
            ranked_paths=[c.doc_path for c in found],
            abstained=False,
            answer=None,
            context=[c.text for c in found],
        )

    return run


def evaluate(items: Sequence[EvalItem], fn: AnswerFn, *, name: str) -> EvalReport:
    report = EvalReport(name)
    for item in items:
        history = tuple(Turn("user", t) for t in item.turns[:-1])
        question = Question(text=item.turns[-1], history=history, platform="cli")
        started = time.perf_counter()
        response = fn(question)
        seconds = time.perf_counter() - started
        response.ranked_paths = list(dict.fromkeys(response.ranked_paths))
        report.outcomes.append(EvalOutcome(item, response, seconds))
    return report


# -- output -------------------------------------------------------------------------------
def outcome_json(o: EvalOutcome) -> dict[str, Any]:
    return {
        "id": o.item.id,
        "type": o.item.type,
        "turns": o.item.turns,
        "gold_paths": o.item.gold_paths,
        "ranked_paths": o.ranked_paths[:5],
        "first_gold_rank": o.first_gold_rank,
        "abstained": o.abstained,
        "confidence": o.confidence,
        "facts_found": o.facts_found,
        "context_facts_found": o.context_facts_found,
        "facts_total": len(o.item.answer_facts),
        "answer": o.response.answer,
    }
