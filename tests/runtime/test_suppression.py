"""Small-cell suppression: hand-computed tables, and the property that no hidden count can be worked
out from what is shown (a row or a column with a total never hides exactly one cell)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.runtime.suppression import COMPLEMENTARY, suppress


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
