from __future__ import annotations

from knowledge.chunking import MAX_WORDS, chunk_document, embedding_text, split_sentences
from knowledge.documents import Document, Section
from knowledge.embeddings import MAX_TOKENS, default_embedder
from knowledge.formats import load_markdown


def test_sentences_keep_abbreviations() -> None:
    assert split_sentences("Use e.g. the portal. Then submit. Done!") == [
        "Use e.g. the portal.",
        "Then submit.",
        "Done!",
    ]


def test_chunks_fit_the_embedder_and_never_split_sentences() -> None:
    sentences = [
        f"Sentence number {i} says partners must do thing {i} by the deadline." for i in range(80)
    ]
    doc = Document(
        path="long.md", title="Long", sections=(Section(("Rules",), " ".join(sentences)),)
    )
    chunks = chunk_document(doc)
    assert len(chunks) > 3
    embedder = default_embedder()
    for chunk in chunks:
        assert len(chunk.text.split()) <= MAX_WORDS
        assert embedder.count_tokens(embedding_text(chunk)) <= MAX_TOKENS
        for line in chunk.text.split("\n"):
            assert line in sentences  # whole sentences only
    # A small overlap: consecutive chunks share a sentence.
    assert chunks[0].text.split("\n")[-1] == chunks[1].text.split("\n")[0]


def test_tables_and_lists_stay_readable_with_section_paths() -> None:
    doc = load_markdown(
        b"# Consolidation\n## Competencies\n### Mapping\n"
        b"| Old name | New name |\n|---|---|\n"
        b"| Application Development | Software Development |\n\n"
        b"- Two certified people\n- Three customer references\n",
        "c.md",
    )
    (chunk,) = chunk_document(doc)
    assert chunk.section_label == "Competencies › Mapping"
    assert "Old name: Application Development; New name: Software Development." in chunk.text
    # List items and table rows are marked as such, so an answer can quote a list whole.
    assert "- Two certified people." in chunk.text.split("\n")
