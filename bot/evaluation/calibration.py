"""Fit the ranking weights and the confidence model on several dev corpora together.

Both models are small on purpose (a weight per general feature), so a few hundred
questions fit them and they cannot learn one vendor's words. Fitting uses what an
evaluation run recorded: for each question, the features of every candidate passage
(and which documents are gold), and its confidence signals.

- Ranking: a linear score, fitted with a listwise loss: the passages that hold an
  answer fact (or, when none does, any passage of a gold document) should take the
  probability mass of a softmax over the candidates; the other passages of gold
  documents are left out of it, neither right nor wrong.
- Confidence: logistic regression, answerable vs unanswerable, each corpus and class
  weighted equally; the threshold is the highest one that keeps wrongly abstained
  answerable questions at or under the target on every corpus.

Leave-one-corpus-out: fit on all corpora but one, measure on that one. Those figures
are the honest estimate for a vendor whose documents we have never seen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.evaluation.harness import EvalReport, fact_found
from knowledge.ranking import FEATURES, SIGNALS, ConfidenceModel, FittedWeights, LinearRanker

logger = logging.getLogger(__name__)

MAX_WRONGLY_ABSTAINED = 0.03  # per corpus when choosing the threshold: the target is <= 5%;
# the margin is for corpora the threshold was not fitted on (leave-one-corpus-out stays <= 5%)
RANKER_L2 = 0.001
CONFIDENCE_L2 = 0.05


@dataclass(frozen=True)
class RankingSample:
    """One question: its candidates' features and which of them come from a gold document."""

    features: np.ndarray  # candidates x FEATURES
    gold: np.ndarray  # candidates, bool: what should come first
    corpus: str
    ignore: np.ndarray | None = None  # candidates, bool: left out of the loss


@dataclass(frozen=True)
class ConfidenceSample:
    signals: Mapping[str, float]
    answerable: bool
    corpus: str


def ranking_samples(report: EvalReport, corpus: str) -> list[RankingSample]:
    samples = []
    for o in report.outcomes:
        if not o.item.answerable or not o.response.candidates:
            continue
        candidates = o.response.candidates
        in_gold = np.array([path in o.item.gold_paths for path, _, _ in candidates])
        if not in_gold.any():
            continue  # no gold passage among the candidates: nothing a ranker can do
        holds_fact = in_gold & np.array(
            [any(fact_found(f, text) for f in o.item.answer_facts) for _, text, _ in candidates]
        )
        gold, ignore = (holds_fact, in_gold & ~holds_fact) if holds_fact.any() else (in_gold, None)
        features = np.array([vector for _, _, vector in candidates], dtype=float)
        samples.append(RankingSample(features, gold, corpus, ignore))
    return samples


def confidence_samples(report: EvalReport, corpus: str) -> list[ConfidenceSample]:
    return [
        ConfidenceSample(o.response.signals, o.item.answerable, corpus)
        for o in report.outcomes
        if o.response.signals
    ]


def fit_ranker(samples: Sequence[RankingSample], *, epochs: int = 400) -> LinearRanker:
    """Weights that put the gold documents' passages first, each corpus weighing the same."""
    if not samples:
        raise ValueError("no questions with a gold passage among the candidates")
    corpora = {s.corpus for s in samples}
    per_corpus = {c: sum(1 for s in samples if s.corpus == c) for c in corpora}
    w = np.zeros(len(FEATURES))
    w[FEATURES.index("dense_rr")] = w[FEATURES.index("lexical")] = 1.0
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, epochs + 1):
        grad = 2 * RANKER_L2 * w
        for s in samples:
            scores = s.features @ w
            if s.ignore is not None:
                scores = np.where(s.ignore, -np.inf, scores)
            p = np.exp(scores - scores.max())
            p /= p.sum()
            gold_p = p * s.gold
            q = gold_p / gold_p.sum()
            # d/dw of -log(sum of gold probabilities)
            grad += (p - q) @ s.features / (len(corpora) * per_corpus[s.corpus])
        m = 0.9 * m + 0.1 * grad  # Adam
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return LinearRanker({name: round(float(x), 4) for name, x in zip(FEATURES, w, strict=True)})


def fit_confidence(
    samples: Sequence[ConfidenceSample], *, max_wrong: float = MAX_WRONGLY_ABSTAINED
) -> ConfidenceModel:
    if not any(s.answerable for s in samples) or all(s.answerable for s in samples):
        raise ValueError("the confidence needs answerable and unanswerable questions")
    x = np.array([[s.signals.get(name, 0.0) for name in SIGNALS] for s in samples])
    y = np.array([1.0 if s.answerable else 0.0 for s in samples])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    # Every corpus weighs the same, and within it both classes weigh the same.
    weight = np.zeros(len(samples))
    corpora = {s.corpus for s in samples}
    for c in corpora:
        for label in (0.0, 1.0):
            idx = [i for i, s in enumerate(samples) if s.corpus == c and y[i] == label]
            if idx:
                weight[idx] = 1.0 / (len(idx) * len(corpora) * 2)
    w, b = np.zeros(len(SIGNALS)), 0.0
    for _ in range(3000):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        err = (p - y) * weight
        w -= 0.5 * (z.T @ err + 2 * CONFIDENCE_L2 * w)
        b -= 0.5 * err.sum()
    model = ConfidenceModel(
        weights={n: round(float(x), 4) for n, x in zip(SIGNALS, w, strict=True)},
        bias=round(float(b), 4),
        threshold=0.5,
        mean={n: round(float(x), 5) for n, x in zip(SIGNALS, mean, strict=True)},
        scale={n: round(float(x), 5) for n, x in zip(SIGNALS, scale, strict=True)},
    )
    threshold = choose_threshold(
        [(model.probability(s.signals), s.answerable, s.corpus) for s in samples],
        max_wrong=max_wrong,
    )
    return ConfidenceModel(model.weights, model.bias, threshold, model.mean, model.scale)


def choose_threshold(
    scored: Sequence[tuple[float, bool, str]], *, max_wrong: float = MAX_WRONGLY_ABSTAINED
) -> float:
    """The highest threshold that wrongly abstains on at most `max_wrong` of each corpus's
    answerable questions, placed midway to the next lower score."""
    limit = 1.0
    for corpus in {c for _, _, c in scored}:
        answerable = sorted(p for p, a, c in scored if a and c == corpus)
        if answerable:
            limit = min(limit, answerable[int(max_wrong * len(answerable))])
    below = [p for p, _, _ in scored if p < limit]
    floor = max(below, default=limit - 0.02)
    return round((floor + limit) / 2, 4)


def fit_weights(
    ranking: Sequence[RankingSample], confidence: Sequence[ConfidenceSample]
) -> FittedWeights:
    corpora = tuple(sorted({s.corpus for s in ranking} | {s.corpus for s in confidence}))
    return FittedWeights(fit_ranker(ranking), fit_confidence(confidence), corpora)


def tradeoff(
    reports: Mapping[str, EvalReport], thresholds: Sequence[float]
) -> list[tuple[float, dict[str, tuple[float, int, int]]]]:
    """Per threshold and corpus: (wrongly abstained share, unanswerable abstained, of)."""
    rows = []
    for t in thresholds:
        row = {}
        for name, report in reports.items():
            answerable = [o for o in report.outcomes if o.item.answerable]
            unanswerable = [o for o in report.outcomes if not o.item.answerable]
            wrong = sum(1 for o in answerable if o.confidence < t)
            right = sum(1 for o in unanswerable if o.confidence < t)
            row[name] = (round(wrong / max(len(answerable), 1), 4), right, len(unanswerable))
        rows.append((t, row))
    return rows
