"""Order fields so every value is computed after the values it depends on, and find cycles.

A field's value depends on the fields read by its `relevant` and `calculate` (and, for a subform,
on what its rows read outside the subform), and on its form's `relevant`. The order is computed
once at load; evaluation then walks it without looking anything up.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.diagnostics import Report
from engine.expressions.compiler import Expression
from engine.language.model import Field, FieldScope, Form, RecordType

Node = Form | Field


def anchor(target: Field, scope: FieldScope) -> Field | None:
    """The field of `scope` that is or contains `target`; None if `target` lies outside `scope`."""
    f = target
    while f.scope is not scope:
        owner = f.scope.owner
        if owner is None:
            return None
        f = owner
    return f


def _value_exprs(f: Field) -> Iterator[Expression]:
    if f.relevant is not None:
        yield f.relevant
    if f.calculate is not None:
        yield f.calculate
    if f.subform is not None:
        for inner in f.subform.fields.values():
            yield from _value_exprs(inner)


def _order(nodes: list[Node], deps: dict[int, list[Node]], report: Report) -> list[Node]:
    out: list[Node] = []
    state: dict[int, int] = {}  # 1 = visiting, 2 = done
    stack: list[Node] = []
    reported: set[frozenset[int]] = set()

    def visit(n: Node) -> None:
        key = id(n)
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = [*stack[stack.index(n) :], n]
            members = frozenset(id(c) for c in cycle)
            if members not in reported:
                reported.add(members)
                names = " → ".join(c.id if isinstance(c, Field) else f"form {c.id}" for c in cycle)
                first = cycle[0]
                report.add(
                    first.pos,
                    "expr.cycle",
                    f"these depend on each other in a circle: {names}",
                    "break the circle: one of them must not read the other",
                )
            return
        state[key] = 1
        stack.append(n)
        for d in deps.get(key, ()):
            visit(d)
        stack.pop()
        state[key] = 2
        out.append(n)

    for n in nodes:
        visit(n)
    return out


def _order_scope(scope: FieldScope, forms: dict[str, Form], report: Report, top: bool) -> list[Node]:
    nodes: list[Node] = []
    deps: dict[int, list[Node]] = {}
    for f in scope.fields.values():
        if f.subform is not None:
            f.subform.order = tuple(x for x in _order_scope(f.subform, forms, report, False) if isinstance(x, Field))
        found: list[Node] = []
        for e in _value_exprs(f):
            for target in e.refs:
                a = anchor(target, scope)
                if a is not None and a is not f:
                    found.append(a)
                elif a is f and target is f and e in (f.relevant, f.calculate):
                    found.append(f)  # reads itself: a cycle of one
        form = forms.get(f.form_id)
        if top and form is not None and form.relevant is not None:
            found.append(form)
        deps[id(f)] = found
        nodes.append(f)
    if top:
        for form in forms.values():
            if form.relevant is not None:
                deps[id(form)] = [a for t in form.relevant.refs if (a := anchor(t, scope)) is not None]
                nodes.append(form)
    return _order(nodes, deps, report)


def order_record_type(rt: RecordType, report: Report) -> None:
    steps = _order_scope(rt.scope, rt.forms, report, True)
    rt.steps = tuple(steps)
    rt.scope.order = tuple(x for x in steps if isinstance(x, Field))
