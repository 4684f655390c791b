"""Type-check an expression against the fields it reads and compile it to Python closures.

One walk over the AST does both: each node yields a closure `fn(env)`, its static value type and,
for a plain field reference, the field. Where types are known the closures are specialised (a
number field compared with a number literal is one dict lookup and one comparison), which keeps
evaluation within a small factor of hand-written Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.diagnostics import Position, Report, did_you_mean
from engine.expressions import values as V
from engine.expressions.parser import ExpressionSyntaxError, Node, parse, to_json

if TYPE_CHECKING:
    from engine.language.model import Field, FieldScope

Fn = Callable[["Env"], Any]

FIELD_VALUE_TYPES = {
    "text": "text",
    "textarea": "text",
    "select_one": "text",
    "yes_no": "text",
    "note": "text",
    "integer": "number",
    "decimal": "number",
    "date": "date",
    "datetime": "datetime",
    "select_multiple": "list",
    "subform": "rows",
}
_TYPE_WORDS = {
    "text": "a text",
    "number": "a number",
    "date": "a date",
    "datetime": "a date-time",
    "bool": "true/false",
    "list": "a multiple choice",
    "rows": "subform rows",
    "any": "a value",
}

#: name -> (min args, max args or None)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "count": (1, 1),
    "sum": (2, 2),
    "any": (2, 2),
    "all": (2, 2),
    "if": (3, 3),
    "coalesce": (2, None),
    "concat": (1, None),
    "join": (2, None),
    "string-length": (1, 1),
    "regex": (2, 2),
    "today": (0, 0),
    "date": (1, 1),
    "age": (1, 1),
    "days-between": (2, 2),
    "years-between": (2, 2),
    "int": (1, 1),
    "round": (1, 2),
    "min": (1, None),
    "max": (1, None),
    "not": (1, 1),
}
_JS_UNSAFE_REGEX = re.compile(r"\(\?P|\\A|\\Z|\(\?#|\(\?\(|\\N\{|\(\?[aiLmsux]+[:)]|\*\+|\+\+|\?\+")


class Env:
    """What an expression sees: the current values (a record or a row), its parents, today."""

    __slots__ = ("choice", "dot", "today", "up", "v")

    def __init__(
        self,
        v: dict[str, Any],
        up: tuple[dict[str, Any], ...] = (),
        today: str = "",
        dot: Any = "",
        choice: dict[str, Any] | None = None,
    ) -> None:
        self.v = v
        self.up = up
        self.today = today
        self.dot = dot
        self.choice = choice


@dataclass(eq=False, slots=True)
class Expression:
    source: str
    ast: Node
    fn: Fn
    type: str
    refs: tuple[Field, ...]
    pos: Position

    def __call__(self, env: Env) -> Any:
        return self.fn(env)

    def holds(self, env: Env) -> bool:
        return V.truth(self.fn(env))

    def to_json(self) -> Node:
        return to_json(self.ast)


@dataclass(slots=True)
class ExprContext:
    """Where an expression is written: its kind, the scope it reads from, and helpers."""

    kind: str  # relevant | required | constraint | calculate | choice_filter | when | form_relevant
    scope: FieldScope
    all_fields: dict[str, Field]
    type_of: Callable[[Field], str]
    self_field: Field | None = None
    choice_keys: frozenset[str] | None = None
    quoted: bool = False
    locate: Callable[[int], Position] | None = None  # offset in the text -> place in the file


@dataclass(slots=True)
class _C:
    fn: Fn
    type: str
    field: Field | None = None
    lit: Any = None
    is_lit: bool = False


@dataclass
class _Checker:
    source: str
    pos: Position
    ctx: ExprContext
    report: Report
    ok: bool = True
    refs: list[Field] = field(default_factory=list)

    # -- reporting -----------------------------------------------------------------------------
    def where(self, node: Node) -> Position:
        at = node.get("at", -1)
        if at < 0:
            return self.pos
        if self.ctx.locate is not None:
            return self.ctx.locate(at)
        if "\n" in self.source:
            return self.pos
        return Position(self.pos.file, self.pos.line, self.pos.column + at + (1 if self.ctx.quoted else 0))

    def error(self, node: Node, code: str, message: str, hint: str | None = None) -> _C:
        self.ok = False
        self.report.add(self.where(node), code, message, hint)
        return _C(lambda e: "", "any")

    # -- walking -------------------------------------------------------------------------------
    def visit(self, node: Node, scope: FieldScope) -> _C:
        op = node["op"]
        method: Callable[[Node, FieldScope], _C] = getattr(self, "v_" + op)
        return method(node, scope)

    def v_lit(self, node: Node, scope: FieldScope) -> _C:
        value = node["value"]
        t = "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"
        return _C(lambda e: value, t, lit=value, is_lit=True)

    def v_ref(self, node: Node, scope: FieldScope) -> _C:
        name, up = node["name"], node["up"]
        chain = scope.chain()
        if up >= len(chain):
            return self.error(
                node,
                "expr.scope",
                f"'${{{'../' * up}{name}}}' goes above the top level of the record",
                f"write ${{{'../' * (len(chain) - 1)}{name}}}" if len(chain) > 1 else f"write ${{{name}}}",
            )
        target = chain[up]
        f = target.fields.get(name)
        if f is None:
            return self._unknown(node, name, chain, up)
        self.refs.append(f)
        t = self.ctx.type_of(f) if f.type == "calculate" else FIELD_VALUE_TYPES[f.type]
        if up == 0:
            fn: Fn = lambda e: e.v.get(name, "")
        else:
            k = up - 1
            fn = lambda e: e.up[k].get(name, "")
        return _C(fn, t, field=f)

    def _unknown(self, node: Node, name: str, chain: list[FieldScope], up: int) -> _C:
        for k, s in enumerate(chain):
            if name in s.fields and k != up:
                ref = "${" + "../" * k + name + "}"
                return self.error(
                    node,
                    "expr.scope",
                    f"'{name}' is not a field of this row; it belongs to " + ("the parent record" if k else "this row"),
                    f"write {ref}",
                )
        other = self.ctx.all_fields.get(name)
        if other is not None:
            owner = other.scope.owner
            where = f"the subform '{owner.id}'" if owner is not None else "the top level of the record"
            hint = (
                f"use count(${{{owner.id}}}), sum(${{{owner.id}}}, …) or any(${{{owner.id}}}, …)"
                if owner is not None
                else None
            )
            return self.error(
                node,
                "expr.scope",
                f"the field '{name}' is inside {where}, which this expression cannot read directly",
                hint,
            )
        visible = [n for s in chain for n in s.fields] + list(self.ctx.all_fields)
        return self.error(node, "expr.unknown-field", f"there is no field '{name}'", did_you_mean(name, visible))

    def v_dot(self, node: Node, scope: FieldScope) -> _C:
        if self.ctx.kind != "constraint" or self.ctx.self_field is None:
            return self.error(
                node,
                "expr.dot-outside-constraint",
                "'.' (the field's own value) can only be used in a constraint",
                "refer to the field by name: ${field_id}",
            )
        f = self.ctx.self_field
        t = self.ctx.type_of(f) if f.type == "calculate" else FIELD_VALUE_TYPES[f.type]
        return _C(lambda e: e.dot, t, field=f)

    def v_choice(self, node: Node, scope: FieldScope) -> _C:
        name = node["name"]
        if self.ctx.kind != "choice_filter" or self.ctx.choice_keys is None:
            truthy = name.lower() in ("yes", "no", "on", "off", "y", "n", "true", "false")
            if truthy and self.source.strip() == name and self.ctx.kind in ("required", "relevant"):
                hint = f"write {self.ctx.kind}: true or {self.ctx.kind}: false (Sanad reads only those as booleans)"
            elif truthy or name[0].isupper():
                hint = f"a text is written in quotes: '{name}' (inside the expression, e.g. ${{field}} = '{name}')"
            else:
                hint = f"a field is written ${{{name}}}"
            return self.error(node, "expr.bare-name", f"the bare name '{name}' means nothing here", hint)
        if name not in self.ctx.choice_keys:
            return self.error(
                node,
                "expr.bare-name",
                f"the choices have no key '{name}'",
                did_you_mean(name, self.ctx.choice_keys)
                or f"the choice keys are: {', '.join(sorted(self.ctx.choice_keys))}",
            )
        return _C(lambda e: (e.choice or {}).get(name, ""), "any")

    def v_neg(self, node: Node, scope: FieldScope) -> _C:
        a = self.visit(node["args"][0], scope)
        self._numeric(node, a, "-")
        fa = a.fn
        return _C(lambda e: V.negate(fa(e)), "number")

    def v_not(self, node: Node, scope: FieldScope) -> _C:
        if len(node["args"]) != 1:
            return self.error(node, "expr.arity", f"not() takes 1 argument, not {len(node['args'])}")
        a = self.visit(node["args"][0], scope)
        fa = a.fn
        return _C(lambda e: not V.truth(fa(e)), "bool")

    def v_and(self, node: Node, scope: FieldScope) -> _C:
        a, b = (self.visit(x, scope) for x in node["args"])
        fa, fb = a.fn, b.fn
        if a.type == "bool" and b.type == "bool":
            return _C(lambda e: fa(e) and fb(e), "bool")
        return _C(lambda e: V.truth(fa(e)) and V.truth(fb(e)), "bool")

    def v_or(self, node: Node, scope: FieldScope) -> _C:
        a, b = (self.visit(x, scope) for x in node["args"])
        fa, fb = a.fn, b.fn
        if a.type == "bool" and b.type == "bool":
            return _C(lambda e: fa(e) or fb(e), "bool")
        return _C(lambda e: V.truth(fa(e)) or V.truth(fb(e)), "bool")

    # -- comparisons ---------------------------------------------------------------------------
    def v_cmp(self, node: Node, scope: FieldScope) -> _C:
        a, b = (self.visit(x, scope) for x in node["args"])
        op = node["cmp"]
        self._check_choice(node, a, b)
        self._check_choice(node, b, a)
        self._check_comparable(node, a, b, op)
        return _C(_compile_cmp(op, a, b), "bool")

    def _check_choice(self, node: Node, side: _C, other: _C) -> None:
        f = side.field
        if f is None or not other.is_lit or not isinstance(other.lit, str) or other.lit == "":
            return
        allowed = f.choice_values if f.type != "yes_no" else frozenset({"yes", "no"})
        if allowed is not None and other.lit not in allowed:
            self.error(
                node,
                "expr.unknown-choice",
                f"'{other.lit}' is not one of the choices of '{f.id}'",
                did_you_mean(other.lit, allowed) or f"the choices are: {', '.join(sorted(allowed)[:12])}",
            )

    def _check_comparable(self, node: Node, a: _C, b: _C, op: str) -> None:
        kinds = {a.type, b.type}
        if "rows" in kinds:
            sub = a.field or b.field
            name = sub.id if sub else "subform"
            self.error(
                node,
                "expr.type-mismatch",
                "subform rows cannot be compared",
                f"compare count(${{{name}}}) or use any(${{{name}}}, …)",
            )
            return
        dates = kinds & {"date", "datetime"}
        if dates and "number" in kinds:
            self.error(
                node,
                "expr.type-mismatch",
                "a date is compared with a number",
                "use days-between(date1, date2) or age(date) to get a number",
            )
            return
        for x, y in ((a, b), (b, a)):
            if x.type in ("date", "datetime") and x.field is not None and y.is_lit and isinstance(y.lit, str) and y.lit:
                if V.parse_date(y.lit) is None:
                    self.error(
                        node,
                        "expr.type-mismatch",
                        f"a date is compared with the text '{y.lit}'",
                        "write a date as date('YYYY-MM-DD')",
                    )
                    return
            if x.type == "number" and x.field is not None and y.is_lit and isinstance(y.lit, str) and y.lit != "":
                if V.as_number(y.lit) is None:
                    self.error(
                        node,
                        "expr.type-mismatch",
                        f"a number is compared with the text '{y.lit}'",
                        "compare with a number, without quotes",
                    )
                    return
        if op not in ("=", "!=") and "list" in kinds:
            self.error(
                node,
                "expr.type-mismatch",
                "a multiple-choice answer cannot be ordered with < or >",
                "use count-selected() to compare how many options are selected",
            )

    # -- arithmetic ----------------------------------------------------------------------------
    def _numeric(self, node: Node, c: _C, op: str) -> None:
        if c.type in ("number", "any", "bool") and not (c.is_lit and isinstance(c.lit, bool)):
            return
        if c.is_lit and isinstance(c.lit, str) and V.as_number(c.lit) is not None:
            return
        hint = None
        if c.type in ("date", "datetime"):
            hint = "use days-between(date1, date2) for the days between two dates"
        elif c.type == "list":
            hint = "use count-selected() for how many options are selected"
        elif c.type == "rows":
            hint = "use count() or sum() over the subform"
        what = f"the field '{c.field.id}'" if c.field else "this value"
        self.error(node, "expr.type-mismatch", f"'{op}' needs numbers, but {what} is {_TYPE_WORDS[c.type]}", hint)

    def v_arith(self, node: Node, scope: FieldScope) -> _C:
        a, b = (self.visit(x, scope) for x in node["args"])
        op = node["arith"]
        self._numeric(node, a, op)
        self._numeric(node, b, op)
        fa, fb = a.fn, b.fn
        return _C(lambda e: V.arith(op, fa(e), fb(e)), "number")

    # -- functions -----------------------------------------------------------------------------
    def v_call(self, node: Node, scope: FieldScope) -> _C:
        fn_name, args = node["fn"], node["args"]
        if fn_name not in FUNCTIONS:
            return self.error(
                node,
                "expr.unknown-function",
                f"there is no function '{fn_name}()'",
                did_you_mean(fn_name, FUNCTIONS) or "see docs/expressions.md for the functions",
            )
        lo, hi = FUNCTIONS[fn_name]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = str(lo) if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            return self.error(
                node, "expr.arity", f"{fn_name}() takes {want} argument{'s' if want != '1' else ''}, not {len(args)}"
            )
        if fn_name in ("sum", "any", "all", "count"):
            return self._aggregate(node, fn_name, args, scope)
        cs = [self.visit(a, scope) for a in args]
        handler: Callable[[Node, list[_C], list[Node]], _C] = getattr(self, "f_" + fn_name.replace("-", "_"))
        return handler(node, cs, args)

    def _aggregate(self, node: Node, fn_name: str, args: list[Node], scope: FieldScope) -> _C:
        sub = self.visit(args[0], scope)
        f = sub.field
        if f is None or f.subform is None:
            if sub.type != "any" or f is not None or args[0]["op"] != "lit":
                what = f"'{f.id}' is not a subform" if f is not None else "the first argument must be a subform"
                return self.error(
                    node,
                    "expr.not-subform",
                    f"{fn_name}() counts subform rows, but {what}",
                    "pass a subform field, e.g. count(${household})",
                )
            return self.error(node, "expr.not-subform", f"{fn_name}() needs a subform field", None)
        fsub = sub.fn
        up = args[0].get("up", 0)
        if fn_name == "count":
            return _C(lambda e: len(r) if isinstance(r := fsub(e), list) else 0, "number")
        inner = self.visit(args[1], f.subform)
        fi = inner.fn
        if fn_name == "sum":
            self._numeric(node, inner, "sum")

        def parents(e: Env) -> tuple[dict[str, Any], ...]:
            return (e.v, *e.up) if up == 0 else e.up[up - 1 :]

        def rows(e: Env) -> list[dict[str, Any]]:
            r = fsub(e)
            return [x for x in r if isinstance(x, dict)] if isinstance(r, list) else []

        if fn_name == "sum":

            def f_sum(e: Env) -> Any:
                total: Any = 0
                ps = parents(e)
                for row in rows(e):
                    n = V.as_number(fi(Env(row, ps, e.today)))
                    if n is not None:
                        total += n
                return V.tidy(total)

            return _C(f_sum, "number")
        if fn_name == "any":
            return _C(lambda e: any(V.truth(fi(Env(row, parents(e), e.today))) for row in rows(e)), "bool")
        return _C(lambda e: all(V.truth(fi(Env(row, parents(e), e.today))) for row in rows(e)), "bool")

    def _need_multi(self, node: Node, c: _C, fn_name: str) -> bool:
        if c.type == "list":
            return True
        if c.type == "any" and c.field is None and not c.is_lit:
            return True
        what = f"'{c.field.id}' is a {c.field.type}" if c.field else "its argument is not a multiple choice"
        hint = (
            f"for a single choice, compare: ${{{c.field.id}}} = 'value'"
            if c.field is not None and c.field.type in ("select_one", "yes_no")
            else None
        )
        self.error(node, "expr.not-multi", f"{fn_name}() works on select_multiple fields, but {what}", hint)
        return False

    def f_selected(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        m, v = cs
        if self._need_multi(node, m, "selected"):
            self._check_choice(node, m, v)
        fm, fv = m.fn, v.fn

        def f(e: Env) -> bool:
            sel = fm(e)
            want = V.text_of(fv(e))
            if isinstance(sel, list):
                return want in sel
            return isinstance(sel, str) and sel != "" and want in sel.split()

        return _C(f, "bool")

    def f_count_selected(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        self._need_multi(node, cs[0], "count-selected")
        fm = cs[0].fn

        def f(e: Env) -> int:
            sel = fm(e)
            return len(sel) if isinstance(sel, list) else len(sel.split()) if isinstance(sel, str) else 0

        return _C(f, "number")

    def f_if(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        c, a, b = cs
        fc, fa, fb = c.fn, a.fn, b.fn
        return _C(lambda e: fa(e) if V.truth(fc(e)) else fb(e), _unify([a, b]))

    def f_coalesce(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        fns = [c.fn for c in cs]

        def f(e: Env) -> Any:
            for fn in fns:
                v = fn(e)
                if v != "" and v is not None and v != []:
                    return v
            return ""

        return _C(f, _unify(cs))

    def f_concat(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        fns = [c.fn for c in cs]
        return _C(lambda e: "".join(V.text_of(fn(e)) for fn in fns), "text")

    def f_join(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        sep_fn = cs[0].fn
        fns = [c.fn for c in cs[1:]]

        def f(e: Env) -> str:
            sep = V.text_of(sep_fn(e))
            return sep.join(t for fn in fns if (t := V.text_of(fn(e))) != "")

        return _C(f, "text")

    def f_string_length(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        fa = cs[0].fn
        return _C(lambda e: len(V.text_of(fa(e))), "number")

    def f_regex(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        s, p = cs
        if not (p.is_lit and isinstance(p.lit, str)):
            return self.error(
                args[1],
                "expr.bad-regex",
                "the regex() pattern must be a quoted text",
                "write the pattern literally, e.g. regex(., '^[0-9]{4}$')",
            )
        try:
            pattern = re.compile(p.lit)
        except re.error as exc:
            return self.error(args[1], "expr.bad-regex", f"the pattern '{p.lit}' is not valid: {exc}")
        if _JS_UNSAFE_REGEX.search(p.lit):
            return self.error(
                args[1],
                "expr.bad-regex",
                f"the pattern '{p.lit}' uses a feature browsers do not support the same way",
                "avoid (?P…), \\A, \\Z, inline flags and possessive quantifiers",
            )
        fs = s.fn

        def f(e: Env) -> bool:
            v = fs(e)
            return v != "" and v is not None and pattern.search(V.text_of(v)) is not None

        return _C(f, "bool")

    def f_today(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        return _C(lambda e: e.today, "date")

    def f_date(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        a = cs[0]
        if a.is_lit:
            if (
                not isinstance(a.lit, str)
                or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", a.lit)
                or V.parse_date(a.lit) is None
            ):
                return self.error(
                    args[0],
                    "expr.bad-date",
                    f"{a.lit!r} is not a calendar date",
                    "write date('YYYY-MM-DD'), e.g. date('2024-02-29')",
                )
            value = a.lit
            return _C(lambda e: value, "date", lit=value, is_lit=True)
        fa = a.fn
        return _C(lambda e: d.isoformat() if (d := V.parse_date(fa(e))) else "", "date")

    def _dateish(self, node: Node, c: _C, fn_name: str) -> None:
        if c.type in ("date", "datetime", "any"):
            return
        if c.is_lit and isinstance(c.lit, str) and (c.lit == "" or V.parse_date(c.lit)):
            return
        what = f"'{c.field.id}' is {_TYPE_WORDS[c.type]}" if c.field else f"its argument is {_TYPE_WORDS[c.type]}"
        self.error(
            node,
            "expr.type-mismatch",
            f"{fn_name}() needs a date, but {what}",
            "pass a date field, today() or date('YYYY-MM-DD')",
        )

    def f_age(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        self._dateish(node, cs[0], "age")
        fa = cs[0].fn
        return _C(lambda e: V.age(fa(e), e.today), "number")

    def f_days_between(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        for c in cs:
            self._dateish(node, c, "days-between")
        fa, fb = cs[0].fn, cs[1].fn
        return _C(lambda e: V.days_between(fa(e), fb(e)), "number")

    def f_years_between(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        for c in cs:
            self._dateish(node, c, "years-between")
        fa, fb = cs[0].fn, cs[1].fn
        return _C(lambda e: V.years_between(fa(e), fb(e)), "number")

    def f_int(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        self._numeric(node, cs[0], "int()")
        fa = cs[0].fn
        return _C(lambda e: V.trunc(fa(e)), "number")

    def f_round(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        for c in cs:
            self._numeric(node, c, "round()")
        fa = cs[0].fn
        fd = cs[1].fn if len(cs) > 1 else (lambda e: 0)
        return _C(lambda e: V.round_half_away(fa(e), fd(e)), "number")

    def _minmax(self, node: Node, cs: list[_C], pick: Callable[[list[Any]], Any], name: str) -> _C:
        for c in cs:
            self._numeric(node, c, name)
        fns = [c.fn for c in cs]

        def f(e: Env) -> Any:
            nums = [n for fn in fns if (n := V.as_number(fn(e))) is not None]
            return pick(nums) if nums else ""

        return _C(f, "number")

    def f_min(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        return self._minmax(node, cs, min, "min()")

    def f_max(self, node: Node, cs: list[_C], args: list[Node]) -> _C:
        return self._minmax(node, cs, max, "max()")


def _unify(cs: list[_C]) -> str:
    types = {c.type for c in cs if not (c.is_lit and c.lit == "")}
    return types.pop() if len(types) == 1 else "any"


_ORDER_OPS: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


_FLIP = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_SAME_KIND_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


def _compile_cmp(op: str, a: _C, b: _C) -> Fn:
    """A comparison closure; specialised when the static kinds make the generic rules unnecessary.

    Values of a statically known kind are always that kind or '' (answers are normalised before
    evaluation), so two numbers, or two dates (ISO text orders chronologically), compare directly.
    """
    if a.is_lit and not b.is_lit:
        a, b, op = b, a, _FLIP[op]
    fa, fb = a.fn, b.fn
    if b.is_lit and b.lit == "" and a.type in ("number", "text", "date", "datetime", "list"):
        if op == "=":
            return lambda e: fa(e) == ""
        if op == "!=":
            return lambda e: fa(e) != ""
    if b.is_lit and not a.is_lit:
        lit = b.lit
        if a.type == "number" and V.is_number(lit):
            if op == "=":
                return lambda e: (x := fa(e)) != "" and x == lit
            if op == "!=":
                return lambda e: (x := fa(e)) == "" or x != lit
            test = _SAME_KIND_ORDER[op]
            return lambda e: (x := fa(e)) != "" and test(x, lit)
        if a.type in ("text", "date") and isinstance(lit, str):
            if op == "=":
                return lambda e: fa(e) == lit
            if op == "!=":
                return lambda e: fa(e) != lit
            if a.type == "date" and V.parse_date(lit) is not None:
                test = _SAME_KIND_ORDER[op]
                return lambda e: (x := fa(e)) != "" and test(x, lit)
    same_kind = a.type == b.type and a.type in ("number", "date")
    if same_kind and op in _SAME_KIND_ORDER:
        test = _SAME_KIND_ORDER[op]
        return lambda e: (x := fa(e)) != "" and (y := fb(e)) != "" and test(x, y)
    if same_kind and op == "=":
        return lambda e: fa(e) == fb(e)
    if same_kind and op == "!=":
        return lambda e: fa(e) != fb(e)
    if op == "=":
        return lambda e: V.eq(fa(e), fb(e))
    if op == "!=":
        return lambda e: not V.eq(fa(e), fb(e))
    order_test = _ORDER_OPS[op]

    def ordered(e: Env) -> bool:
        c = V.order(fa(e), fb(e))
        return c is not None and order_test(c)

    return ordered


def compile_expression(source: str, pos: Position, ctx: ExprContext, report: Report) -> Expression | None:
    """Parse, check and compile; report problems at `pos` and return None if there were any."""
    try:
        ast = parse(source)
    except ExpressionSyntaxError as exc:
        code = "expr.too-complex" if "limit" in exc.message or "nests" in exc.message else "expr.syntax"
        checker = _Checker(source, pos, ctx, report)
        hint = exc.hint
        if code == "expr.syntax" and source.strip().lower() in ("yes", "no", "on", "off"):
            hint = "for true/false write true or false; to compare a field write ${field} = 'yes'"
        report.add(checker.where({"at": exc.offset}), code, f"in '{_short(source)}': {exc.message}", hint)
        return None
    checker = _Checker(source, pos, ctx, report)
    compiled = checker.visit(ast, ctx.scope)
    if not checker.ok:
        return None
    return Expression(source, ast, compiled.fn, compiled.type, tuple(checker.refs), pos)


def _short(source: str) -> str:
    one_line = " ".join(source.split())
    return one_line if len(one_line) <= 60 else one_line[:57] + "..."
