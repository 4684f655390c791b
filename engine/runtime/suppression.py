"""Small-cell suppression of a table of counts: what may be shown of each cell and total.

A non-zero count below the threshold is never shown: it reads `<N` (a *primary* suppression). In a
table whose cells add up to its totals, a row or a column with exactly one hidden cell would let a
reader subtract the others from the total; so the smallest other non-zero cell of that row or column
is hidden too (a *complementary* suppression, shown as `x`: it is not necessarily small). If no such
cell exists, the total itself is hidden. This repeats until no row or column gives a hidden cell
away. The tables of one report are suppressed together (`suppress_together`): the same count is
hidden in every table that shows it, and a count split into parts in another table is protected
as a total is. The same result is used by every format (HTML, CSV, XLSX, JSON, the API).

Cells are keyed by tuples of category codes, one per dimension; the last dimension is the columns,
the others together are the row (a one-dimension table is a single row). Zero cells are shown.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

Key = tuple[Hashable, ...]
Shown = int | str

COMPLEMENTARY = "x"


def below(threshold: int) -> str:
    """How a small count is shown: '<5' for the default threshold."""
    return f"<{threshold}"


@dataclass
class Suppressed:
    """What to show: each cell, each row total, each column total and the grand total."""

    cells: dict[Key, Shown]
    row_totals: dict[Hashable, Shown] = field(default_factory=dict)  # by the row's key (a tuple)
    column_totals: dict[Hashable, Shown] = field(default_factory=dict)
    total: Shown = 0
    hidden: int = 0  # how many cells are not shown (primary + complementary)


def suppress(counts: Mapping[Key, int], threshold: int, additive: bool = True) -> Suppressed:
    """Suppress small cells of `counts` (every cell of the table, zeros included, keyed by category
    codes). Without `additive` (a record may count in several cells), only primary suppression
    applies and no totals are given but the grand total of records, which the caller passes
    separately."""
    if additive:
        dims = tuple(range(len(next(iter(counts), ()))))
        return suppress_together([Table(dims, counts)], threshold)[0]
    out = Suppressed(cells={k: below(threshold) if 0 < v < threshold else v for k, v in counts.items()})
    out.hidden = sum(1 for v in counts.values() if 0 < v < threshold)
    return out


@dataclass(frozen=True)
class Table:
    """A table of counts in which each record counts once: `dimensions` name what each position of
    a key means, the same way in every table of the same `universe` (the same records counted), so
    that a cell of one table and a total of another that count the same records are known to be
    the same number."""

    dimensions: tuple[Hashable, ...]
    counts: Mapping[Key, int]
    universe: Hashable = None


#: a number a table shows: (universe, the categories it is restricted to, as (dimension, code) pairs)
_Aggregate = tuple[Hashable, frozenset[tuple[Hashable, Hashable]]]


def suppress_together(tables: Sequence[Table], threshold: int) -> list[Suppressed]:
    """Suppress the tables of one report together. Every number shown (a cell, a row or column
    total, a grand total) is the count of the records in some categories; the same count shown in
    two tables is hidden in both or in neither. Any shown count that is split, exactly, into other
    shown counts (a total into its cells, a cell of a table by type into the row totals of a table by
    type and sex, …) forms a group, and no group may give a hidden count away:

    - a shown count split into parts of which exactly one is hidden: the smallest other non-zero part
      is hidden too (complementary), else the count itself;
    - a hidden count split into parts that are all shown: the smallest non-zero part is hidden.

    This repeats until no group changes, across all the tables."""
    value: dict[_Aggregate, int] = {}
    shown_by: list[dict[str, dict[Hashable, _Aggregate]]] = []
    for i, table in enumerate(tables):
        made = _aggregates(table, table.universe)
        if made is None or any(value.get(a, v) != v for a, v in made[1].items()):
            made = _aggregates(table, ("table", i, table.universe))  # counts other records: on its own
        assert made is not None
        shown_by.append(made[0])
        value.update(made[1])
    status: dict[_Aggregate, str] = {}
    if threshold > 0:
        status = {a: "primary" for a, v in value.items() if 0 < v < threshold}
        order = _ordering(tables)
        groups = _groups(value, order)
        changed = True
        while changed:
            changed = False
            for whole, parts in groups:
                hidden = sum(1 for p in parts if p in status)
                if whole not in status and hidden == 1:
                    others = [p for p in parts if p not in status and value[p] > 0]
                    status[min(others, key=lambda p: (value[p], order(p))) if others else whole] = "complementary"
                    changed = True
                elif whole in status and hidden == 0:
                    others = [p for p in parts if value[p] > 0]
                    if others:
                        status[min(others, key=lambda p: (value[p], order(p)))] = "complementary"
                        changed = True

    def show(a: _Aggregate) -> Shown:
        v = value[a]
        if a not in status:
            return v
        return below(threshold) if 0 < v < threshold else COMPLEMENTARY

    out: list[Suppressed] = []
    for shown in shown_by:
        s = Suppressed(cells={cast(Key, k): show(a) for k, a in shown["cells"].items()})
        s.hidden = sum(1 for a in shown["cells"].values() if a in status)
        s.row_totals = {k: show(a) for k, a in shown["rows"].items()}
        s.column_totals = {k: show(a) for k, a in shown["columns"].items()}
        s.total = show(shown["total"][()])
        out.append(s)
    return out


def _aggregates(
    table: Table, universe: Hashable
) -> tuple[dict[str, dict[Hashable, _Aggregate]], dict[_Aggregate, int]] | None:
    """What a table shows (its cells, row totals, column totals and grand total, each as the
    aggregate it is) and the value of each aggregate; None if a dimension is named twice."""
    dims = table.dimensions
    if len(set(dims)) != len(dims):
        return None
    n = len(dims)
    shown: dict[str, dict[Hashable, _Aggregate]] = {"cells": {}, "rows": {}, "columns": {}, "total": {}}
    value: dict[_Aggregate, int] = {}

    for key, v in table.counts.items():
        mine: dict[str, tuple[Hashable, frozenset[tuple[Hashable, Hashable]]]] = {
            "cells": (key, frozenset(zip(dims, key, strict=True))),
            "rows": (key[:-1], frozenset(zip(dims[:-1], key[:-1], strict=True))),
            "total": ((), frozenset()),
        }
        if n >= 2:
            mine["columns"] = (key[-1], frozenset([(dims[-1], key[-1])]))
        for kind, (name, pairs) in mine.items():
            shown[kind][name] = (universe, pairs)
        for pairs in {pairs for _name, pairs in mine.values()}:  # a cell counts once in each number
            value[(universe, pairs)] = value.get((universe, pairs), 0) + v
    if n == 0:  # a single count: the cell is the total
        shown["rows"].clear()
    shown["total"].setdefault((), (universe, frozenset()))
    value.setdefault((universe, frozenset()), 0)
    return shown, value


def _groups(
    value: Mapping[_Aggregate, int], order: Callable[[_Aggregate], Any]
) -> list[tuple[_Aggregate, list[_Aggregate]]]:
    """Every shown count with the shown counts that split it exactly: for two sets of dimensions
    K ⊂ E shown in the same universe, each count on K with the counts on E that agree with it."""
    by_level: dict[tuple[Hashable, frozenset[Hashable]], list[_Aggregate]] = {}
    for a in value:
        by_level.setdefault((a[0], frozenset(d for d, _c in a[1])), []).append(a)
    groups: list[tuple[_Aggregate, list[_Aggregate]]] = []
    levels = list(by_level)
    for universe, wide in levels:
        for u2, narrow in levels:
            if u2 != universe or not narrow < wide:
                continue
            parts: dict[frozenset[tuple[Hashable, Hashable]], list[_Aggregate]] = {}
            for a in by_level[(universe, wide)]:
                parts.setdefault(frozenset(p for p in a[1] if p[0] in narrow), []).append(a)
            for whole in by_level[(universe, narrow)]:
                members = parts.get(whole[1], [])
                if len(members) >= 2 and sum(value[m] for m in members) == value[whole]:
                    groups.append((whole, members))
    # the finest splits first: a cell's row and column before wider ones, as a reader would check;
    # then in the fixed order of what they count (see `_ordering`)
    groups.sort(key=lambda g: (-len(g[0][1]), -len(g[1][0][1]), order(g[0]), sorted(order(m) for m in g[1])))
    return groups


def _ordering(tables: Sequence[Table]) -> Callable[[_Aggregate], Any]:
    """A count's place in a fixed order: its dimensions in the order the report names them (a table's
    rows before its columns), then its categories' codes, then its universe.

    Which other count is hidden beside a small one must never follow the order of a set or of the
    database's rows: string hashing changes with every process, and the same report run twice,
    hiding other cells each time, shows between the two runs what either one hides
    (tests/security/test_29_suppression_order.py)."""
    rank: dict[Hashable, int] = {}
    for table in tables:
        for d in table.dimensions:
            rank.setdefault(d, len(rank))

    @functools.cache
    def order(a: _Aggregate) -> Any:
        pairs = sorted((rank.get(d, len(rank)), repr(d), repr(c)) for d, c in a[1])
        return ([p[:2] for p in pairs], [p[2] for p in pairs], repr(a[0]))

    return order


def shown_count(value: int, threshold: int) -> Shown:
    """A single count (a grand total of records, the count behind an average)."""
    return below(threshold) if 0 < value < threshold else value
