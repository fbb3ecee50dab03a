from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    settings = {f.alias for f in Settings.model_fields.values() if f.alias}
    assert settings - documented == set(), "add these to .env.example"
    assert documented - settings == set(), "these are documented but not read"


def test_bad_value_fails_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERBOT_TOP_K", "lots")
    with pytest.raises(ConfigError, match="PARTNERBOT_TOP_K"):
        load_settings()


def test_secrets_never_appear_in_errors_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("PARTNERBOT_TOP_K", "lots")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert "xoxb-very-secret" not in str(excinfo.value)
    monkeypatch.delenv("PARTNERBOT_TOP_K")
    assert "xoxb-very-secret" not in repr(load_settings())


def test_lists_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_ADMIN_USER_IDS", "U1, U2")
    assert load_settings().slack_admin_ids == ["U1", "U2"]


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("PARTNERBOT_LOG_LEVEL", "LOUD", "give one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("PARTNERBOT_ABSTAIN_THRESHOLD", "nan", "finite number"),
        ("PARTNERBOT_ABSTAIN_THRESHOLD", "-5", "greater than or equal to 0"),
        ("PARTNERBOT_LLM_TIMEOUT", "inf", "finite number"),
        ("CHROMA_PORT", "99999", "less than or equal to 65535"),
        ("SLACK_PORT", "-1", "greater than or equal to 0"),
        ("PARTNERBOT_DOCS_DIR", "/nonexistent", "the folder does not exist"),
        ("PARTNERBOT_COMMS_DIR", "/nonexistent", "the folder does not exist"),
        ("PARTNERBOT_COMMS_ROUTES", "/nonexistent.yml", "the file does not exist"),
        # Accepted once, then a crash (`comms list`) or a traceback on every answer.
        ("PARTNERBOT_COMMS_RECENT_DAYS", "1000000", "less than or equal to 3650"),
        ("PARTNERBOT_CHANGES_RECENT_DAYS", "1000000", "less than or equal to 3650"),
        ("PARTNERBOT_MAX_QUESTION_CHARS", "10000000", "less than or equal to 100000"),
        # Accepted once, silently: URLs the clients cannot use, values that mean nothing.
        ("OPENAI_BASE_URL", "not-a-url", "give an http:// or https:// URL"),
        ("OPENAI_BASE_URL", "http://localhost:port/v1", "give an http:// or https:// URL"),
        ("SLACK_API_URL", "ftp://x", "give an http:// or https:// URL"),
        ("OPENAI_MODEL", "", "give a value, or unset it for the default (gpt-4o-mini)"),
        ("OPENAI_EMBEDDING_MODEL", " ", "give a value, or unset it for the default"),
        ("PARTNERBOT_ESCALATION_CONTACT", "", "give a value, or unset it for the default"),
    ],
)
def test_a_bad_value_stops_with_the_variable_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fix: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert f"{name}={value!r}: " in str(excinfo.value) and fix in str(excinfo.value)


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERBOT_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


def test_a_data_dir_that_cannot_be_used_stops_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for path, reason in [
        (a_file, "it is a file, not a folder"),
        (a_file / "data", "it cannot be created (Not a directory)"),
        (Path("/sys"), "it is not writable (Permission denied)"),  # even for root
    ]:
        monkeypatch.setenv("PARTNERBOT_DATA_DIR", str(path))
        with pytest.raises(ConfigError) as excinfo:
            load_settings()
        message = str(excinfo.value)
        assert message.startswith(f"PARTNERBOT_DATA_DIR={str(path)!r}: {reason}"), message
        assert "point PARTNERBOT_DATA_DIR at a folder this user can write" in message


def test_the_cli_prints_the_problem_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli.main import app

    monkeypatch.setenv("PARTNERBOT_LOG_LEVEL", "LOUD")
    result = CliRunner().invoke(app, ["ask", "what is the annual fee"])
    assert result.exit_code == 2
    printed = " ".join(result.stderr.split())
    assert "PARTNERBOT_LOG_LEVEL='LOUD': give one of DEBUG" in printed
    assert "Traceback" not in result.stderr
