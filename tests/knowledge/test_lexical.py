from __future__ import annotations

import json
from pathlib import Path

from knowledge.lexical import TOKENIZER_VERSION, LexicalIndex, tokenize


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
