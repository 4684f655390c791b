"""The functions of the expression language: arity, argument types and compiled behaviour."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.diagnostics import did_you_mean
from engine.expressions import values as V
from engine.expressions.base import TYPE_WORDS, CheckerBase, Compiled, Env, unify
from engine.expressions.parser import Node
from engine.expressions.regex import Unsupported, backtracks, compile_regex

if TYPE_CHECKING:
    from engine.language.model import FieldScope

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
    "setting": (1, 1),
}
_JS_UNSAFE_REGEX = re.compile(r"\(\?P|\\A|\\Z|\(\?#|\(\?\(|\\N\{|\(\?[aiLmsux]+[:)]|\*\+|\+\+|\?\+")


class FunctionsChecker(CheckerBase):
    def v_call(self, node: Node, scope: FieldScope) -> Compiled:
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
        handler: Callable[[Node, list[Compiled], list[Node]], Compiled] = getattr(
            self, "f_" + fn_name.replace("-", "_")
        )
        return handler(node, cs, args)

    def _aggregate(self, node: Node, fn_name: str, args: list[Node], scope: FieldScope) -> Compiled:
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
            return Compiled(lambda e: len(r) if isinstance(r := fsub(e), list) else 0, "number")
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

            return Compiled(f_sum, "number")
        if fn_name == "any":
            return Compiled(lambda e: any(V.truth(fi(Env(row, parents(e), e.today))) for row in rows(e)), "bool")
        return Compiled(lambda e: all(V.truth(fi(Env(row, parents(e), e.today))) for row in rows(e)), "bool")

    def _need_multi(self, node: Node, c: Compiled, fn_name: str) -> bool:
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

    def f_selected(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
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

        return Compiled(f, "bool")

    def f_count_selected(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._need_multi(node, cs[0], "count-selected")
        fm = cs[0].fn

        def f(e: Env) -> int:
            sel = fm(e)
            return len(sel) if isinstance(sel, list) else len(sel.split()) if isinstance(sel, str) else 0

        return Compiled(f, "number")

    def f_if(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        c, a, b = cs
        fc, fa, fb = c.fn, a.fn, b.fn
        return Compiled(lambda e: fa(e) if V.truth(fc(e)) else fb(e), unify([a, b]))

    def f_coalesce(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        fns = [c.fn for c in cs]

        def f(e: Env) -> Any:
            for fn in fns:
                v = fn(e)
                if v != "" and v is not None and v != []:
                    return v
            return ""

        return Compiled(f, unify(cs))

    def f_concat(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        fns = [c.fn for c in cs]
        return Compiled(lambda e: "".join(V.text_of(fn(e)) for fn in fns), "text")

    def f_join(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        sep_fn = cs[0].fn
        fns = [c.fn for c in cs[1:]]

        def f(e: Env) -> str:
            sep = V.text_of(sep_fn(e))
            return sep.join(t for fn in fns if (t := V.text_of(fn(e))) != "")

        return Compiled(f, "text")

    def f_string_length(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        fa = cs[0].fn
        return Compiled(lambda e: len(V.text_of(fa(e))), "number")

    def f_regex(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        s, p = cs
        if not (p.is_lit and isinstance(p.lit, str)):
            return self.error(
                args[1],
                "expr.bad-regex",
                "the regex() pattern must be a quoted text",
                "write the pattern literally, e.g. regex(., '^[0-9]{4}$')",
            )
        try:
            matches = compile_regex(p.lit)
        except re.error as exc:
            return self.error(args[1], "expr.bad-regex", f"the pattern '{p.lit}' is not valid: {exc}")
        except Unsupported as exc:
            return self.error(
                args[1],
                "expr.bad-regex",
                f"the pattern '{p.lit}' cannot be checked in a time proportional to the answer: {exc}",
                "rewrite it without that construct",
            )
        if _JS_UNSAFE_REGEX.search(p.lit):
            return self.error(
                args[1],
                "expr.bad-regex",
                f"the pattern '{p.lit}' uses a feature browsers do not support the same way",
                "avoid (?P…), \\A, \\Z, inline flags and possessive quantifiers",
            )
        if backtracks(p.lit):
            self.warn(
                args[1],
                "expr.slow-regex",
                f"the pattern '{p.lit}' repeats a repetition: the server checks it in linear time, but a browser "
                "may freeze on a long answer",
                "repeat once, e.g. '^a+$' instead of '^(a+)+$'",
            )
        fs = s.fn

        def f(e: Env) -> bool:
            v = fs(e)
            return v != "" and v is not None and matches(V.text_of(v))

        return Compiled(f, "bool")

    def f_today(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: e.today, "date")

    def f_date(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
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
            return Compiled(lambda e: value, "date", lit=value, is_lit=True)
        fa = a.fn
        return Compiled(lambda e: d.isoformat() if (d := V.parse_date(fa(e))) else "", "date")

    def f_setting(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        """setting('name'): a value of the module's `settings`, fixed when the module loads (the
        browser receives it as a literal)."""
        a = cs[0]
        settings = self.ctx.settings or {}
        if not a.is_lit or not isinstance(a.lit, str):
            return self.error(
                args[0],
                "expr.type",
                "setting() takes the name of a setting, in quotes",
                "e.g. setting('no_contact_days')",
            )
        if a.lit not in settings:
            return self.error(
                args[0],
                "expr.unknown-setting",
                f"the module has no setting '{a.lit}'",
                did_you_mean(a.lit, settings)
                or (
                    f"its settings are: {', '.join(sorted(settings))}"
                    if settings
                    else "add it under settings: in module.yaml"
                ),
            )
        value = settings[a.lit]
        self.constants[id(node)] = value
        if isinstance(value, bool):
            t = "bool"
        elif isinstance(value, (int, float)):
            t = "number"
        else:
            t = "date" if V.parse_date(value) is not None and len(value) == 10 else "text"
        return Compiled(lambda e: value, t, lit=value, is_lit=True)

    def f_age(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._dateish(node, cs[0], "age")
        fa = cs[0].fn
        return Compiled(lambda e: V.age(fa(e), e.today), "number")

    def f_days_between(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        for c in cs:
            self._dateish(node, c, "days-between")
        fa, fb = cs[0].fn, cs[1].fn
        return Compiled(lambda e: V.days_between(fa(e), fb(e)), "number")

    def f_years_between(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        for c in cs:
            self._dateish(node, c, "years-between")
        fa, fb = cs[0].fn, cs[1].fn
        return Compiled(lambda e: V.years_between(fa(e), fb(e)), "number")

    def f_int(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._numeric(node, cs[0], "int()")
        fa = cs[0].fn
        return Compiled(lambda e: V.trunc(fa(e)), "number")

    def f_round(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        for c in cs:
            self._numeric(node, c, "round()")
        fa = cs[0].fn
        fd = cs[1].fn if len(cs) > 1 else (lambda e: 0)
        return Compiled(lambda e: V.round_half_away(fa(e), fd(e)), "number")

    def f_min(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return self._minmax(node, cs, min, "min()")

    def f_max(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return self._minmax(node, cs, max, "max()")

    def _dateish(self, node: Node, c: Compiled, fn_name: str) -> None:
        if c.type in ("date", "datetime", "any"):
            return
        if c.is_lit and isinstance(c.lit, str) and (c.lit == "" or V.parse_date(c.lit)):
            return
        what = f"'{c.field.id}' is {TYPE_WORDS[c.type]}" if c.field else f"its argument is {TYPE_WORDS[c.type]}"
        self.error(
            node,
            "expr.type-mismatch",
            f"{fn_name}() needs a date, but {what}",
            "pass a date field, today() or date('YYYY-MM-DD')",
        )

    def _minmax(self, node: Node, cs: list[Compiled], pick: Callable[[list[Any]], Any], name: str) -> Compiled:
        for c in cs:
            self._numeric(node, c, name)
        fns = [c.fn for c in cs]

        def f(e: Env) -> Any:
            nums = [n for fn in fns if (n := V.as_number(fn(e))) is not None]
            return pick(nums) if nums else ""

        return Compiled(f, "number")
