"""Log lines: readable text (the default) or one JSON object per line
(PARTNERBOT_LOG_FORMAT=json), with the values of secret settings masked either way.

Secrets are kept out of log messages where they could arise (SecretStr settings, the
database URL's `redacted()`, the LLM client's logging); masking each line again here
is the last line of defence, also for what other libraries log.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

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
    """Every secret setting's value, and the password inside the database URL."""
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value().strip():
            values.append(value.get_secret_value().strip())
    if settings.database_url is not None:
        try:
            password = urlsplit(settings.database_url.get_secret_value().strip()).password
        except ValueError:
            password = None
        if password:
            values += [password, unquote(password)]
    return values


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message` (and the traceback), secrets masked."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and
    `exception` (type, message and traceback) when there is one; secrets masked."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


@contextmanager
def stderr_logging(settings: Settings, default_level: str) -> Iterator[None]:
    """Log to stderr in the configured format and level (PARTNERBOT_LOG_*) until the block
    ends, then put logging back as it was. Like `logging.basicConfig`, it leaves a root
    logger that already has handlers alone."""
    redact = Redactor(secret_values(settings))
    formatter: logging.Formatter = (
        JsonFormatter(redact) if settings.log_format == "json" else TextFormatter(redact)
    )
    root = logging.getLogger()
    before = [(logger, logger.level) for logger in (root, *map(logging.getLogger, NOISY))]
    handler: logging.Handler | None = None
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel((settings.log_level or default_level).upper())
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
