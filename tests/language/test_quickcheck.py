"""The fast validity check (engine/language/quickcheck.py) answers as jsonschema does: on every YAML
file of the repository checked as every kind of definition file, and on broken variants of them."""

from __future__ import annotations

import copy
import glob
import os
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.diagnostics import Report
from engine.language import schema
from engine.language.quickcheck import compile_schema
from engine.language.yamlfile import read_file
from tests.conftest import ROOT

_ODD_VALUES: list[Any] = [
    None,
    0,
    1,
    -1,
    1.0,
    2.5,
    True,
    False,
    "",
    "x",
    "Bad Id",
    "yes",
    "a.b",
    [],
    {},
    ["x"],
    {"x": 1},
]


def _documents() -> list[tuple[str, Any]]:
    files = sorted(
        f
        for folder in ("definitions", "examples", "tests")
        for f in glob.glob(os.path.join(ROOT, folder, "**", "*.y*ml"), recursive=True)
    )
    out = []
    for f in files:
        doc = read_file(f, Report())
        if doc is not None and doc.data is not None:
            out.append((os.path.relpath(f, ROOT), doc.data))
    return out


DOCUMENTS = _documents()


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*path, i)))
    return out


def _mutants(data: Any, rng: random.Random, n: int) -> list[Any]:
    """Copies of `data`, each changed in one place: a value replaced, a key removed or added, an item repeated."""
    paths = _paths(data)
    out = []
    for _ in range(n):
        new = copy.deepcopy(data)
        path = rng.choice(paths)
        parent = new
        for p in path[:-1]:
            parent = parent[p]
        node = parent[path[-1]] if path else new
        how = rng.randrange(4)
        if how == 0 and path:
            parent[path[-1]] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif how == 1 and isinstance(node, dict) and node:
            del node[rng.choice(list(node))]
        elif how == 2 and isinstance(node, dict):
            node[rng.choice(["unknown_key", "id", "label", "type", "x"])] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif how == 3 and isinstance(node, list) and node:
            node.append(copy.deepcopy(rng.choice(node)))
        elif path:
            parent[path[-1]] = copy.deepcopy(rng.choice(_ODD_VALUES))
        else:
            new = copy.deepcopy(rng.choice(_ODD_VALUES))
        out.append(new)
    return out


@pytest.mark.parametrize("kind", schema.KINDS)
def test_every_schema_is_compiled(kind: str) -> None:
    assert schema.quick_check(kind) is not None


@pytest.mark.parametrize("kind", schema.KINDS)
def test_agrees_with_jsonschema_on_the_repository_files(kind: str) -> None:
    fast, full = schema.quick_check(kind), schema.validator(kind)
    assert fast is not None
    for name, data in DOCUMENTS:
        assert fast(data) == full.is_valid(data), f"{name} checked as {kind}"


@pytest.mark.parametrize("kind", schema.KINDS)
def test_agrees_with_jsonschema_on_broken_variants(kind: str) -> None:
    fast, full = schema.quick_check(kind), schema.validator(kind)
    assert fast is not None
    rng = random.Random(kind)
    seen_invalid = 0
    for name, data in DOCUMENTS:
        for mutant in _mutants(data, rng, 8):
            expected = full.is_valid(mutant)
            seen_invalid += not expected
            assert fast(mutant) == expected, f"a variant of {name} checked as {kind}: {mutant!r}"[:2000]
    assert seen_invalid > 0


@pytest.mark.parametrize(
    ("schema_", "good", "bad"),
    [
        ({"type": "integer"}, [1, 1.0, -3], [True, 1.5, "1", None]),
        ({"minimum": 0, "maximum": 2}, [0, 2, 1.5, "x", True], [-1, 2.1]),
        ({"enum": ["a", "b"]}, ["a", "b"], ["c", 1, None]),
        ({"enum": [1, True, None]}, [1, 1.0, True, None], [0, False, "1"]),
        ({"const": "*"}, ["*"], ["", None]),
        ({"uniqueItems": True}, [[1, True], ["a", "b"], [[1], [2]], "x"], [[1, 1.0], ["a", "a"], [{"a": 1}, {"a": 1}]]),
        ({"not": {"type": "string"}}, [1, None], ["x"]),
        ({"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "integer"}}, ["ab", 3], ["a", 1.5]),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, [1.5], [1, "x"]),
        (
            {"propertyNames": {"pattern": "^[a-z]+$"}, "maxProperties": 2},
            [{"a": 1}, []],
            [{"A": 1}, {"a": 1, "b": 2, "c": 3}],
        ),
        (
            {"$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "$ref": "#/$defs/node"},
            [[], [[[]]]],
            [[1], [[], [2]]],
        ),
    ],
)
def test_keywords(schema_: dict[str, Any], good: list[Any], bad: list[Any]) -> None:
    check = compile_schema(schema_)
    full = Draft202012Validator(schema_)
    for value in good:
        assert check(value) and full.is_valid(value), value
    for value in bad:
        assert not check(value) and not full.is_valid(value), value
