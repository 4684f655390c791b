"""XLSForm (XPath) expressions into Sanad's expression language (docs/expressions.md).

Most of the vocabulary is the same (`${x}`, `.`, `selected()`, `and`/`or`, `if()`, `concat()`…).
What differs is translated: field names renamed to Sanad ids, references from inside a repeat to a
field outside it (`${../x}`), `sum(${field_in_repeat})` (`sum(${repeat}, ${field})`), `true()`,
`contains()`/`starts-with()`/`ends-with()` with a literal (`regex()`), `number()`, `string()`.
Anything else Sanad lacks raises Unsupported with a readable reason; the caller keeps the row and
leaves the expression out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from engine.expressions.functions import FUNCTIONS
from engine.expressions.parser import ExpressionSyntaxError, parse


class Unsupported(Exception):
    """The expression uses something Sanad does not have; the message says what."""


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<string>'[^']*'|"[^"]*")
    |(?P<ref>\$\{\s*(?P<refname>[^}]*?)\s*\})
    |(?P<number>\d+(?:\.\d+)?|\.\d+)
    |(?P<op>!=|<=|>=|=|<|>|\+|-|\*|\(|\)|,|\|)
    |(?P<dotdot>\.\.)
    |(?P<dot>\.)
    |(?P<slash>/)
    |(?P<name>[A-Za-z_][\w:.-]*[\w])|(?P<name1>[A-Za-z_])
    |(?P<other>.)""",
    re.X | re.S,
)

# Functions whose name and arguments are the same in Sanad.
_SAME = {
    "selected",
    "count-selected",
    "coalesce",
    "if",
    "concat",
    "string-length",
    "regex",
    "today",
    "date",
    "int",
    "round",
    "not",
    "min",
    "max",
}
_KEYWORDS = {"and", "or", "div", "mod"}
#: functions whose ODK meaning this module rewrites (below), never passed through as they are
_TRANSLATED = {"selected", "true", "false", "sum", "count"}


#: functions that read a column of a repeat's values -> which arguments may be such a column
_COLUMNS: dict[str, range] = {
    "join": range(1, 1000),
    "min": range(1000),
    "max": range(1000),
    "count-non-empty": range(1),
    "indexed-repeat": range(1),
}


def _class_dashes(pattern: str) -> str:
    """A '-' right after a class escape inside [...] (`[\\w-.]`) is a literal dash in browsers and
    in ODK, an error in Python: write it `\\-`."""
    out: list[str] = []
    in_class, i = False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            if (
                in_class
                and pattern[i + 1] in "wdsWDS"
                and pattern[i + 2 : i + 3] == "-"
                and pattern[i + 3 : i + 4] != "]"
            ):
                out.append("\\-")
                i += 3
                continue
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class Tok:
    kind: str
    text: str


@dataclass
class Call:
    name: str
    args: list[list[Item]]


@dataclass
class Group:
    items: list[Item]


Item = Union[Tok, Call, Group]  # noqa: UP007 - a runtime alias


@dataclass
class Context:
    """What a reference may mean where the expression is written."""

    #: name in the XLSForm -> (Sanad id, the repeats (XLSForm names) it is inside, is it a repeat)
    resolve: Callable[[str], tuple[str, tuple[str, ...], bool] | None]
    scope: tuple[str, ...]  # the repeats the expression is evaluated in
    choice_filter: bool = False
    choice_key: Callable[[str], str | None] | None = None  # a choices column -> filter key
    sanad_id: Callable[[str], str] | None = None  # repeat XLSForm name -> Sanad id
    type_of: Callable[[str], str | None] | None = None  # XLSForm name -> Sanad field type
    #: pulldata()/instance(): (list name, column, key column) in the XLSForm -> the same three as
    #: Sanad ids (raises Unsupported when the form has no such list)
    lookup: Callable[[str, str, str], tuple[str, str, str]] | None = None


_INSTANCE = re.compile(
    r"""instance\(\s*(['"])(?P<list>[^'"]+)\1\s*\)\s*/\s*root\s*/\s*item\s*
    \[\s*(?P<key>[A-Za-z_][\w.-]*)\s*=\s*(?P<value>\$\{[^}]*\}|'[^']*'|"[^"]*"|current\(\)\s*/\s*\.\./[\w.-]+)\s*\]
    \s*/\s*(?P<column>[A-Za-z_][\w:.-]*)""",
    re.X,
)


def _plain(text: str) -> str:
    """XML entities and typographic quotes (common in spreadsheets) as the characters XPath means."""
    text = text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    return text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')


def _instances(text: str) -> str:
    """`instance('list')/root/item[key = value]/column` as the equivalent pulldata() call."""

    def call(m: re.Match[str]) -> str:
        value = m.group("value")
        if value.startswith("current()"):
            value = "${" + value.rsplit("/", 1)[1] + "}"
        return f"pulldata('{m.group('list')}', '{m.group('column')}', '{m.group('key')}', {value})"

    return _INSTANCE.sub(call, text)


def tokenize(text: str) -> list[Tok]:
    text = _instances(_plain(text))
    out: list[Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind == "refname":
            kind = "ref"
        if kind == "ws":
            continue
        if kind == "name1":
            kind = "name"
        if kind == "other":
            raise Unsupported(f"the character '{m.group()}' has no meaning in Sanad expressions")
        if kind == "ref":
            out.append(Tok("ref", m.group("refname")))
        else:
            out.append(Tok(kind, m.group()))
    return out


def _tree(toks: list[Tok]) -> list[Item]:
    pos = 0

    def seq(stop: set[str]) -> list[Item]:
        nonlocal pos
        items: list[Item] = []
        while pos < len(toks):
            t = toks[pos]
            if t.kind == "op" and t.text in stop:
                return items
            pos += 1
            if t.kind == "name" and t.text not in _KEYWORDS and pos < len(toks) and toks[pos].text == "(":
                pos += 1
                args: list[list[Item]] = []
                if pos < len(toks) and toks[pos].text == ")":
                    pos += 1
                else:
                    while True:
                        args.append(seq({",", ")"}))
                        if pos >= len(toks):
                            raise Unsupported("a bracket is not closed")
                        closing = toks[pos].text
                        pos += 1
                        if closing == ")":
                            break
                items.append(Call(t.text, args))
            elif t.kind == "op" and t.text == "(":
                inner = seq({")"})
                if pos >= len(toks):
                    raise Unsupported("a bracket is not closed")
                pos += 1
                items.append(Group(inner))
            elif t.kind == "op" and t.text in (")", ","):
                raise Unsupported(f"an unexpected '{t.text}'")
            else:
                items.append(t)
        return items

    items = seq(set())
    return items


def translate(text: str, ctx: Context) -> str:
    """The Sanad expression for XLSForm expression `text`; raises Unsupported."""
    items = _tree(tokenize(text))
    if not items:
        raise Unsupported("the expression is empty")
    out = _emit(items, ctx)
    try:
        parse(out)
    except ExpressionSyntaxError as exc:
        raise Unsupported(f"it cannot be read as a Sanad expression: {exc.message}") from None
    return out


def _is_dotdot(arg: Any) -> bool:
    items = arg.items if isinstance(arg, Group) else arg if isinstance(arg, list) else [arg]
    return len(items) == 1 and isinstance(items[0], Tok) and items[0].kind == "dotdot"


def _ref(name: str, ctx: Context, scope: tuple[str, ...]) -> str:
    found = ctx.resolve(name)
    if found is None:
        raise Unsupported(f"it refers to '${{{name}}}', which is not a question of the form")
    sid, where, _ = found
    if where[: len(scope)] == scope and len(where) > len(scope):
        raise Unsupported(f"it reads '${{{name}}}' inside a repeat from outside it (per row values need sum/count)")
    if scope[: len(where)] != where:
        raise Unsupported(f"it reads '${{{name}}}' from another repeat")
    up = len(scope) - len(where)
    return "${" + "../" * up + sid + "}"


def _column_ref(name: str, ctx: Context, scope: tuple[str, ...]) -> str:
    """`${name}` as an argument of a function that reads a column (join, sum, min, max,
    count-non-empty, indexed-repeat): a field of a repeat directly inside the scope or inside one
    of its enclosing levels is the column of its values, one per row."""
    found = ctx.resolve(name)
    if found is None or found[2]:
        return _ref(name, ctx, scope)
    sid, where, _ = found
    if scope[: len(where)] == where:
        return _ref(name, ctx, scope)  # a plain value where the expression is evaluated
    if where and scope[: len(where) - 1] == where[:-1]:
        return "${" + "../" * (len(scope) - len(where) + 1) + sid + "}"
    raise Unsupported(f"it reads '${{{name}}}' inside a repeat within a repeat from outside both")


def _nan(items: list[Item], i: int) -> bool:
    """'NaN' compared with = or != : ODK's result of a calculation on a missing number, which Sanad
    leaves unanswered, so the comparison is with ''."""
    it = items[i]
    if not (isinstance(it, Tok) and it.kind == "string" and it.text[1:-1] == "NaN"):
        return False
    near = [items[j] for j in (i - 1, i + 1) if 0 <= j < len(items)]
    return any(isinstance(n, Tok) and n.kind == "op" and n.text in ("=", "!=") for n in near)


def _emit(items: list[Item], ctx: Context, scope: tuple[str, ...] | None = None) -> str:
    scope = ctx.scope if scope is None else scope
    parts: list[str] = []
    for i, it in enumerate(items):
        if _nan(items, i):
            parts.append("''")
            continue
        if isinstance(it, Group):
            parts.append("(" + _emit(it.items, ctx, scope) + ")")
        elif isinstance(it, Call):
            parts.append(_call(it, ctx, scope))
        elif it.kind == "ref":
            parts.append(_ref(it.text, ctx, scope))
        elif it.kind == "name":
            low = it.text
            if low in _KEYWORDS:
                parts.append(f" {low} ")
            elif low == "null":
                parts.append("''")  # a path to no node: empty, in ODK as here
            elif ctx.choice_filter and ctx.choice_key is not None:
                key = "value" if low == "name" else ctx.choice_key(low.lower())
                if key is None:
                    raise Unsupported(f"'{low}' is neither a column of the choices sheet nor 'name'")
                parts.append(key)
            else:
                raise Unsupported(f"the XPath path '{low}' (Sanad reads fields only as ${{name}})")
        elif it.kind in ("slash", "dotdot"):
            raise Unsupported("it uses an XPath path ('/' or '..'); Sanad reads fields only as ${name}")
        elif it.kind == "op" and it.text == "|":
            raise Unsupported("it uses the XPath union '|'")
        elif it.kind == "op":
            parts.append(f" {it.text} ")
        else:
            parts.append(it.text)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _single_ref(arg: list[Item]) -> str | None:
    if len(arg) == 1 and isinstance(arg[0], Tok) and arg[0].kind == "ref":
        return arg[0].text
    return None


def _literal(arg: list[Item]) -> str | None:
    if len(arg) == 1 and isinstance(arg[0], Tok) and arg[0].kind == "string":
        return arg[0].text[1:-1]
    return None


def _call(c: Call, ctx: Context, scope: tuple[str, ...]) -> str:
    name = c.name.removeprefix("jr:")
    if name == "position" and len(c.args) == 1 and _is_dotdot(c.args[0]):
        return "position(..)"  # the number of the current row of a repeat

    def args() -> str:
        return ", ".join(_emit(a, ctx, scope) for a in c.args)

    if name == "selected" and len(c.args) == 2:
        ref = _single_ref(c.args[0])
        if ref and ctx.type_of is not None and ctx.type_of(ref) not in (None, "select_multiple"):
            # ODK's selected() reads any text as a space-separated list; one value is an equality
            return f"({_emit(c.args[0], ctx, scope)} = {_emit(c.args[1], ctx, scope)})"
    if name == "pulldata" and len(c.args) == 4:
        texts = [_literal(a) for a in c.args[:3]]
        if any(t is None for t in texts) or ctx.lookup is None:
            raise Unsupported("pulldata() whose list and columns are not written in quotes")
        list_name, column, key = (str(t) for t in texts)
        lid, column, key = ctx.lookup(list_name, column, key)
        return f"lookup('{lid}', '{column}', '{key}', {_emit(c.args[3], ctx, scope)})"
    if name == "choice-name" and len(c.args) == 2:
        ref = _literal(c.args[1])
        m = re.fullmatch(r"\s*\$\{\s*([^}]*?)\s*\}\s*", ref or "")
        if m is None:
            raise Unsupported(
                "jr:choice-name() whose second argument is not a field name in quotes, e.g. '${district}'"
            )
        found = ctx.resolve(m.group(1))
        if found is None:
            raise Unsupported(f"it refers to '${{{m.group(1)}}}', which is not a question of the form")
        return f"choice-name({_emit(c.args[0], ctx, scope)}, '${{{found[0]}}}')"
    if name == "int" and len(c.args) == 1:
        # ODK's int() reads a text as a number (int(format-date-time(${start}, '%H'))); Sanad's
        # needs a number, which number() gives whatever its argument is
        ref = _single_ref(c.args[0])
        arg = _emit(c.args[0], ctx, scope)
        numeric = ref is not None and ctx.type_of is not None and ctx.type_of(ref) in ("integer", "decimal")
        return f"int({arg})" if numeric or re.fullmatch(r"-?[\d.]+", arg) else f"int(number({arg}))"
    if name == "selected-at" and len(c.args) == 2:
        ref = _single_ref(c.args[0])
        if ref and ctx.type_of is not None and ctx.type_of(ref) in ("select_one", "yes_no"):
            # ODK reads one answer as a list of one value: the value itself at 0, nothing after
            value, at = _emit(c.args[0], ctx, scope), _emit(c.args[1], ctx, scope)
            return value if at == "0" else f"if(({at}) = 0, {value}, '')"
    if name == "indexed-repeat" and len(c.args) == 3:
        # ODK turns the row number into a number whatever it is (a calculation's text, often)
        cell = _single_ref(c.args[0])
        first = _column_ref(cell, ctx, scope) if cell else _emit(c.args[0], ctx, scope)
        at = _emit(c.args[2], ctx, scope)
        at = at if re.fullmatch(r"\d+", at) else f"number({at})"
        return f"indexed-repeat({first}, {_emit(c.args[1], ctx, scope)}, {at})"
    if name in _COLUMNS:
        cols = _COLUMNS[name]
        return (
            f"{name}("
            + ", ".join(
                _column_ref(ref, ctx, scope) if i in cols and (ref := _single_ref(a)) else _emit(a, ctx, scope)
                for i, a in enumerate(c.args)
            )
            + ")"
        )
    if name == "regex" and len(c.args) == 2 and (pattern := _literal(c.args[1])) is not None and "'" not in pattern:
        return f"regex({_emit(c.args[0], ctx, scope)}, '{_class_dashes(pattern)}')"
    if name in _SAME or (name in FUNCTIONS and name not in _TRANSLATED):
        return f"{name}({args()})"  # the same function in Sanad (the checker then has the last word)
    if name in ("true", "false") and not c.args:
        return name
    if name == "number" and len(c.args) == 1:
        return "(" + _emit(c.args[0], ctx, scope) + ")"
    if name == "string" and len(c.args) == 1:
        return f"concat({args()})"
    if name in ("contains", "starts-with", "ends-with") and len(c.args) == 2:
        lit = _literal(c.args[1])
        if lit is None:
            raise Unsupported(f"{name}() with a second argument that is not a literal text")
        pattern = re.escape(lit)
        if "'" in pattern:
            raise Unsupported(f"{name}() with a quote in its text")
        pattern = ("^" if name == "starts-with" else "") + pattern + ("$" if name == "ends-with" else "")
        return f"regex({_emit(c.args[0], ctx, scope)}, '{pattern}')"
    if name in ("sum", "count") and len(c.args) == 1:
        ref = _single_ref(c.args[0])
        found = ctx.resolve(ref) if ref else None
        if ref and found is not None:
            sid, where, is_repeat = found
            if name == "count" and is_repeat:
                return f"count({_ref(ref, ctx, scope)})"
            inner = where[len(scope) :] if where[: len(scope)] == scope else ()
            if len(inner) == 1 and ctx.sanad_id is not None:
                repeat = ctx.sanad_id(inner[0])
                if name == "count":
                    return f"count(${{{repeat}}})"
                return f"sum(${{{repeat}}}, ${{{sid}}})"
        raise Unsupported(f"{name}() of something that is not a field in a repeat")
    raise Unsupported(f"the function {name}() (see docs/expressions.md for Sanad's functions)")
