"""Run the language-neutral expression conformance vectors against the Python evaluator."""

from __future__ import annotations

import os
from typing import Any

import yaml

from engine.diagnostics import Position, Report
from engine.expressions.compiler import FIELD_VALUE_TYPES, Env, ExprContext, compile_expression
from engine.language.model import Choice, Field, FieldScope, Lookup, RecordType
from engine.runtime.evaluation import evaluate

VECTORS = os.path.join(os.path.dirname(__file__), "conformance", "expressions.yaml")


def load_vectors() -> dict[str, Any]:
    with open(VECTORS, encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def _fields(spec: dict[str, Any], scope: FieldScope, rt: RecordType) -> None:
    for fid, f in spec.items():
        field = Field(id=fid, type=f["type"], label=fid, pos=Position("vectors"), form_id="vectors", scope=scope)
        if "choices" in f:
            field.choices = tuple(Choice(str(v), str(v)) for v in f["choices"])
        elif f["type"] == "yes_no":
            field.choices = (Choice("yes", "Yes"), Choice("no", "No"))
        scope.fields[fid] = field
        rt.all_fields[fid] = field
        if f["type"] == "subform":
            field.subform = FieldScope(parent=scope, owner=field)
            _fields(f["fields"], field.subform, rt)
            field.subform.order = tuple(field.subform.fields.values())


_LOOKUPS: dict[str, Lookup] = {}


def _lookups(data: dict[str, Any]) -> dict[str, Lookup]:
    """The vectors' option lists (`lookups:`), for lookup()."""
    for lid, spec in (data.get("lookups") or {}).items():
        choices = tuple(
            Choice(str(c["value"]), str(c["label"]), {k: v for k, v in c.items() if k not in ("value", "label")})
            for c in spec.get("choices") or ()
        )
        _LOOKUPS[lid] = Lookup(lid, None, choices, Position("vectors"), tuple(spec.get("columns") or ()))
    return _LOOKUPS


def catalogue(data: dict[str, Any]) -> RecordType:
    _lookups(data)
    rt = RecordType("vectors", "Vectors", (), None, FieldScope())
    _fields(data["fields"], rt.scope, rt)
    rt.scope.order = tuple(rt.scope.fields.values())
    rt.steps = rt.scope.order
    return rt


def run_vector(rt: RecordType, vector: dict[str, Any], default_today: str) -> tuple[str, Any]:
    """('error', code or None) for error vectors, else ('value', result)."""
    scope = rt.scope
    row_path = vector.get("row")
    if row_path:
        name, _, index = row_path.partition("[")
        scope = rt.scope.fields[name].subform  # type: ignore[assignment]
    kind, self_field, keys = "calculate", None, None
    if "dot" in vector:
        kind = "constraint"
        dot = vector["dot"]
        ftype = "integer" if isinstance(dot, int) else "decimal" if isinstance(dot, float) else "text"
        self_field = Field(id="self", type=ftype, label="self", pos=Position("vectors"), form_id="v", scope=scope)
    if "choice" in vector:
        kind = "choice_filter"
        keys = frozenset(vector["choice"])
    report = Report()
    ctx = ExprContext(
        kind, scope, rt.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"), self_field, keys, lookups=_LOOKUPS
    )
    expr = compile_expression(vector["expr"], Position("vectors"), ctx, report)
    if "error" in vector:
        return "error", [d.code for d in report.items]
    if expr is None:
        return "error", [d.format() for d in report.items]
    today = vector.get("today", default_today)
    ev = evaluate(rt, vector.get("answers") or {}, today)
    values, parents = ev.values, ()
    if row_path:
        name, _, index = row_path.partition("[")
        rows = ev.values.get(name) or []
        values, parents = rows[int(index.rstrip("]"))], (ev.values,)
    env = Env(values, parents, today, vector.get("dot", ""), vector.get("choice"))
    return "value", expr(env)


def compiled_ast(rt: RecordType, vec: dict[str, Any]) -> Any:
    """The JSON AST the browser receives for a vector: the compiled expression's (subform columns,
    rows and settings resolved), as `run_vector` compiles it (tests/js/run_conformance.mjs too)."""
    from engine.expressions.parser import parse, to_json

    scope = rt.scope
    if vec.get("row"):
        sub = rt.scope.fields[vec["row"].partition("[")[0]].subform
        assert sub is not None
        scope = sub
    kind, self_field, keys = "calculate", None, None
    if "dot" in vec:
        kind = "constraint"
        dot = vec["dot"]
        ftype = "integer" if isinstance(dot, int) else "decimal" if isinstance(dot, float) else "text"
        self_field = Field(id="self", type=ftype, label="self", pos=Position("vectors"), form_id="v", scope=scope)
    if "choice" in vec:
        kind, keys = "choice_filter", frozenset(vec["choice"])
    ctx = ExprContext(
        kind, scope, rt.all_fields, lambda f: FIELD_VALUE_TYPES.get(f.type, "any"), self_field, keys, lookups=_LOOKUPS
    )
    expr = compile_expression(vec["expr"], Position("vectors"), ctx, Report())
    return expr.to_json() if expr is not None else to_json(parse(vec["expr"]))


def browser_payload() -> list[dict[str, Any]]:
    """Each non-error vector as {name, ast, env, expect}, with the answers normalised as the Python
    evaluator sees them and the AST as the browser receives it (compiled), so a browser evaluator
    runs exactly the same cases."""
    data = load_vectors()
    rt = catalogue(data)
    out = []
    for v in data["vectors"]:
        if "error" in v:
            continue
        today = v.get("today", data["today"])
        ev = evaluate(rt, v.get("answers") or {}, today)
        values: dict[str, Any] = ev.values
        parents: list[dict[str, Any]] = []
        pos = 0
        if v.get("row"):
            name, _, index = v["row"].partition("[")
            values, parents = (ev.values.get(name) or [])[int(index.rstrip("]"))], [ev.values]
            pos = int(index.rstrip("]")) + 1  # position(..): JSON loses which row of its parent's it is
        env = {
            "v": values,
            "up": parents,
            "today": today,
            "dot": v.get("dot", ""),
            "choice": v.get("choice"),
            "pos": pos,
        }
        out.append({"name": v["name"], "ast": compiled_ast(rt, v), "env": env, "expect": v["expect"]})
    return out
