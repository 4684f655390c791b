"""Nothing an implementer can type crashes the loader: only diagnostics come back."""

from __future__ import annotations

import os
import tempfile

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import Position, Report
from engine.expression import ExprContext, compile_expression
from engine.loader import load_module
from engine.model import FieldScope
from tests.conftest import BASE_FILES

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
