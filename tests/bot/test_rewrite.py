"""Follow-up rewriting: the subject is carried through the whole conversation."""

from __future__ import annotations

from bot.answering.rewrite import rewrite_followup
from bot.models import Turn
from knowledge.documents import Chunk
from knowledge.glossary import Glossary
from knowledge.kinds import NameKinds, learn_kinds, name_tokens

GLOSSARY = Glossary.parse(
    "terms:\n  gold: Advanced\n  regular tier: Member\n"
    "groups:\n  tier: [Elite, Advanced, Member, gold, regular tier]\n"
)
NO_GLOSSARY = Glossary()
# What knowledge/kinds.py learns from a vendor that has tiers and tracks but no glossary.
LEARNED = NameKinds(
    {
        "tier": frozenset(name_tokens(n) for n in ("Registered", "Select", "Premier")),
        "track": frozenset(
            name_tokens(n) for n in ("Reseller", "Managed Services Provider", "MSP", "Integrator")
        ),
    },
    {
        name_tokens("MSP"): frozenset(
            {name_tokens("MSP"), name_tokens("Managed Services Provider")}
        ),
        name_tokens("Managed Services Provider"): frozenset(
            {name_tokens("MSP"), name_tokens("Managed Services Provider")}
        ),
    },
)


def standalone(*turns: str, glossary: Glossary = GLOSSARY, kinds: NameKinds | None = None) -> str:
    *earlier, last = turns
    return rewrite_followup(last, tuple(Turn("user", t) for t in earlier), glossary, kinds).lower()


def test_three_turns_keep_the_subject_and_the_latest_tier() -> None:
    query = standalone(
        "whats the new CSAT rule for gold?? deadline?", "and for member tier?", "and elite?"
    )
    assert "csat" in query and "rule" in query and "elite" in query
    assert "member" not in query and "gold" not in query


def test_four_turns_keep_the_subject_through_a_pronoun_question() -> None:
    query = standalone(
        "whats the new CSAT rule for gold?? deadline?",
        "and for member tier?",
        "and elite?",
        "deadline for that?",
    )
    assert query.startswith("deadline")
    assert "csat" in query and "elite" in query
    assert "member" not in query and "gold" not in query


def test_an_aspect_question_borrows_the_subject_without_carrying_its_own_words() -> None:
    query = standalone(
        "how do we request an admin org?",
        "does it need its own contract?",
        "how long does that take?",
    )
    assert "admin org" in query and "request" in query
    assert "contract" not in query


def test_a_self_contained_question_starts_a_new_subject() -> None:
    fresh = "How do I register a deal in the partner portal?"
    assert standalone("whats the csat rule for gold?", "and member?", fresh) == fresh.lower()
    query = standalone("whats the csat rule for gold?", fresh, "and for elite partners?")
    assert "deal" in query and "csat" not in query


def test_acknowledgements_in_the_history_carry_no_subject() -> None:
    query = standalone("whats the csat rule for gold?", "thanks!", "👍", "and for member tier?")
    assert "csat" in query and "member" in query
    assert "thanks" not in query and "gold" not in query


def test_learned_kinds_swap_another_vendors_names_without_a_glossary() -> None:
    turns = ["what are the premier tier requirements for MSPs?", "and for resellers?"]
    query = standalone(*turns, glossary=NO_GLOSSARY, kinds=LEARNED)
    assert "resellers" in query and "premier" in query
    assert "msp" not in query
    turns += ["what about select tier?"]
    query = standalone(*turns, glossary=NO_GLOSSARY, kinds=LEARNED)
    assert "select" in query and "resellers" in query and "requirements" in query
    assert "premier" not in query and "msp" not in query
    turns += ["and managed services providers?"]
    query = standalone(*turns, glossary=NO_GLOSSARY, kinds=LEARNED)
    assert "managed services providers" in query and "select" in query
    assert "resellers" not in query


def test_without_kinds_names_are_added_not_swapped() -> None:
    # Nothing says "resellers" and "MSPs" are of one kind: keep both rather than guess.
    query = standalone(
        "what are the premier tier requirements for MSPs?",
        "and for resellers?",
        glossary=NO_GLOSSARY,
    )
    assert "resellers" in query and "msps" in query


def test_one_then_and_anything_about_lean_on_the_conversation() -> None:
    query = standalone(
        "how long do trial orgs from the admin org last?", "who gets told when we create one?"
    )
    assert "trial" in query and "told" in query
    query = standalone(
        "what do we need to sell paid products?", "do we have to give VAT info then?"
    )
    assert "vat" in query and "paid" in query
    query = standalone(
        "what changed in the seller guide in 2021?", "anything about private offers?"
    )
    assert "private offers" in query and "2021" in query
    # Counting is not a pronoun: a self-contained question stays as it is.
    fresh = "is one year of membership enough for the Advanced tier?"
    assert standalone("what changed in 2021?", fresh) == fresh.lower()


def test_a_follow_up_does_not_inherit_how_the_first_question_was_asked() -> None:
    query = standalone("how long does deal reg protection last?", "can we extend it?")
    assert "protection" in query and "extend" in query
    assert "long" not in query


def test_a_definite_mention_of_the_earlier_subject_keeps_it() -> None:
    query = standalone(
        "which categories can a professional services listing use?",
        "how many marketplace products can the service be tied to?",
    )
    assert "professional" in query and "tied" in query
    # "the partner portal" names nothing said before: a new subject.
    fresh = "where is the partner portal login page?"
    assert standalone("what changed in the seller guide in 2021?", fresh) == fresh.lower()


def test_a_follow_up_ending_in_too_or_then_adds_its_own_words_to_the_subject() -> None:
    query = standalone(
        "single org vs multi org for our MSP customers?",
        "should we split dev/test/prod into separate orgs too?",
        "how do we keep the environments apart then?",
    )
    assert "environments" in query and "prod" in query and "multi org" in query


def chunk(text: str, title: str, *section: str, n: int = 0) -> Chunk:
    return Chunk(f"{title}-{n}", f"{title}.md", title, tuple(section), text, n)


# What knowledge/kinds.py learns from a marketplace seller guide: its tiers, the acronyms
# it writes, the word pairs of its titles and headings.
SELLER_GUIDE = learn_kinds(
    [
        chunk(
            "Buyers can't subscribe to a professional services product directly: they "
            "request a private offer. Offers above $250,000 need approval.",
            "Getting started with professional services",
            "Responding to private offer requests",
        ),
        chunk(
            "The ISV sets up the resale authorization. The ISV chooses the discount.",
            "ISV information",
            n=1,
        ),
        chunk("Sellers belong to three tiers: Member, Advanced, and Elite.", "Tiers", n=2),
        chunk("Register each deal before you quote it.", "Deal Registration Rules", n=3),
    ]
)
START = "we want to sell professional services on marketplace"


def test_a_short_question_naming_nothing_of_its_own_asks_about_the_subject() -> None:
    query = standalone(START, "can buyers just click subscribe?", kinds=SELLER_GUIDE)
    assert "professional services" in query and "subscribe" in query
    query = standalone(
        START,
        "can buyers just click subscribe?",
        "ok and if the deal is over 250k?",
        kinds=SELLER_GUIDE,
    )
    assert "professional services" in query and "250k" in query


def test_a_short_question_that_names_something_of_its_own_starts_a_new_subject() -> None:
    for fresh in (
        "how do deal registrations work?",  # the words of a heading, in another order
        "what does the isv have to set up?",  # an acronym the documents write
        "what do elite partners earn?",  # a name of a kind (a tier)
    ):
        assert standalone(START, fresh, kinds=SELLER_GUIDE) == fresh.lower()


def test_only_a_short_question_without_a_subject_borrows_one() -> None:
    # Longer, or not a question, or nothing learned from the documents: it stands alone.
    for fresh in ("can buyers pay by credit card?", "buyers just click subscribe"):
        assert standalone(START, fresh, kinds=SELLER_GUIDE) == fresh.lower()
    bare = "can buyers just click subscribe?"
    assert standalone(START, bare, glossary=NO_GLOSSARY) == bare
