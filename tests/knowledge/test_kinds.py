"""Names of one kind learned from the documents (no glossary needed)."""

from __future__ import annotations

from knowledge.documents import Chunk
from knowledge.kinds import kinds_of, learn_kinds, name_tokens, seen_in


def chunk(text: str, *section: str, doc: str = "guide.md", n: int = 0) -> Chunk:
    return Chunk(f"{doc}-{n}", doc, doc, tuple(section), text, n)


def rivals(kinds: object, name: str) -> set[str]:
    return {" ".join(n) for n in kinds.rivals(name_tokens(name))}  # type: ignore[attr-defined]


def test_enumerations_that_name_their_kind() -> None:
    kinds = learn_kinds(
        [
            chunk("The program includes three tiers: Registered, Basic, and Gold."),
            chunk(
                "There are three designated tracks: Managed Services Provider (MSPs), "
                "Reseller, and Consulting and SI Tracks.",
                n=1,
            ),
        ]
    )
    assert rivals(kinds, "Gold") == {"regist", "basic"}
    track = rivals(kinds, "Reseller")
    assert {"manag servic provid", "msp", "consult si"} <= track
    # An acronym names the same member: never its own rival.
    assert "manag servic provid" not in rivals(kinds, "MSPs")


def test_names_followed_by_their_kind() -> None:
    kinds = learn_kinds([chunk("Partners earn more through the Silver and Platinum levels.")])
    assert rivals(kinds, "Platinum") == {"silver"}


def test_first_table_column() -> None:
    text = (
        "Tier: Member; Minimum responses: 3; Deadline: 2027-06-30.\n"
        "Tier: Advanced; Minimum responses: 10; Deadline: 2027-03-31.\n"
        "Tier: Elite; Minimum responses: 25; Deadline: At application."
    )
    kinds = learn_kinds([chunk(text)])
    assert rivals(kinds, "Elite") == {"member", "advanc"}
    assert not rivals(kinds, "3")  # figures are not names


def test_sibling_headings_ending_in_the_same_noun() -> None:
    kinds = learn_kinds(
        [
            chunk("Sell to end customers.", "Tracks", "Reseller Track"),
            chunk("Run customer environments.", "Tracks", "Hosting Provider Track", n=1),
            # Sentence-case headings prove nothing: "Conflicts between partners".
            chunk("Who wins a tie.", "Rules", "Conflicts between partners", n=2),
            chunk("Who may apply.", "Rules", "Elite partners", n=3),
        ]
    )
    assert rivals(kinds, "Reseller") == {"host provid"}
    assert not rivals(kinds, "Elite")  # its only sibling was sentence case


def test_headings_of_different_documents_are_not_siblings() -> None:
    kinds = learn_kinds(
        [
            chunk("a", "Reseller Track", doc="a.md"),
            chunk("b", "Renewal Track", doc="b.md"),
        ]
    )
    assert not kinds.groups


def test_plain_prose_teaches_nothing() -> None:
    kinds = learn_kinds(
        [chunk("Partners nominate customers after a project. Northwind sends a survey.")]
    )
    assert not kinds.groups


def mentions(kinds: object, question: str) -> bool:
    return kinds.names_a_term(name_tokens(question))  # type: ignore[attr-defined]


def test_acronyms_written_again_and_heading_word_pairs_are_named_things() -> None:
    kinds = learn_kinds(
        [
            chunk("Each ISV signs the EULA. The ISV sets the price.", "Severity levels", n=0),
            chunk("NOTE: resellers read the EULA first.", "Response times and SLAs", n=1),
        ]
    )
    assert mentions(kinds, "does the isv pay?")  # written in capitals twice
    assert mentions(kinds, "which eula applies?")
    assert not mentions(kinds, "is there a note?")  # shouted once is not a name
    assert mentions(kinds, "how fast is the response time?")
    assert mentions(kinds, "what do the levels of severity mean?")  # either order
    assert not mentions(kinds, "how fast do we answer?")
    assert not mentions(kinds, "can buyers click subscribe?")


def test_kinds_learned_per_group_of_documents_are_those_learned_from_all() -> None:
    chunks = [
        chunk("The program includes three tiers: Registered, Basic, and Gold.", doc="a.md"),
        chunk("Sell to end customers.", "Tracks", "Reseller Track", doc="b.md"),
        chunk("Run customer environments.", "Tracks", "Hosting Provider Track", doc="b.md", n=1),
        chunk("Partners earn more through the Silver and Platinum tiers.", doc="c.md"),
        chunk("Each ISV signs the EULA.", "Severity levels", doc="d.md"),
        chunk("The ISV sets the price.", "Response times", doc="e.md"),
    ]
    whole = learn_kinds(chunks)
    groups = [chunks[:1], chunks[1:3], chunks[3:5], chunks[5:]]
    joined = kinds_of([seen_in(group) for group in groups])
    assert joined.groups == whole.groups and joined.aliases == whole.aliases
    assert joined.terms == whole.terms
    assert rivals(joined, "Gold") == {"regist", "basic", "silver", "platinum"}
    assert mentions(joined, "does the isv pay?")  # written twice, in two groups
    alone = kinds_of([seen_in(groups[0])])
    assert rivals(alone, "Gold") == {"regist", "basic"}
    assert not mentions(alone, "does the isv pay?") and not mentions(alone, "response time")
