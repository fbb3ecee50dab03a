from __future__ import annotations

from knowledge.acronyms import AcronymCounts, Acronyms, ClippingCounts, Clippings
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


def test_words_that_say_how_a_question_is_asked_are_not_concepts() -> None:
    vocabulary = Vocabulary()
    terms = vocabulary.expand("how much MDF per year vs last year, doesnt it change?")
    stems = {t for c in terms.concepts for alt in c.alternatives for t in alt}
    assert {"mdf", "year", "last", "chang"} <= stems
    assert not stems & {"much", "per", "vs", "doesnt"}
    # Still searched for: only the concepts a passage must cover leave them out.
    assert terms.text.startswith("how much MDF per year")
    # "long" is a concept when it is not what "how" asks.
    assert any(
        {"long"} == alt
        for c in vocabulary.expand("long term deals").concepts
        for alt in c.alternatives
    )


def test_another_form_of_a_word_the_documents_use_covers_it() -> None:
    known = {"partner", "request", "extens", "protect", "give"}
    vocabulary = Vocabulary(known=lambda t: t in known)
    terms = vocabulary.expand("can we extend the protection we gave?")
    # "extend" and "gave" are not in the documents, "extension" and "give" are.
    assert terms.unknown_share == 0.0
    assert terms.coverage(frozenset({"extens", "protect", "give"})) == 1.0
    assert "extens" in terms.text  # searched for too


def test_a_figure_no_document_has_is_the_partners_case_not_a_subject() -> None:
    vocabulary = Vocabulary(known=lambda t: t in {"privat", "offer", "over", "approv"})
    terms = vocabulary.expand("private offer over 300k, approval?")
    assert terms.unknown_share == 0.0
    assert all("300k" not in alt for c in terms.concepts for alt in c.alternatives)


def test_clipped_words_are_read_from_the_words_the_documents_write_next_to_them() -> None:
    docs = [
        "Professional services products must be listed in a category.",
        "Sellers offer professional services to buyers.",
        "Our professional services team answers within a day.",
        "A service provider manages the account.",
    ]
    clippings = Clippings.learn(docs)
    assert clippings.full_word("pro", previous=None, following="servic") == "professional"
    # Without a neighbour the documents pair it with, a clipped word is left alone.
    assert clippings.full_word("pro", previous=None, following="account") is None
    idf = {"pro": 6.0, "profession": 2.0}
    vocabulary = Vocabulary(clippings=clippings, idf=lambda t: idf.get(t, 3.0))
    terms = vocabulary.expand("pro services listing reqs")
    assert "professional" in terms.text and "professional" in terms.dense_text
    assert terms.coverage(frozenset({"profession", "servic", "list", "req"})) == 1.0
    # A word the documents use more than the long one is not a clipping ("org" in "Admin Org").
    common = Vocabulary(clippings=clippings, idf=lambda t: {"pro": 1.0}.get(t, 3.0))
    assert "professional" not in common.expand("pro services listing").text


def test_acronyms_learned_per_group_of_documents_are_those_learned_from_all() -> None:
    texts = [
        *DOCS,
        "Partners in the Partner Capability Scheme (PCS) get badges.",  # PCS a second time
        "The Partner Capability Scheme (PCS) is new.",
        "A Partner Capability Score (PCS) above 80 is good.",
        "Quarterly Business Reviews (QBRs) are held with Elite partners.",
        "Ask the dpn desk for help.",  # an acronym written as a plain word
    ]
    places = list(enumerate(texts))
    groups = [places[::3], places[1::3], places[2::3]]
    pieces = [AcronymCounts.of((("", i), t) for i, t in group) for group in groups]
    whole = Acronyms.learn(texts)
    joined = Acronyms.joined(pieces)
    assert list(joined.long_names.items()) == list(whole.long_names.items())
    assert joined.ordinary == whole.ordinary == {"dpn"}
    # Two long names as frequent: the one written first, as when learned from all.
    assert joined.long_names["pcs"] == "Partner Capability Score"
    # Learned from some groups only: nothing of the others.
    some = Acronyms.joined([pieces[0]])
    assert some.long_names == Acronyms.learn([t for _, t in groups[0]]).long_names
    assert "qbr" not in some.long_names


def test_clippings_counted_per_group_of_documents_read_as_if_counted_over_all() -> None:
    docs = [
        "Professional services products must be listed in a category.",
        "Sellers offer professional services to buyers.",
        "Our professional services team answers within a day.",
        "Provider services are listed too.",
    ]
    whole = Clippings.learn(docs)
    apart = Clippings(tuple(ClippingCounts.of([d]) for d in docs))
    for clipped, following in (("pro", "servic"), ("prof", "servic"), ("pro", "account")):
        assert apart.full_word(clipped, previous=None, following=following) == whole.full_word(
            clipped, previous=None, following=following
        )
    assert apart.full_word("pro", previous=None, following="servic") == "professional"
    # Only the groups a viewer reads count: without the "professional" ones, no clipping.
    assert Clippings(apart.pieces[3:]).full_word("pro", previous=None, following="servic") is None
