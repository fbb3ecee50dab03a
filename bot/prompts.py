"""Render prompt and message templates kept as files in `prompts/`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=64)
def _template(name: str) -> Template:
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt template named {name!r} in {PROMPTS_DIR}")
    return Template(path.read_text(encoding="utf-8").strip())


def render(name: str, **values: object) -> str:
    """Fill `$placeholders` in prompts/<name>.md; a missing value is an error, not a blank."""
    return _template(name).substitute({k: str(v) for k, v in values.items()})


@lru_cache(maxsize=1)
def _messages() -> dict[str, str]:
    import yaml

    data = yaml.safe_load((PROMPTS_DIR / "messages.yml").read_text(encoding="utf-8"))
    return {str(k): str(v).strip() for k, v in data.items()}


def message(key: str, **values: object) -> str:
    """A short user-facing message from prompts/messages.yml."""
    return Template(_messages()[key]).substitute({k: str(v) for k, v in values.items()})
