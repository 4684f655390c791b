"""Small-cell suppression: hand-computed tables, and the property that no hidden count can be worked
out from what is shown (a row or a column with a total never hides exactly one cell)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime.suppression import COMPLEMENTARY, Table, suppress, suppress_together


def test_one_dimension_a_small_cell_and_its_complement() -> None:
    out = suppress({("rape",): 12, ("sexual_assault",): 3, ("physical_assault",): 7, ("forced_marriage",): 0}, 5)
    assert out.cells == {
        ("rape",): 12,
        ("sexual_assault",): "<5",
        ("physical_assault",): COMPLEMENTARY,  # else 22 - 12 - 7 = 3 gives it away
        ("forced_marriage",): 0,
    }
    assert out.row_totals == {(): 22} and out.total == 22 and out.hidden == 2


def test_nothing_small_nothing_hidden_and_zeros_are_shown() -> None:
    out = suppress({("a",): 5, ("b",): 0, ("c",): 9}, 5)
    assert out.cells == {("a",): 5, ("b",): 0, ("c",): 9} and out.hidden == 0


def test_two_dimensions_hand_computed() -> None:
    # sex x age group:       0_11 12_17 18_plus | total
    #   female                  2    6     20   |   28
    #   male                    0    1      9   |   10
    counts = {
        ("female", "0_11"): 2,
        ("female", "12_17"): 6,
        ("female", "18_plus"): 20,
        ("male", "0_11"): 0,
        ("male", "12_17"): 1,
        ("male", "18_plus"): 9,
    }
    out = suppress(counts, 5)
    # primary: female/0_11 (2), male/12_17 (1). Row female: one hidden -> hide 6 (smallest other).
    # Row male: one hidden -> hide 9. Column 0_11: 2 hidden, 0 - fine. Column 12_17: 6 and 1 hidden.
    # Column 18_plus: 9 hidden alone -> hide 20.
    assert out.cells[("female", "0_11")] == "<5" and out.cells[("male", "12_17")] == "<5"
    assert out.cells[("female", "12_17")] == COMPLEMENTARY and out.cells[("male", "18_plus")] == COMPLEMENTARY
    assert out.cells[("female", "18_plus")] == COMPLEMENTARY and out.cells[("male", "0_11")] == 0
    assert out.row_totals == {("female",): 28, ("male",): 10}
    # the column totals add up to the grand total: one hidden ('<5') -> the smallest other one too
    assert out.column_totals == {"0_11": "<5", "12_17": COMPLEMENTARY, "18_plus": 29}
    assert out.total == 38


def test_a_threshold_of_zero_shows_everything() -> None:
    out = suppress({("a",): 1, ("b",): 2}, 0)
    assert out.cells == {("a",): 1, ("b",): 2} and out.total == 3


def test_not_additive_tables_suppress_small_cells_only() -> None:
    out = suppress({("child_sexual_abuse",): 2, ("early_marriage",): 8}, 5, additive=False)
    assert out.cells == {("child_sexual_abuse",): "<5", ("early_marriage",): 8}
    assert out.row_totals == {} and out.total == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 5),
    st.lists(st.integers(0, 12), min_size=20, max_size=20),
    st.integers(1, 6),
)
def test_no_hidden_count_can_be_recovered_by_subtraction(rows: int, cols: int, values: list[int], t: int) -> None:
    counts = {(f"r{r}", f"c{c}"): values[(r * cols + c) % len(values)] for r in range(rows) for c in range(cols)}
    out = suppress(counts, t)
    for k, v in counts.items():
        shown = out.cells[k]
        assert shown == v or (isinstance(shown, str) and (shown == COMPLEMENTARY or 0 < v < t))
    for r in range(rows):
        line = [out.cells[(f"r{r}", f"c{c}")] for c in range(cols)]
        if not isinstance(out.row_totals[(f"r{r}",)], str):
            assert sum(isinstance(x, str) for x in line) != 1, (counts, out)
    for c in range(cols):
        line = [out.cells[(f"r{r}", f"c{c}")] for r in range(rows)]
        if cols >= 1 and not isinstance(out.column_totals[f"c{c}"], str):
            assert sum(isinstance(x, str) for x in line) != 1, (counts, out)
    if not isinstance(out.total, str):
        assert sum(isinstance(x, str) for x in out.row_totals.values()) != 1
        assert sum(isinstance(x, str) for x in out.column_totals.values()) != 1


# -- the tables of one report, suppressed together --------------------------------------------------------
def test_a_count_hidden_in_one_table_is_not_given_away_by_another() -> None:
    # a review's attack: 'by type' hid physical assault (6) to protect sexual assault (3); 'by type
    # and sex' showed physical assault's row total (6), so 16 - 7 - 6 gave sexual assault away
    by_type = Table(("type",), {("rape",): 7, ("sexual_assault",): 3, ("physical_assault",): 6})
    by_type_sex = Table(
        ("type", "sex"),
        {
            ("rape", "female"): 7,
            ("rape", "male"): 0,
            ("sexual_assault", "female"): 3,
            ("sexual_assault", "male"): 0,
            ("physical_assault", "female"): 0,
            ("physical_assault", "male"): 6,
        },
    )
    one, two = suppress_together([by_type, by_type_sex], 5)
    assert one.cells[("physical_assault",)] == COMPLEMENTARY
    assert two.row_totals[("physical_assault",)] == COMPLEMENTARY  # the same count, hidden in both
    assert two.cells[("physical_assault", "male")] == COMPLEMENTARY  # else the row total is its only cell
    assert not _given_away([by_type, by_type_sex], [one, two])


def test_tables_of_other_records_are_not_linked() -> None:
    a = Table(("type",), {("x",): 3, ("y",): 9}, universe="all")
    b = Table(("type",), {("x",): 8, ("y",): 9}, universe="only reviewed")
    one, two = suppress_together([a, b], 5)
    assert one.cells == {("x",): "<5", ("y",): COMPLEMENTARY} and two.cells == {("x",): 8, ("y",): 9}


def _shown_numbers(tables: list[Table], results: list[Any]) -> dict[frozenset[tuple[str, str]], tuple[int, Any]]:
    """Every number the tables show, by the categories it counts (the same in every table that
    shows it: checked), with its true value."""
    numbers: dict[frozenset[tuple[str, str]], tuple[int, Any]] = {}
    for t, out in zip(tables, results, strict=True):
        dims = t.dimensions

        def true(pairs: frozenset[tuple[str, str]], t: Table = t, dims: tuple[Any, ...] = dims) -> int:
            return sum(v for k, v in t.counts.items() if pairs <= set(zip(dims, k, strict=True)))

        found = [(frozenset(zip(dims, k, strict=True)), v) for k, v in out.cells.items()]
        if len(dims) >= 2:
            found += [(frozenset(zip(dims[:-1], k, strict=True)), v) for k, v in out.row_totals.items()]
            found += [(frozenset({(dims[-1], k)}), v) for k, v in out.column_totals.items()]
        found.append((frozenset(), out.total))
        for pairs, shown in found:
            if pairs in numbers:
                assert numbers[pairs][1] == shown, f"{set(pairs)} shown as {numbers[pairs][1]} and {shown}"
            numbers[pairs] = (true(pairs), shown)
    return numbers


def _given_away(tables: list[Table], results: list[Any]) -> list[str]:
    """Hidden counts that a reader gets by subtraction from one exact split: a shown count split into
    shown parts but one, or a hidden count split into parts all shown."""
    numbers = _shown_numbers(tables, results)
    levels: dict[frozenset[Any], list[frozenset[tuple[str, str]]]] = {}
    for pairs in numbers:
        levels.setdefault(frozenset(d for d, _c in pairs), []).append(pairs)
    out = []
    for narrow, wholes in levels.items():
        for wide, parts_of_level in levels.items():
            if not narrow < wide:
                continue
            for whole in wholes:
                parts = [p for p in parts_of_level if whole <= p]
                if sum(numbers[p][0] for p in parts) != numbers[whole][0]:
                    continue  # not an exact split
                hidden = [p for p in parts if isinstance(numbers[p][1], str)]
                whole_hidden = isinstance(numbers[whole][1], str)
                if (not whole_hidden and len(hidden) == 1) or (whole_hidden and not hidden and numbers[whole][0]):
                    out.append(f"{set(whole)} split by {set(wide - narrow)}")
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 4),
    st.integers(2, 3),
    st.integers(1, 3),
    st.lists(st.integers(0, 9), min_size=36, max_size=36),
    st.integers(2, 6),
)
def test_no_hidden_count_of_a_report_is_determined_by_its_shown_counts(
    a: int, b: int, c: int, values: list[int], t: int
) -> None:
    """Tables of one report by type, by type x sex and by type x sex x age (margins of one another):
    a count is shown the same in every table, and no exact split of a count into parts, within a
    table or across tables, gives a hidden count away by subtraction."""
    fine = {
        (f"t{i}", f"s{j}", f"a{k}"): values[(i * b * c + j * c + k) % len(values)]
        for i in range(a)
        for j in range(b)
        for k in range(c)
    }

    def margin(n: int) -> dict[tuple[str, ...], int]:
        out: dict[tuple[str, ...], int] = {}
        for key, v in fine.items():
            out[key[:n]] = out.get(key[:n], 0) + v
        return out

    tables = [
        Table(("type",), margin(1)),
        Table(("type", "sex"), margin(2)),
        Table(("type", "sex", "age"), margin(3)),
    ]
    results = suppress_together(tables, t)
    for table, out in zip(tables, results, strict=True):
        for k, v in table.counts.items():
            assert out.cells[k] == v or out.cells[k] == COMPLEMENTARY or (out.cells[k] == f"<{t}" and 0 < v < t)
    assert not _given_away(tables, results)
