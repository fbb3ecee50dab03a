"""PartnerBot: the one object adapters hold. Ask, re-index, record feedback.

Adapters compose it (never subclass it): they translate a platform event into a
`Question`, call `ask`, and render the `Answer`. `ask` never raises: a request
problem comes back as a notice, an unexpected failure as a short apology, and
the traceback goes to the log only.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from bot.acknowledgements import is_acknowledgement
from bot.admin import require_admin
from bot.answering import Answerer
from bot.changes import ChangesSettings, ProgramChanges
from bot.comms.registry import Communications
from bot.comms.settings import CommsSettings
from bot.config import Settings
from bot.errors import UserError
from bot.grounded import LLMComposer
from bot.llm import LLMClient
from bot.models import Answer, AnswerKind, Question
from bot.prompts import message
from bot.ratelimit import UNLIMITED_PLATFORMS, RateLimiter
from bot.rewrite import LLMRewriter
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
    """The core: knowledge index, answerer, state, and the admin operations."""

    def __init__(self, settings: Settings, *, index: KnowledgeIndex | None = None) -> None:
        self.settings = settings
        self._index = index
        self._index_lock = threading.Lock()
        self._reindex_lock = threading.Lock()
        # Set in the thread running `reindex`: only an index run writes to a shared index.
        self._reindexing = threading.local()
        self.rate_limiter = RateLimiter(per_minute=settings.rate_limit_per_minute)
        # Called after every re-index (e.g. program-change detection).
        self.on_reindex: list[Callable[[SyncReport], None]] = []
        # Consulted before the document answerer; the first non-None Answer wins
        # (e.g. "what changed this quarter?" is answered from change records).
        self.special_answerers: list[Callable[[Question], Answer | None]] = []
        # Applied in order to answers from the documents (not to special ones), e.g. a
        # note that a cited section changed recently.
        self.answer_notes: list[Callable[[Question, Answer], Answer]] = []
        # Program-change detection: records changes on re-index, answers "what changed?",
        # notes a recently changed section under an answer.
        self.on_reindex.append(lambda report: self.changes.record_sync(report))
        self.special_answerers.append(lambda q: self.changes.answer(q))
        self.answer_notes.append(lambda q, a: self.changes.note(q, a))
        # Communications announced to partners (bot/comms): answers in "Ask about this"
        # threads and "is the vendor emailing my customers this month?"; kept in the index
        # after a re-index (a rebuild drops them).
        self.special_answerers.append(lambda q: self.comms.answer(q))
        self.on_reindex.append(lambda _report: self.comms.refresh_index())

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

    @cached_property
    def store(self) -> Store:
        """The state backend PARTNERBOT_DATABASE_URL names (SQLite in the data dir by default)."""
        return open_store(self.settings.database)

    @cached_property
    def comms(self) -> Communications:
        """Vendor-to-customer communications: registry, notices, acknowledgements."""
        return Communications(
            store=self.store,
            settings=CommsSettings.from_settings(self.settings),
            index_documents=self._index_communications,
            answer_documents=lambda q: self.answerer.answer(q),
        )

    def _index_communications(self, documents: list[Document]) -> SyncReport:
        """Keep upcoming communications in the index. A shared index is written only by an
        index run (`partnerbot index`, an admin's re-index), never by a replica's dispatcher
        on its own: there they follow with the next run."""
        if self.index.shared and not getattr(self._reindexing, "active", False):
            return SyncReport()
        return self.index.sync_documents(documents, source="comms")

    @cached_property
    def changes(self) -> ProgramChanges:
        """Program changes: records of every re-index, change answers, digests."""
        return ProgramChanges(
            records=self.store.changes,
            deliveries=self.store.deliveries,
            settings=ChangesSettings.from_settings(self.settings),
            llm=lambda: self.llm_client,
        )

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
            return _notice(
                question,
                message("too_long", length=f"{len(text):,}", limit=f"{limit:,}"),
                kind="too_long",
            )
        if question.platform in UNLIMITED_PLATFORMS:
            return None
        wait = self.rate_limiter.check(f"{question.platform}:{question.asker}")
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

    def ask(self, question: Question) -> Answer:
        """Answer a question; never raises (see module docstring)."""
        try:
            if is_acknowledgement(question.text):
                # "thanks!" asks nothing: a short reply, not a search (and not a gap).
                return Answer(
                    text=message("acknowledgement"), kind="acknowledgement", question=question.text
                )
            notice = self.check_question(question)
            if notice is not None:
                return notice
            answer = next(
                (a for a in (f(question) for f in self.special_answerers) if a is not None),
                None,
            )
            if answer is None:
                answer = self.answerer.answer(question)
                for note in self.answer_notes:
                    answer = note(question, answer)
            interaction_id = self.store.interactions.record(question, answer)
            return _with_id(answer, interaction_id)
        except (UserError, KnowledgeError) as e:
            logger.warning("question refused: %s", e)
            return _notice(question, str(e))
        except Exception:
            logger.exception("answering failed (platform=%s)", question.platform)
            return Answer(text=message("apology"), kind="error", question=question.text)

    def record_feedback(self, *, interaction_id: int, user: str, rating: int, platform: str) -> str:
        """Store a rating and return the acknowledgement to show the user."""
        if not self.store.interactions.record_feedback(
            interaction_id=interaction_id, user=user, rating=rating, platform=platform
        ):
            return message("feedback_unknown")
        return message("feedback_thanks_up" if rating > 0 else "feedback_thanks_down")

    def handle_notice_button(
        self, kind: str, value: str, user: str, channel: str, platform: str
    ) -> str:
        """A click on a notice's Acknowledge / Ask about this button; the reply for the user."""
        try:
            return self.comms.handle_button(
                kind=kind, value=value, user=user, channel=channel, platform=platform
            )
        except UserError as e:
            return str(e)
        except Exception:
            logger.exception("notice button %s failed (platform=%s)", kind, platform)
            return message("apology")

    # -- admin -------------------------------------------------------------------------------
    def require_admin(self, *, is_admin: bool, who: str, action: str) -> None:
        require_admin(is_admin=is_admin, who=who, action=action)

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
                for hook in self.on_reindex:
                    try:
                        hook(report)
                    except Exception:
                        logger.exception("a re-index hook failed")
                return report
            finally:
                self._reindexing.active = False

    def reindex_as(self, *, is_admin: bool, who: str) -> SyncReport:
        """Re-index on behalf of a chat user; NotAllowed unless they are an admin."""
        self.require_admin(is_admin=is_admin, who=who, action="re-index the documents")
        logger.info("re-index requested by %s", who)
        return self.reindex()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        if self._index is not None:
            self._index.close()


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


def _notice(question: Question, text: str, *, kind: AnswerKind = "notice") -> Answer:
    return Answer(text=text, kind=kind, question=question.text)


def _with_id(answer: Answer, interaction_id: int) -> Answer:
    from dataclasses import replace

    return replace(answer, interaction_id=interaction_id)
