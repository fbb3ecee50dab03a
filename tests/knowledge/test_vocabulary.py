from __future__ import annotations

from knowledge.acronyms import Acronyms
from knowledge.glossary import Glossary
from knowledge.vocabulary import Vocabulary

DOCS = [
    "Partners are ranked by their Partner Capability Score (PCS).",
    "The Datadog Partner Network (DPN) has three tiers.",
    "Managed Service Providers (MSPs) hold the subscription.",
    "Contact us at partner-support@example.com; it is free for us.",
    "The US office (United States) and the admin org are listed.",  # "us" is a word here
]


def test_acronyms_and_long_names_are_learned_from_the_documents() -> None:
    acronyms = Acronyms.learn(DOCS)
    assert acronyms.long_names["pcs"] == "Partner Capability Score"
    assert acronyms.long_names["dpn"] == "Datadog Partner Network"
    assert acronyms.long_names["msp"] == "Managed Service Providers"
    # Words in parentheses that spell nothing before them are not acronyms.
    assert "united" not in acronyms.long_names


def test_a_question_gets_both_names_of_what_it_asks_about() -> None:
    vocabulary = Vocabulary(acronyms=Acronyms.learn(DOCS))
    assert "Partner Capability Score" in vocabulary.expand("whats our pcs?").text
    assert "(PCS)" in vocabulary.expand("how is the partner capability score computed").text
    terms = vocabulary.expand("dpn tiers for MSPs")
    assert "Datadog Partner Network" in terms.text and "Managed Service Providers" in terms.text
    # Either wording covers the concept.
    assert terms.coverage(frozenset({"datadog", "partner", "network", "tier", "msp"})) == 1.0


def test_an_acronym_that_is_also_an_ordinary_word_needs_capitals() -> None:
    docs = [*DOCS, "Our reporting uses Usage Statistics (US) for billing."]
    vocabulary = Vocabulary(acronyms=Acronyms.learn(docs))
    assert "Usage Statistics" not in vocabulary.expand("can us partners sell").text
    assert "Usage Statistics" in vocabulary.expand("what is US in the bill").text


def test_shorthand_is_expanded_only_when_the_documents_use_the_long_word() -> None:
    idf = {"requir": 1.0, "req": 9.0, "org": 1.0, "organ": 5.0, "organiz": 5.0}
    vocabulary = Vocabulary(idf=lambda t: idf.get(t, 9.0))
    assert "requirements" in vocabulary.expand("gold reqs?").text
    # The documents say "Admin Org" more than "organization": leave "org" alone.
    assert vocabulary.expand("admin org access").text == "admin org access"


def test_glossary_terms_still_apply_and_words_no_document_uses_are_counted() -> None:
    glossary = Glossary.parse("terms:\n  gold: Advanced\n")
    known = {"advanc", "csat", "rule"}
    vocabulary = Vocabulary(glossary=glossary, known=lambda t: t in known)
    terms = vocabulary.expand("csat rule for gold in vegas")
    assert "Advanced" in terms.text
    assert 0 < terms.unknown_share < 0.5  # "vegas": a word no document uses
