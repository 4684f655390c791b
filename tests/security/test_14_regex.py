"""Finding 14: a catastrophic regex in a definition (regex(., '^(a+)+$')) passed validate, and 28
characters froze the whole server for seconds (the GIL), exponentially in the length."""

from __future__ import annotations

import time

from engine.diagnostics import Position, Report
from engine.expressions.compiler import Env, ExprContext, compile_expression
from engine.language.model import Field, FieldScope
from tests.security.conftest import World


def _compiled(pattern: str) -> tuple[object, Report]:
    scope = FieldScope()
    f = Field("code", "text", "Code", Position("f.yaml"), "form", scope)
    scope.fields["code"] = f
    report = Report()
    ctx = ExprContext("constraint", scope, {"code": f}, lambda x: "text", f)
    return compile_expression(f"regex(., '{pattern}')", Position("f.yaml", 1, 1), ctx, report), report


def test_a_backtracking_pattern_runs_in_linear_time_on_the_server() -> None:
    expr, report = _compiled("^(a+)+$")
    assert expr is not None, [d.message for d in report.items]
    started = time.perf_counter()
    env = Env({}, (), "2026-01-01", dot="a" * 5000 + "!")
    assert expr(env) is False  # type: ignore[operator]
    assert time.perf_counter() - started < 1.0  # exponential backtracking would never finish


def test_validate_warns_that_browsers_would_backtrack() -> None:
    _expr, report = _compiled("^(a+)+$")
    assert [d.code for d in report.items] == ["expr.slow-regex"]


def test_a_constraint_with_such_a_pattern_does_not_freeze_a_save(world: World) -> None:
    rec = world.case()
    started = time.perf_counter()
    r = world.client("amina").patch(
        f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"contact_code": "a" * 26 + "!"}}
    )
    assert r.status_code == 422, r.text
    assert time.perf_counter() - started < 2  # backtracking takes seconds at 26 characters, doubling with each
