"""Turn a follow-up ("and for member tier?") into a standalone query for retrieval.

The subject is resolved through the whole conversation, not just the last turn: each
elliptical user turn is read against the standalone form of the turn before it, so
"gold CSAT rule?" → "and for member tier?" → "and elite?" → "deadline for that?" still
asks about the CSAT rule, for Elite. A name of the same kind as one said earlier (a
tier for a tier, a track for a track) replaces it instead of joining it; the kinds come
from the glossary when there is one and are otherwise learned from the documents
(knowledge/kinds.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answering.acknowledgements import is_acknowledgement
from bot.answering.llm import LLMClient
from bot.errors import LLMError
from bot.models import Turn
from bot.prompts import render
from knowledge.audience import PUBLIC, Viewer
from knowledge.glossary import Glossary
from knowledge.index import IndexView, KnowledgeIndex
from knowledge.kinds import Name, NameKinds, kind_noun, kinds_of, name_tokens, seen_in
from knowledge.lexical import STOPWORDS
from knowledge.vocabulary import ASKING, QUESTION_WORDS

logger = logging.getLogger(__name__)

_LEADS = re.compile(
    r"^\s*(and|also|or|but|what about|how about|same for|same question for|ok and|ok what about|"
    r"what if|and what about|and how about|then|anything (?:about|on|for|regarding)|any news on|"
    r"is there anything (?:about|on|for))\b[\s,]*",
    re.IGNORECASE,
)
# "it", "that", … and "one"/"ones" standing for a thing named before ("we create one?", "the
# ones we don't use"), not counting ("one year").
_PRONOUN = re.compile(
    r"\b(it|that|this|they|them|those|these|there|its|their|ones)\b|\bone\b(?=\s*(?:[?.!,]|$))",
    re.IGNORECASE,
)
# A question that ends by pointing back: "do we have to give VAT info then?", "… too?"
_TRAILING = re.compile(r"\b(then|too|as well|also|in that case)\s*[?.!]*\s*$", re.IGNORECASE)
PRONOUN_QUESTION_WORDS = 8  # at most this many content words, with a pronoun: a follow-up
# A question of at most this many content words, none of them naming anything the
# documents name, asks about the conversation's subject ("can buyers just click subscribe?").
BARE_QUESTION_WORDS = 3
_WORD = re.compile(r"[A-Za-z0-9][\w&'-]*")


def _content_words(text: str) -> list[str]:
    """The words that carry a subject: not stopwords, and not the words that say how the
    question is asked ("how long", "vs"), which a later turn must not inherit."""
    asking = {m.start(1) for m in ASKING.finditer(text)}
    return [
        m.group(0)
        for m in _WORD.finditer(text)
        if m.group(0).lower() not in STOPWORDS
        and m.group(0).lower() not in QUESTION_WORDS
        and m.start() not in asking
    ]


def is_elliptical(text: str) -> bool:
    """Does this message lean on the previous turn for its subject?"""
    words = _content_words(text)
    if _LEADS.match(text) or _TRAILING.search(text):
        return True
    if len(words) <= 2:
        return True
    return bool(_PRONOUN.search(text)) and len(words) <= PRONOUN_QUESTION_WORDS


def user_turns(history: Sequence[Turn]) -> list[str]:
    """The partner's earlier questions, oldest first (acknowledgements carry no subject)."""
    return [
        t.text
        for t in history
        if t.role == "user" and t.text.strip() and not is_acknowledgement(t.text)
    ]


def _stems(words: Sequence[str]) -> tuple[list[str], list[int]]:
    """Stemmed tokens of the words, and for each token the index of its word."""
    tokens: list[str] = []
    owners: list[int] = []
    for i, word in enumerate(words):
        for token in name_tokens(word):
            tokens.append(token)
            owners.append(i)
    return tokens, owners


_DEFINITE = re.compile(r"\b(?:the|that|this|these|those|said)\s+([A-Za-z][\w&'-]*)", re.IGNORECASE)


def _refers_back(text: str, subject: Sequence[str]) -> bool:
    """Does the question name the earlier subject with a definite article ("… can the
    service be tied to?" after a question about professional services)?"""
    said = {t for word in subject for t in name_tokens(word)}
    return any(
        set(name_tokens(m.group(1))) & said
        for m in _DEFINITE.finditer(text)
        if m.group(1).lower() not in STOPWORDS
    )


def _asks_about_the_subject(text: str, names: NameKinds) -> bool:
    """A short question that names nothing of its own ("can buyers just click
    subscribe?"): no name, acronym or heading words the documents use. A person reads it
    against the conversation so far. Without anything learned from the documents there
    is no telling, and the question stands alone."""
    if not names.terms or not text.rstrip().endswith("?"):
        return False
    words = _content_words(text)
    if len(words) > BARE_QUESTION_WORDS:
        return False
    tokens, _ = _stems(words)
    return not names.names_a_term(tokens)


@dataclass(frozen=True)
class _Turn:
    standalone: str  # the question as retrieval should see it
    subject: list[str]  # the words a later elliptical turn carries


def _resolve(text: str, before: _Turn | None, names: NameKinds) -> _Turn:
    """One turn made standalone against the conversation so far.

    A self-contained question starts a new subject. An elliptical one keeps the subject:
    names it mentions replace the names of the same kind in it ("and for member tier?"),
    a lead-in follow-up without a pronoun adds its words to it ("and a normal trial?"),
    and a question about the subject ("how long does that take?") only borrows it.
    """
    if before is None or not (
        is_elliptical(text)
        or _refers_back(text, before.subject)
        or (before.subject and _asks_about_the_subject(text, names))
    ):
        return _Turn(text, _content_words(text))
    rest = _LEADS.sub("", text).strip(" ?!.,") or text
    rest_words = _content_words(rest)
    rest_tokens, rest_owners = _stems(rest_words)
    said = names.names_in(rest_tokens)
    said_names = {name for _, _, name in said}
    rivals: set[Name] = set()
    for name in said_names:
        rivals |= names.rivals(name)
    rivals -= said_names

    subject = before.subject
    tokens, owners = _stems(subject)
    present = {w.lower() for w in rest_words}  # said again: once is enough
    dropped = {i for i, word in enumerate(subject) if word.lower() in present}
    for start, end, name in names.names_in(tokens):
        if name in rivals:
            dropped.update(owners[start:end])
    kept = [w for i, w in enumerate(subject) if i not in dropped]

    if (_LEADS.match(text) or _TRAILING.search(text)) and not _PRONOUN.search(rest):
        # A kind's noun after a name ("member tier") only says which kind: the subject keeps
        # the name, so the next name of that kind ("and elite?") replaces it whole.
        nouns = {
            rest_owners[end - 1] + 1
            for start, end, name in said
            if rest_owners[end - 1] + 1 < len(rest_words)
            and kind_noun(rest_words[rest_owners[end - 1] + 1]) in names.kinds(name)
        }
        joining = [w for i, w in enumerate(rest_words) if i not in nouns]
    else:
        named = {rest_owners[i] for start, end, _ in said for i in range(start, end)}
        joining = [w for i, w in enumerate(rest_words) if i in named]
    return _Turn(f"{rest} {' '.join(kept)}".strip(), joining + kept)


def standalone_question(question: str, history: Sequence[Turn], names: NameKinds) -> str:
    """The question with the conversation's subject carried in (unchanged when it is
    self-contained or there is no earlier question)."""
    turn: _Turn | None = None
    for text in user_turns(history):
        turn = _resolve(text, turn, names)
    return _resolve(question, turn, names).standalone


def rewrite_followup(
    question: str,
    history: Sequence[Turn],
    glossary: Glossary,
    kinds: NameKinds | None = None,
) -> str:
    """Deterministic rewrite: carry the conversation's subject into an elliptical question.

    Names of one kind (the glossary's groups, plus `kinds` learned from the documents)
    are replaced rather than added, so "and for member tier?" after a question about
    Advanced asks about Member only.
    """
    names = NameKinds.from_glossary(glossary)
    return standalone_question(question, history, names.merged(kinds) if kinds else names)


class LLMRewriter:
    """Ask the model for a standalone question; fall back to the deterministic rewrite."""

    def __init__(self, client: LLMClient) -> None:
        self.client = client

    def rewrite(self, question: str, history: Sequence[Turn], names: NameKinds) -> str:
        if not user_turns(history):
            return question
        convo = "\n".join(f"{t.role}: {t.text}" for t in history[-6:])
        messages = [
            {"role": "system", "content": render("rewrite")},
            {"role": "user", "content": f"{convo}\nuser: {question}"},
        ]
        try:
            text = self.client.complete(messages, purpose="rewrite", max_tokens=80).strip()
        except LLMError as e:
            logger.warning("rewrite fell back to the deterministic rule: %s", e)
            return standalone_question(question, history, names)
        return text.splitlines()[0] if text else standalone_question(question, history, names)


def _learn_names(view: IndexView) -> NameKinds:
    # Learned per audience of the view and put together (see IndexView.pieces).
    learned = kinds_of(view.pieces("name kinds", seen_in))
    glossary = view.glossary
    return NameKinds.from_glossary(glossary).merged(learned).with_shorthand(glossary.terms)


class FollowUps:
    """Standalone questions over one index: the glossary's groups and the name kinds
    learned from its documents, re-read once per index generation (a few milliseconds)."""

    def __init__(self, index: KnowledgeIndex, *, rewriter: LLMRewriter | None = None) -> None:
        self.index = index
        self.rewriter = rewriter

    def names(self, viewer: Viewer | None = PUBLIC) -> NameKinds:
        """Names of one kind: the glossary's groups plus those learned from the documents
        `viewer` may read (made once per index generation, before questions switch to it)."""
        return self.index.derived("follow-up names", _learn_names, viewer=viewer)

    def standalone(
        self, question: str, history: Sequence[Turn], viewer: Viewer | None = PUBLIC
    ) -> str:
        if not user_turns(history):
            return question
        if self.rewriter is not None:
            return self.rewriter.rewrite(question, history, self.names(viewer))
        return standalone_question(question, history, self.names(viewer))
