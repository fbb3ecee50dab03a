from __future__ import annotations

from datetime import date

from bot.answering.extractive import MAX_WORDS, ExtractiveComposer, same_subject
from knowledge.documents import Chunk, Passage
from knowledge.glossary import Glossary

GLOSSARY = Glossary.parse("terms:\n  gold: Advanced\n  Gold Certified: Advanced\n")


def passage(
    text: str,
    *,
    doc: str = "a.md",
    section: tuple[str, ...] = ("Section",),
    when: date | None = None,
    n: int = 0,
    title: str | None = None,
) -> Passage:
    chunk = Chunk(f"{doc}-{n}", doc, title or doc.title(), section, text, n, when)
    return Passage(chunk, 1.0 / (n + 1))


def compose(question: str, *passages: Passage) -> str:
    composer = ExtractiveComposer(glossary=lambda: GLOSSARY)
    result = composer.compose(question, list(passages))
    assert result is not None
    return result.text


def test_a_sentence_that_introduces_a_list_brings_its_items() -> None:
    text = compose(
        "what do we need for advanced tier",
        passage(
            "Advanced is the tier for partners with proven capability.\n"
            "To be an Advanced partner, a company must:\n"
            "- hold at least 1 active competency;\n"
            "- have at least 6 certified individuals;\n"
            "- have at least USD 250,000 in revenue.\n"
            "Certified individuals must be employees of the partner."
        ),
    )
    lead = "To be an Advanced partner, a company must: [1]"
    assert lead in text
    items = ["- hold at least 1 active competency", "- have at least 6 certified individuals"]
    for item in items:
        assert item in text
    # In document order, right after the sentence that introduces them.
    assert text.index(lead) < text.index(items[0]) < text.index(items[1])
    assert "USD 250,000" in text


def test_table_rows_without_an_introduction_are_named_by_their_section() -> None:
    text = compose(
        "csat deadline for member partners",
        passage(
            "- Tier: Advanced; Minimum survey responses: 10; Deadline: 2027-03-31.\n"
            "- Tier: Member; Minimum survey responses: 3; Deadline: 2027-06-30.",
            section=("CSAT", "Requirements by tier"),
        ),
    )
    assert text.startswith("Requirements by tier [1]:")
    assert "- Tier: Member; Minimum survey responses: 3; Deadline: 2027-06-30." in text


def test_the_answer_stays_short_and_cites_every_part() -> None:
    long_doc = "\n".join(
        f"Partners must complete survey step {i} with responses." for i in range(40)
    )
    text = compose("survey responses partners must complete", passage(long_doc))
    words = [w for w in text.split() if not (w.startswith("[") and w.endswith("]"))]
    assert len(words) <= MAX_WORDS
    assert text.rstrip().endswith("[1]")


def test_a_second_passage_answers_the_other_half_of_the_question() -> None:
    text = compose(
        "sales specialist vs support specialist cert - how long is each?",
        passage("The Sales Specialist path takes about 2 hours of training.", doc="a.md"),
        passage("The Support Specialist path takes about 5 hours of training.", doc="b.md", n=1),
    )
    assert "2 hours" in text and "5 hours" in text
    assert "[1]" in text and "[2]" in text


def test_lines_repeated_by_overlapping_chunks_are_quoted_once() -> None:
    same = "Advanced partners need 10 survey responses by 2027-03-31."
    text = compose(
        "how many survey responses do advanced partners need",
        passage(same, n=0),
        passage(same + "\nMember partners need 3.", n=1),
    )
    assert text.count("10 survey responses") == 1


def test_no_overlap_no_claim() -> None:
    composer = ExtractiveComposer()
    assert composer.compose("vegas summit tickets", [passage("Invoices are monthly.")]) is None


def test_newer_document_wins_a_contradiction_on_the_same_subject() -> None:
    old = passage(
        "Gold Certified partners earn MDF at 3% of Northwind revenue.",
        doc="old.md",
        section=("Market development funds (MDF)", "How MDF is earned"),
        when=date(2025, 1, 15),
        title="Benefits Guide 2025",
    )
    new = passage(
        "Advanced partners earn MDF at 2% of eligible Northwind revenue.",
        doc="new.md",
        section=("Market development funds (MDF)", "Earning MDF"),
        when=date(2026, 9, 1),
        n=1,
        title="Partner Benefits Update 2026",
    )
    composer = ExtractiveComposer(glossary=lambda: GLOSSARY)
    result = composer.compose("gold partner mdf rate", [old, new])
    assert result is not None
    assert "2%" in result.text and "3%" not in result.text
    note = "As of 2026-09-01, Partner Benefits Update 2026 replaces what Benefits Guide 2025"
    assert f"{note} (2025-01-15) said [2]." in result.text
    assert result.superseded == ((2, 1),)


def test_no_supersession_between_documents_about_different_things() -> None:
    # The near miss: the CSAT rule and the locator's star rating both count
    # survey responses, with different numbers, in documents of different dates.
    locator = passage(
        "The listing shows the partner's average customer satisfaction score as stars once "
        "the partner has at least 5 survey responses.",
        doc="partner-locator.md",
        section=("Customer satisfaction on the listing",),
        when=date(2026, 7, 1),
        title="Partner Locator Listing",
    )
    csat = passage(
        "Advanced partners must have at least 10 CSAT survey responses with an average "
        "score of at least 4.2 by 2027-03-31.",
        doc="csat-requirement.md",
        section=("Requirements by tier", "Advanced partners"),
        when=date(2026, 8, 15),
        n=1,
        title="Customer Satisfaction Survey (CSAT) Requirement",
    )
    composer = ExtractiveComposer(glossary=lambda: GLOSSARY)
    for order in ([locator, csat], [csat, locator]):
        result = composer.compose("@here what is the CSAT rule for gold?", order)
        assert result is not None
        assert "replaces" not in result.text
        assert result.superseded == ()


def test_same_subject_needs_the_same_topic_the_same_names_and_other_figures() -> None:
    section = frozenset({"mdf"})
    old = "Gold Certified partners earn MDF at 3% of Northwind revenue."
    assert same_subject(
        old, "Advanced partners earn MDF at 2% of Northwind revenue.", section, section, GLOSSARY
    )
    # Another tier's allowance is another subject, not a change.
    assert not same_subject(
        "Member partners receive 10 Internal-Use Licenses.",
        "Elite partners receive 150 Internal-Use Licenses.",
        frozenset({"licens"}),
        frozenset({"licens"}),
        GLOSSARY,
    )
    # Sections about different things.
    assert not same_subject(
        old,
        "Advanced partners earn MDF at 2% of Northwind revenue.",
        frozenset({"mdf"}),
        frozenset({"support"}),
        GLOSSARY,
    )
    # A newer document restating the old figure does not contradict it.
    assert not same_subject(
        old, "The 2025 guide set MDF for Gold Certified partners at 3%.", section, section, GLOSSARY
    )


def test_a_list_item_too_long_to_quote_whole_is_quoted_by_its_best_sentences() -> None:
    filler = " ".join(["The customer should find the details in the portal."] * 6)
    text = compose(
        "how fast do we have to contact the customer after they subscribe",
        passage(
            "All products must follow these guidelines:\n"
            f"- {filler} After subscribing, customers must be contacted by you within two "
            f"business days of subscription. {filler}\n"
            "- Products should have clear service terms."
        ),
    )
    assert "within two business days of subscription" in text
    assert len(text.split()) <= MAX_WORDS + 10
