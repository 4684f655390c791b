"""Nothing an implementer can type crashes the loader: only diagnostics come back."""

from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import Position, Report
from engine.expressions.compiler import ExprContext, compile_expression
from engine.language.loader import load_module
from engine.language.model import FieldScope
from tests.conftest import BASE_FILES, ROOT

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["no", "NO", "yes", "on", "2024-01-05", "${age} > 3", "*", "case", "intake", "text", "open"]),
)
KEYS = st.sampled_from(
    [
        "id",
        "title",
        "label",
        "type",
        "fields",
        "choices",
        "record_type",
        "forms",
        "states",
        "transitions",
        "roles",
        "from",
        "to",
        "relevant",
        "calculate",
        "initial",
        "value",
        "x",
    ]
)
YAML_DATA = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25
)
FILES = sorted(BASE_FILES)


def _write_module(root: str, replace: str, content: bytes) -> None:
    import textwrap

    for name, text in BASE_FILES.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(content if name == replace else textwrap.dedent(text).lstrip("\n").encode())


def _load(replace: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _write_module(tmp, replace, content)
        result = load_module(tmp)
        assert result.module is None or not result.report.errors
        for d in result.report.items:
            assert d.line >= 1 and d.column >= 1 and d.code


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES), st.binary(max_size=300))
def test_random_bytes_never_crash_the_loader(replace: str, content: bytes) -> None:
    _load(replace, content)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES), YAML_DATA)
def test_random_yaml_never_crashes_the_loader(replace: str, data: object) -> None:
    _load(replace, yaml.safe_dump(data, allow_unicode=True).encode())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="${}()'\"., =!<>+-*/abdegilmnorstuv0123456789_", max_size=40))
def test_random_expressions_only_produce_diagnostics(source: str) -> None:
    ctx = ExprContext("constraint", FieldScope(), {}, lambda f: "any")
    report = Report()
    compile_expression(source, Position("f.yaml", 3, 7), ctx, report)
    for d in report.items:
        assert d.code.startswith("expr.")


def _paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutated(text: str, pick: int, value: object, delete: bool) -> bytes:
    import textwrap

    data = yaml.safe_load(textwrap.dedent(text))
    paths = [p for p in _paths(data) if p]
    path = paths[pick % len(paths)]
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return yaml.safe_dump(data, allow_unicode=True).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FILES), st.integers(min_value=0, max_value=10_000), YAML_DATA, st.booleans())
def test_mutated_valid_modules_never_crash_the_loader(replace: str, pick: int, value: object, delete: bool) -> None:
    """One change anywhere in a valid module reaches the semantic checks, which must not crash."""
    _load(replace, _mutated(BASE_FILES[replace], pick, value, delete))


_QUICKSTART = load_module(os.path.join(ROOT, "examples", "quickstart"))
assert _QUICKSTART.module is not None
_CASE = _QUICKSTART.module.record_types["case"]
ANSWER_VALUES = st.one_of(
    SCALARS,
    st.lists(st.one_of(st.text(max_size=5), st.sampled_from(["health", "other", "shelter"])), max_size=3),
    st.lists(st.dictionaries(st.sampled_from(sorted(_CASE.all_fields)), SCALARS, max_size=4), max_size=3),
    st.sampled_from(["2008-11-24", "2026-02-30", "yes", "no", "north", "high", "ABC-1234", "-5", "1e3"]),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_CASE.all_fields)), ANSWER_VALUES, max_size=12))
def test_any_submitted_answers_are_evaluated_without_crashing(answers: dict[str, object]) -> None:
    from engine.runtime.evaluation import evaluate

    ev = evaluate(_CASE, answers, "2026-11-24")
    cleaned = ev.answers()
    # whatever came in, what would be stored only holds relevant fields of the record type
    assert set(cleaned) <= set(_CASE.scope.fields)
    assert all(k in ev.relevant for k in cleaned)
