"""The functions of the expression language: arity, argument types and compiled behaviour."""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.diagnostics import did_you_mean
from engine.expressions import values as V
from engine.expressions.base import FIELD_VALUE_TYPES, TYPE_WORDS, CheckerBase, Compiled, Env, unify
from engine.expressions.parser import Node
from engine.expressions.regex import Unsupported, backtracks, compile_regex

if TYPE_CHECKING:
    from engine.language.model import FieldScope

#: name -> (min args, max args or None)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "count": (1, 1),
    "sum": (1, 2),
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
    "true": (0, 0),
    "false": (0, 0),
    "floor": (1, 1),
    "abs": (1, 1),
    "pow": (2, 2),
    "sqrt": (1, 1),
    "log": (1, 1),
    "number": (1, 1),
    "string": (1, 1),
    "boolean": (1, 1),
    "boolean-from-string": (1, 1),
    "substr": (2, 3),
    "substring-before": (2, 2),
    "substring-after": (2, 2),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "ends-with": (2, 2),
    "translate": (3, 3),
    "normalize-space": (1, 1),
    "count-non-empty": (1, 1),
    "selected-at": (2, 2),
    "format-date": (2, 2),
    "format-date-time": (2, 2),
    "date-time": (1, 1),
    "decimal-date-time": (1, 1),
    "now": (0, 0),
    "uuid": (0, 0),
    "random": (0, 0),
    "once": (1, 1),
    "position": (1, 1),
    "choice-name": (2, 2),
    "indexed-repeat": (3, 3),
    "sin": (1, 1),
    "cos": (1, 1),
    "tan": (1, 1),
    "asin": (1, 1),
    "acos": (1, 1),
    "atan": (1, 1),
    "atan2": (2, 2),
    "exp": (1, 1),
    "exp10": (1, 1),
    "log10": (1, 1),
    "pi": (0, 0),
    "lookup": (4, 4),
}
#: functions whose arguments may be the column of a subform's field (`sum(${member_income})`)
COLUMN_FUNCTIONS = frozenset({"sum", "min", "max", "join", "count-non-empty", "indexed-repeat"})
#: function name -> (values.py function, result type): the argument-wise pure functions
_PURE: dict[str, tuple[Callable[..., Any], str, bool]] = {
    # name: (implementation, result type, arguments are numbers)
    "floor": (V.floor, "number", True),
    "abs": (V.absolute, "number", True),
    "pow": (V.power, "number", True),
    "sqrt": (V.sqrt, "number", True),
    "log": (V.log, "number", True),
    "sin": (V.sin, "number", True),
    "cos": (V.cos, "number", True),
    "tan": (V.tan, "number", True),
    "asin": (V.asin, "number", True),
    "acos": (V.acos, "number", True),
    "atan": (V.atan, "number", True),
    "atan2": (V.atan2, "number", True),
    "exp": (V.exp, "number", True),
    "exp10": (V.exp10, "number", True),
    "log10": (V.log10, "number", True),
    "boolean-from-string": (V.boolean_from_string, "bool", False),
    "substr": (V.substr, "text", False),
    "substring-before": (V.substring_before, "text", False),
    "substring-after": (V.substring_after, "text", False),
    "contains": (lambda s, t: V.text_of(t) in V.text_of(s), "bool", False),
    "starts-with": (lambda s, t: V.text_of(s).startswith(V.text_of(t)), "bool", False),
    "ends-with": (lambda s, t: V.text_of(s).endswith(V.text_of(t)), "bool", False),
    "translate": (V.translate, "text", False),
    "normalize-space": (V.normalize_space, "text", False),
    "format-date": (V.format_date, "text", False),
    "format-date-time": (V.format_date, "text", False),
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
        if fn_name == "position":
            return self._position(node, args, scope)
        if fn_name in ("any", "all", "count") or (fn_name == "sum" and len(args) == 2):
            return self._aggregate(node, fn_name, args, scope)
        if fn_name in COLUMN_FUNCTIONS:
            cs = [self._column(a, scope) or self.visit(a, scope) for a in args]
        else:
            cs = [self.visit(a, scope) for a in args]
        if fn_name in _PURE:
            return self._pure(node, fn_name, cs)
        handler: Callable[[Node, list[Compiled], list[Node]], Compiled] = getattr(
            self, "f_" + fn_name.replace("-", "_")
        )
        return handler(node, cs, args)

    def _column(self, arg: Node, scope: FieldScope) -> Compiled | None:
        """`${field}` naming a field of a subform of the scope (not visible itself): the column of
        its values, one per row. The AST node becomes {"op": "column", "name", "args": [subform ref]}."""
        if arg["op"] != "ref":
            return None
        name, up = arg["name"], arg["up"]
        chain = scope.chain()
        if up >= len(chain) or name in chain[up].fields:
            return None
        for sub in chain[up].fields.values():
            if sub.subform is not None and name in sub.subform.fields:
                inner = sub.subform.fields[name]
                break
        else:
            return None
        self.refs.append(sub)
        self.refs.append(inner)
        ref = {"op": "ref", "name": sub.id, "up": up, "at": arg.get("at", -1)}
        self.replace[id(arg)] = {"op": "column", "name": name, "args": [ref], "at": arg.get("at", -1)}
        item = self.ctx.type_of(inner) if inner.type == "calculate" else FIELD_VALUE_TYPES[inner.type]
        sub_id = sub.id
        if up == 0:
            fsub: Callable[[Env], Any] = lambda e: e.v.get(sub_id, "")
        else:
            k = up - 1
            fsub = lambda e: e.up[k].get(sub_id, "")

        def f(e: Env) -> list[Any]:
            r = fsub(e)
            return [x.get(name, "") for x in r if isinstance(x, dict)] if isinstance(r, list) else []

        return Compiled(f, "column", field=inner, lit=item)

    def _items(self, cs: list[Compiled]) -> list[tuple[Callable[[Env], Any], bool]]:
        """Each argument's closure, and whether it is a column (a list of values to spread)."""
        return [(c.fn, c.type == "column") for c in cs]

    def _no_rows(self, node: Node, c: Compiled, fn_name: str) -> bool:
        if c.type != "rows":
            return True
        name = c.field.id if c.field is not None else "subform"
        sub = c.field.subform if c.field is not None else None
        inner = next(iter(sub.fields), "field") if sub is not None and sub.fields else "field"
        self.error(
            node,
            "expr.type-mismatch",
            f"{fn_name}() needs a value, but '{name}' is a subform (its rows have no text)",
            f"use count(${{{name}}}) for the number of rows, or join(', ', ${{{inner}}}) for the values of one "
            "of its fields",
        )
        return False

    def _pure(self, node: Node, fn_name: str, cs: list[Compiled]) -> Compiled:
        impl, t, numeric = _PURE[fn_name]
        for c in cs:
            if not self._no_rows(node, c, fn_name):
                return Compiled(lambda e: "", t)
            if numeric:
                self._numeric(node, c, fn_name + "()")
        if fn_name in ("format-date", "format-date-time"):
            self._dateish(node, cs[0], fn_name)
        fns = [c.fn for c in cs]
        if len(fns) == 1:
            f0 = fns[0]
            return Compiled(lambda e: impl(f0(e)), t)
        if len(fns) == 2:
            f0, f1 = fns
            return Compiled(lambda e: impl(f0(e), f1(e)), t)
        return Compiled(lambda e: impl(*(fn(e) for fn in fns)), t)

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

        def rows(e: Env) -> list[tuple[int, dict[str, Any]]]:
            """(position, row) of each row: the 1-based index position(..) gives inside it."""
            r = fsub(e)
            return [(i, x) for i, x in enumerate(r, 1) if isinstance(x, dict)] if isinstance(r, list) else []

        if fn_name == "sum":

            def f_sum(e: Env) -> Any:
                total: Any = 0
                ps = parents(e)
                for i, row in rows(e):
                    n = V.as_number(fi(Env(row, ps, e.today, pos=i)))
                    if n is not None:
                        total += n
                return V.tidy(total)

            return Compiled(f_sum, "number")
        if fn_name == "any":
            return Compiled(
                lambda e: any(V.truth(fi(Env(row, parents(e), e.today, pos=i))) for i, row in rows(e)), "bool"
            )
        return Compiled(lambda e: all(V.truth(fi(Env(row, parents(e), e.today, pos=i))) for i, row in rows(e)), "bool")

    def _need_multi(self, node: Node, c: Compiled, fn_name: str) -> bool:
        if c.type == "list":
            return True
        if c.type == "any" and c.field is None and not c.is_lit:
            return True
        if c.type == "text" and not c.is_lit and (c.field is None or c.field.type == "calculate"):
            return True  # a computed list of values separated by spaces (ODK's idiom, e.g. join(' ', …))
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
        if m.field is not None and m.field.type in ("select_one", "yes_no"):
            self._check_choice(node, m, v)  # as in ODK: true when the answer is that value
        elif self._need_multi(node, m, "selected"):
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
        if not all(self._no_rows(node, c, "concat") for c in cs):
            return Compiled(lambda e: "", "text")
        fns = [c.fn for c in cs]
        return Compiled(lambda e: "".join(V.text_of(fn(e)) for fn in fns), "text")

    def f_join(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        if not all(self._no_rows(node, c, "join") for c in cs):
            return Compiled(lambda e: "", "text")
        if cs[0].type == "column":
            return self.error(args[0], "expr.type-mismatch", "join() takes the separator first, e.g. join(', ', …)")
        sep_fn = cs[0].fn
        items = self._items(cs[1:])

        def f(e: Env) -> str:
            sep = V.text_of(sep_fn(e))
            texts: list[str] = []
            for fn, column in items:
                for v in fn(e) if column else (fn(e),):
                    if (t := V.text_of(v)) != "":
                        texts.append(t)
            return sep.join(texts)

        return Compiled(f, "text")

    def f_string_length(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._no_rows(node, cs[0], "string-length")
        fa = cs[0].fn
        return Compiled(lambda e: len(V.text_of(fa(e))), "number")

    def f_regex(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        s, p = cs
        if not self._no_rows(node, s, "regex"):
            return Compiled(lambda e: False, "bool")
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
        if a.is_lit and V.is_number(a.lit):  # a number of days since 1970-01-01, as in ODK
            day = V.date_of(a.lit)
            if day == "":
                return self.error(args[0], "expr.bad-date", f"{a.lit} days from 1970-01-01 is not a date")
            return Compiled(lambda e: day, "date", lit=day, is_lit=True)
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
            value = V.date_of(a.lit)
            return Compiled(lambda e: value, "date", lit=value, is_lit=True)
        if a.type not in ("number", "date", "datetime", "text", "any"):
            self.error(node, "expr.type-mismatch", f"date() needs a text or a number of days, not {TYPE_WORDS[a.type]}")
        fa = a.fn
        return Compiled(lambda e: V.date_of(fa(e)), "date")

    def f_date_time(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        a = cs[0]
        if a.type not in ("number", "date", "datetime", "any") and not (
            a.is_lit and isinstance(a.lit, str) and (V.as_number(a.lit) is not None or V.parse_date(a.lit))
        ):
            self.error(
                node,
                "expr.type-mismatch",
                f"date-time() needs a number of days since 1970-01-01, not {TYPE_WORDS[a.type]}",
                "e.g. date-time(decimal-date-time(${seen_at}) + 0.5)",
            )
        fa = a.fn
        return Compiled(lambda e: V.date_time(fa(e)), "datetime")

    def f_decimal_date_time(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._dateish(node, cs[0], "decimal-date-time")
        fa = cs[0].fn
        return Compiled(lambda e: V.decimal_date_time(fa(e)), "number")

    def f_now(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: V.now_at(e.today), "datetime")

    def f_uuid(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: str(uuid.uuid4()), "text")

    def f_random(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: random.random(), "number")

    def f_once(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        """once(expr): the field's current answer when it has one (a calculation keeps its first
        value), else expr."""
        fa = cs[0].fn

        def f(e: Env) -> Any:
            own = e.own
            return fa(e) if own == "" or own is None or own == [] else own

        return Compiled(f, cs[0].type)

    def _position(self, node: Node, args: list[Node], scope: FieldScope) -> Compiled:
        """position(..): the 1-based index of the current subform row."""
        owner = scope.owner
        if args[0]["op"] != "parent":
            return self.error(node, "expr.type-mismatch", "position() is written position(..), for the current row")
        if owner is None:
            return self.error(
                node, "expr.scope", "position(..) is the number of the current row: it can only be used in a subform"
            )
        sub_id = owner.id

        def f(e: Env) -> Any:
            if e.pos:
                return e.pos
            rows = e.up[0].get(sub_id) if e.up else None  # the row among its parent's rows
            if isinstance(rows, list):
                for i, row in enumerate(rows, 1):
                    if row is e.v:
                        return i
            return ""

        self.replace[id(node)] = {**node, "subform": sub_id}
        return Compiled(f, "number")

    def f_choice_name(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        """jr:choice-name(value, '${field}'): the label of the field's option `value` (in the
        module's default language)."""
        ref = cs[1]
        if not (ref.is_lit and isinstance(ref.lit, str)):
            return self.error(
                args[1],
                "expr.type-mismatch",
                "the second argument of choice-name() names the field in quotes",
                "e.g. jr:choice-name(${district}, '${district}')",
            )
        name = ref.lit.strip()
        if name.startswith("${") and name.endswith("}"):
            name = name[2:-1]
        name = name.replace("../", "")
        f = self.ctx.all_fields.get(name)
        if f is None:
            return self.error(
                args[1], "expr.unknown-field", f"there is no field '{name}'", did_you_mean(name, self.ctx.all_fields)
            )
        if not f.choices:
            return self.error(
                args[1],
                "expr.not-multi",
                f"choice-name() gives the label of an option, but '{f.id}' has no choices",
                "name a select_one, select_multiple or yes_no field",
            )
        self._no_rows(node, cs[0], "choice-name")
        labels = {c.value: c.label for c in f.choices}
        self.replace[id(node)] = {**node, "labels": labels}
        fa = cs[0].fn
        return Compiled(lambda e: V.choice_label(fa(e), labels), "text")

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
            self._numeric(node, self._item(c), name)
        items = self._items(cs)

        def f(e: Env) -> Any:
            nums = [
                n for fn, column in items for v in (fn(e) if column else (fn(e),)) if (n := V.as_number(v)) is not None
            ]
            return pick(nums) if nums else ""

        return Compiled(f, "number")

    def _item(self, c: Compiled) -> Compiled:
        """A column stands for one of its values when its arguments are type-checked."""
        return Compiled(c.fn, c.lit, field=c.field) if c.type == "column" else c

    def f_sum(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        c = cs[0]
        if c.type != "column":
            return self.error(
                node,
                "expr.not-subform",
                "sum() with one argument adds up a field of a subform's rows, e.g. sum(${member_income})",
                "or give the subform and an expression: sum(${household}, ${member_income})",
            )
        self._numeric(node, self._item(c), "sum")
        fc = c.fn

        def f(e: Env) -> Any:
            total: Any = 0
            for v in fc(e):
                n = V.as_number(v)
                if n is not None:
                    total += n
            return V.tidy(total)

        return Compiled(f, "number")

    def f_count_non_empty(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        c = cs[0]
        if c.type != "column":
            return self.error(
                node,
                "expr.not-subform",
                "count-non-empty() counts the answered values of a field of a subform's rows",
                "e.g. count-non-empty(${member_phone})",
            )
        fc = c.fn
        return Compiled(lambda e: sum(1 for v in fc(e) if v != "" and v != []), "number")

    def f_lookup(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        """lookup('list', 'column', 'key', value): the `column` of the first option of the module's
        option list whose `key` equals value (ODK's pulldata() and instance('list')/root/item[…]).
        'value' (or 'name') is the option's value, 'label' its label; other columns are the keys
        the options carry. The table is built once, when the module loads."""
        names: list[str] = []
        for i, what in ((0, "option list"), (1, "column"), (2, "key column")):
            c = cs[i]
            if not (c.is_lit and isinstance(c.lit, str) and c.lit):
                return self.error(
                    args[i],
                    "expr.type-mismatch",
                    f"the {what} of lookup() is written in quotes",
                    "e.g. lookup('districts', 'region', 'value', ${district})",
                )
            names.append(c.lit)
        list_id, column, key = names
        lookups = self.ctx.lookups or {}
        table = lookups.get(list_id)
        if table is None:
            return self.error(
                args[0],
                "ref.unknown-lookup",
                f"the module has no option list '{list_id}'",
                did_you_mean(list_id, lookups) or "add it as lookups/<id>.yaml",
            )
        if self.ctx.used_lookup is not None:
            self.ctx.used_lookup(list_id)
        known = {"value", "name", "label", *table.columns}
        for ch in table.choices:
            known.update(ch.keys)
        for i, col in ((1, column), (2, key)):
            if col not in known:
                return self.error(
                    args[i],
                    "expr.unknown-column",
                    f"the option list '{list_id}' has no column '{col}'",
                    did_you_mean(col, known) or f"its columns: {', '.join(sorted(known))}",
                )
        self._no_rows(node, cs[3], "lookup")

        def cell(ch: Any, col: str) -> Any:
            if col in ("value", "name"):
                return ch.value
            return ch.label if col == "label" else ch.keys.get(col, "")

        rows: dict[str, Any] = {}
        for ch in table.choices:
            rows.setdefault(V.text_of(cell(ch, key)), cell(ch, column))
        results = [v for v in rows.values() if v != ""]
        numeric = bool(results) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in results)
        self.replace[id(node)] = {**node, "table": rows}
        fv = cs[3].fn
        return Compiled(lambda e: rows.get(V.text_of(fv(e)), ""), "number" if numeric else "text")

    def f_pi(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: math.pi, "number")

    def f_indexed_repeat(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        """indexed-repeat(${field}, ${subform}, n): the field's answer in row n (from 1) of the
        subform, unanswered when there is no such row."""
        col, rows, at = cs
        if col.type != "column":
            return self.error(
                args[0],
                "expr.not-subform",
                "indexed-repeat() reads a field of a subform's rows, but its first argument is not one",
                "e.g. indexed-repeat(${member_name}, ${household}, 2)",
            )
        owner = self.replace[id(args[0])]["args"][0]["name"]
        if rows.type != "rows" or rows.field is None or rows.field.id != owner:
            return self.error(
                args[1],
                "expr.not-subform",
                f"the second argument of indexed-repeat() must be the subform '{owner}' that holds the field",
                f"e.g. indexed-repeat(${{{col.field.id if col.field else 'field'}}}, ${{{owner}}}, 1)",
            )
        self._numeric(node, at, "indexed-repeat()")
        fc, fa = col.fn, at.fn

        def f(e: Env) -> Any:
            values = fc(e)
            n = V.as_number(fa(e))
            if n is None or n != int(n) or not 1 <= n <= len(values):
                return ""
            return values[int(n) - 1]

        return Compiled(f, col.lit if isinstance(col.lit, str) else "any", field=col.field)

    def f_true(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: True, "bool", lit=True, is_lit=True)

    def f_false(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        return Compiled(lambda e: False, "bool", lit=False, is_lit=True)

    def f_number(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._no_rows(node, cs[0], "number")
        if cs[0].type == "list":
            self.error(node, "expr.type-mismatch", "number() of a multiple choice", "use count-selected()")
        fa = cs[0].fn
        return Compiled(lambda e: V.number(fa(e)), "number")

    def f_string(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._no_rows(node, cs[0], "string")
        fa = cs[0].fn
        return Compiled(lambda e: V.text_of(fa(e)), "text")

    def f_boolean(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        fa = cs[0].fn
        return Compiled(lambda e: V.truth(fa(e)), "bool")

    def f_selected_at(self, node: Node, cs: list[Compiled], args: list[Node]) -> Compiled:
        self._need_multi(node, cs[0], "selected-at")
        self._numeric(node, cs[1], "selected-at()")
        fa, fb = cs[0].fn, cs[1].fn
        return Compiled(lambda e: V.selected_at(fa(e), fb(e)), "text")
