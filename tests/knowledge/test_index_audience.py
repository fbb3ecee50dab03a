"""Audiences in the index: stored with every chunk, carried across generations, and
retrieval that searches, ranks and learns from what the viewer may read only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import knowledge.index as index_module
from knowledge.acronyms import Acronyms
from knowledge.audience import EVERYTHING, PUBLIC, Audience, Viewer
from knowledge.documents import Chunk
from knowledge.embeddings import default_embedder
from knowledge.index import IndexView, KnowledgeIndex
from knowledge.lexical import LexicalIndex
from knowledge.retrieval import Retriever

PUBLIC_DOCS = {
    "renewal.md": (
        "---\ntitle: Membership Renewal\n---\n# Membership Renewal\n## Annual fee\n"
        "The Member annual fee is USD 495.\nThe Elite annual fee is USD 9,500.\n"
        "## Renewal window\nThe renewal window opens 90 days before the anniversary date.\n"
    ),
    "tiers.md": (
        "---\ntitle: Partner Tiers\n---\n# Partner Tiers\n## Overview\n"
        "The program has three tiers: Member, Advanced and Elite.\n"
        "Elite partners complete an annual business review with Northwind.\n"
    ),
    "deals.md": (
        "---\ntitle: Deal Registration\n---\n# Deal Registration\n## Approval\n"
        "A registered deal is approved within 2 business days.\n"
        "Approved deals are protected for 90 days.\n"
    ),
}
RESTRICTED_DOCS = {
    "elite/_audience.yml": "tiers: [Elite]\n",
    "elite/incentives.md": (
        "---\ntitle: Elite Incentive Guide\n---\n# Elite Incentive Guide\n## Growth rebate\n"
        "Elite partners earn the Quokka Growth Rebate (QGR) of 7% on net-new customer deals.\n"
        "The QGR is paid quarterly into the partner's Northwind account.\n"
    ),
    "elite/summit.md": (
        "---\ntitle: Elite Summit\naudience: everyone\n---\n# Elite Summit\n## Dates\n"
        "The Elite partner summit is held in Sydney every March.\n"
    ),
    "advanced-playbook.md": (
        "---\ntitle: Advanced Sales Playbook\naudience:\n  tiers: [Advanced]\n---\n"
        "# Advanced Sales Playbook\n## Co-selling\n"
        "Advanced partners may request a Wombat co-selling engineer for deals over USD 50,000.\n"
    ),
}
ELITE = Viewer.holding({"tiers": ["Elite"]}, name="Elite")
ADVANCED = Viewer.holding({"tiers": ["Advanced"]}, name="Advanced")
QUESTIONS = [
    "what rebate do elite partners earn on new customer deals?",
    "QGR percentage",
    "how is the quokka growth rebate paid",
    "can we get a co-selling engineer for a big deal?",
    "wombat engineer",
    "when is the elite summit",
    "how much is the annual fee",
    "how long are registered deals protected",
]


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def open_index(data_dir: Path) -> KnowledgeIndex:
    return KnowledgeIndex(data_dir=data_dir, embedder=default_embedder(16))


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[tuple[KnowledgeIndex, Path]]:
    docs = write(tmp_path / "docs", {**PUBLIC_DOCS, **RESTRICTED_DOCS})
    index = open_index(tmp_path / "data")
    report = index.sync(docs)
    assert report.ok, report.failed
    yield index, docs
    index.close()


def audiences(index: KnowledgeIndex) -> dict[str, str]:
    return {d["path"]: d["audience"] for d in index.documents()}


def test_front_matter_and_folder_audiences_are_stored_with_every_chunk(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    elite = Audience.parse({"tiers": ["Elite"]}).key
    advanced = Audience.parse({"tiers": ["Advanced"]}).key
    assert audiences(index) == {
        "renewal.md": "",
        "tiers.md": "",
        "deals.md": "",
        "elite/incentives.md": elite,  # its folder's _audience.yml
        "elite/summit.md": "",  # its own `audience: everyone` wins over its folder's
        "advanced-playbook.md": advanced,
    }
    by_doc = {c.doc_path: c.audience for c in index.live_chunks().values()}
    assert by_doc["elite/incentives.md"] == elite and by_doc["renewal.md"] == ""


def test_a_change_of_audience_alone_re_indexes_those_documents(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, docs = corpus
    (docs / "elite/_audience.yml").write_text("tiers: [Elite, Advanced]\n")
    report = index.sync(docs)
    assert report.updated == ["elite/incentives.md"]
    assert "elite/summit.md" in report.unchanged  # its own audience did not change
    assert Audience.from_key(audiences(index)["elite/incentives.md"]).tags("tiers") == (
        "Advanced",
        "Elite",
    )
    playbook = docs / "advanced-playbook.md"
    playbook.write_text(playbook.read_text().replace("tiers: [Advanced]", "tiers: [Member]"))
    assert index.sync(docs).updated == ["advanced-playbook.md"]
    assert "Member" in audiences(index)["advanced-playbook.md"]
    assert index.sync(docs).counts()["updated"] == 0  # nothing changed: nothing re-indexed


def test_a_broken_folder_audience_fails_its_documents_and_changes_nothing_indexed(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, docs = corpus
    before = audiences(index)
    (docs / "elite/_audience.yml").write_text("tiers: [Elite\n")
    (docs / "elite/new.md").write_text("# New\nA new Elite-only text about kangaroo bonuses.\n")
    report = index.sync(docs)
    failed = {f.path: f.reason for f in report.failed}
    assert set(failed) == {"elite/incentives.md", "elite/summit.md", "elite/new.md"}
    assert all(r.startswith("elite/_audience.yml: invalid YAML") for r in failed.values())
    assert audiences(index) == before  # still restricted as it was; nothing new searchable
    assert report.removed == []


def passages_of(retriever: Retriever, query: str, viewer: Viewer | None) -> list[str]:
    result = retriever.search(query, k=10, viewer=viewer)
    return [p.chunk.doc_path for p in result.passages]


def test_the_public_gets_no_restricted_passage_and_learns_nothing_from_one(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    retriever = Retriever(index)
    restricted = {"elite/incentives.md", "advanced-playbook.md"}
    seen: dict[str, set[str]] = {"public": set(), "elite": set(), "advanced": set()}
    for question in QUESTIONS:
        public = retriever.search(question, k=10, viewer=PUBLIC)
        seen["public"] |= {c.chunk.doc_path for c in public.candidates}
        seen["elite"] |= set(passages_of(retriever, question, ELITE))
        seen["advanced"] |= set(passages_of(retriever, question, ADVANCED))
    assert not seen["public"] & restricted  # not even a ranked candidate
    assert "elite/incentives.md" in seen["elite"] and "advanced-playbook.md" not in seen["elite"]
    assert (
        "advanced-playbook.md" in seen["advanced"] and "elite/incentives.md" not in seen["advanced"]
    )
    # The acronym only a restricted document defines is not learned for the public.
    assert (
        "quokka growth rebate" not in retriever.search("QGR?", viewer=PUBLIC).expanded_query.lower()
    )
    assert "Quokka Growth Rebate" in retriever.search("QGR?", viewer=ELITE).expanded_query
    assert "qgr" not in retriever.vocabulary(PUBLIC).acronyms.long_names
    assert "qgr" in retriever.vocabulary(None).acronyms.long_names  # (everything: an admin)
    assert set(passages_of(retriever, "QGR rebate", EVERYTHING)) >= {"elite/incentives.md"}


def test_public_retrieval_is_what_it_would_be_without_the_restricted_documents(
    corpus: tuple[KnowledgeIndex, Path], tmp_path: Path
) -> None:
    index, _ = corpus
    alone = open_index(tmp_path / "public-only")
    try:
        public_docs = {**PUBLIC_DOCS, "elite/summit.md": RESTRICTED_DOCS["elite/summit.md"]}
        assert alone.sync(write(tmp_path / "public-docs", public_docs)).ok
        with_restricted, without = Retriever(index), Retriever(alone)
        for question in QUESTIONS:
            a = with_restricted.search(question, k=8, viewer=PUBLIC)
            b = without.search(question, k=8, viewer=PUBLIC)
            assert [(p.doc_path, p.text) for p in a.passages] == [
                (p.doc_path, p.text) for p in b.passages
            ], question
            assert [round(p.score, 6) for p in a.passages] == [
                round(p.score, 6) for p in b.passages
            ], question
            assert a.signals.keys() == b.signals.keys()
            for name, value in a.signals.items():
                assert value == pytest.approx(b.signals[name], abs=1e-6), (question, name)
    finally:
        alone.close()


def test_a_part_is_searched_exactly_and_finds_what_chroma_finds_among_its_chunks(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    scope = index.scope(ADVANCED)
    assert scope.key and scope.chunks < scope.total
    vector = index.embedder.embed(["a co-selling engineer for large deals"])[0]
    exact = index.dense_search(vector, 5, viewer=ADVANCED)
    # Chroma over the whole collection (a small one: its search is exact here), the chunks
    # the viewer may not read left out.
    every = index.live_chunks()
    found = index._current().collection.query(
        query_embeddings=[list(map(float, vector))], n_results=len(every), include=["distances"]
    )
    chroma = [
        (cid, 1.0 - d)
        for cid, d in zip(found["ids"][0], found["distances"][0], strict=True)
        if cid in every and ADVANCED.sees_key(every[cid].audience)
    ][:5]
    assert [cid for cid, _ in exact] == [cid for cid, _ in chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-4)
    chunks = index.chunks(cid for cid, _ in exact)
    assert all(ADVANCED.sees_key(c.audience) for c in chunks.values())


def test_a_new_generation_keeps_each_viewer_to_its_own_documents(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, docs = corpus
    retriever = Retriever(index)
    assert "elite/incentives.md" in passages_of(retriever, "QGR rebate", ELITE)
    (docs / "deals.md").write_text(PUBLIC_DOCS["deals.md"] + "Deals expire after a year.\n")
    assert index.sync(docs).generation is not None
    assert "elite/incentives.md" in passages_of(retriever, "QGR rebate", ELITE)
    assert "elite/incentives.md" not in passages_of(retriever, "QGR rebate", PUBLIC)
    assert "Deals expire" in " ".join(
        p.text for p in retriever.search("when do deals expire", viewer=PUBLIC).passages
    )


def test_what_a_viewer_learns_comes_from_its_audiences_each_learned_once(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    learned: list[set[str]] = []

    def learn(chunks: list[Chunk]) -> set[str]:
        assert chunks == sorted(chunks, key=lambda c: c.id)
        paths = {c.doc_path for c in chunks}
        assert len({c.audience for c in chunks}) == 1  # one audience per piece
        learned.append(paths)
        return paths

    def build(view: IndexView) -> set[str]:
        return set().union(*view.pieces("paths", learn))

    public = {"renewal.md", "tiers.md", "deals.md", "elite/summit.md"}
    assert index.derived("probe", build, viewer=ELITE) == public | {"elite/incentives.md"}
    assert index.derived("probe", build, viewer=ADVANCED) == public | {"advanced-playbook.md"}
    assert index.derived("probe", build, viewer=PUBLIC) == public
    # The public documents were learned from once, for the first viewer; each restricted
    # audience once, for the first viewer who reads it.
    assert learned == [public, {"elite/incentives.md"}, {"advanced-playbook.md"}]
    both = Viewer.of([("tiers", ["Advanced", "Elite"])], name="an Elite and Advanced channel")
    assert index.derived("probe", build, viewer=both) == public
    assert len(learned) == 3


def test_a_viewer_s_part_is_worked_out_once_per_generation(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    scope = index.scope(ELITE)
    assert index.scope(Viewer.holding({"tiers": ["Elite"]}, name="another Elite")) is scope
    assert scope.audiences == {"", Audience.parse({"tiers": ["Elite"]}).key}
    assert index.scope(ADVANCED) is not scope


def test_a_viewer_s_bm25_and_vocabulary_are_those_of_its_part_alone(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, _ = corpus
    retriever = Retriever(index)
    retriever.search("QGR", viewer=ADVANCED)  # another viewer's part first
    part = sorted(
        (c for c in index.live_chunks().values() if ELITE.sees_key(c.audience)),
        key=lambda c: c.id,
    )
    lexical, headings, vocabulary = retriever._refresh(ELITE)
    alone = index_module._lexical_of({c.id: c for c in part})
    assert lexical.ids == alone.ids
    for query in QUESTIONS:
        assert lexical.search(query, 10) == alone.search(query, 10), query
    texts = [t for c in part for t in (c.title, c.section_label, c.text)]
    assert vocabulary.acronyms == Acronyms.learn(texts)
    titles = LexicalIndex.build(
        [c.id for c in part], [f"{c.title} {c.section_label}" for c in part]
    )
    assert headings.search("elite incentive growth rebate", 5) == titles.search(
        "elite incentive growth rebate", 5
    )


def test_a_new_generation_learns_again_only_from_audiences_whose_documents_changed(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, docs = corpus
    learned: list[set[str]] = []

    def learn(chunks: list[Chunk]) -> tuple[str, ...]:
        learned.append({c.doc_path for c in chunks})
        return tuple(c.text for c in chunks)

    def build(view: IndexView) -> str:
        return "\n".join(t for piece in view.pieces("texts", learn) for t in piece)

    assert "Deals expire" not in index.derived("probe", build, viewer=ELITE)
    assert len(learned) == 2
    (docs / "deals.md").write_text(PUBLIC_DOCS["deals.md"] + "Deals expire after a year.\n")
    assert index.sync(docs).generation is not None
    again = learned[2:]  # prepared before questions switched to the new generation
    assert {"renewal.md", "tiers.md", "deals.md", "elite/summit.md"} in again
    assert {"elite/incentives.md"} not in again  # unchanged: taken from the generation before
    text = index.derived("probe", build, viewer=ELITE)
    assert "Deals expire" in text and "Quokka Growth Rebate" in text
    assert len(learned) == 2 + len(again)


def test_a_viewer_s_first_question_does_not_wait_while_the_next_generation_is_prepared(
    corpus: tuple[KnowledgeIndex, Path],
) -> None:
    index, docs = corpus
    current = index.generation()
    preparing, release = threading.Event(), threading.Event()

    def slow(view: IndexView) -> int:
        if view.generation != current:  # the next generation, before questions switch to it
            preparing.set()
            release.wait(timeout=30)
        return view.generation

    assert index.derived("slow", slow, viewer=ELITE) == current
    (docs / "deals.md").write_text(PUBLIC_DOCS["deals.md"] + "Deals expire after a year.\n")
    syncing = threading.Thread(target=index.sync, args=(docs,))
    syncing.start()
    try:
        assert preparing.wait(timeout=30)
        # Another viewer's first question, on the generation still answered from.
        answered: list[int] = []
        asking = threading.Thread(
            target=lambda: answered.append(
                index.derived("first", lambda view: view.generation, viewer=ADVANCED)
            ),
            daemon=True,
        )
        asking.start()
        asking.join(timeout=10)
        assert answered == [current]
    finally:
        release.set()
        syncing.join(timeout=30)
    assert index.generation() > current
