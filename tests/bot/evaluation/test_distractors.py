from __future__ import annotations

from pathlib import Path

from bot.evaluation.distractors import crowded, write_offtopic
from bot.evaluation.harness import DevSet, EvalItem


def test_offtopic_documents_are_the_same_every_run(tmp_path: Path) -> None:
    write_offtopic(tmp_path / "a", 24)
    write_offtopic(tmp_path / "b", 24)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 24
    for name in files:
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    text = (tmp_path / "a" / files[0]).read_text()
    assert text.startswith("---\ntitle: ") and "partner" not in text.lower()


def test_a_crowded_set_asks_the_same_questions_over_every_corpus(tmp_path: Path) -> None:
    def devset(name: str) -> DevSet:
        corpus = tmp_path / name
        corpus.mkdir()
        (corpus / "tiers.md").write_text(f"# {name} tiers\n\nThere are two tiers.\n")
        item = EvalItem("q1", ["tiers?"], ["tiers.md"], ["two tiers"], "factual")
        return DevSet(name, corpus, [item])

    sets = crowded([devset("acme"), devset("globex")], 5, tmp_path / "crowded")
    assert [s.name for s in sets] == ["acme+5", "globex+5"]
    assert sets[0].items[0].gold_paths == ["acme/tiers.md"]
    assert (tmp_path / "crowded" / "globex" / "tiers.md").is_file()
    assert len(list((tmp_path / "crowded" / "offtopic").iterdir())) == 5
