"""A record type as JSON: forms, fields and compiled expression ASTs, for the browser evaluator.

The browser (and later the offline client) evaluates the same expressions as the server from this
JSON, in the dependency order fixed at load, so it never parses expression text itself.
"""

from __future__ import annotations

from typing import Any

from engine.expressions.compiler import Expression
from engine.language.model import Field, Form, Module


def _ast(expr: Expression | None) -> dict[str, Any] | None:
    return expr.to_json() if expr is not None else None


def field_to_json(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f.id, "type": f.type, "label": f.label, "sensitivity": f.sensitivity}
    optional: dict[str, Any] = {
        "hint": f.hint,
        "relevant": _ast(f.relevant),
        "required": f.required if isinstance(f.required, bool) else _ast(f.required),
        "required_message": f.required_message,
        "constraint": _ast(f.constraint),
        "constraint_message": f.constraint_message,
        "calculate": _ast(f.calculate),
        "choice_filter": _ast(f.choice_filter),
        "default": f.default,
        "min": f.min,
        "max": f.max,
    }
    out.update({k: v for k, v in optional.items() if v is not None and v is not False})
    if f.read_only:
        out["read_only"] = True
    if f.choices is not None:
        out["choices"] = [{"value": c.value, "label": c.label, **dict(c.keys)} for c in f.choices]
    if f.subform is not None:
        out["fields"] = [field_to_json(x) for x in f.subform.fields.values()]
        out["order"] = [x.id for x in f.subform.order]
    return out


def _order(steps: tuple[Form | Field, ...]) -> list[list[str]]:
    return [["form", s.id] if isinstance(s, Form) else ["field", s.id] for s in steps]


def record_type_to_json(module: Module, record_type: str) -> dict[str, Any]:
    rt = module.record_types[record_type]
    return {
        "module": module.id,
        "version": module.version,
        "record_type": rt.id,
        "title": rt.title,
        "forms": [
            {
                "id": form.id,
                "title": form.title,
                **({"description": form.description} if form.description else {}),
                **({"relevant": _ast(form.relevant)} if form.relevant is not None else {}),
                "fields": [field_to_json(f) for f in form.fields],
            }
            for form in (rt.forms[fid] for fid in rt.form_ids)
        ],
        "order": _order(rt.steps),
    }
