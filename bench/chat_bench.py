"""Chat benchmarks: concurrent questions through the real SDKs and local stand-ins.

Slack: 50 concurrent mentions in HTTP mode (ack latency, time until the answer is
posted). Discord: 50 concurrent `/ask` interactions (ack latency, time to the
follow-up answer). Teams: 30 concurrent channel mentions on serve's web server (ack
latency, time until the answer card is posted in the question's thread). The bot answers
from the indexed sample documents on the embedded default (extractive answers). Each is run
`rounds` times; the median of each percentile is reported, with every round's figures
alongside.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import SAMPLES_DIR, Settings
from bot.core import PartnerBot


def _indexed(tmp: Path) -> Path:
    data = tmp / "indexed"
    bot = PartnerBot(Settings(PARTNERBOT_DATA_DIR=data))  # type: ignore[call-arg]
    bot.reindex(SAMPLES_DIR / "docs")
    bot.close()
    return data


def _bot(indexed: Path, tmp: Path, name: str, **settings: str) -> App:
    data = tmp / name
    shutil.copytree(indexed, data)
    values: dict[str, Any] = {
        "PARTNERBOT_DATA_DIR": data,
        "PARTNERBOT_RATE_LIMIT_PER_MINUTE": 10**6,
        **settings,
    }
    return App(Settings(**values))


def _median_of(
    rounds: list[dict[str, Any]], key: Callable[[dict[str, Any]], float | None]
) -> float | None:
    values = [v for v in (key(r) for r in rounds) if v is not None]
    return round(statistics.median(values), 1) if values else None


def bench_slack(n: int = 50, rounds: int = 5) -> dict[str, Any]:
    from tests.adapters.slack_harness import run_mentions_http, slack_settings
    from tests.fakes.slack_server import FakeSlack

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        indexed = _indexed(tmp)
        for r in range(rounds):
            with FakeSlack() as fake:
                app = _bot(indexed, tmp, f"slack-{r}", **slack_settings(fake, "http"))
                results.append(asyncio.run(run_mentions_http(app, fake, n)))
                app.close()
    return {
        "n": n,
        "rounds": rounds,
        "ack_p50_ms": _median_of(results, lambda r: r["ack_ms"]["p50"]),
        "ack_p99_ms": _median_of(results, lambda r: r["ack_ms"]["p99"]),
        "answer_p50_ms": _median_of(results, lambda r: r["answer_ms"]["p50"]),
        "answer_p95_ms": _median_of(results, lambda r: r["answer_ms"]["p95"]),
        "all_answered_every_round": all(r["all_answered"] for r in results),
        "answers_with_sources": [r["answers_with_sources"] for r in results],
        "per_round_answer_p95_ms": [r["answer_ms"]["p95"] for r in results],
        "per_round_ack_p99_ms": [r["ack_ms"]["p99"] for r in results],
    }


def bench_discord(n: int = 50, rounds: int = 5) -> dict[str, Any]:
    from tests.adapters.discord_harness import discord_settings, run_concurrent_asks
    from tests.fakes.discord_server import fake_discord

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        indexed = _indexed(tmp)
        for r in range(rounds):
            with fake_discord() as fake:
                bot = _bot(indexed, tmp, f"discord-{r}", **discord_settings(fake))
                results.append(asyncio.run(run_concurrent_asks(bot, fake, n)))
                bot.close()
    return {
        "n": n,
        "rounds": rounds,
        "ack_p50_ms": _median_of(results, lambda r: r["ack_p50_ms"]),
        "ack_p99_ms": _median_of(results, lambda r: r["ack_p99_ms"]),
        "answer_p50_ms": _median_of(results, lambda r: r["answer_p50_ms"]),
        "answer_p95_ms": _median_of(results, lambda r: r["answer_p95_ms"]),
        "deferred_every_round": all(r["deferred"] == n for r in results),
        "rejected_callbacks": sum(r["rejected_callbacks"] for r in results),
        "answers_with_sources": [r["answers_with_sources"] for r in results],
        "per_round_answer_p95_ms": [round(r["answer_p95_ms"], 1) for r in results],
    }


def bench_teams(n: int = 30, rounds: int = 5) -> dict[str, Any]:
    from tests.adapters.teams_harness import run_questions, teams_settings
    from tests.fakes.teams_server import FakeTeams

    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        indexed = _indexed(tmp)
        for r in range(rounds):
            with FakeTeams() as fake:
                app = _bot(indexed, tmp, f"teams-{r}", **teams_settings())
                results.append(asyncio.run(run_questions(app, fake, n)))
                app.close()
    return {
        "n": n,
        "rounds": rounds,
        "ack_p50_ms": _median_of(results, lambda r: r["ack_ms"]["p50"]),
        "ack_p99_ms": _median_of(results, lambda r: r["ack_ms"]["p99"]),
        "answer_p50_ms": _median_of(results, lambda r: r["answer_ms"]["p50"]),
        "answer_p95_ms": _median_of(results, lambda r: r["answer_ms"]["p95"]),
        "all_answered_every_round": all(r["all_answered"] for r in results),
        "answers_with_sources": [r["answers_with_sources"] for r in results],
        "per_round_answer_p95_ms": [r["answer_ms"]["p95"] for r in results],
    }
