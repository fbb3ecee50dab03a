"""What `/metrics` reports, in the Prometheus text format (prometheus-client).

One `Metrics` per process (the composition root makes it): counters and the answer
latency histogram are updated where things happen (the core's `ask`, the posters the
outbox posts through) and are safe to update from any thread; figures that describe
state (the index's generation, chunk and document counts) are read when scraped, from
the readers given to `add_readings`. Another figure is one more `Reading`.

Each process counts only what it did itself: with several replicas, scrape each one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from bot.models import Answer, Question

logger = logging.getLogger(__name__)

# Extractive answers take tens of milliseconds; answers from an LLM seconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


@dataclass(frozen=True)
class Reading:
    """One gauge read at scrape time: `partnerbot_<name>`."""

    name: str
    help: str
    value: float


Reader = Callable[[], Iterable[Reading]]


class Metrics:
    """The counters, the histogram and the scrape-time readers of one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.questions = Counter(
            "partnerbot_questions",
            "Questions asked, by platform and by what the reply was (answer: from the "
            "documents, abstentions included; else a refusal, acknowledgement or error).",
            ["platform", "kind"],
            registry=r,
        )
        self.abstentions = Counter(
            "partnerbot_abstentions",
            "Questions the documents did not answer (the bot said so).",
            ["platform"],
            registry=r,
        )
        self.answer_seconds = Histogram(
            "partnerbot_answer_seconds",
            "Time to answer a question from the documents (or a feature), in seconds.",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.notices_posted = Counter(
            "partnerbot_notices_posted",
            "Notices, reminders, digests and admin alerts this process posted.",
            ["platform"],
            registry=r,
        )
        self.notices_failed = Counter(
            "partnerbot_notices_failed",
            "Posts of a notice that failed (refused, timed out); the outbox retries them.",
            ["platform"],
            registry=r,
        )
        self._readings = _Readings()
        r.register(self._readings)
        ProcessCollector(registry=r)  # memory, CPU, open files of this process

    # -- updated where things happen ----------------------------------------------------------
    def observe_answer(self, question: Question, answer: Answer, seconds: float) -> None:
        platform = question.platform
        self.questions.labels(platform=platform, kind=answer.kind).inc()
        if answer.kind != "answer":
            return  # refusals, acknowledgements and errors are not answers to time
        self.answer_seconds.labels(platform=platform).observe(seconds)
        if answer.abstained:
            self.abstentions.labels(platform=platform).inc()

    def notice_posted(self, platform: str) -> None:
        self.notices_posted.labels(platform=platform).inc()

    def notice_failed(self, platform: str) -> None:
        self.notices_failed.labels(platform=platform).inc()

    # -- read when scraped ----------------------------------------------------------------------
    def add_readings(self, reader: Reader) -> None:
        """Call `reader` on each scrape; its readings become gauges (an error skips them)."""
        self._readings.readers.append(reader)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """Everything, and its content type: the Prometheus text format, or OpenMetrics
        when the scraper's Accept header asks for it."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type


class _Readings(Collector):
    def __init__(self) -> None:
        self.readers: list[Reader] = []

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return ()  # read at scrape time only

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for reader in list(self.readers):
            try:
                readings = list(reader())
            except Exception as e:  # a scrape never fails for one figure
                logger.warning("metrics: reading %s failed: %s", _name(reader), e)
                continue
            for reading in readings:
                yield GaugeMetricFamily(f"partnerbot_{reading.name}", reading.help, reading.value)


def _name(reader: Reader) -> str:
    return getattr(reader, "__qualname__", None) or type(reader).__name__
