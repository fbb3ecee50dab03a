"""Lexical search (BM25 via bm25s) with an English stemmer, persisted next to the vector index."""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from tqdm import tqdm

logger = logging.getLogger(__name__)
# bm25s forces its own logger to DEBUG on import; keep it to warnings like everything else.
logging.getLogger("bm25s").setLevel(logging.WARNING)
# bm25s wraps each search in a tqdm bar (hidden); the first bar would start tqdm's monitor
# thread, which then runs for the life of the process.
tqdm.monitor_interval = 0

# Bumped whenever tokenize() changes, so indexes saved by an older one are rebuilt.
TOKENIZER_VERSION = 3
_TOKEN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*", re.IGNORECASE)
_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,}s")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "did",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "whats",
        "what's",
        "hi",
        "hey",
        "pls",
        "please",
        "thanks",
        "thx",
        "any",
        "about",
        "should",
        "could",
        "just",
        "get",
        "got",
        "also",
        "us",
        "im",
        "i'm",
        "tell",
        "know",
        "need",
    ]
)


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


# Words of chat that say nothing about the subject ("ok so anything new on this stuff?").
CHAT_FILLER = frozenset(
    [
        "ok",
        "okay",
        "yes",
        "yeah",
        "yep",
        "right",
        "still",
        "now",
        "anything",
        "something",
        "stuff",
        "thing",
        "things",
        "guys",
        "folks",
        "someone",
        "anyone",
        "everyone",
        "somebody",
        "anybody",
        "actually",
        "really",
        "basically",
        "exactly",
        "lol",
        "btw",
        "fyi",
        "hello",
        "wondering",
        "let",
        "lets",
        "gonna",
        "wanna",
        "gotta",
        "ca",
        "wo",
    ]
)


_IGNORED = STOPWORDS | CHAT_FILLER


def _word(token: str) -> str:
    """A token lower-cased, without its clitic ("customer's" → "customer", "doesn't" →
    "does") or an acronym's plural ("MSPs" → "msp")."""
    if _ACRONYM_PLURAL.fullmatch(token):
        return token[:-1].lower()
    token = token.lower()
    if "'" not in token:
        return token
    return token[:-3] if token.endswith("n't") else token.split("'", 1)[0]


def tokenize(text: str) -> list[str]:
    """Lower-case, drop stopwords, stem: 'Requirements' and 'requirement' meet."""
    terms = map(_term, _TOKEN.findall(text.replace("’", "'")))
    return [t for t in terms if t is not None]


# Texts repeat their words: each distinct token is read once (while it is among the most
# recent this many).
_CACHED_WORDS = 1 << 16


@lru_cache(maxsize=_CACHED_WORDS)
def _term(token: str) -> str | None:
    """A token's stem, or None when the word says nothing about the subject."""
    word = _word(token)
    return None if word in _IGNORED else _stem(word)


@lru_cache(maxsize=_CACHED_WORDS)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


# bm25s's defaults (method "lucene"), which `LexicalIndex.from_counts` computes the same way.
BM25_K1 = 1.5
BM25_B = 0.75
EMPTY = "∅"  # the one token of a text with none, so that every text is a document


@dataclass(frozen=True)
class TermCounts:
    """How often each stemmed term occurs in each of some texts, by term (column-major):
    what a BM25 index is computed from. Kept per group of texts (one audience's chunks),
    so an index over several groups is put together without tokenizing them again."""

    ids: tuple[str, ...]  # the texts' ids (rows)
    lengths: np.ndarray  # tokens per row (int64)
    terms: tuple[str, ...]  # column -> term
    starts: np.ndarray  # column c's entries: starts[c]:starts[c + 1] (int64)
    rows: np.ndarray  # per entry: its row (int32)
    counts: np.ndarray  # per entry: occurrences of the column's term in the row (int32)

    @classmethod
    def of(cls, ids: Sequence[str], texts: Sequence[str]) -> TermCounts:
        """The counts of these texts, rows in their order."""
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        lengths: list[int] = []
        for row, text in enumerate(texts):
            tokens = tokenize(text) or [EMPTY]
            lengths.append(len(tokens))
            for term, n in Counter(tokens).items():
                columns.append(vocabulary.setdefault(term, len(vocabulary)))
                rows.append(row)
                counts.append(n)
        column = np.asarray(columns, dtype=np.int64)
        by_column = np.argsort(column, kind="stable")  # rows stay ascending in a column
        starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(column, minlength=len(vocabulary)), out=starts[1:])
        return cls(
            ids=tuple(ids),
            lengths=np.asarray(lengths, dtype=np.int64),
            terms=tuple(vocabulary),
            starts=starts,
            rows=np.asarray(rows, dtype=np.int32)[by_column],
            counts=np.asarray(counts, dtype=np.int32)[by_column],
        )

    @classmethod
    def joined(cls, pieces: Sequence[TermCounts]) -> TermCounts:
        """The counts of every piece's texts together (ids must not repeat), rows in
        ascending id order — as `of` counts all their texts in that order."""
        if len(pieces) == 1 and list(pieces[0].ids) == sorted(pieces[0].ids):
            return pieces[0]
        ids = tuple(sorted(i for piece in pieces for i in piece.ids))
        position = {cid: row for row, cid in enumerate(ids)}
        vocabulary: dict[str, int] = {}
        for piece in pieces:
            for term in piece.terms:
                vocabulary.setdefault(term, len(vocabulary))
        mapped = [
            np.fromiter((vocabulary[t] for t in piece.terms), np.int64, len(piece.terms))
            for piece in pieces
        ]
        # Entries per column: each piece's entries of a term follow the earlier pieces'.
        per_piece = [
            np.bincount(m, weights=np.diff(p.starts), minlength=len(vocabulary)).astype(np.int64)
            for m, p in zip(mapped, pieces, strict=True)
        ]
        starts = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(sum(per_piece), out=starts[1:])
        lengths = np.zeros(len(ids), dtype=np.int64)
        total = int(starts[-1])
        rows = np.empty(total, dtype=np.int32)
        counts = np.empty(total, dtype=np.int32)
        before = starts[:-1].copy()
        for piece, m, n in zip(pieces, mapped, per_piece, strict=True):
            at = np.fromiter((position[i] for i in piece.ids), np.int64, len(piece.ids))
            lengths[at] = piece.lengths
            sizes = np.diff(piece.starts)
            column = np.repeat(m, sizes)
            offset = np.arange(len(piece.rows), dtype=np.int64) - np.repeat(
                piece.starts[:-1], sizes
            )
            where = before[column] + offset
            rows[where] = at[piece.rows]
            counts[where] = piece.counts
            before += n
        return cls(ids, lengths, tuple(vocabulary), starts, rows, counts)


def stem_words(words: Sequence[str]) -> list[str]:
    """The stems of words tokenize() keeps whole (lower case, no stopwords): one each."""
    return [_stem(w) for w in words]


class LexicalIndex:
    """BM25 over chunk texts; ids map result positions back to chunk ids."""

    def __init__(
        self, retriever: bm25s.BM25 | None, ids: list[str], df: dict[str, int] | None = None
    ) -> None:
        self._retriever = retriever
        self.ids = ids
        self._df = df or {}
        self._vocab: set[str] = set(retriever.vocab_dict) if retriever is not None else set()

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        """BM25 over these texts (result positions in their order)."""
        return cls.from_counts(TermCounts.of(ids, texts))

    @classmethod
    def from_counts(cls, counts: TermCounts) -> LexicalIndex:
        """BM25 over counted texts: the scores bm25s's own indexing computes (Lucene's
        BM25, float32 scores), from the counts instead of the tokens."""
        n = len(counts.ids)
        if not n:
            return cls(None, [])
        df = np.diff(counts.starts)
        idf_of = {int(d): math.log(1 + (n - int(d) + 0.5) / (int(d) + 0.5)) for d in np.unique(df)}
        idf = np.asarray([idf_of[int(d)] for d in df], dtype=np.float32)
        # Per entry, in float64 as bm25s computes one document at a time, then float32.
        length = counts.lengths[counts.rows]
        average = counts.lengths.mean()
        tf = counts.counts.astype(np.float32).astype(np.float64)
        tfc = tf / (BM25_K1 * ((1 - BM25_B) + BM25_B * length / average) + tf)
        scores = (np.repeat(idf, df).astype(np.float64) * tfc).astype(np.float32)
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        retriever.scores = {
            "data": scores,
            "indices": counts.rows,
            "indptr": counts.starts,
            "num_docs": n,
        }
        vocab = {term: c for c, term in enumerate(counts.terms)}
        vocab.setdefault("", len(vocab))  # as bm25s adds it (never a query token here)
        retriever.vocab_dict = vocab
        retriever.unique_token_ids_set = set(vocab.values())
        retriever.nonoccurrence_array = None
        frequency = dict(zip(counts.terms, df.tolist(), strict=True))
        return cls(retriever, list(counts.ids), frequency)

    def save(self, directory: Path) -> None:
        """Write to a temporary folder, then swap it in, so readers never see half an index."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._retriever is not None:
            self._retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        (tmp / "tokenizer.json").write_text(json.dumps(TOKENIZER_VERSION))
        (tmp / "df.json").write_text(json.dumps(self._df))
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        ids_file = directory / "ids.json"
        version_file = directory / "tokenizer.json"
        if not ids_file.exists() or not version_file.exists():
            return None
        if json.loads(version_file.read_text()) != TOKENIZER_VERSION:
            return None  # saved by another tokenizer: the caller rebuilds it
        ids = json.loads(ids_file.read_text())
        if not ids:
            return cls(None, [])
        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        df_file = directory / "df.json"
        df = json.loads(df_file.read_text()) if df_file.exists() else {}
        return cls(retriever, ids, df)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score), best first; empty when no query term is known."""
        if self._retriever is None:
            return []
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        out = []
        for pos, score in zip(docs[0], scores[0], strict=True):
            if float(score) > 0:
                out.append((self.ids[int(pos)], float(score)))
        return out

    def knows(self, token: str) -> bool:
        """Does any passage contain this stemmed token?"""
        return token in self._df

    def idf(self, token: str) -> float:
        """Inverse document frequency of a stemmed token (rare terms weigh more)."""
        n = max(len(self.ids), 1)
        return float(np.log(1.0 + (n + 0.5) / (self._df.get(token, 0) + 0.5)))
