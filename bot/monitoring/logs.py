"""Log lines: readable text (the default) or one JSON object per line
(PARTNERBOT_LOG_FORMAT=json), with the values of secret settings masked either way, and
tracebacks only at DEBUG: above it, a record's exception is its type and message on the
record's own line, whoever logs it (our code, aiohttp, an SDK).

Secrets are kept out of log messages where they could arise (SecretStr settings, the
database URL's `redacted()`, the LLM client's logging); masking each line again here
is the last line of defence, also for what other libraries log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pydantic import SecretStr

from bot.config import Settings

MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Chatty libraries log at WARNING and above only (unless the level asked for is higher).
NOISY = ("httpx", "httpx2", "chromadb", "urllib3", "discord", "slack_bolt", "slack_sdk")
_SHORTEST_SECRET = 4  # shorter values would mask ordinary words


class Redactor:
    """Replaces each secret value in a text with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted(
            {s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def secret_values(settings: Settings) -> list[str]:
    """Every secret setting's value (also as a URL or a form would quote it), and the
    password inside the database URL."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value().strip():
            secret = value.get_secret_value().strip()
            values += [secret, quote(secret, safe=""), quote(secret)]
    if settings.database_url is not None:
        try:
            password = urlsplit(settings.database_url.get_secret_value().strip()).password
        except ValueError:
            password = None
        if password:
            values += [password, unquote(password)]
    return values


def environment_secrets(env_file: Path = Path(".env")) -> list[str]:
    """The secret settings' values as the environment and `.env` give them: for what is
    printed before (or because) the settings could not be read."""
    from dotenv import dotenv_values

    from_file = dotenv_values(env_file) if env_file.is_file() else {}
    given = {
        name: SecretStr(value)
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
        and (value := os.environ.get(field.alias or name) or from_file.get(field.alias or name))
    }
    return secret_values(Settings.model_construct(None, **given))


def exception_summary(exc_info: Any) -> str:
    """`Type: message` of a record's exception, on one line (its traceback left out)."""
    error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message` and, for a record with an exception, the traceback
    when `tracebacks` (PARTNERBOT_LOG_LEVEL=DEBUG), else the exception's type and message on
    the same line; secrets masked."""

    def __init__(self, redact: Redactor, *, tracebacks: bool = False) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact, self.tracebacks = redact, tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not self.tracebacks:
            line = super().format(_without_exception(record))
            return self.redact(f"{line} ({exception_summary(record.exc_info)})")
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and
    `exception` when there is one (its type and message; the traceback too when
    `tracebacks`, PARTNERBOT_LOG_LEVEL=DEBUG); secrets masked."""

    def __init__(self, redact: Redactor, *, tracebacks: bool = False) -> None:
        super().__init__()
        self.redact, self.tracebacks = redact, tracebacks

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(
                self.formatException(record.exc_info)
                if self.tracebacks
                else exception_summary(record.exc_info)
            )
        elif record.exc_text and self.tracebacks:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info and self.tracebacks:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def _without_exception(record: logging.LogRecord) -> logging.LogRecord:
    plain = logging.makeLogRecord(record.__dict__)
    plain.exc_info, plain.exc_text, plain.stack_info = None, None, None
    return plain


@contextmanager
def stderr_logging(settings: Settings, default_level: str) -> Iterator[None]:
    """Log to stderr in the configured format and level (PARTNERBOT_LOG_*) until the block
    ends, then put logging back as it was. Like `logging.basicConfig`, it leaves a root
    logger that already has handlers alone. Tracebacks are for finding bugs: printed at
    DEBUG only (CONVENTIONS 16)."""
    redact = Redactor(secret_values(settings))
    level_name = (settings.log_level or default_level).upper()
    kind = JsonFormatter if settings.log_format == "json" else TextFormatter
    root = logging.getLogger()
    before = [(logger, logger.level) for logger in (root, *map(logging.getLogger, NOISY))]
    handler: logging.Handler | None = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(kind(redact, tracebacks=level_name == "DEBUG"))
        root.addHandler(handler)
        root.setLevel(level_name)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    try:
        yield
    finally:
        if handler is not None:
            handler.flush()
            root.removeHandler(handler)
        for logger, level in before:
            logger.setLevel(level)
