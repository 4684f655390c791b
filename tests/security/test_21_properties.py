"""Protection in depth (issue 14): the core never raises on what an implementer or a client sends.

- The expression parser answers any text with an AST or its one documented error,
  `ExpressionSyntaxError` (with an offset inside the text); compiling any text gives `expr.*`
  findings, never an exception.
- The loader answers any YAML text in a form file (anchors and aliases, tags, merge keys, duplicate
  keys, several documents, tabs, dates, huge numbers) with findings that have a code and a place,
  never an exception.
- The evaluator answers answers of any JSON type in any field of the reference module (a list where
  a date is expected, an object for a number, rows that are not objects, numbers past 2**64) with an
  evaluation, never an exception; what it would store holds only the record type's fields.

tests/language/test_properties.py has the first version of each (a narrow alphabet, YAML made from
data, the quickstart module); these widen the inputs. Each runs at most 200 examples.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import Position, Report
from engine.expressions.compiler import ExprContext, compile_expression
from engine.expressions.parser import MAX_LENGTH, ExpressionSyntaxError, parse
from engine.language.loader import load_module
from engine.language.model import RecordType
from engine.runtime.evaluation import evaluate
from tests.conftest import BASE_FILES, ROOT

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_GBV = load_module(os.path.join(ROOT, "definitions", "gbv"))
assert _GBV.module is not None, [d.format() for d in _GBV.report.items if d.severity == "error"][:5]
REFERENCE: dict[str, RecordType] = dict(_GBV.module.record_types)
CASE = REFERENCE["case"]
#: a constraint of the reference module's case: every field of the case may be named
CONTEXT = ExprContext("constraint", CASE.scope, dict(CASE.all_fields), lambda f: "any")

# -- the expression language ------------------------------------------------------------------------------
TOKENS = st.sampled_from(
    [
        "${age}",
        "${../age}",
        "${sex}",
        ".",
        "'yes'",
        '"no"',
        "1",
        "2.5",
        ".5",
        "-",
        "+",
        "*",
        " div ",
        " mod ",
        " and ",
        " or ",
        "=",
        "!=",
        "<=",
        ">",
        "(",
        ")",
        ",",
        "true",
        "false",
        "count(",
        "sum(",
        "if(",
        "not(",
        "regex(",
        "today()",
        "selected(",
        "setting(",
        "age",
        "'",
        "${",
        "}",
        "\\",
        "\x00",
        "\ud800",
        "٣",
        "١٢",
    ]
)
ANY_TEXT = st.one_of(
    st.text(max_size=120),  # any Unicode, lone surrogates and NUL included
    st.lists(TOKENS, max_size=40).map("".join),
    st.lists(st.one_of(TOKENS, st.text(max_size=3)), max_size=25).map(" ".join),
)


@BOUNDED
@given(ANY_TEXT)
def test_the_parser_answers_any_text_with_an_ast_or_its_syntax_error(text: str) -> None:
    try:
        ast = parse(text)
    except ExpressionSyntaxError as exc:
        assert isinstance(exc.message, str) and exc.message
        assert 0 <= exc.offset <= max(len(text), 1)
    else:
        assert isinstance(ast, dict) and "op" in ast


@BOUNDED
@given(ANY_TEXT)
def test_compiling_any_text_gives_only_expression_findings(text: str) -> None:
    report = Report()
    compile_expression(text, Position("forms/x.yaml", 3, 7), CONTEXT, report)
    for d in report.items:
        assert d.code.startswith("expr."), d.code
        assert d.line >= 1 and d.column >= 1


def _deep(kind: str, n: int) -> str:
    return {
        "minus": "-" * n + "1",
        "sum": "1" + " + 1" * n,
        "and": "${age} > 1" + " and ${age} > 1" * n,
        "parens": "(" * n + "1" + ")" * n,
        "calls": "not(" * n + "true" + ")" * n,
    }[kind]


def _compile_deep(text: str) -> None:
    try:
        parse(text)
    except ExpressionSyntaxError:
        pass
    report = Report()
    compile_expression(text, Position("forms/x.yaml", 3, 7), CONTEXT, report)
    assert all(d.code in ("expr.syntax", "expr.too-complex") for d in report.items), [d.code for d in report.items]


@BOUNDED
@given(st.sampled_from(["minus", "sum", "and", "parens", "calls"]), st.integers(min_value=1, max_value=120))
def test_nested_expressions_are_a_finding_never_a_crash(kind: str, n: int) -> None:
    _compile_deep(_deep(kind, n))


@pytest.mark.parametrize("n", [200, MAX_LENGTH // 2])
@pytest.mark.parametrize("kind", ["parens", "calls"])
def test_deep_nesting_is_a_finding(kind: str, n: int) -> None:
    _compile_deep(_deep(kind, n))


@pytest.mark.parametrize("n", [600, MAX_LENGTH - 1])
def test_a_long_chain_of_minus_signs_is_a_finding(n: int) -> None:
    _compile_deep(_deep("minus", n))


def test_a_long_sum_is_a_finding() -> None:
    _compile_deep("1" + "+1" * (MAX_LENGTH // 2 - 1))


# -- the YAML of a form file --------------------------------------------------------------------------------
FRAGMENTS = st.sampled_from(
    [
        "id: intake",
        "title: Intake",
        "record_type: case",
        "fields:",
        "  - id: sex",
        "    type: select_one",
        "    choices: sex",
        "    label: Sex",
        "    relevant: ${age} < 18",
        "  - {id: age, type: integer, label: Age, min: 0, max: 120}",
        "  - id: dob\n    type: date\n    label: Date of birth",
        "base: &base {type: text, label: Base}",
        "  - <<: *base\n    id: copy",
        "  - *base",
        "  - *undefined_anchor",
        "id: intake\nid: again",
        "? [complex, key]\n: value",
        "!!python/object/apply:os.system ['true']",
        "label: !custom tagged",
        "x: !!binary aGVsbG8=",
        "x: !!set {a, b}",
        "x: !!omap [a: 1]",
        "x: !!timestamp 2001-12-14",
        "x: 2024-01-05",
        "x: 0x1F",
        "x: 1e999",
        "x: " + "9" * 150,
        "x: .nan",
        "x: -.inf",
        "x: ~",
        "x: no",
        "x: 'unterminated",
        'x: "\\ud800"',
        'x: "\\0"',
        "x: |\n  a block\n   of text",
        "x: >-\n  folded",
        "- - - nested",
        "[unclosed",
        "{a: 1, a: 2}",
        "\t- tab",
        "%YAML 1.1\n---",
        "%TAG ! tag:example.com,2000:\n---",
        "---",
        "...",
        "# a comment",
        "",
        "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b]",
    ]
)
YAML_TEXT = st.lists(
    st.tuples(st.sampled_from(["", "  ", "    ", "\t"]), st.one_of(FRAGMENTS, st.text(max_size=15))), max_size=25
).map(lambda lines: "\n".join(indent + line for indent, line in lines))


def _load_with_form(text: str) -> None:
    with tempfile.TemporaryDirectory() as root:
        for name, content in BASE_FILES.items():
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = text if name == "forms/intake.yaml" else textwrap.dedent(content).lstrip("\n")
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
                fh.write(data)
        result = load_module(root)
    assert result.module is None or not result.report.errors
    for d in result.report.items:
        assert d.code and d.line >= 1 and d.column >= 1, d.format()


@BOUNDED
@given(YAML_TEXT)
def test_any_yaml_in_a_form_file_gives_findings_never_an_exception(text: str) -> None:
    _load_with_form(text)


@pytest.mark.parametrize(
    "text",
    [
        # a billion laughs: nine levels of nine aliases
        "\n".join(
            [f"l0: &l0 [{', '.join(['lol'] * 9)}]"]
            + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
        ),
        "a: &a [*a]",  # an alias of itself
        "fields: " + "[" * 300 + "]" * 300,  # deep flow nesting
        "fields:\n" + "".join("  " * i + "- \n" for i in range(400)),  # deep block nesting
        "x: " + "a" * 2_000_000,  # a long scalar
    ],
    ids=["billion-laughs", "self-alias", "deep-flow", "deep-block", "long-scalar"],
)
def test_hostile_yaml_gives_findings_never_an_exception(text: str) -> None:
    _load_with_form(text)


def test_yaml_nested_500_deep_gives_a_finding() -> None:
    _load_with_form("fields: " + "[" * 500 + "]" * 500)


# -- answers of the wrong type ------------------------------------------------------------------------------
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(["", " ", "yes", "no", "2026-02-30", "2026-11-24", "1990-01-01T10:00", "-5", "1e3", "٣"]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _answers(rt: RecordType) -> st.SearchStrategy[dict[str, Any]]:
    """Answers to the record type's fields, and rows of its subforms, with values of any type."""
    fields = sorted(rt.all_fields)
    row = st.dictionaries(st.sampled_from([*fields, "_row"]), JSON_VALUES, max_size=5)
    value = st.one_of(JSON_VALUES, st.lists(row, max_size=3))
    return st.dictionaries(st.sampled_from([*fields, "not_a_field"]), value, max_size=15)


@BOUNDED
@given(st.data())
def test_answers_of_any_type_are_evaluated_never_an_exception(data: st.DataObject) -> None:
    for rt in REFERENCE.values():
        answers = data.draw(_answers(rt), label=rt.id)
        ev = evaluate(rt, answers, "2026-11-24")
        stored = ev.answers()
        assert set(stored) <= set(rt.scope.fields)
        for form_id in rt.forms:
            ev.errors_for(form_id)
        again = evaluate(rt, stored, "2026-11-24")  # what is stored is read again without a crash
        again.answers()
