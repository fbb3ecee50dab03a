"""Program-change records, answers, notes, digests and publishing (no index needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app import App
from bot.changes.answers import answer_from_records, is_change_question, with_change_note
from bot.changes.digest import DigestResult, build_digest, focus
from bot.changes.periods import parse_since, period_in
from bot.cli.main import app
from bot.config import Settings
from bot.errors import ConfigError, LLMError, UserError
from bot.models import Actor, Answer, Citation, Notice, Question
from bot.prompts import message
from knowledge.changes import SectionChange, SentenceEdit
from knowledge.formats import load_markdown
from knowledge.index import SyncReport
from tests.fakes.openai_server import FakeOpenAI

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
THIS_QUARTER = "2026-11-20T08:00:00+00:00"
LAST_QUARTER = "2026-08-03T08:00:00+00:00"

SECURITY = SectionChange(
    "competency-requirements.md",
    "Competency Requirements 2026",
    ("Security", "Security requirements"),
    "changed",
    (
        SentenceEdit(
            "The partner must have at least 3 certified individuals who have passed NW-310.",
            "The partner must have at least 4 certified individuals who have passed NW-310.",
        ),
    ),
    date(2026, 10, 1),
)
APP = SectionChange(
    "deal-registration.md",
    "Deal Registration Rules",
    ("Registering from the partner app",),
    "added",
    (SentenceEdit(None, "Partners can also register deals in the Northwind Partner app."),),
    date(2026, 7, 1),
)
LISTING = SectionChange(
    "partner-locator.md",
    "Partner Locator Listing",
    ("Keeping your listing current",),
    "removed",
    (SentenceEdit("Partners must review their locator profile every 12 months.", None),),
    None,
)
OLD_CSAT = SectionChange(
    "csat-requirement.md",
    "Customer Satisfaction Survey (CSAT) Requirement",
    ("Requirements by tier",),
    "changed",
    (SentenceEdit("Deadline: 2027-03-31.", "Deadline: 2027-06-30."),),
    date(2026, 8, 15),
)


class RecordingPoster:
    """A ChannelPoster that keeps what it was asked to post (and can fail or know keys)."""

    def __init__(self, platform: str = "slack", *, fail_on: set[str] | None = None) -> None:
        self.platform = platform
        self.fail_on = fail_on or set()
        self.posted: list[tuple[str, Notice]] = []
        self.known: dict[str, str] = {}

    def post(self, channel: str, notice: Notice) -> str:
        if channel in self.fail_on:
            raise RuntimeError("channel_not_found")
        self.posted.append((channel, notice))
        self.known[notice.key] = f"m{len(self.posted)}"
        return self.known[notice.key]

    def find(self, channel: str, key: str) -> str | None:
        return self.known.get(key)

    def permalink(self, channel: str, message_id: str) -> str | None:
        return None

    def post_direct(self, user: str, notice: Notice) -> str:
        return self.post(f"@{user}", notice)


def publish(app: App, *posters: RecordingPoster, **options: Any) -> DigestResult:
    return app.changes.publish(list(posters), **options)


@pytest.fixture
def make_core(tmp_path: Path) -> Iterator[Callable[..., App]]:
    """An app whose clock is NOW; nothing is indexed (the records are written directly)."""
    bots: list[App] = []

    def factory(**overrides: Any) -> App:
        settings = Settings(PARTNERBOT_DATA_DIR=tmp_path / "data", **overrides)
        bot = App(settings)
        bot.changes.clock = lambda: NOW
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        bot.close()


@pytest.fixture
def core(make_core: Callable[..., App]) -> App:
    bot = make_core(PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS")
    bot.changes.records.add([OLD_CSAT], detected_at=LAST_QUARTER)
    bot.changes.records.add([SECURITY, APP, LISTING], detected_at=THIS_QUARTER)
    return bot


# -- periods and question detection ----------------------------------------------------------
def test_parse_since_accepts_dates_and_refuses_anything_else() -> None:
    assert parse_since("2026-10-01") == "2026-10-01"
    assert parse_since("2026-10-01T09:00:00+00:00") == "2026-10-01T09:00:00+00:00"
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        parse_since("last tuesday")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("what changed this quarter?", date(2026, 10, 1), None),
        ("what changed last quarter?", date(2026, 7, 1), date(2026, 10, 1)),
        ("any changes this month", date(2026, 11, 1), None),
        ("what changed in the last 30 days", date(2026, 10, 23), None),
        ("changes since 2026-11-01?", date(2026, 11, 1), None),
        ("what changed recently?", date(2026, 8, 24), None),
        ("what changed this year", date(2026, 1, 1), None),
    ],
)
def test_periods_in_questions(text: str, start: date, end: date | None) -> None:
    period = period_in(text, TODAY, recent_days=90)
    assert period is not None
    assert (period.start, period.end) == (start, end)


def test_no_period_in_a_question_without_one() -> None:
    assert period_in("did the Security requirements change?", TODAY, recent_days=90) is None


@pytest.mark.parametrize(
    "text",
    [
        "what changed in the program this quarter?",
        "did the requirements for the Security competency change?",
        "What's new?",
        "any recent changes to deal registration",
        "has the CSAT deadline been updated",
    ],
)
def test_change_questions(text: str) -> None:
    assert is_change_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "how do I change my partner ID?",
        "whats the new CSAT rule for gold?? deadline?",
        "how many exam vouchers do advanced partners get",
    ],
)
def test_other_questions_are_not_change_questions(text: str) -> None:
    assert not is_change_question(text)


# -- answers from the records ------------------------------------------------------------------
def test_what_changed_this_quarter_lists_the_changes_with_citations(core: App) -> None:
    answer = core.core.ask(Question("what changed in the program this quarter?"))
    assert answer.kind == "answer" and not answer.abstained
    assert answer.text.startswith("Program changes detected since 2026-10-01 (this quarter)")
    assert "3 changes" in answer.text
    assert "2027-06-30" not in answer.text  # detected last quarter
    assert "“The partner must have at least 3 certified" in answer.text
    assert "→ “The partner must have at least 4 certified" in answer.text
    assert "detected 2026-11-20, effective 2026-10-01" in answer.text
    cited = {(c.path, c.section, c.effective_date) for c in answer.citations}
    assert cited == {
        ("competency-requirements.md", "Security › Security requirements", date(2026, 10, 1)),
        ("deal-registration.md", "Registering from the partner app", date(2026, 7, 1)),
        ("partner-locator.md", "Keeping your listing current", None),
    }
    for c in answer.citations:
        assert f"[{c.number}]" in answer.text
    assert answer.interaction_id is not None  # recorded like any other answer


def test_did_the_security_requirements_change_is_answered_yes_from_the_records(
    core: App,
) -> None:
    answer = core.core.ask(Question("did the requirements for the Security competency change?"))
    assert answer.text.startswith("Yes.")
    assert "Competency Requirements 2026 › Security › Security requirements" in answer.text
    assert "Deal Registration" not in answer.text
    assert [c.path for c in answer.citations] == ["competency-requirements.md"]
    assert answer.as_of == date(2026, 10, 1)


def test_a_change_question_about_something_unrecorded_goes_to_the_documents(
    core: App,
) -> None:
    assert (
        answer_from_records(
            Question("did the MSP billing margin change?"),
            core.changes.records,
            today=TODAY,
            recent_days=90,
        )
        is None
    )


def test_no_records_at_all_lets_the_documents_answer(make_core: Callable[..., App]) -> None:
    bot = make_core()
    question = Question("what changed in the program this quarter?")
    assert answer_from_records(question, bot.changes.records, today=TODAY, recent_days=90) is None


def test_a_period_without_changes_says_so(core: App) -> None:
    answer = core.changes.answer(Question("what changed today?"))
    assert answer is not None
    assert answer.text.startswith("No program changes were detected since 2026-11-22 (today)")
    assert "2026-11-20" in answer.text


# -- the "changed recently" note -----------------------------------------------------------------
def cited_answer(*citations: Citation) -> Answer:
    return Answer(text="Security needs 4 certified individuals [1].", citations=citations)


def test_an_answer_citing_a_recently_changed_section_says_so(core: App) -> None:
    answer = cited_answer(
        Citation(
            1, "Competency Requirements 2026", "Security › Security requirements", SECURITY.doc_path
        ),
        Citation(2, "Competency Requirements 2026", "Keeping a competency", SECURITY.doc_path),
    )
    noted = core.changes.annotate(Question("how many certified people for security"), answer)
    assert noted.text.endswith(
        "Note: [1] Security › Security requirements changed on 2026-11-20. "
        "Ask me “what changed?” for the details."
    )


def test_no_note_for_unchanged_sections_old_changes_or_abstentions(core: App) -> None:
    store = core.changes.records
    unchanged = cited_answer(
        Citation(1, "Deal Registration Rules", "Protection period", APP.doc_path)
    )
    assert with_change_note(unchanged, store, since="2026-08-24") == unchanged
    old = cited_answer(Citation(1, "CSAT", "Requirements by tier", OLD_CSAT.doc_path))
    assert with_change_note(old, store, since="2026-08-24") == old  # changed 2026-08-03
    abstained = Answer(text="I couldn't find that.", abstained=True)
    assert with_change_note(abstained, store, since="2000-01-01") == abstained


# -- the digest ----------------------------------------------------------------------------------
def test_the_digest_has_one_cited_line_per_change(core: App) -> None:
    records = core.changes.records.list(since="2026-10-01")
    digest = build_digest(records)
    assert digest.title == "Partner program changes: 3 changes"
    assert digest.lines == (
        "1. **Changed** — Competency Requirements 2026 › Security › Security requirements: "
        "“The partner must have at least 3 certified individuals who have passed NW-310.” → "
        "“The partner must have at least 4 certified individuals who have passed NW-310.” "
        "(competency-requirements.md, effective 2026-10-01)",
        "2. **Added** — Deal Registration Rules › Registering from the partner app: "
        "“Partners can also register deals in the Northwind Partner app.” "
        "(deal-registration.md, effective 2026-07-01)",
        "3. **Removed** — Partner Locator Listing › Keeping your listing current: "
        "was “Partners must review their locator profile every 12 months.” (partner-locator.md)",
    )
    assert digest.summary.startswith("3 changes in: Competency Requirements 2026 (1)")
    assert all(line in digest.text for line in digest.lines)


def test_a_long_digest_lists_the_first_changes_and_counts_the_rest(
    make_core: Callable[..., App],
) -> None:
    bot = make_core()
    bot.changes.records.add([SECURITY] * 30, detected_at=THIS_QUARTER)
    digest = build_digest(bot.changes.records.list())
    assert len(digest.lines) == 26
    assert digest.lines[-1].startswith("…and 5 more changes")
    assert digest.title == "Partner program changes: 30 changes"


def test_long_sentences_are_cut_around_what_changed() -> None:
    before = (
        "Partners " + "with many words of context " * 8 + "need 3 references " + "and more " * 10
    )
    after = before.replace("need 3 references", "need 5 references")
    short_before, short_after = focus(before, after)
    assert "need 3 references" in short_before and "need 5 references" in short_after
    assert short_before.startswith("…") and short_before.endswith("…")
    assert len(short_after) < len(after) / 2


def test_a_changed_table_row_shows_the_row_name_and_the_changed_cells() -> None:
    before = "Competency: Security; Exams: NW-310; Certified individuals: 3; Revenue: USD 150,000."
    after = before.replace("individuals: 3", "individuals: 4")
    assert focus(before, after) == (
        "Competency: Security; … Certified individuals: 3 …",
        "Competency: Security; … Certified individuals: 4 …",
    )


class FakeLLM:
    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.messages: list[dict[str, str]] = []

    def complete(self, messages: list[dict[str, str]], **_: Any) -> str:
        self.messages = messages
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def test_an_llm_summary_is_added_when_it_cites_the_lines(core: App) -> None:
    records = core.changes.records.list(since="2026-10-01")
    llm = FakeLLM(
        "Security now needs 4 certified individuals [1]; deals can be registered in the app [2]."
    )
    digest = build_digest(records, llm=llm)  # type: ignore[arg-type]
    assert "Security now needs 4 certified individuals [1]" in digest.summary
    assert "1. **Changed**" in llm.messages[1]["content"]
    assert digest.lines[0] in digest.text  # the cited lines are always there


@pytest.mark.parametrize(
    "reply", ["Lots changed.", "Security changed [7].", LLMError("LLM call failed: timeout")]
)
def test_an_unusable_llm_summary_falls_back_to_the_extractive_digest(
    core: App, reply: str | Exception
) -> None:
    records = core.changes.records.list(since="2026-10-01")
    digest = build_digest(records, llm=FakeLLM(reply))  # type: ignore[arg-type]
    assert digest.summary == build_digest(records).summary


def test_publish_summarises_with_the_configured_llm_and_falls_back_without_it(
    make_core: Callable[..., App],
) -> None:
    with FakeOpenAI() as fake:
        bot = make_core(
            PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS",
            OPENAI_BASE_URL=fake.base_url,
            PARTNERBOT_LLM_MAX_RETRIES="0",
        )
        bot.changes.records.add([SECURITY], detected_at=THIS_QUARTER)
        fake.script("Security now needs 4 certified individuals [1].", FakeOpenAI.Error(status=500))
        poster = RecordingPoster()
        publish(bot, poster)
        assert "Security now needs 4 certified individuals [1]." in poster.posted[0][1].text
        assert "1. **Changed**" in fake.chat_requests[0].json["messages"][1]["content"]
        again = publish(bot, poster, include_published=True)  # the LLM fails: extractive
        assert again.ok
        assert "Security now needs" not in poster.posted[1][1].text
        assert "1 change in: Competency Requirements 2026 (1)." in poster.posted[1][1].text


# -- publishing ----------------------------------------------------------------------------------
def test_publish_posts_one_digest_per_channel_and_marks_the_records(
    make_core: Callable[..., App],
) -> None:
    bot = make_core(PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS,discord:42")
    bot.changes.records.add([SECURITY, APP], detected_at=THIS_QUARTER)
    slack, discord = RecordingPoster("slack"), RecordingPoster("discord")
    result = publish(bot, slack, discord)
    assert result.ok and result.count == 2
    assert [c for c, _ in slack.posted] == ["C0PARTNERS"]
    assert [c for c, _ in discord.posted] == ["42"]
    notice = slack.posted[0][1]
    assert notice.title == "Partner program changes: 2 changes"
    assert "Security › Security requirements" in notice.text
    assert result.summary() == "Published the digest of 2 changes to slack:C0PARTNERS, discord:42."
    assert all(r.published_at for r in bot.changes.records.list())
    # Nothing new: the second publish posts nothing; asked to, it posts again.
    assert publish(bot, slack, discord).digest is None
    again = publish(bot, slack, discord, include_published=True)
    assert len(again.posted) == 2 and len(slack.posted) == 2


def test_a_failed_channel_is_retried_without_reposting_to_the_others(
    make_core: Callable[..., App],
) -> None:
    bot = make_core(PARTNERBOT_CHANGES_CHANNELS="slack:C0OK,slack:C0GONE")
    bot.changes.records.add([SECURITY], detected_at=THIS_QUARTER)
    poster = RecordingPoster(fail_on={"C0GONE"})
    first = publish(bot, poster)
    assert not first.ok and first.failed[0][0] == "slack:C0GONE"
    assert "Not posted to: slack:C0GONE" in first.summary()
    assert not any(r.published_at for r in bot.changes.records.list())
    poster.fail_on.clear()
    second = publish(bot, poster)
    assert second.ok
    assert [c for c, _ in second.posted] == ["slack:C0GONE"]
    assert [c for c, _ in second.already] == ["slack:C0OK"]
    assert [c for c, _ in poster.posted] == ["C0OK", "C0GONE"]


class Crash(BaseException):
    """Stands for the process dying (not an error publishing could handle)."""


def test_a_digest_posted_before_a_crash_is_found_not_posted_twice(
    make_core: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the platform took the digest, before it was recorded: the next publish
    waits for the dead claim's lease, then finds the post by its key instead of reposting."""
    bot = make_core(PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS")
    bot.changes.records.add([SECURITY], detected_at=THIS_QUARTER)
    poster = RecordingPoster()

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(bot.changes.outbox, "record", die)
        with pytest.raises(Crash):
            publish(bot, poster)
    assert len(poster.posted) == 1 and not any(r.published_at for r in bot.changes.records.list())
    # Another process (a new outbox worker) publishes while the dead claim's lease holds …
    restarted = make_core(PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS")
    waiting = publish(restarted, poster)
    assert not waiting.ok and waiting.in_flight and len(poster.posted) == 1
    # … and after it ran out.
    restarted.changes.clock = lambda: NOW + timedelta(minutes=3)
    result = publish(restarted, poster)
    assert result.ok and len(poster.posted) == 1
    assert result.already == [("slack:C0PARTNERS", "m1")]
    assert all(r.published_at for r in restarted.changes.records.list())


def test_publish_needs_channels_and_a_poster_per_platform(
    make_core: Callable[..., App],
) -> None:
    bot = make_core()
    bot.changes.records.add([SECURITY], detected_at=THIS_QUARTER)
    with pytest.raises(ConfigError, match="PARTNERBOT_CHANGES_CHANNELS"):
        publish(bot, RecordingPoster())
    result = publish(bot, RecordingPoster("slack"), channels=["discord:42"])
    assert result.failed == [("discord:42", "no discord connection is available here")]


async def test_the_chat_commands_are_for_admins_and_parse_their_words(core: App) -> None:
    admin, partner = Actor("slack", "U1", is_admin=True), Actor("slack", "U2")
    refused = await core.chat.run_words("changes", actor=partner)
    assert refused.text == message("not_admin", action="publish the program-change digest")
    usage = await core.chat.run_words("changes please", actor=admin)
    assert usage.text.startswith("Usage: `changes publish [again] [since <since>]`")
    preview = await core.chat.run_words("changes preview since 2026-10-01", actor=admin)
    assert preview.text.count("**Changed**") == 1 and "2027-06-30" not in preview.text
    poster = RecordingPoster()
    core.changes.posters = lambda: {"slack": poster}
    reply = await core.chat.run_words("changes", actor=admin)
    assert reply.text == "Published the digest of 4 changes to slack:C0PARTNERS."
    again = await core.chat.run_words("changes", actor=admin)
    assert again.text == "No new program changes to publish."


def test_auto_publish_after_a_reindex_with_changes(make_core: Callable[..., App]) -> None:
    bot = make_core(
        PARTNERBOT_CHANGES_CHANNELS="slack:C0PARTNERS", PARTNERBOT_CHANGES_AUTO_PUBLISH="true"
    )
    poster = RecordingPoster()
    bot.changes.posters = lambda: {"slack": poster}
    old = load_markdown(b"# Fees\n## Annual fee\nThe annual fee is USD 500.\n", "fees.md")
    new = load_markdown(b"# Fees\n## Annual fee\nThe annual fee is USD 650.\n", "fees.md")
    report = SyncReport(updated=["fees.md"], changed=[(old, new)])  # type: ignore[list-item]
    bot.changes.on_reindex(report)
    assert [r.section for r in bot.changes.last_run] == [("Annual fee",)]
    assert len(poster.posted) == 1
    assert "“The annual fee is USD 500.” → “The annual fee is USD 650.”" in poster.posted[0][1].text


# -- the command line ----------------------------------------------------------------------------
def test_changes_lists_the_records_readably_and_as_json(core: App) -> None:
    runner = CliRunner()
    env = {"PARTNERBOT_DATA_DIR": str(core.settings.data_dir)}
    listed = runner.invoke(app, ["changes", "--since", "2026-10-01"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "changed" in listed.output and "Security › Security requirements" in listed.output
    assert "− The partner must have at least 3 certified" in listed.output
    assert "+ The partner must have at least 4 certified" in listed.output
    assert "2027-06-30" not in listed.output
    as_json = runner.invoke(app, ["changes", "--json"], env=env)
    data = json.loads(as_json.stdout)
    assert [d["kind"] for d in data] == ["changed", "changed", "added", "removed"]
    assert data[1]["section"] == ["Security", "Security requirements"]
    assert data[1]["effective_date"] == "2026-10-01"
    bad = runner.invoke(app, ["changes", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_publish_dry_run_prints_the_digest_and_marks_nothing(core: App) -> None:
    env = {"PARTNERBOT_DATA_DIR": str(core.settings.data_dir)}
    result = CliRunner().invoke(app, ["changes", "publish", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "4 changes in:" in result.output
    assert not any(r.published_at for r in core.changes.records.list())
