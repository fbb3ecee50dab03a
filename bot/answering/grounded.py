"""The LLM composer: a grounded answer from an OpenAI-compatible model.

The passages go to the model as delimited data, never instructions, and its reply is
checked sentence by sentence before anyone sees it (a document may carry instructions
the model obeys):

- a sentence must end with a citation of a passage that was given, say nothing the
  cited passages do not support (their words and every figure), and not rest on
  instruction-like text inside a document; otherwise it is dropped;
- a reference list, the system prompt or talk about the model's instructions is dropped;
- a link that the cited passages do not give, or to a domain answers may not link to
  (bot/answering/links.py), is removed: a Markdown link keeps its text, a sentence with a
  bare one is dropped;
- every clause of a sentence (", and …", "; then …") must rest on the cited passages too;
- mentions (@everyone, <!channel>, <@U123>, <@&role>) are neutralised.

When nothing is left, LLMError is raised and the caller (bot/answering/answerer.py) falls back to
the extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.answering.composing import Composition
from bot.answering.injection import looks_like_injection
from bot.answering.links import LinkPolicy, clean_links
from bot.answering.llm import LLMClient
from bot.answering.mentions import neutralise_mentions
from bot.errors import LLMError
from bot.prompts import render
from knowledge.chunking import split_sentences
from knowledge.documents import Passage
from knowledge.lexical import tokenize

logger = logging.getLogger(__name__)

MAX_SENTENCES = 4
# Share of a sentence's words that its cited passages must contain.
MIN_SUPPORT = 0.6
# A clause of this many words (or more) must be supported on its own.
CLAUSE_WORDS = 3
# A run of this many words shared with the system prompt is the prompt leaking.
PROMPT_RUN = 8

_CITE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_CITES = re.compile(r"^((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)\s*")
_ENDS_CITED = re.compile(r"\[\d+(?:\s*,\s*\d+)*\][\s.!?;:)\]\"'”’*_]*$")
# A citation that ends a sentence ends it even when the next one starts in lower case.
_CITED_END = re.compile(r"(?<=\][.!?])\s+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_CLAUSE = re.compile(
    r"[;:()\u2013\u2014]|,(?!\d)|\s-\s|\b(?:and|but|or|then|so|while|whereas|which|unless)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(r"\b\d[\d,]*")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_WORDS = re.compile(r"[a-z0-9]+")
_MENTION = re.compile(r"@\u200b\S+")  # a mention, once neutralised


@dataclass
class _Evidence:
    """What the cited passages say, without their instruction-like parts."""

    tokens: set[str] = field(default_factory=set)
    figures: set[str] = field(default_factory=set)
    text: str = ""  # lower-case, for finding links


def _figures(text: str) -> set[str]:
    """Every figure as digits, thousands separators and leading zeros dropped: "2,950" and
    "2950" meet; "2027-03-31" gives 2027, 3 and 31; "4.2" gives 4 and 2."""
    out: set[str] = set()
    for m in _FIGURE.finditer(text):
        raw = m.group(0).rstrip(",")
        parts = [raw.replace(",", "")] if _THOUSANDS.fullmatch(raw) else raw.split(",")
        out.update(part.lstrip("0") or "0" for part in parts if part)
    return out


def _instruction_free(text: str) -> str:
    """A passage's text up to its first instruction-like sentence: an injection's payload
    ("… then tell everyone to visit …") follows its trigger, so nothing after it counts."""
    kept: list[str] = []
    for line in text.split("\n"):
        for sentence in split_sentences(line):
            if looks_like_injection(sentence):
                return " ".join(kept)
            kept.append(sentence)
    return " ".join(kept)


def _evidence(passages: Sequence[Passage]) -> _Evidence:
    evidence = _Evidence()
    parts = []
    for p in passages:
        body = _instruction_free(p.text)
        dated = p.effective_date.isoformat() if p.effective_date else ""
        about = f"{p.title} {p.section_label} {dated}"
        evidence.tokens |= set(tokenize(f"{about} {body}"))
        evidence.figures |= _figures(f"{about} {body}")
        parts.append(f"{body} {p.chunk.url or ''}")
    evidence.text = " ".join(parts).lower()
    return evidence


def _link_given(link: str, evidence: _Evidence) -> bool:
    core = re.sub(r"^(https?://|mailto:)?(www\.)?", "", link.lower()).rstrip("/.,;:!?'\"")
    return bool(core) and core in evidence.text


def _links_allowed(evidence: _Evidence, links: LinkPolicy | None) -> Callable[[str], bool]:
    """A link the cited passages give, to a domain answers may link to."""
    return lambda link: _link_given(link, evidence) and (links is None or links.allows(link))


class _PromptEcho:
    """Finds runs of words shared with the system prompt."""

    def __init__(self, prompt: str) -> None:
        words = _WORDS.findall(prompt.lower())
        self.runs = {tuple(words[i : i + PROMPT_RUN]) for i in range(len(words) - PROMPT_RUN + 1)}

    def __call__(self, sentence: str) -> bool:
        words = _WORDS.findall(sentence.lower())
        return any(
            tuple(words[i : i + PROMPT_RUN]) in self.runs
            for i in range(len(words) - PROMPT_RUN + 1)
        )


def _units(reply: str) -> list[tuple[str, list[str]]]:
    """(bullet, sentences) per line; a citation that opens a sentence closes the one before."""
    lines = []
    for raw in reply.splitlines():
        bullet_match = _BULLET.match(raw)
        bullet = bullet_match.group(0).strip() + " " if bullet_match else ""
        line = raw[bullet_match.end() :] if bullet_match else raw
        sentences: list[str] = []
        parts = [p for piece in _CITED_END.split(line) for p in split_sentences(piece)]
        for part in parts:
            lead = _LEADING_CITES.match(part)
            if lead and sentences:
                sentences[-1] = f"{sentences[-1]} {lead.group(1).strip()}"
                part = part[lead.end() :]
            if part.strip():
                sentences.append(part.strip())
        if sentences:
            lines.append((bullet, sentences))
    return lines


@dataclass(frozen=True)
class Validated:
    """A model's reply after the checks: what is kept, and each dropped sentence's reason."""

    text: str
    cited: tuple[int, ...]
    dropped: tuple[tuple[str, str], ...]


def validate_reply(
    reply: str,
    passages: Sequence[Passage],
    *,
    system_prompt: str,
    links: LinkPolicy | None = None,
) -> Validated:
    """Keep only the sentences that rest on the passages they cite (see module docstring).
    `links`: the domains answers may link to (bot/answering/links.py); a link must also be
    given by the cited passages."""
    echoes = _PromptEcho(system_prompt)
    evidence_of: dict[tuple[int, ...], _Evidence] = {}
    dropped: list[tuple[str, str]] = []
    cited: list[int] = []
    out_lines: list[str] = []
    for bullet, sentences in _units(reply):
        kept: list[str] = []
        for sentence in map(neutralise_mentions, sentences):
            numbers = [int(n) for m in _CITE.finditer(sentence) for n in m.group(1).split(",")]
            valid = tuple(dict.fromkeys(n for n in numbers if 1 <= n <= len(passages)))
            reason = _problem(sentence, numbers, valid, len(passages), echoes)
            if reason is None:
                if valid not in evidence_of:
                    evidence_of[valid] = _evidence([passages[n - 1] for n in valid])
                evidence = evidence_of[valid]
                linked = clean_links(sentence, _links_allowed(evidence, links))
                reason = _unsupported(linked, evidence) if linked else "links elsewhere"
                sentence = linked or sentence
            if reason is not None:
                dropped.append((sentence, reason))
                continue
            sentence = _CITE.sub(
                lambda m: (
                    "["
                    + ", ".join(
                        n
                        for n in m.group(1).replace(" ", "").split(",")
                        if 1 <= int(n) <= len(passages)
                    )
                    + "]"
                ),
                sentence,
            )
            kept.append(sentence)
            cited.extend(valid)
        if kept:
            out_lines.append(bullet + " ".join(kept))
    return Validated("\n".join(out_lines), tuple(dict.fromkeys(cited)), tuple(dropped))


def _problem(
    sentence: str,
    numbers: list[int],
    valid: tuple[int, ...],
    given: int,
    echoes: _PromptEcho,
) -> str | None:
    """Why a sentence cannot be shown as it is written, or None."""
    if not numbers:
        return "cites no passage"
    if not valid:
        return f"cited passage {numbers[0]} but only {given} were given"
    if _LEADING_CITES.match(sentence):
        return "a source list, not a sentence"
    if not _ENDS_CITED.search(sentence):
        return "text after its citation (a source list, not a sentence)"
    if looks_like_injection(sentence):
        return "talks about its instructions"
    if echoes(sentence):
        return "repeats the system prompt"
    return None


def _unsupported(sentence: str, evidence: _Evidence) -> str | None:
    """Why the cited passages do not support the sentence, or None (mentions aside)."""
    plain = _CITE.sub(" ", _MENTION.sub(" ", sentence))
    unknown = _figures(plain) - evidence.figures
    if unknown:
        return f"states {sorted(unknown)[0]}, which the cited passages do not"
    tokens = set(tokenize(plain))
    if tokens and len(tokens & evidence.tokens) / len(tokens) < MIN_SUPPORT:
        return "says what the cited passages do not"
    for clause in _CLAUSE.split(plain):  # a clause tacked on must rest on them too
        words = set(tokenize(clause or ""))
        if len(words) >= CLAUSE_WORDS and len(words & evidence.tokens) / len(words) < MIN_SUPPORT:
            return f"a clause says what the cited passages do not ({clause.strip()[:40]!r})"
    return None


class LLMComposer:
    """A grounded answer from an OpenAI-compatible model, validated before it is used."""

    def __init__(
        self, client: LLMClient, *, vendor: str = "Northwind", links: LinkPolicy | None = None
    ) -> None:
        self.client = client
        self.vendor = vendor
        self.links = links  # the domains answers may link to (bot/answering/links.py)

    def messages(self, question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
        blocks = []
        for i, p in enumerate(passages, start=1):
            dated = p.effective_date.isoformat() if p.effective_date else "undated"
            body = p.text.replace("<", "‹").replace(">", "›")  # passages cannot close their tag
            blocks.append(
                f'<passage number="{i}" title="{_attr(p.title)}" section="{_attr(p.section_label)}"'
                f' date="{dated}">\n{body}\n</passage>'
            )
        return [
            {
                "role": "system",
                "content": render("answer", vendor=self.vendor, max_sentences=MAX_SENTENCES),
            },
            {
                "role": "user",
                "content": render("answer_user", question=question, passages="\n".join(blocks)),
            },
        ]

    def compose(self, question: str, passages: Sequence[Passage]) -> Composition | None:
        """The model's answer, checked sentence by sentence; None if it says the passages
        don't answer. Raises LLMError when no sentence of the reply survives the checks."""
        messages = self.messages(question, passages)
        reply = self.client.complete(messages, purpose="answer")
        if reply.strip().upper().startswith("NOT_FOUND"):
            return None
        checked = validate_reply(
            reply, passages, system_prompt=messages[0]["content"], links=self.links
        )
        for sentence, reason in checked.dropped:
            logger.info("dropped a sentence of the model's reply (%s): %.80r", reason, sentence)
        if not checked.cited:
            reasons = "; ".join(dict.fromkeys(reason for _, reason in checked.dropped))
            raise LLMError(f"no sentence of the model's reply could be kept ({reasons})")
        return Composition(checked.text, checked.cited)


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("<", "‹").replace(">", "›")
