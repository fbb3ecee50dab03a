"""Lexical search (BM25 via bm25s) with an English stemmer, persisted next to the vector index."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

logger = logging.getLogger(__name__)
# bm25s forces its own logger to DEBUG on import; keep it to warnings like everything else.
logging.getLogger("bm25s").setLevel(logging.WARNING)

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
    words = (_word(w) for w in _TOKEN.findall(text.replace("’", "'")))
    return list(_stemmer().stemWords([w for w in words if w not in _IGNORED]))


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
        if not ids:
            return cls(None, [])
        corpus = [tokenize(t) or ["∅"] for t in texts]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        df: dict[str, int] = {}
        for tokens in corpus:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        return cls(retriever, list(ids), df)

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
