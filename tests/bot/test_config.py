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
