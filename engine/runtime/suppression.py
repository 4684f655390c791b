"""Small-cell suppression of a table of counts: what may be shown of each cell and total.

A non-zero count below the threshold is never shown: it reads `<N` (a *primary* suppression). In a
table whose cells add up to its totals, a row or a column with exactly one hidden cell would let a
reader subtract the others from the total; so the smallest other non-zero cell of that row or column
is hidden too (a *complementary* suppression, shown as `x`: it is not necessarily small). If no such
cell exists, the total itself is hidden. This repeats until no row or column gives a hidden cell
away. The same result is used by every format (HTML, CSV, XLSX, JSON, the API).

Cells are keyed by tuples of category codes, one per dimension; the last dimension is the columns,
the others together are the row (a one-dimension table is a single row). Zero cells are shown.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

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
    status: dict[Key, str] = {}
    if threshold > 0:
        status = {k: "primary" for k, v in counts.items() if 0 < v < threshold}
    rows: dict[Key, list[Key]] = {}
    columns: dict[Hashable, list[Key]] = {}
    for k in counts:
        rows.setdefault(k[:-1], []).append(k)
        columns.setdefault(k[-1] if k else None, []).append(k)
    hidden_row_totals: set[Hashable] = set()
    hidden_column_totals: set[Hashable] = set()
    if additive and threshold > 0:
        groups: list[tuple[str, Hashable, list[Key]]] = [("row", r, ks) for r, ks in rows.items()]
        if any(len(k) >= 2 for k in counts):
            groups += [("column", c, ks) for c, ks in columns.items()]
        changed = True
        while changed:
            changed = False
            for kind, name, keys in groups:
                if (kind == "row" and name in hidden_row_totals) or (kind == "column" and name in hidden_column_totals):
                    continue
                secret = [k for k in keys if k in status]
                if len(secret) != 1:
                    continue
                candidates = [k for k in keys if k not in status and counts[k] > 0]
                if candidates:
                    pick = min(candidates, key=lambda k: (counts[k], str(k)))
                    status[pick] = "complementary"
                elif kind == "row":
                    hidden_row_totals.add(name)
                else:
                    hidden_column_totals.add(name)
                changed = True
    out = Suppressed(cells={})
    for k, v in counts.items():
        s = status.get(k)
        out.cells[k] = v if s is None else below(threshold) if s == "primary" else COMPLEMENTARY
    out.hidden = len(status)
    if additive:
        row_sums: dict[Hashable, int] = {r: sum(counts[k] for k in ks) for r, ks in rows.items()}
        out.row_totals = _totals(row_sums, threshold, hidden_row_totals)
        hide_total = _gives_away(out.row_totals, row_sums, threshold)
        if any(len(k) >= 2 for k in counts):
            column_sums: dict[Hashable, int] = {c: sum(counts[k] for k in ks) for c, ks in columns.items()}
            out.column_totals = _totals(column_sums, threshold, hidden_column_totals)
            hide_total = _gives_away(out.column_totals, column_sums, threshold) or hide_total
        out.total = _total(sum(counts.values()), threshold, hide_total)
    return out


def _totals(sums: Mapping[Hashable, int], threshold: int, hidden: set[Hashable]) -> dict[Hashable, Shown]:
    return {name: _total(value, threshold, name in hidden) for name, value in sums.items()}


def _gives_away(shown: dict[Hashable, Shown], sums: Mapping[Hashable, int], threshold: int) -> bool:
    """The totals of the rows (or columns) add up to the grand total: if exactly one is hidden,
    hide the smallest other non-zero one too (in place), or, when there is none, the grand total
    (True)."""
    secret = [n for n, v in shown.items() if isinstance(v, str)]
    if len(secret) != 1 or threshold <= 0:
        return False
    candidates = [n for n, v in shown.items() if not isinstance(v, str) and sums[n] > 0]
    if not candidates:
        return True
    pick = min(candidates, key=lambda n: (sums[n], str(n)))
    shown[pick] = COMPLEMENTARY
    return False


def _total(value: int, threshold: int, hidden: bool) -> Shown:
    if 0 < value < threshold:
        return below(threshold)
    return COMPLEMENTARY if hidden else value


def shown_count(value: int, threshold: int) -> Shown:
    """A single count (a grand total of records, the count behind an average)."""
    return below(threshold) if 0 < value < threshold else value
