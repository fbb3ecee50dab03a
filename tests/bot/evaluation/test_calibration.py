from __future__ import annotations

import json

import numpy as np

from bot.evaluation.calibration import (
    ConfidenceSample,
    RankingSample,
    choose_threshold,
    fit_confidence,
    fit_ranker,
)
from bot.evaluation.harness import DEVSETS_DIR
from knowledge.ranking import FEATURES, SIGNALS, WEIGHTS_FILE, load_weights


def test_the_ranker_learns_which_feature_finds_the_answer() -> None:
    rng = np.random.default_rng(3)
    samples = []
    for corpus in ("a", "b"):
        for _ in range(60):
            features = rng.random((12, len(FEATURES)))
            gold = np.zeros(12, dtype=bool)
            best = int(np.argmax(features[:, FEATURES.index("body")]))
            gold[best] = True  # in these questions, text coverage finds the answer
            samples.append(RankingSample(features, gold, corpus))
    ranker = fit_ranker(samples)
    assert ranker.weights["body"] >= 5 * max(
        abs(w) for f, w in ranker.weights.items() if f != "body"
    )

    def hits(weights: dict[str, float]) -> int:
        w = np.array([weights.get(f, 0.0) for f in FEATURES])
        return sum(int(np.argmax(s.features @ w)) == int(np.argmax(s.gold)) for s in samples)

    # Eleven features of noise: the fitted ranker finds the answer first most of the time,
    # where the reciprocal-rank start does no better than chance (1 in 12).
    assert hits(dict(ranker.weights)) >= 0.8 * len(samples)
    assert hits({"dense_rr": 1.0, "lexical": 1.0}) <= 0.2 * len(samples)


def test_the_threshold_keeps_wrong_abstentions_under_the_target_on_every_corpus() -> None:
    scored = [(0.9 - i * 0.01, True, "a") for i in range(50)]  # a: confident
    scored += [(0.6 - i * 0.005, True, "b") for i in range(50)]  # b: less so
    scored += [(0.05, False, "a"), (0.3, False, "b"), (0.45, False, "b")]
    threshold = choose_threshold(scored, max_wrong=0.04)
    for corpus in ("a", "b"):
        answerable = [p for p, ok, c in scored if ok and c == corpus]
        assert sum(p < threshold for p in answerable) <= 0.04 * len(answerable)
    assert threshold > 0.3  # and it still abstains on what it safely can


def test_the_confidence_separates_answerable_from_unanswerable() -> None:
    rng = np.random.default_rng(5)
    samples = []
    for corpus in ("a", "b"):
        for answerable in (True,) * 40 + (False,) * 8:
            base = 0.7 if answerable else 0.3
            signals = {name: float(base + rng.normal(0, 0.1)) for name in SIGNALS}
            signals["foreign"] = 1 - signals["foreign"]
            samples.append(ConfidenceSample(signals, answerable, corpus))
    model = fit_confidence(samples)
    right = [
        s for s in samples if not s.answerable and model.probability(s.signals) < model.threshold
    ]
    assert len(right) >= 12
    assert model.weights["coverage"] > 0 and model.weights["foreign"] < 0


def test_the_shipped_weights_name_the_dev_sets_they_were_fitted_on() -> None:
    data = json.loads(WEIGHTS_FILE.read_text())
    names = [d["name"] for d in data["fitted_on"]]
    assert names and all((DEVSETS_DIR / name).is_dir() for name in names)
    weights = load_weights()
    assert set(weights.ranker.weights) == set(FEATURES)
    assert set(weights.confidence.weights) == set(SIGNALS)
    assert 0 < weights.confidence.threshold < 1
