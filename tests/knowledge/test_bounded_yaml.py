from __future__ import annotations

import time

import pytest
import yaml

from knowledge import bounded_yaml
from knowledge.bounded_yaml import YAMLRefused
from tests.hostile_files import alias_bomb_yaml


def test_an_alias_bomb_is_refused_at_once_naming_the_line() -> None:
    started = time.perf_counter()
    with pytest.raises(YAMLRefused) as excinfo:
        bounded_yaml.load(alias_bomb_yaml())
    assert time.perf_counter() - started < 5  # not a timing target: the bomb is 387M values
    assert "alias" in str(excinfo.value.problem)
    assert excinfo.value.problem_mark is not None and excinfo.value.problem_mark.line >= 1


def test_a_refusal_is_a_yaml_error_so_callers_report_it_like_one() -> None:
    with pytest.raises(yaml.MarkedYAMLError):
        bounded_yaml.load(alias_bomb_yaml(levels=6))


def test_an_alias_to_its_own_container_is_refused() -> None:
    with pytest.raises(YAMLRefused, match="contains it"):
        bounded_yaml.load("a: &a [1, *a]\n")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(YAMLRefused, match="nested"):
        bounded_yaml.load("[" * 100 + "]" * 100)
    with pytest.raises(YAMLRefused, match="nested"):
        bounded_yaml.load("[" * 5000 + "]" * 5000)  # deeper than Python's recursion limit


def test_big_strings_repeated_by_aliases_are_refused() -> None:
    text = f"a: &a {'x' * 100_000}\nb: [{', '.join(['*a'] * 50)}]\n"
    with pytest.raises(YAMLRefused, match="alias"):
        bounded_yaml.load(text)


def test_ordinary_anchors_and_merge_keys_still_work() -> None:
    text = (
        "defaults: &defaults {slack: [C0ALL], discord: ['1']}\n"
        "routes:\n  - <<: *defaults\n    match: {regions: [ANZ]}\n  - *defaults\n"
    )
    node, data = bounded_yaml.parse(text)
    assert isinstance(node, yaml.MappingNode)
    merged = {"slack": ["C0ALL"], "discord": ["1"], "match": {"regions": ["ANZ"]}}
    assert data["routes"][0] == merged
    assert data["routes"][1] == data["defaults"]
    assert bounded_yaml.load("") is None
