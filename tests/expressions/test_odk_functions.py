"""uuid(), random(), now() and once(): values the conformance vectors cannot fix (issue 15)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from engine.diagnostics import Position, Report
from engine.expressions.compiler import FIELD_VALUE_TYPES, Env, ExprContext, compile_expression
from engine.runtime.evaluation import evaluate
from tests.conformance_support import catalogue, load_vectors

RT = catalogue(load_vectors())
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def run(source: str, values: dict[str, Any] | None = None, today: str = "", **env: Any) -> Any:
    ctx = ExprContext("calculate", RT.scope, RT.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"))
    expr = compile_expression(source, Position("test"), ctx, Report())
    assert expr is not None, source
    return expr(Env(values or {}, (), today, **env))


def test_uuid_is_a_version_4_uuid_each_time_new() -> None:
    seen = {run("uuid()") for _ in range(200)}
    assert len(seen) == 200
    assert all(isinstance(u, str) and len(u) == 36 and UUID4.match(u) for u in seen)


def test_random_is_a_number_in_0_1() -> None:
    xs = [run("random()") for _ in range(500)]
    assert all(isinstance(x, float) and 0 <= x < 1 for x in xs)
    assert len(set(xs)) > 490


def test_now_is_the_current_time_today() -> None:
    before = datetime.now().replace(microsecond=0)
    got = run("now()", today=before.date().isoformat())
    after = datetime.now()
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}", got)
    assert before <= datetime.fromisoformat(got) <= after
    assert run("now()")[:10] == datetime.now().date().isoformat()  # no today given: the clock's


def test_now_on_another_day_is_its_midnight() -> None:
    assert run("now()", today="2024-02-29") == "2024-02-29T00:00:00"


def test_once_keeps_the_fields_answer() -> None:
    assert run("once(${age} + 1)", {"age": 4}) == 5
    assert run("once(${age} + 1)", {"age": 4}, own=9) == 9
    assert run("once(uuid())", own="kept") == "kept"


def test_once_in_a_calculation_keeps_the_stored_value() -> None:
    from engine.language.model import Field

    calc = Field(id="stamp", type="calculate", label="stamp", pos=Position("t"), form_id="vectors", scope=RT.scope)
    ctx = ExprContext("calculate", RT.scope, RT.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"))
    calc.calculate = compile_expression("once(concat('id-', ${age}))", Position("t"), ctx, Report())
    RT.scope.fields["stamp"] = calc
    saved = RT.steps
    RT.steps = (*RT.steps, calc)
    try:
        assert evaluate(RT, {"age": 3}).values["stamp"] == "id-3"
        assert evaluate(RT, {"age": 5, "stamp": "id-3"}).values["stamp"] == "id-3"
        assert evaluate(RT, {"age": 5, "stamp": ""}).values["stamp"] == "id-5"
    finally:
        RT.steps = saved
        del RT.scope.fields["stamp"]


def test_position_in_rows_while_evaluating_and_validating() -> None:
    members = RT.scope.fields["members"].subform
    assert members is not None
    ctx = ExprContext("calculate", members, RT.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"))
    expr = compile_expression("position(..)", Position("t"), ctx, Report())
    assert expr is not None
    assert expr(Env({}, ({},), "", pos=4)) == 4
    row = {"m_age": 1}
    assert expr(Env(row, ({"members": [{}, row]},), "")) == 2  # found among the parent's rows
    assert expr(Env({}, ({"members": []},), "")) == ""
    assert expr.to_json() == {"op": "call", "fn": "position", "args": [{"op": "parent"}], "subform": "members"}


def test_choice_name_exports_the_labels() -> None:
    ctx = ExprContext("calculate", RT.scope, RT.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"))
    expr = compile_expression("jr:choice-name(${consent}, '${consent}')", Position("t"), ctx, Report())
    assert expr is not None
    ast = expr.to_json()
    assert ast["fn"] == "choice-name" and ast["labels"] == {"yes": "Yes", "no": "No"}
