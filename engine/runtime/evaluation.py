"""Evaluate a record: one pure function from (record type, answers, today) to what the form shows.

It decides which forms and fields are relevant, which are required, computes calculations in the
dependency order fixed at load, clears the values of non-relevant fields, and lists every error
(required, type, choice, limit, constraint) with its message. The server treats its result as
authoritative; the browser runs the same expressions for live feedback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.expressions.compiler import Env
from engine.expressions.values import order, tidy, truth
from engine.i18n import N_, _, current, field_path
from engine.language.answers import ROW_ID, is_empty, normalize, valid_row_id
from engine.language.model import Field, FieldScope, Form, RecordType

DEFAULT_REQUIRED = N_("This field is required.")
DEFAULT_CONSTRAINT = N_("This answer is not valid.")


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  # 'field' or 'subform[0].field'
    field: Field
    code: str  # required | constraint | type | choice | min | max
    message: str


@dataclass
class Evaluation:
    record_type: RecordType
    values: dict[str, Any]  # every field's value; non-relevant ones cleared to '' (or [] for subforms)
    today: str = ""
    relevant: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    errors: list[FieldError] = field(default_factory=list)
    forms_relevant: dict[str, bool] = field(default_factory=dict)
    error_paths: set[str] = field(default_factory=set)  # paths with an error, for a lookup in constant time

    def fail(self, error: FieldError) -> None:
        self.errors.append(error)
        self.error_paths.add(error.path)

    @property
    def valid(self) -> bool:
        return not self.errors

    def value_at(self, path: str) -> Any:
        """The value at 'field' or 'subform[0].field' ('' when absent)."""
        current: Any = self.values
        for part in path.split("."):
            name, _, index = part.partition("[")
            if not isinstance(current, dict):
                return ""
            current = current.get(name, "")
            if index:
                i = int(index.rstrip("]"))
                current = current[i] if isinstance(current, list) and i < len(current) else {}
        return current

    def errors_for(self, form_id: str) -> list[FieldError]:
        return [e for e in self.errors if e.field.form_id == form_id]

    def answers(self) -> dict[str, Any]:
        """The answers to store: relevant, non-empty values (calculations included), notes left out."""
        return _clean(self.record_type.scope, self.values)


def _clean(scope: FieldScope, values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in scope.fields.values():
        v = values.get(f.id, "")
        if f.type == "note" or is_empty(v):
            continue
        if f.subform is not None and isinstance(v, list):
            out[f.id] = [_keep_row_id(row, _clean(f.subform, row)) for row in v]
        else:
            out[f.id] = v
    return out


def _keep_row_id(row: dict[str, Any], cleaned: dict[str, Any]) -> dict[str, Any]:
    if valid_row_id(row.get(ROW_ID)):
        return {ROW_ID: row[ROW_ID], **cleaned}
    return cleaned


def evaluate(rt: RecordType, answers: dict[str, Any] | None, today: str | None = None) -> Evaluation:
    today = today or date.today().isoformat()
    answers = answers if isinstance(answers, dict) else {}
    values: dict[str, Any] = {}
    ev = Evaluation(rt, values, today)
    env = Env(values, (), today)
    forms = ev.forms_relevant
    for step in rt.steps:
        if isinstance(step, Form):
            forms[step.id] = step.relevant is None or step.relevant.holds(env)
        else:
            _compute(step, answers, values, env, "", forms.get(step.form_id, True), ev)
    for form_id in rt.forms:
        forms.setdefault(form_id, True)
    _validate(rt.scope, values, (), today, "", ev)
    return ev


def _compute(
    f: Field, raw: dict[str, Any], values: dict[str, Any], env: Env, prefix: str, parent_ok: bool, ev: Evaluation
) -> None:
    path = prefix + f.id
    if not parent_ok or (f.relevant is not None and not f.relevant.holds(env)):
        values[f.id] = [] if f.type == "subform" else ""
        return
    ev.relevant.add(path)
    if f.calculate is not None:
        own = raw.get(f.id, "")  # the stored answer, which once() keeps
        env.own = "" if is_empty(own) or isinstance(own, dict) else own
        result = f.calculate(env)
        env.own = ""
        values[f.id] = tidy(result) if isinstance(result, float) else result
    elif f.subform is not None:
        rows_raw, problem = normalize(f, raw.get(f.id))
        if problem:
            ev.fail(FieldError(path, f, "type", _(problem)))
        rows: list[dict[str, Any]] = []
        values[f.id] = rows
        parents = (env.v, *env.up)
        for i, row_raw in enumerate(rows_raw):
            row: dict[str, Any] = {ROW_ID: row_raw[ROW_ID]} if valid_row_id(row_raw.get(ROW_ID)) else {}
            row_env = Env(row, parents, env.today, pos=i + 1)
            for inner in f.subform.order:
                _compute(inner, row_raw, row, row_env, f"{path}[{i}].", True, ev)
            rows.append(row)
    elif f.type == "note":
        values[f.id] = ""
    else:
        value, problem = normalize(f, raw.get(f.id))
        if problem:
            ev.fail(FieldError(path, f, "type", _(problem)))
        values[f.id] = value


def _message(f: Field, key: str) -> str | None:
    """A message written in the definitions, in the current language (English if untranslated)."""
    english = getattr(f, key)
    if not english:
        return None
    return current().text(f"{field_path(f)}/{key}", english)[0]


def _limit_error(f: Field, v: Any, path: str, ev: Evaluation) -> None:
    for key, sign in (("min", -1), ("max", 1)):
        limit = getattr(f, key)
        if limit is None:
            continue
        measured = len(v) if f.type == "subform" else (v[:10] if f.type == "datetime" else v)
        if order(measured, limit) == sign:
            if f.type == "subform":
                n = int(limit)
                msg = (
                    current().ngettext("Add at least %(num)s row.", "Add at least %(num)s rows.", n)
                    if key == "min"
                    else current().ngettext("Add no more than %(num)s row.", "Add no more than %(num)s rows.", n)
                )
            elif key == "min":
                msg = (
                    _("The answer must be %(limit)s or more.", limit=limit)
                    if f.type in ("integer", "decimal")
                    else _("The date must be on or after %(limit)s.", limit=limit)
                )
            else:
                msg = (
                    _("The answer must be %(limit)s or less.", limit=limit)
                    if f.type in ("integer", "decimal")
                    else _("The date must be on or before %(limit)s.", limit=limit)
                )
            ev.fail(FieldError(path, f, key, msg))


def choice_allowed(f: Field, value: str, env: Env) -> bool:
    """Is `value` one of the field's choices, and offered by its choice_filter in `env`?"""
    choices = f.choices or ()
    for c in choices:
        if c.value == value:
            if f.choice_filter is None:
                return True
            saved = env.choice
            env.choice = {"value": c.value, **c.keys}
            try:
                return f.choice_filter.holds(env)
            finally:
                env.choice = saved
    return False


def _validate(
    scope: FieldScope,
    values: dict[str, Any],
    parents: tuple[dict[str, Any], ...],
    today: str,
    prefix: str,
    ev: Evaluation,
    pos: int = 0,
) -> None:
    env = Env(values, parents, today, pos=pos)
    for f in scope.fields.values():
        path = prefix + f.id
        if path not in ev.relevant or f.type in ("note", "calculate"):
            continue
        v = values.get(f.id, "")
        required = f.required if isinstance(f.required, bool) else f.required.holds(env)
        if required:
            ev.required.add(path)
        if f.subform is not None:
            if required and not v:
                ev.fail(FieldError(path, f, "required", _message(f, "required_message") or _("Add at least one row.")))
            _limit_error(f, v, path, ev)
            if f.constraint is not None and v:
                env.dot = v
                ok = truth(f.constraint(env))
                env.dot = ""
                if not ok:
                    ev.fail(
                        FieldError(path, f, "constraint", _message(f, "constraint_message") or _(DEFAULT_CONSTRAINT))
                    )
            for i, row in enumerate(v):
                _validate(f.subform, row, (values, *parents), today, f"{path}[{i}].", ev, i + 1)
            continue
        if is_empty(v):
            if required and path not in ev.error_paths:
                ev.fail(FieldError(path, f, "required", _message(f, "required_message") or _(DEFAULT_REQUIRED)))
            continue
        if f.choices is not None:
            chosen = v if isinstance(v, list) else [v]
            bad = [c for c in chosen if not choice_allowed(f, c, env)]
            if bad:
                ev.fail(
                    FieldError(path, f, "choice", _("'%(value)s' is not one of the options offered.", value=bad[0]))
                )
                continue
        _limit_error(f, v, path, ev)
        if f.constraint is not None:
            env.dot = v
            ok = truth(f.constraint(env))
            env.dot = ""
            if not ok:
                ev.fail(FieldError(path, f, "constraint", _message(f, "constraint_message") or _(DEFAULT_CONSTRAINT)))
