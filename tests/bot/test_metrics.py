"""Metrics: counted from many threads at once without losing a count, per process (per
app); notices counted by the posters the outbox posts through; a figure that cannot be
read leaves the others on the page."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.errors import PartnerbotError
from bot.models import Actor, Notice, Question
from bot.monitoring.metrics import Metrics, Reading
from bot.posting import MeteredPoster

NOTICE = Notice(key="k1", title="t", text="x")


def page(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render()[0].decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_questions_asked_from_many_threads_are_each_counted_once(
    make_app: Callable[..., App],
) -> None:
    app = make_app()
    questions = [
        "whats the new CSAT rule for gold?",
        "how many internal use licenses do advanced partners get now",
        "which comps replaced app dev and devops",
        "can i get free tickets to the summit in vegas",
    ]

    def ask(n: int) -> bool:
        actor = Actor("slack", f"U{n}")  # (per-user rate limits stay out of the way)
        return app.core.ask(Question(questions[n % 4], actor=actor)).abstained

    with ThreadPoolExecutor(max_workers=6) as pool:
        abstained = sum(pool.map(ask, range(24)))
    figures = page(app.metrics)
    slack = (("platform", "slack"),)
    assert figures[("partnerbot_questions_total", (("kind", "answer"), *slack))] == 24
    assert figures[("partnerbot_answer_seconds_count", slack)] == 24
    assert figures[("partnerbot_abstentions_total", slack)] == abstained >= 6


def test_each_app_counts_only_its_own_questions(make_app: Callable[..., App]) -> None:
    one, other = make_app(), make_app()
    one.core.ask(Question("which comps replaced app dev and devops", platform="slack"))
    key = ("partnerbot_questions_total", (("kind", "answer"), ("platform", "slack")))
    assert page(one.metrics)[key] == 1
    assert key not in page(other.metrics)


class Poster:
    platform = "slack"

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.abandoned = fail, 0

    def post(self, channel: str, notice: Notice) -> str:
        if self.fail:
            raise PartnerbotError("slack did not answer within 60 s")
        return "m1"

    def find(self, channel: str, key: str) -> str | None:
        return "m0" if key == "k0" else None

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(user, notice)

    def abandon(self) -> int:
        self.abandoned += 1
        return 1


def test_notices_posted_and_failed_are_counted_by_platform() -> None:
    metrics = Metrics()
    good = MeteredPoster(Poster(), metrics=metrics)
    bad = MeteredPoster(Poster(fail=True), metrics=metrics)
    assert good.post("C1", NOTICE) == "m1" and good.post_direct("U1", NOTICE) == "m1"
    with pytest.raises(PartnerbotError):
        bad.post("C1", NOTICE)
    assert good.find("C1", "k0") == "m0"  # a lookup is not a post
    assert good.abandon() == 1  # passed on (shutdown with a slow platform)
    figures = page(metrics)
    assert figures[("partnerbot_notices_posted_total", (("platform", "slack"),))] == 2
    assert figures[("partnerbot_notices_failed_total", (("platform", "slack"),))] == 1


def test_the_app_counts_what_its_platforms_post(make_app: Callable[..., App]) -> None:
    app = make_app()
    app.add_platform("memory")
    poster = app.posters()["memory"]
    poster.post("C-partners", NOTICE)
    assert page(app.metrics)[("partnerbot_notices_posted_total", (("platform", "memory"),))] == 1


def test_a_reading_that_fails_leaves_the_rest_of_the_page(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()

    def broken() -> list[Reading]:
        raise RuntimeError("index closed")

    metrics.add_readings(broken)
    metrics.add_readings(lambda: [Reading("index_chunks", "Chunks.", 42)])
    figures = page(metrics)
    assert figures[("partnerbot_index_chunks", ())] == 42
    assert "index closed" in caplog.text
