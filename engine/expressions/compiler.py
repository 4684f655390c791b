"""Type-check an expression against the fields it reads and compile it to Python closures.

One walk over the AST does both: each node yields a closure `fn(env)`, its static value type and,
for a plain field reference, the field. Where types are known the closures are specialised (a
number field compared with a number literal is one dict lookup and one comparison), which keeps
evaluation within a small factor of hand-written Python. The functions are in `functions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.diagnostics import Position, Report, did_you_mean
from engine.expressions import values as V
from engine.expressions.base import FIELD_VALUE_TYPES, Compiled, Env, ExprContext, Fn
from engine.expressions.functions import FUNCTIONS, FunctionsChecker
from engine.expressions.parser import ExpressionSyntaxError, Node, parse, to_json

if TYPE_CHECKING:
    from engine.language.model import Field, FieldScope

__all__ = ["FIELD_VALUE_TYPES", "FUNCTIONS", "Env", "ExprContext", "Expression", "compile_expression"]


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


class _Checker(FunctionsChecker):
    def v_lit(self, node: Node, scope: FieldScope) -> Compiled:
        value = node["value"]
        t = "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "text"
        return Compiled(lambda e: value, t, lit=value, is_lit=True)

    def v_ref(self, node: Node, scope: FieldScope) -> Compiled:
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
        return Compiled(fn, t, field=f)

    def _unknown(self, node: Node, name: str, chain: list[FieldScope], up: int) -> Compiled:
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

    def v_dot(self, node: Node, scope: FieldScope) -> Compiled:
        if self.ctx.kind != "constraint" or self.ctx.self_field is None:
            return self.error(
                node,
                "expr.dot-outside-constraint",
                "'.' (the field's own value) can only be used in a constraint",
                "refer to the field by name: ${field_id}",
            )
        f = self.ctx.self_field
        t = self.ctx.type_of(f) if f.type == "calculate" else FIELD_VALUE_TYPES[f.type]
        return Compiled(lambda e: e.dot, t, field=f)

    def v_parent(self, node: Node, scope: FieldScope) -> Compiled:
        return self.error(
            node,
            "expr.syntax",
            "'..' (the enclosing row) can only be written as position(..)",
            "write ${../field} for a field of the parent",
        )

    def v_choice(self, node: Node, scope: FieldScope) -> Compiled:
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
        return Compiled(lambda e: (e.choice or {}).get(name, ""), "any")

    def v_neg(self, node: Node, scope: FieldScope) -> Compiled:
        a = self.visit(node["args"][0], scope)
        self._numeric(node, a, "-")
        fa = a.fn
        return Compiled(lambda e: V.negate(fa(e)), "number")

    def v_not(self, node: Node, scope: FieldScope) -> Compiled:
        if len(node["args"]) != 1:
            return self.error(node, "expr.arity", f"not() takes 1 argument, not {len(node['args'])}")
        a = self.visit(node["args"][0], scope)
        fa = a.fn
        return Compiled(lambda e: not V.truth(fa(e)), "bool")

    def v_and(self, node: Node, scope: FieldScope) -> Compiled:
        a, b = (self.visit(x, scope) for x in node["args"])
        fa, fb = a.fn, b.fn
        if a.type == "bool" and b.type == "bool":
            return Compiled(lambda e: fa(e) and fb(e), "bool")
        return Compiled(lambda e: V.truth(fa(e)) and V.truth(fb(e)), "bool")

    def v_or(self, node: Node, scope: FieldScope) -> Compiled:
        a, b = (self.visit(x, scope) for x in node["args"])
        fa, fb = a.fn, b.fn
        if a.type == "bool" and b.type == "bool":
            return Compiled(lambda e: fa(e) or fb(e), "bool")
        return Compiled(lambda e: V.truth(fa(e)) or V.truth(fb(e)), "bool")

    def v_cmp(self, node: Node, scope: FieldScope) -> Compiled:
        a, b = (self.visit(x, scope) for x in node["args"])
        op = node["cmp"]
        self._check_choice(node, a, b)
        self._check_choice(node, b, a)
        self._check_comparable(node, a, b, op)
        return Compiled(_compile_cmp(op, a, b), "bool")

    def _check_comparable(self, node: Node, a: Compiled, b: Compiled, op: str) -> None:
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

    def v_arith(self, node: Node, scope: FieldScope) -> Compiled:
        a, b = (self.visit(x, scope) for x in node["args"])
        op = node["arith"]
        fa, fb = a.fn, b.fn
        dates = ("date", "datetime")
        if op in ("+", "-") and (a.type in dates or b.type in dates):
            # a date is a day count: date ± days is a date, date - date a number of days
            if a.type in dates and b.type in dates:
                if op == "-":
                    return Compiled(lambda e: V.arith(op, fa(e), fb(e)), "number")
                return self.error(
                    node, "expr.type-mismatch", "two dates cannot be added", "subtract them for the days between"
                )
            d, n = (a, b) if a.type in dates else (b, a)
            if op == "-" and d is b:
                return self.error(
                    node,
                    "expr.type-mismatch",
                    "a date cannot be subtracted from a number",
                    "write date - days, or date - date for the days between",
                )
            self._numeric(node, n, op)
            return Compiled(lambda e: V.arith(op, fa(e), fb(e)), "date")
        self._numeric(node, a, op)
        self._numeric(node, b, op)
        # a value of unknown kind may be a date: then + and - may give a date
        t = "any" if op in ("+", "-") and "any" in (a.type, b.type) else "number"
        return Compiled(lambda e: V.arith(op, fa(e), fb(e)), t)


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


def _compile_cmp(op: str, a: Compiled, b: Compiled) -> Fn:
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
    if checker.constants or checker.replace:  # a copy: the parsed AST is cached and shared by every module
        ast = _with_constants(ast, checker.constants, checker.replace)
    return Expression(source, ast, compiled.fn, compiled.type, tuple(checker.refs), pos)


def _with_constants(node: Node, constants: dict[int, Any], replace: dict[int, Node]) -> Node:
    """The AST with each setting() call replaced by its value (a literal), and each reference to a
    subform's column by a `column` node."""
    if id(node) in constants:
        return {"op": "lit", "value": constants[id(node)], "at": node.get("at", -1)}
    out = dict(replace.get(id(node), node))
    if "args" in out:
        out["args"] = [_with_constants(a, constants, replace) for a in out["args"]]
    return out


def _short(source: str) -> str:
    one_line = " ".join(source.split())
    return one_line if len(one_line) <= 60 else one_line[:57] + "..."
