"""PartnerBot, the core: ask a question, re-index the documents.

It owns the knowledge index, the answerer and the record of interactions, and
consults the features it is given (bot/features.py) without knowing any of them.
`ask` never raises: a request problem comes back as a notice; a failure of something it
depends on (a provider, the index store, the disk) as a short apology, its reason in one
log line; an unexpected failure as the apology too, with its traceback in the log.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from bot.answering.acknowledgements import is_acknowledgement
from bot.answering.answerer import Answerer
from bot.answering.grounded import LLMComposer
from bot.answering.llm import LLMClient
from bot.answering.rewrite import LLMRewriter
from bot.config import Settings
from bot.errors import UserError, unavailable
from bot.features import Feature
from bot.models import Answer, AnswerKind, Question
from bot.monitoring.metrics import Metrics
from bot.prompts import message
from bot.ratelimit import UNLIMITED_PLATFORMS, RateLimiter
from bot.store import Store, open_store
from knowledge.documents import Document
from knowledge.embeddings import Embedder, OpenAIEmbedder, default_embedder
from knowledge.errors import KnowledgeError
from knowledge.index import KnowledgeIndex, ProgressFn, SyncReport
from knowledge.retrieval import Retriever

logger = logging.getLogger(__name__)


def make_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        return OpenAIEmbedder(
            model=settings.openai_embedding_model,
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            base_url=settings.openai_base_url,
        )
    return default_embedder(settings.embed_batch_size)


class PartnerBot:
    """The knowledge index, the answerer, the interaction record, and the features."""

    def __init__(
        self,
        settings: Settings,
        *,
        index: KnowledgeIndex | None = None,
        store: Store | None = None,
        features: Iterable[Feature] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self._index = index
        self._index_lock = threading.Lock()
        self._reindex_lock = threading.Lock()
        # Set in the thread running `reindex`: only an index run writes to a shared index.
        self._reindexing = threading.local()
        if store is not None:
            self.__dict__["store"] = store
        self.rate_limiter = RateLimiter(per_minute=settings.rate_limit_per_minute)
        # In order: the first feature with an answer wins; every feature may annotate.
        self.features: list[Feature] = list(features)
        # The program's tier names (routes.yml tags), given by the composition root.
        self.tier_names: Callable[[], Iterable[str]] = tuple

    # -- parts, built on first use ----------------------------------------------------------
    @property
    def index(self) -> KnowledgeIndex:
        return self._open_index(rebuild=False)

    def _open_index(self, *, rebuild: bool) -> KnowledgeIndex:
        with self._index_lock:
            if self._index is None:
                s = self.settings
                self._index = KnowledgeIndex(
                    data_dir=s.data_dir,
                    embedder=make_embedder(s),
                    catalog_url=s.index_catalog_url,
                    chroma=s.chroma_server,
                    rebuild=rebuild,
                    follow_seconds=s.index_poll_seconds,
                    grace_seconds=s.index_grace_seconds,
                )
            return self._index

    def index_communications(self, documents: list[Document]) -> SyncReport:
        """Keep upcoming communications in the index (source "comms"). A shared index is
        written only by an index run (`partnerbot index`, an admin's re-index), never by a
        replica's dispatcher on its own: there they follow with the next run."""
        if self.index.shared and not getattr(self._reindexing, "active", False):
            return SyncReport()
        return self.index.sync_documents(documents, source="comms")

    @cached_property
    def store(self) -> Store:
        """The state backend PARTNERBOT_DATABASE_URL names (SQLite in the data dir by default)."""
        return open_store(self.settings.database)

    @cached_property
    def llm_client(self) -> LLMClient | None:
        s = self.settings
        if not s.llm_configured:
            return None
        return LLMClient(
            model=s.openai_model,
            api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else None,
            base_url=s.openai_base_url,
            timeout=s.llm_timeout,
            max_retries=s.llm_max_retries,
        )

    @cached_property
    def answerer(self) -> Answerer:
        client = self.llm_client
        return Answerer(
            retriever=Retriever(self.index),
            top_k=self.settings.top_k,
            threshold=self.settings.abstain_threshold,
            llm=LLMComposer(client) if client else None,
            rewriter=LLMRewriter(client) if client else None,
            escalation_contact=self.settings.escalation_contact,
            tier_names=lambda: self.tier_names(),
        )

    # -- asking ----------------------------------------------------------------------------
    def ensure_indexed(self, *, notify: Callable[[str], None] | None = None) -> SyncReport | None:
        """On an empty embedded index, index the configured (or shipped sample) documents
        first. A shared index is never written by surprise: an admin runs `partnerbot index`."""
        if self.index.document_count(source="docs") > 0:
            return None
        if self.index.shared:
            logger.warning("the shared index is empty: an admin runs `partnerbot index`")
            if notify:
                notify(message("shared_index_empty"))
            return None
        if notify:
            folder = self.settings.docs_dir
            notify(
                message("indexing_documents", folder=folder)
                if folder
                else message("indexing_samples")
            )
        return self.reindex(self.settings.documents_dir)

    def check_question(self, question: Question) -> Answer | None:
        """A refusal for a question that cannot be answered as asked, else None."""
        text = question.text.strip()
        if not text:
            return _notice(question, message("empty_question"), kind="empty")
        limit = self.settings.max_question_chars
        if len(text) > limit:
            too_long = message("too_long", length=f"{len(text):,}", limit=f"{limit:,}")
            return _notice(question, too_long, kind="too_long")
        if question.platform in UNLIMITED_PLATFORMS:
            return None
        wait = self.rate_limiter.check(question.actor.who)
        if wait > 0:
            return _notice(
                question,
                message(
                    "rate_limited",
                    limit=self.settings.rate_limit_per_minute,
                    seconds=math.ceil(wait),
                ),
                kind="rate_limited",
            )
        return None

    def ask(self, question: Question, *, raising: bool = False) -> Answer:
        """Answer a question; never raises (see module docstring) unless `raising`: then a
        failure of something it depends on is raised for the caller to report (the CLI).
        Counted and timed."""
        started = time.perf_counter()
        answer = self._ask(question, raising=raising)
        self.metrics.observe_answer(question, answer, time.perf_counter() - started)
        return answer

    def _ask(self, question: Question, *, raising: bool) -> Answer:
        try:
            if is_acknowledgement(question.text):
                # "thanks!" asks nothing: a short reply, not a search (and not a gap).
                thanks = message("acknowledgement")
                return Answer(text=thanks, kind="acknowledgement", question=question.text)
            notice = self.check_question(question)
            if notice is not None:
                return notice
            answer = self._feature_answer(question)
            if answer is None:
                answer = self.answerer.answer(question)
                for feature in self.features:
                    answer = _annotated(feature, question, answer)
        except Exception as e:
            if unavailable(e) and raising:
                raise
            if unavailable(e):  # the reason is for the admin: the log line, never the reply
                logger.warning("could not answer (platform=%s): %s", question.platform, e)
            elif isinstance(e, (UserError, KnowledgeError)):
                logger.warning("question refused: %s", e)
                return _notice(question, str(e))
            else:
                logger.exception("answering failed (platform=%s)", question.platform)
            return Answer(text=message("apology"), kind="error", question=question.text)
        try:
            interaction_id = self.store.interactions.record(question, answer)
        except Exception as e:  # the answer still goes out (without feedback buttons)
            if unavailable(e):
                logger.warning("could not record the question: %s", e)
            else:
                logger.exception("recording the question failed")
            return answer
        return replace(answer, interaction_id=interaction_id)

    def _feature_answer(self, question: Question) -> Answer | None:
        for feature in self.features:
            try:
                answer = feature.answer(question)
            except Exception:
                logger.exception("feature %s failed to answer; trying the others", feature.name)
                continue
            if answer is not None:
                return answer
        return None

    # -- admin -------------------------------------------------------------------------------
    def reindex(
        self,
        path: Path | None = None,
        *,
        on_progress: ProgressFn | None = None,
        rebuild: bool = False,
    ) -> SyncReport:
        """Sync the index with a documents folder (one run at a time per process); questions
        are answered from the current generation meanwhile. `rebuild` embeds everything again
        into a new generation, e.g. after changing PARTNERBOT_EMBEDDER."""
        with self._reindex_lock:
            self._reindexing.active = True
            try:
                if rebuild:
                    self._open_index(rebuild=True)
                report = self.index.sync(
                    path or self.settings.documents_dir, rebuild=rebuild, on_progress=on_progress
                )
                self._record_run(report)
                for feature in self.features:
                    try:
                        feature.on_reindex(report)
                    except Exception:
                        logger.exception("feature %s failed after a re-index", feature.name)
                return report
            finally:
                self._reindexing.active = False

    def _record_run(self, report: SyncReport) -> None:
        """Keep the run in the state store (the console's index page, on every replica)."""
        try:
            self.store.index_runs.record(
                at=datetime.now(UTC),
                generation=self.index.generation(),
                counts={k: v for k, v in report.counts().items()},
                failed=[(f.path, f.reason) for f in report.failed],
                seconds=report.seconds,
            )
        except Exception:
            logger.exception("could not record the index run")

    def close(self) -> None:
        """Close what was opened: the state store, the index (and its follower thread), the
        LLM client and an embedder that holds connections."""
        if "store" in self.__dict__:
            self.store.close()
        if self._index is not None:
            self._index.close()
            close_embedder = getattr(self._index.embedder, "close", None)
            if callable(close_embedder):
                close_embedder()
        client = self.__dict__.get("llm_client")
        if client is not None:
            client.close()


def reindex_summary(report: SyncReport) -> str:
    c = report.counts()
    text = message(
        "reindex_done",
        added=c["added"],
        updated=c["updated"],
        removed=c["removed"],
        unchanged=c["unchanged"],
        failed=c["failed"],
        chunks=c["chunks_embedded"],
    )
    if report.failed:
        text += "\n" + "\n".join(f"• {f.path}: {f.reason}" for f in report.failed[:10])
    return text


def _annotated(feature: Feature, question: Question, answer: Answer) -> Answer:
    try:
        return feature.annotate(question, answer)
    except Exception:
        logger.exception("feature %s failed to annotate an answer", feature.name)
        return answer


def _notice(question: Question, text: str, *, kind: AnswerKind = "notice") -> Answer:
    return Answer(text=text, kind=kind, question=question.text)
