"""The one rule of direction: adapters → bot → knowledge; the core never imports a chat SDK."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAT_SDKS = ("slack_bolt", "slack_sdk", "discord")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_and_knowledge_never_import_a_chat_sdk() -> None:
    offenders = []
    for package in ("bot", "knowledge"):
        for path in (ROOT / package).rglob("*.py"):
            for name in imported_modules(path):
                if name.split(".")[0] in CHAT_SDKS:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, offenders


def test_knowledge_never_imports_bot_or_adapters() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "knowledge").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in {"bot", "adapters"}
    ]
    assert not offenders, offenders


def test_importing_the_whole_core_loads_no_chat_sdk() -> None:
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for package in ("bot", "knowledge")
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m.removesuffix('.__init__'))\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {CHAT_SDKS!r}]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"chat SDKs loaded by the core: {out.stdout}"
