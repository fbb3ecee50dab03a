"""Log lines: JSON (one object per line, with the traceback) or text; the values of secret
settings never appear in either, whoever logs them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.monitoring.logs import JsonFormatter, Redactor, TextFormatter, secret_values

TOKEN = "xoxb-1234-very-secret-token"
PASSWORD = "pg-pass-w0rd"


@pytest.fixture
def redact(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-secret")
    monkeypatch.setenv("PARTNERBOT_DATABASE_URL", f"postgresql://pb:{PASSWORD}@db:5432/pb")
    return Redactor(secret_values(load_settings()))


def emit(formatter: logging.Formatter) -> Iterator[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger("partnerbot.test.logs")
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.warning("posting with %s to %s", TOKEN, "C0PARTNERS")
        try:
            raise RuntimeError(f"connect to postgresql://pb:{PASSWORD}@db failed")
        except RuntimeError:
            log.exception("the store is gone")
        log.info('plain line with "quotes" and ünïcode')
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
        log.propagate = True
    yield from stream.getvalue().splitlines()


def test_json_lines_parse_with_time_level_logger_message_and_the_exception(
    redact: Redactor,
) -> None:
    lines = list(emit(JsonFormatter(redact, tracebacks=True)))
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) == 3
    first, failure, plain = records
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "WARNING" and first["logger"] == "partnerbot.test.logs"
    assert first["time"].endswith("+00:00") and "T" in first["time"]
    assert first["message"] == "posting with *** to C0PARTNERS"
    assert failure["message"] == "the store is gone"
    assert failure["exception"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: connect to postgresql://pb:***@db failed" in failure["exception"]
    assert plain["message"] == 'plain line with "quotes" and ünïcode'
    text = "\n".join(lines)
    assert TOKEN not in text and PASSWORD not in text


def test_text_lines_mask_secrets_too(redact: Redactor) -> None:
    lines = list(emit(TextFormatter(redact, tracebacks=True)))
    text = "\n".join(lines)
    assert " WARNING partnerbot.test.logs: posting with *** to C0PARTNERS" in lines[0]
    assert "Traceback (most recent call last):" in text
    assert TOKEN not in text and PASSWORD not in text


def test_every_secret_setting_is_masked_and_short_values_are_not_words() -> None:
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-a",
        SLACK_APP_TOKEN="xapp-b",
        SLACK_SIGNING_SECRET="signing-c",
        DISCORD_BOT_TOKEN="discord-d",
        OPENAI_API_KEY="sk-e",
    )
    redact = Redactor(secret_values(settings))
    assert redact("xoxb-a xapp-b signing-c discord-d sk-e") == "*** *** *** *** ***"
    assert Redactor(["ab"])("tab") == "tab"  # too short to be a secret worth masking


def test_the_log_format_setting_is_checked() -> None:
    assert load_settings(PARTNERBOT_LOG_FORMAT="JSON").log_format == "json"
    assert load_settings().log_format == "text"
    with pytest.raises(ConfigError, match="PARTNERBOT_LOG_FORMAT='yaml'"):
        load_settings(PARTNERBOT_LOG_FORMAT="yaml")
