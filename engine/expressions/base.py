"""What the expression checker is built on: the environment an expression reads, where it is written,
and the walk's shared parts (placing a finding in the file, visiting a node, numbers and choices)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.diagnostics import Position, Report, did_you_mean
from engine.expressions import values as V
from engine.expressions.parser import Node

if TYPE_CHECKING:
    from engine.language.model import Field, FieldScope, Lookup

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
TYPE_WORDS = {
    "text": "a text",
    "number": "a number",
    "date": "a date",
    "datetime": "a date-time",
    "bool": "true/false",
    "list": "a multiple choice",
    "rows": "subform rows",
    "column": "the values of a subform's field",
    "any": "a value",
}


class Env:
    """What an expression sees: the current values (a record or a row), its parents, today; `pos`
    is the 1-based index of the row `v` among its subform's rows (0: unknown, or not a row), `own`
    the current answer of the field being calculated (for once())."""

    __slots__ = ("choice", "dot", "own", "pos", "today", "up", "v")

    def __init__(
        self,
        v: dict[str, Any],
        up: tuple[dict[str, Any], ...] = (),
        today: str = "",
        dot: Any = "",
        choice: dict[str, Any] | None = None,
        pos: int = 0,
        own: Any = "",
    ) -> None:
        self.v = v
        self.up = up
        self.today = today
        self.dot = dot
        self.choice = choice
        self.pos = pos
        self.own = own


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
    settings: Mapping[str, Any] | None = None  # the module's settings, for setting('name')
    lookups: Mapping[str, Lookup] | None = None  # the module's option lists, for lookup()
    used_lookup: Callable[[str], None] | None = None  # told each option list lookup() reads


@dataclass(slots=True)
class Compiled:
    fn: Fn
    type: str
    field: Field | None = None
    lit: Any = None
    is_lit: bool = False


@dataclass
class CheckerBase:
    """One walk over an expression's AST: type-checks each node and compiles it to a closure."""

    source: str
    pos: Position
    ctx: ExprContext
    report: Report
    ok: bool = True
    refs: list[Field] = field(default_factory=list)
    constants: dict[int, Any] = field(default_factory=dict)  # id(node) -> value: setting() calls
    replace: dict[int, Node] = field(default_factory=dict)  # id(node) -> node: subform columns

    def where(self, node: Node) -> Position:
        at = node.get("at", -1)
        if at < 0:
            return self.pos
        if self.ctx.locate is not None:
            return self.ctx.locate(at)
        if "\n" in self.source:
            return self.pos
        return Position(self.pos.file, self.pos.line, self.pos.column + at + (1 if self.ctx.quoted else 0))

    def error(self, node: Node, code: str, message: str, hint: str | None = None) -> Compiled:
        self.ok = False
        self.report.add(self.where(node), code, message, hint)
        return Compiled(lambda e: "", "any")

    def warn(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        """A finding that does not stop the expression from being compiled."""
        self.report.add(self.where(node), code, message, hint)

    def visit(self, node: Node, scope: FieldScope) -> Compiled:
        op = node["op"]
        method: Callable[[Node, FieldScope], Compiled] = getattr(self, "v_" + op)
        return method(node, scope)

    def _check_choice(self, node: Node, side: Compiled, other: Compiled) -> None:
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

    def _numeric(self, node: Node, c: Compiled, op: str) -> None:
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
        self.error(node, "expr.type-mismatch", f"'{op}' needs numbers, but {what} is {TYPE_WORDS[c.type]}", hint)


def unify(cs: list[Compiled]) -> str:
    types = {c.type for c in cs if not (c.is_lit and c.lit == "")}
    return types.pop() if len(types) == 1 else "any"
