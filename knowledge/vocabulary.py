"""What a question asks about, in the documents' own words.

A question's content words become *concepts*; a concept is covered by a passage
when any of its wordings is in it. Wordings come from three general sources,
none written for one vendor:

- acronyms and long names the indexed documents define ("DPN" ↔ "Datadog Partner
  Network"), learned per index generation (knowledge/acronyms.py);
- everyday chat shorthand of any partner community ("reqs", "ppl", "mgmt");
- the admins' glossary (`glossary.yml`), when the documents folder has one.

The expanded text feeds lexical search and the embedder; the concepts, weighted by
how rare their most common wording is, feed ranking and confidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from knowledge.acronyms import Acronyms, Clippings
from knowledge.glossary import Glossary
from knowledge.lexical import tokenize

# Chat shorthand seen in any partner community, mapped to the words documents use.
CHAT_SHORTHAND: dict[str, str] = {
    "reqs": "requirements",
    "req": "requirement",
    "reqd": "required",
    "rev": "revenue",
    "svc": "service",
    "svcs": "services",
    "mgmt": "management",
    "mgd": "managed",
    "mgr": "manager",
    "ppl": "people",
    "cert": "certification",
    "certs": "certifications",
    "info": "information",
    "min": "minimum",
    "max": "maximum",
    "yr": "year",
    "yrs": "years",
    "mo": "month",
    "mos": "months",
    "approx": "approximately",
    "acct": "account",
    "accts": "accounts",
    "org": "organization",
    "orgs": "organizations",
    "reg": "registration",
    "regs": "registrations",
    "thru": "through",
    "govt": "government",
    "biz": "business",
    "amt": "amount",
    "qty": "quantity",
    "pct": "percent",
    "avg": "average",
    "reqmt": "requirement",
    "reqmts": "requirements",
    "prog": "program",
    "mktg": "marketing",
    "partnr": "partner",
    "renewl": "renewal",
    "sub": "subscription",
    "subs": "subscriptions",
    "addl": "additional",
    "env": "environment",
    "envs": "environments",
}

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’\-]*")
_DIGIT = re.compile(r"\d")
# Forms the stemmer does not bring together: common irregular verbs, and nouns made from
# verbs ("extend" → "extension"). English, not any vendor's; used only for a word no
# document uses, to find the form they do.
IRREGULAR = {
    "gave": "give",
    "given": "give",
    "told": "tell",
    "took": "take",
    "taken": "take",
    "paid": "pay",
    "bought": "buy",
    "sold": "sell",
    "sent": "send",
    "kept": "keep",
    "held": "hold",
    "left": "leave",
    "made": "make",
    "met": "meet",
    "ran": "run",
    "won": "win",
    "lost": "lose",
    "spent": "spend",
    "began": "begin",
    "begun": "begin",
    "chose": "choose",
    "chosen": "choose",
    "wrote": "write",
    "written": "write",
    "went": "go",
    "gone": "go",
    "got": "get",
    "gotten": "get",
    "found": "find",
    "brought": "bring",
    "thought": "think",
}


def other_forms(word: str) -> list[str]:
    """Other English forms of a word that the stemmer does not bring together: the base of
    an irregular verb ("told" → "tell") and the verb or noun of a pair such as "extend" /
    "extension", "decide" / "decision", "sellable" / "sell"."""
    w = word.lower()
    if not w.isalpha() or len(w) < 4:
        return []
    forms = [IRREGULAR[w]] if w in IRREGULAR else []
    if w.endswith("de"):
        forms.append(w[:-2] + "sion")
    elif w.endswith("d"):
        forms.append(w[:-1] + "sion")
    if w.endswith(("able", "ible")) and len(w) > 6:
        forms.append(w[:-4])
    if w.endswith("sion") and len(w) > 6:
        forms += [w[:-4] + "d", w[:-4] + "de"]
    return forms


# Words that say how a question is asked, not what it is about. They stay in the text
# searched, but are not concepts a passage must cover: the word after "how" that names the
# kind of answer ("how much", "how long"), comparisons and connectives, and negations typed
# without their apostrophe. English, not any vendor's.
ASKING = re.compile(
    r"\bhow\s+(much|many|long|far|often|soon|quickly|fast|big|large|old|early|late)\b", re.I
)
QUESTION_WORDS = frozenset(
    [
        "vs",
        "versus",
        "via",
        "per",
        "else",
        "exactly",
        "usually",
        "even",
        "ever",
        "too",
        "doesnt",
        "dont",
        "didnt",
        "cant",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "wont",
        "havent",
        "hasnt",
        "shouldnt",
        "couldnt",
        "wouldnt",
        "thats",
        "theres",
        "whens",
        "wheres",
        "whos",
        "hows",
    ]
)


@dataclass(frozen=True)
class Concept:
    """One thing the question asks about, and the wordings (stemmed token sets) for it."""

    weight: float
    alternatives: tuple[frozenset[str], ...]
    known: bool = True  # do the documents use any of its wordings at all?

    def covered_by(self, tokens: frozenset[str] | set[str]) -> bool:
        return any(alt <= tokens for alt in self.alternatives)


@dataclass(frozen=True)
class QueryTerms:
    query: str
    text: str  # the query plus the other wordings of what it names (for lexical search)
    concepts: tuple[Concept, ...]
    # For the embedder: the query plus the names its acronyms and glossary terms stand
    # for, but not chat shorthand, which moves short questions off their subject.
    dense_text: str = ""

    @cached_property
    def total_weight(self) -> float:
        return sum(c.weight for c in self.concepts) or 1.0

    @cached_property
    def tokens(self) -> frozenset[str]:
        return frozenset(t for c in self.concepts for alt in c.alternatives for t in alt)

    @cached_property
    def known_weight(self) -> float:
        return sum(c.weight for c in self.concepts if c.known) or 1.0

    def coverage(self, tokens: frozenset[str] | set[str], *, known_only: bool = False) -> float:
        """Weighted share of the concepts these tokens cover (0..1); `known_only`: of the
        concepts the documents use at all (chat words and typos left out)."""
        concepts = [c for c in self.concepts if c.known or not known_only]
        total = self.known_weight if known_only else self.total_weight
        return sum(c.weight for c in concepts if c.covered_by(tokens)) / total

    @cached_property
    def unknown_tokens(self) -> frozenset[str]:
        """The stemmed words of the concepts no document uses."""
        return frozenset(
            t for c in self.concepts if not c.known for alt in c.alternatives for t in alt
        )

    @cached_property
    def unknown_share(self) -> float:
        """Weighted share of the concepts no document uses (off-topic words, or chat)."""
        return sum(c.weight for c in self.concepts if not c.known) / self.total_weight


class Vocabulary:
    """Expands questions with the documents' acronyms, chat shorthand and the glossary."""

    def __init__(
        self,
        *,
        acronyms: Acronyms | None = None,
        glossary: Glossary | None = None,
        idf: Callable[[str], float] | None = None,
        known: Callable[[str], bool] | None = None,
        clippings: Clippings | None = None,
    ) -> None:
        self.acronyms = acronyms or Acronyms()
        self.clippings = clippings or Clippings()
        self.glossary = glossary or Glossary()
        self._idf = idf or (lambda _t: 1.0)
        self._known = known or (lambda _t: True)

    @cached_property
    def _long_names(self) -> list[tuple[tuple[str, ...], str]]:
        """Stemmed long names -> acronym, longest first (matched on the question's stems)."""
        out = [(tuple(tokenize(long)), short) for short, long in self.acronyms.long_names.items()]
        return sorted((o for o in out if len(o[0]) >= 2), key=lambda o: -len(o[0]))

    def expand(self, query: str) -> QueryTerms:
        words = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(query)]
        stems = [tokenize(w) for _, _, w in words]  # a word may hold several ("us1-fed")
        flat = [" ".join(s) for s in stems]
        # Runs of words that have another wording: (first word, last word, other wording).
        spans: list[tuple[int, int, str]] = []
        shorthand: set[str] = set()

        def add_span(first: int, last: int, other: str) -> None:
            if not any(not (last < a or first > b) for a, b, _ in spans):
                spans.append((first, last, other))

        for pattern, target in self.glossary.term_patterns:
            for m in pattern.finditer(query):
                inside = [i for i, (s, e, _) in enumerate(words) if s >= m.start() and e <= m.end()]
                if inside:
                    add_span(inside[0], inside[-1], target)
        for long, short in self._long_names:
            for i in range(len(flat) - len(long) + 1):
                if tuple(flat[i : i + len(long)]) == long:
                    add_span(i, i + len(long) - 1, short.upper())
        for i, (_, _, word) in enumerate(words):
            acronym = self._acronym(word)
            if acronym is not None:
                add_span(i, i, self.acronyms.long_names[acronym])
            elif word.lower() in CHAT_SHORTHAND and self._documents_prefer(
                CHAT_SHORTHAND[word.lower()], word
            ):
                add_span(i, i, CHAT_SHORTHAND[word.lower()])
                shorthand.add(CHAT_SHORTHAND[word.lower()])
            else:
                full = self.clippings.full_word(
                    word,
                    previous=stems[i - 1][-1] if i > 0 and stems[i - 1] else None,
                    following=stems[i + 1][0] if i + 1 < len(stems) and stems[i + 1] else None,
                )
                if full is not None and self._documents_prefer(full, word):
                    add_span(i, i, full)

        concepts: list[Concept] = []
        in_span = {i for a, b, _ in spans for i in range(a, b + 1)}
        how = {m.start(1) for m in ASKING.finditer(query)}
        asking = {
            i
            for i, (start, _, word) in enumerate(words)
            if start in how or word.lower() in QUESTION_WORDS
        }
        for a, b, other in sorted(spans):
            own = frozenset(t for word in stems[a : b + 1] for t in word)
            # A wording made of stopwords only covers nothing, so it is left out.
            alternatives = tuple(alt for alt in (own, frozenset(tokenize(other))) if alt)
            if alternatives:
                concepts.append(
                    Concept(self._weight(alternatives), alternatives, self._uses(alternatives))
                )
        seen: set[str] = set()
        variants: list[str] = []
        for i, word_stems in enumerate(stems):
            for stem in word_stems:
                if i in in_span or i in asking or stem in seen:
                    continue
                seen.add(stem)
                known = self._known(stem)
                if not known and _DIGIT.search(stem):
                    continue  # a figure of the partner's case ("over 250k", "48h"), not a subject
                wordings: tuple[frozenset[str], ...] = (frozenset([stem]),)
                if not known:
                    # The documents may use another form of the word ("extension").
                    forms = [t for f in other_forms(words[i][2]) for t in tokenize(f)]
                    used = list(dict.fromkeys(t for t in forms if self._known(t)))
                    if used:
                        wordings += tuple(frozenset([t]) for t in used)
                        variants.extend(used)
                        known = True
                concepts.append(Concept(self._idf(stem), wordings, known))
        additions = list(dict.fromkeys(o for _, _, o in spans if o.lower() not in query.lower()))
        named = [a for a in additions if a not in shorthand]
        additions += variants
        return QueryTerms(query, _with(query, additions), tuple(concepts), _with(query, named))

    def _acronym(self, word: str) -> str | None:
        """The learned acronym this word is ("dpn", "MSPs"), unless it is an ordinary word
        of the documents written in lower case ("us", "it")."""
        lower = word.lower()
        for short in (lower, lower[:-1] if lower.endswith("s") else ""):
            if short in self.acronyms.long_names:
                if short in self.acronyms.ordinary and not word.isupper():
                    return None
                return short
        return None

    def _documents_prefer(self, long: str, short: str) -> bool:
        """Is the long wording more common in the documents than the short one? ("reqs":
        yes, expand; "org" where the documents say "Admin Org": no, leave it alone.)"""
        long_stems, short_stems = tokenize(long), tokenize(short)
        if not long_stems or not short_stems:
            return False
        return max(self._idf(t) for t in short_stems) > max(self._idf(t) for t in long_stems)

    def _uses(self, alternatives: tuple[frozenset[str], ...]) -> bool:
        return any(all(self._known(t) for t in alt) for alt in alternatives)

    def _weight(self, alternatives: tuple[frozenset[str], ...]) -> float:
        """A concept is as salient as its most common wording is rare."""
        return min(sum(self._idf(t) for t in alt) / len(alt) for alt in alternatives)


def _with(query: str, additions: list[str]) -> str:
    return f"{query} ({'; '.join(additions)})" if additions else query
