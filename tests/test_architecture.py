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


def import_graph() -> dict[str, set[str]]:
    """Every project module → the project modules it imports, at any depth in the file
    (lazy imports in functions and TYPE_CHECKING blocks count too)."""
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for package in ("bot", "knowledge", "adapters", "prompts")
        for p in (ROOT / package).rglob("*.py")
    }

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for name in names:
                target = owner(name)
                if target and target != module and not module.startswith(target + "."):
                    targets.add(target)
        graph[module] = targets
    return graph


def test_there_are_no_import_cycles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_only_the_composition_root_names_a_platform() -> None:
    """bot/ and knowledge/ never import an adapter; bot/app.py names platforms by module
    path in its registry, and bot/cli.py wires the terminal."""
    graph = import_graph()
    offenders = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[0] in ("bot", "knowledge") and module not in ("bot.cli", "bot.app")
        for target in targets
        if target.startswith("adapters")
    ]
    assert not offenders, offenders
    adapters_into_root = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith("adapters")
        for target in targets
        if target in ("bot.app", "bot.cli")
    ]
    assert not adapters_into_root, adapters_into_root


def test_the_walk_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "adapters.slack.app" in graph["adapters.slack"]  # imported inside build()
    assert "bot.changes.service" in graph["bot.changes.demo"]  # under TYPE_CHECKING


def test_adapters_stay_thin() -> None:
    for package in ("slack", "discord"):
        lines = sum(
            len(p.read_text(encoding="utf-8").splitlines())
            for p in (ROOT / "adapters" / package).glob("*.py")
        )
        assert lines <= 600, f"adapters/{package}: {lines} lines of Python"
