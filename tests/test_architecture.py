"""The one rule of direction: adapters → bot → knowledge; the core never imports a chat SDK."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAT_SDKS = ("slack_bolt", "slack_sdk", "discord", "microsoft_teams")


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
    (lazy imports in functions and TYPE_CHECKING blocks count too). A copy of its own: a
    test may change it."""
    return {module: set(targets) for module, targets in _parsed_import_graph().items()}


@functools.cache
def _parsed_import_graph() -> dict[str, frozenset[str]]:
    """The files parsed once for the session (they do not change while it runs)."""
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for package in ("bot", "knowledge", "adapters", "prompts")
        for p in (ROOT / package).rglob("*.py")
    }

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, frozenset[str]] = {}
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
        graph[module] = frozenset(targets)
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


# -- the directions of ../DESIGN.md, as rules over the import graph ---------------------------
# The contract adapters may see: the types, the posting and platform contracts, the chat
# service's interface and what renders its replies.
ADAPTER_CONTRACT = (
    "bot.models",
    "bot.errors",
    "bot.config",
    "bot.prompts",
    "bot.commands",
    "bot.posting",
    "bot.platform",
    "bot.chat.service",
    "bot.layout",
    "bot.text",
    "bot.printable",
    "bot.web",
)
FEATURES = ("bot.comms", "bot.changes")


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def own_adapter(module: str) -> str:
    return ".".join(module.split(".")[:2])


# (who imports, what it may not import, unless the importer is within, why)
RULES: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str]] = [
    (("knowledge",), ("bot", "adapters", "prompts"), (), "knowledge/ imports nothing above it"),
    (("bot", "adapters"), ("bot.cli",), ("bot.cli",), "nothing imports the CLI"),
    (("bot", "adapters"), ("bot.serving",), ("bot.cli", "bot.serving"), "only the CLI serves"),
    (
        ("bot", "adapters"),
        ("bot.app",),
        ("bot.cli", "bot.serving"),
        "only the CLI and serving build the App",
    ),
    (
        FEATURES,
        ("bot.chat", "bot.core", "bot.platform"),
        (),
        "features get narrow parts, never the chat service, the core or a platform",
    ),
    (
        ("bot.core", "bot.answering", "bot.chat"),
        FEATURES,
        (),
        "the core and the chat service never import a feature",
    ),
    (
        ("bot", "knowledge"),
        ("adapters",),
        ("bot.app", "bot.cli"),
        "only the composition root names a platform",
    ),
]


def wrong_directions(graph: dict[str, set[str]]) -> list[str]:
    """Every import that runs against the allowed directions, as "a -> b: why"."""
    wrong: list[str] = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            why = [
                why
                for who, forbidden, unless, why in RULES
                if within(module, *who)
                and within(target, *forbidden)
                and not within(module, *unless)
            ]
            if within(module, "bot.models", "bot.posting", "bot.errors") and within(target, "bot"):
                why += (
                    [] if within(target, "bot.models", "bot.errors") else ["the contract is a leaf"]
                )
            if within(module, "adapters") and within(target, "bot"):
                why += [] if within(target, *ADAPTER_CONTRACT) else ["adapters import the contract"]
            if within(module, "adapters") and within(target, "adapters"):
                why += [] if within(target, own_adapter(module)) else ["an adapter imports another"]
            wrong.extend(f"{module} -> {target}: {w}" for w in why)
    return wrong


def test_every_import_runs_in_an_allowed_direction() -> None:
    assert wrong_directions(import_graph()) == []


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("bot.comms.registry", "bot.app"),  # a feature reaching for the composition root
        ("bot.changes.service", "bot.chat.service"),  # a feature reaching for the chat service
        ("adapters.slack.app", "bot.store"),  # an adapter touching the store
        ("adapters.discord.client", "adapters.slack.render"),  # adapters borrowing each other
        ("bot.posting", "bot.chat.service"),  # the posting contract depending on chat
        ("bot.core", "bot.cli.main"),  # anything importing the CLI
        ("knowledge.retrieval", "bot.models"),  # knowledge reaching up
        ("bot.delivery", "adapters.slack"),  # naming a platform outside the root
    ],
)
def test_a_wrong_direction_import_is_caught(module: str, target: str) -> None:
    graph = import_graph()
    graph[module] = {*graph[module], target}
    assert [w for w in wrong_directions(graph) if w.startswith(f"{module} -> {target}:")]


def test_the_walk_sees_lazy_imports() -> None:
    graph = import_graph()
    assert "adapters.slack.app" in graph["adapters.slack"]  # imported inside build()
    assert "bot.changes.service" in graph["bot.changes.demo"]  # under TYPE_CHECKING
