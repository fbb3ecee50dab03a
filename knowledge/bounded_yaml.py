"""YAML from users' files, parsed with bounds: no alias bombs, no runaway nesting.

PyYAML shares one node per anchor, so a "billion laughs" file parses cheaply and
only explodes when something walks the result (str(), iteration, JSON). Every
YAML a user controls (front matter, glossary.yml, communication files, routes.yml)
goes through `load` or `parse` here, which measure the document as if every alias
were expanded and refuse it past a small bound, naming the line.

A refusal is a `yaml.MarkedYAMLError`, so callers report it like any YAML error.
"""

from __future__ import annotations

from typing import Any

import yaml

# Bounds on the document with every alias expanded. Real front matter, glossaries,
# routes and communication files are far below them.
MAX_TEXT_CHARS = 2_000_000
MAX_VALUES = 100_000
MAX_EXPANDED_CHARS = 2_000_000
MAX_DEPTH = 64


class YAMLRefused(yaml.MarkedYAMLError):
    """A YAML document refused for its shape (size after alias expansion, nesting)."""


def load(text: str) -> Any:
    """The data of one YAML document (None when empty), within the bounds."""
    return parse(text)[1]


def parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for line numbers) and the data of one YAML document, from one parse."""
    if len(text) > MAX_TEXT_CHARS:
        raise YAMLRefused(
            problem=f"the YAML is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}"
        )
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YAMLRefused(
                problem=f"the YAML is nested more than {MAX_DEPTH} levels deep"
            ) from None
        if node is None:
            return None, None
        _check(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check(root: yaml.Node) -> None:
    """Measure the document with aliases expanded (each shared node measured once)."""
    # id(node) -> (values, characters, depth) of the node with its aliases expanded
    measured: dict[int, tuple[int, int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not children_done:
            if key in measured:
                continue  # an alias to a node measured already
            if key in open_nodes:
                raise YAMLRefused(
                    problem="an alias refers to the value that contains it",
                    problem_mark=node.start_mark,
                )
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in measured)
            continue
        open_nodes.discard(key)
        children = [measured[id(child)] for child in _children(node)]
        values = 1 + sum(c[0] for c in children)
        scalar = isinstance(node, yaml.ScalarNode)
        chars = len(node.value) if scalar else sum(c[1] for c in children)
        depth = 1 + max((c[2] for c in children), default=0)
        if values > MAX_VALUES or chars > MAX_EXPANDED_CHARS:
            raise YAMLRefused(
                problem=f"aliases (*name) expand this YAML past {MAX_VALUES:,} values or "
                f"{MAX_EXPANDED_CHARS:,} characters; refused (an alias bomb?)",
                problem_mark=node.start_mark,
            )
        if depth > MAX_DEPTH:
            raise YAMLRefused(
                problem=f"the YAML is nested more than {MAX_DEPTH} levels deep",
                problem_mark=node.start_mark,
            )
        measured[key] = (values, chars, depth)
