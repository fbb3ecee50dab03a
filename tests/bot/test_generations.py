"""One process: questions are answered while the index is re-indexed, never waiting for
it; another process's index run on the same data directory is followed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.core import PartnerBot
from bot.models import Answer, Question
from knowledge.background import SWITCH_SECONDS, in_background
from knowledge.embeddings import Embedder

ROOT = Path(__file__).resolve().parents[2]
FEE_QUESTION = "what is the annual fee for member partners"


class HeldEmbedder:
    """The real embedder, but a batch (an index run's) waits until released."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.holding = threading.Event()
        self.release = threading.Event()

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) > 1:
            self.holding.set()
            assert self.release.wait(timeout=120)
        return self.inner.embed(texts)


def ask(bot: PartnerBot, text: str = FEE_QUESTION) -> Answer:
    return bot.ask(Question(text))


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_questions_are_answered_while_a_full_reindex_is_embedding(
    make_bot: Callable[..., PartnerBot],
) -> None:
    bot = make_bot()
    before = ask(bot)
    assert "USD 495" in before.text
    generation = bot.index.generation()
    held = HeldEmbedder(bot.index.embedder)
    bot.index.writer.embedder = held  # the index run's embedder; questions keep theirs

    run, reports = in_thread(lambda: bot.reindex(rebuild=True))
    assert held.holding.wait(timeout=60)  # the run is embedding, holding what it holds
    asking, answers = in_thread(lambda: [ask(bot) for _ in range(3)])
    asking.join(timeout=60)
    assert not asking.is_alive(), "a question waited for the index run"
    assert run.is_alive()  # still embedding
    assert [a.text for a in answers[0]] == [before.text] * 3
    assert bot.index.generation() == generation  # answered from the current generation

    held.release.set()
    run.join(timeout=300)
    [report] = reports
    assert report.generation == bot.index.generation() > generation  # switched at the end
    assert report.chunks_embedded == bot.index.chunk_count()  # every chunk embedded again
    assert ask(bot).text == before.text


def test_a_running_bot_follows_an_index_run_of_another_process_on_its_data_dir(
    make_bot: Callable[..., PartnerBot], make_docs: Callable[[dict[str, str]], Path]
) -> None:
    bot = make_bot(PARTNERBOT_INDEX_POLL_SECONDS=3600)  # it follows when it looks, below
    assert "USD 495" in ask(bot).text
    folder = make_docs(
        {
            "fees.md": "# Annual fee 2027\n## Member partners\n"
            "The annual fee for Member partners is USD 640 from 2027-01-01.\n"
        }
    )
    env = {**os.environ, "PARTNERBOT_DATA_DIR": str(bot.settings.data_dir), "PYTHONPATH": str(ROOT)}
    # Its own documents folder replaces the samples: a different index, written elsewhere.
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "index", "--json", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 1
    assert "USD 495" in ask(bot).text  # until it looks
    assert bot.index.poll()
    answer = ask(bot)
    assert "USD 640" in answer.text and answer.sources[0].path == "fees.md"
    vector = bot.index.embedder.embed([FEE_QUESTION])[0]
    [(best, _)] = bot.index.dense_search(vector, 1)  # the vectors the other process wrote
    assert bot.index.chunks([best])[best].doc_path == "fees.md"


def test_an_index_run_beside_questions_runs_in_its_own_thread_at_the_lowest_priority(
    make_bot: Callable[..., PartnerBot],
) -> None:
    """A process answering questions gives way to them: the run's thread is niced and
    embeds on that thread alone (a command-line `partnerbot index` keeps every core)."""
    bot = make_bot()
    ask(bot)  # this process answers questions now
    seen: list[tuple[str, int]] = []
    inner = bot.index.writer.embedder
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    class Watching:
        model_name, dimension = inner.model_name, inner.dimension

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            raise AssertionError("a background run embeds on one core")

        def on_one_core(self) -> Embedder:
            niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            seen.append((threading.current_thread().name, niceness))
            return inner.on_one_core()  # type: ignore[attr-defined]

    bot.index.writer.embedder = Watching()
    report = bot.reindex(rebuild=True)
    assert report.chunks_embedded > 0
    assert seen and set(seen) == {("index-run", 19)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine  # not this thread


def test_background_work_shortens_the_switch_interval_only_while_it_runs() -> None:
    usual = sys.getswitchinterval()
    assert in_background(sys.getswitchinterval) == min(usual, SWITCH_SECONDS)
    assert sys.getswitchinterval() == usual
