"""Run the evaluation over several dev corpora: each in its own index, with given weights.

`partnerbot eval` uses this to measure every corpus with the shipped weights, the
dense-only baseline, leave-one-corpus-out (weights and confidence fitted without the
corpus measured), and to refit the weights on all corpora together (`--fit`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.core import PartnerBot
from bot.evaluation.calibration import (
    confidence_samples,
    fit_confidence,
    fit_ranker,
    ranking_samples,
)
from bot.evaluation.harness import DevSet, EvalReport, answerer_fn, dense_baseline_fn, evaluate
from knowledge.glossary import GLOSSARY_FILE
from knowledge.index import SyncReport
from knowledge.ranking import UNFITTED, FittedWeights, load_weights

logger = logging.getLogger(__name__)


@dataclass
class CorpusRun:
    devset: DevSet
    bot: PartnerBot

    @property
    def name(self) -> str:
        return self.devset.name


class EvalSuite:
    """Every dev corpus indexed in its own data directory under `data_root`."""

    def __init__(
        self,
        settings: Settings,
        devsets: Sequence[DevSet],
        *,
        data_root: Path,
        glossary: bool = True,
    ) -> None:
        self.settings = settings
        self.devsets = list(devsets)
        self.data_root = Path(data_root)
        self.glossary = glossary
        self.runs: list[CorpusRun] = []

    def open(self) -> list[tuple[str, SyncReport]]:
        """Index every corpus (only what changed since the last run is embedded)."""
        reports = []
        by_corpus: dict[Path, PartnerBot] = {}
        for devset in self.devsets:
            if devset.corpus is not None and devset.corpus in by_corpus:
                # Several sets asking about one index (e.g. the crowded one) share it.
                self.runs.append(CorpusRun(devset, by_corpus[devset.corpus]))
                continue
            if devset.corpus is None:  # questions about the index the settings point at
                bot = PartnerBot(self.settings)
                reports.append((devset.name, bot.ensure_indexed() or SyncReport()))
                self.runs.append(CorpusRun(devset, bot))
                continue
            suffix = "" if self.glossary else "-no-glossary"
            data_dir = self.data_root / f"{devset.name}{suffix}"
            update: dict[str, object] = {"data_dir": data_dir, "abstain_threshold": None}
            if devset.link_domains:
                update["link_domains"] = list(devset.link_domains)
            bot = PartnerBot(self.settings.model_copy(update=update))
            corpus = devset.corpus
            if not self.glossary and (corpus / GLOSSARY_FILE).exists():
                corpus = _without_glossary(corpus, data_dir.with_name(data_dir.name + "-docs"))
            reports.append((devset.name, bot.reindex(corpus)))
            self.runs.append(CorpusRun(devset, bot))
            by_corpus[devset.corpus] = bot
        return reports

    def close(self) -> None:
        for bot in {id(run.bot): run.bot for run in self.runs}.values():
            bot.close()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.runs]

    def run(
        self,
        weights: FittedWeights | None = None,
        *,
        names: Sequence[str] | None = None,
        heldout: bool = False,
    ) -> dict[str, EvalReport]:
        """Answer every question of the chosen corpora with these weights (default: shipped);
        `heldout`: their held-out questions instead (corpora without any are left out)."""
        weights = weights or load_weights()
        out = {}
        for run in self.runs:
            if names is not None and run.name not in names:
                continue
            items = run.devset.heldout if heldout else run.devset.items
            if not items:
                continue
            answerer = run.bot.answerer
            answerer.retriever.weights = weights
            out[run.name] = evaluate(items, answerer_fn(answerer), name=run.name)
        return out

    def baseline(self) -> dict[str, EvalReport]:
        return {
            run.name: evaluate(
                run.devset.items, dense_baseline_fn(run.bot.answerer), name=f"{run.name} dense"
            )
            for run in self.runs
        }

    def fit(self, names: Sequence[str] | None = None) -> FittedWeights:
        """Ranking weights, then the confidence on signals ranked with them, fitted on the
        chosen corpora together (candidate features do not depend on the weights)."""
        names = list(names or self.names)
        first = self.run(UNFITTED, names=names)
        ranker = fit_ranker([s for n in names for s in ranking_samples(first[n], n)])
        ranked = self.run(FittedWeights(ranker, UNFITTED.confidence), names=names)
        confidence = fit_confidence([s for n in names for s in confidence_samples(ranked[n], n)])
        return FittedWeights(ranker, confidence, tuple(names))

    def leave_one_out(self) -> tuple[dict[str, EvalReport], dict[str, EvalReport]]:
        """Each corpus measured with weights and confidence fitted on the others only: its
        questions, and its held-out questions."""
        if len(self.runs) < 2:
            return {}, {}
        out, heldout = {}, {}
        for left_out in self.names:
            try:
                weights = self.fit([n for n in self.names if n != left_out])
            except ValueError as e:  # e.g. the other corpora have no unanswerable question
                logger.warning("no leave-one-out figures for %s: %s", left_out, e)
                continue
            out[left_out] = self.run(weights, names=[left_out])[left_out]
            heldout.update(self.run(weights, names=[left_out], heldout=True))
            logger.info("leave-one-out %s: fitted on %s", left_out, weights.fitted_on)
        return out, heldout


def _without_glossary(corpus: Path, copy: Path) -> Path:
    """A copy of the corpus without the admins' glossary (to measure the engine alone)."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(corpus, copy, ignore=shutil.ignore_patterns(GLOSSARY_FILE))
    return copy
