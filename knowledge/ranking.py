"""Ranking and confidence from general features, with weights fitted on several corpora.

Every candidate passage (from dense or lexical search) is described by features that
mean the same on any vendor's documents — similarities, ranks, and how much of the
question the passage's body, title and section path cover — and scored by a linear
model. The answer's confidence is a logistic model over signals of the same kind.

The weights live in `fitted_weights.json` next to this module, with the dev sets they
were fitted on; `partnerbot eval --fit` (bot/evaluation/calibration.py) refits them on every dev
set together and checks them leave-one-corpus-out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

WEIGHTS_FILE = Path(__file__).resolve().parent / "fitted_weights.json"

# Per candidate passage.
FEATURES: tuple[str, ...] = (
    "dense",  # cosine similarity of question and passage
    "dense_rr",  # 1 / rank in the dense list (0 when not in it)
    "lexical",  # BM25 score / best BM25 score of the question
    "body",  # weighted share of the question's concepts in the passage text
    "heading",  # ... in its title and section path
    "heading_bm25",  # BM25 of the question against titles and section paths alone
    "phrase",  # share of the question's adjacent word pairs found adjacent in the passage
    "doc_dense",  # best dense similarity of any candidate from the same document
    "doc_coverage",  # share of the concepts covered by the document's candidates together
    "doc_mass",  # sum of both reciprocal ranks over the document's candidates: a document
    # with several passages high in either list is more likely the one about the question
    "recency",  # how recent the document's date is among the dated candidates (0..1)
)

# Per question, for the confidence.
SIGNALS: tuple[str, ...] = (
    "top_dense",  # best dense similarity among the top passages
    "coverage",  # weighted share of the question's concepts the top passages cover
    "foreign",  # weighted share of the question's concepts that no document uses, times how
    # much closer the best passages come to the question without them (knowledge/retrieval.py)
    "figure_gap",  # how much better the best sentence is than the best one holding the kind
    # of figure the question asks for (a %, an amount, a date…); 0 when none is asked for
    "top_score",  # the ranking score of the first passage (the ranker's own certainty)
)


@dataclass(frozen=True)
class LinearRanker:
    weights: Mapping[str, float]

    def score(self, features: Mapping[str, float]) -> float:
        return sum(w * features.get(name, 0.0) for name, w in self.weights.items())


@dataclass(frozen=True)
class ConfidenceModel:
    """P(the documents answer this question), from the question's retrieval signals."""

    weights: Mapping[str, float]
    bias: float
    threshold: float  # abstain below this probability
    # Signals are standardised with the mean and spread they had on the fitting data.
    mean: Mapping[str, float] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)

    def probability(self, signals: Mapping[str, float]) -> float:
        z = self.bias
        for name, w in self.weights.items():
            value = signals.get(name, 0.0) - self.mean.get(name, 0.0)
            z += w * value / (self.scale.get(name, 1.0) or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class FittedWeights:
    ranker: LinearRanker
    confidence: ConfidenceModel
    fitted_on: tuple[str, ...] = ()

    def to_json(self, *, provenance: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        return {
            "about": "Fitted by `partnerbot eval --fit` (bot/evaluation/calibration.py) on "
            "the dev sets listed in fitted_on; do not edit by hand.",
            "fitted_on": list(provenance) or [{"name": n} for n in self.fitted_on],
            "ranker": dict(self.ranker.weights),
            "confidence": {
                "weights": dict(self.confidence.weights),
                "bias": self.confidence.bias,
                "threshold": self.confidence.threshold,
                "mean": dict(self.confidence.mean),
                "scale": dict(self.confidence.scale),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FittedWeights:
        conf = data["confidence"]
        return cls(
            ranker=LinearRanker({k: float(v) for k, v in data["ranker"].items()}),
            confidence=ConfidenceModel(
                weights={k: float(v) for k, v in conf["weights"].items()},
                bias=float(conf["bias"]),
                threshold=float(conf["threshold"]),
                mean={k: float(v) for k, v in conf.get("mean", {}).items()},
                scale={k: float(v) for k, v in conf.get("scale", {}).items()},
            ),
            fitted_on=tuple(str(d.get("name", "")) for d in data.get("fitted_on", [])),
        )

    def save(self, path: Path = WEIGHTS_FILE, *, provenance: Sequence[Mapping[str, Any]]) -> None:
        path.write_text(json.dumps(self.to_json(provenance=provenance), indent=2) + "\n")


# Used only when the fitted file is missing: the dense rank and the BM25 score.
UNFITTED = FittedWeights(
    ranker=LinearRanker({"dense_rr": 1.0, "lexical": 1.0}),
    confidence=ConfidenceModel(
        weights={"top_dense": 1.0, "coverage": 1.0}, bias=-1.0, threshold=0.5
    ),
)


@lru_cache(maxsize=4)
def load_weights(path: Path = WEIGHTS_FILE) -> FittedWeights:
    if not path.is_file():
        return UNFITTED
    return FittedWeights.from_json(json.loads(path.read_text(encoding="utf-8")))
