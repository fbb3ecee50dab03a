from __future__ import annotations

import json
from pathlib import Path

import bm25s

from knowledge.lexical import TOKENIZER_VERSION, LexicalIndex, TermCounts, tokenize


def test_chat_words_and_clitics_say_nothing_about_the_subject() -> None:
    assert tokenize("ok so when's the customer’s payment due? it doesn't show up") == tokenize(
        "customer payment due show up"
    )


def test_an_index_saved_by_another_tokenizer_is_not_reused(tmp_path: Path) -> None:
    index = LexicalIndex.build(["a", "b"], ["Deal registration rules", "Partner tiers"])
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded is not None and loaded.search("deal registration", 1)[0][0] == "a"
    (tmp_path / "bm25" / "tokenizer.json").write_text(json.dumps(TOKENIZER_VERSION - 1))
    assert LexicalIndex.load(tmp_path / "bm25") is None  # the caller rebuilds it


TEXTS = {
    "c3": "Deal registration: a registered deal is approved within 2 business days.",
    "c1": "Partner tiers: Member, Advanced and Elite. Elite partners get a rebate.",
    "c7": "The Elite rebate is 7% of net-new deals, paid quarterly.",
    "c2": "and the of",  # nothing but stopwords: still a document
    "c9": "Renewal: the annual fee is due 90 days before the anniversary. Renewal fees vary.",
    "c4": "Deal protection lasts 90 days; a deal may be extended once.",
}


def bm25_table(index: LexicalIndex) -> dict[tuple[str, str], float]:
    """Every (chunk id, term) score of an index."""
    retriever = index._retriever
    assert retriever is not None
    terms = {column: term for term, column in retriever.vocab_dict.items()}
    scores = retriever.scores
    return {
        (index.ids[int(scores["indices"][j])], terms[column]): float(scores["data"][j])
        for column in range(len(scores["indptr"]) - 1)
        for j in range(scores["indptr"][column], scores["indptr"][column + 1])
    }


def test_bm25_from_counts_scores_exactly_as_bm25s_indexes_the_tokens() -> None:
    ids = sorted(TEXTS)
    ours = LexicalIndex.build(ids, [TEXTS[i] for i in ids])
    reference = bm25s.BM25()
    reference.index([tokenize(TEXTS[i]) or ["∅"] for i in ids], show_progress=False)
    assert bm25_table(ours) == bm25_table(LexicalIndex(reference, ids))
    for query in ("elite rebate", "deal registration days", "renewal fee", "quokka"):
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        expected = []
        if tokens:
            docs, scores = reference.retrieve([tokens], k=len(ids), show_progress=False)
            hits = zip(docs[0], scores[0], strict=True)
            expected = [(ids[int(d)], float(s)) for d, s in hits if s > 0]
        assert ours.search(query, len(ids)) == expected, query


def test_bm25_over_groups_counted_apart_is_bm25_over_all_their_texts() -> None:
    groups = [["c3", "c9"], ["c1", "c2", "c7"], ["c4"]]
    pieces = [TermCounts.of(g, [TEXTS[i] for i in g]) for g in groups]
    for chosen in ([0, 1, 2], [0, 2], [1]):
        ids = sorted(i for g in chosen for i in groups[g])
        joined = LexicalIndex.from_counts(TermCounts.joined([pieces[g] for g in chosen]))
        direct = LexicalIndex.build(ids, [TEXTS[i] for i in ids])
        assert joined.ids == ids
        assert bm25_table(joined) == bm25_table(direct)
        # Statistics and vocabulary are those of the chosen groups alone.
        assert [joined.idf(t) for t in ("elit", "deal", "renew")] == [
            direct.idf(t) for t in ("elit", "deal", "renew")
        ]
        assert joined.knows("rebat") == direct.knows("rebat") == (1 in chosen)
        assert joined.search("elite rebate deal", 6) == direct.search("elite rebate deal", 6)
