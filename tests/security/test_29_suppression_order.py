"""The same report, run twice, hides the same cells.

Small-cell suppression hides a small count and, where a row or a total would give it away, other
counts beside it (complementary suppression). Which other counts it hides was decided in an order
that followed Python's hashing of the category codes, which changes with every process: the same
report run twice, in two server processes or after a restart, hid different cells. A reader who runs
it twice sees each cell that one run hid and the other showed, and with enough of them subtracts
the small counts back out of the totals (a differencing attack). Found running the ISP set twice at
100,000 cases: a quarter's "by place and time" table showed farm/morning 7 in one run, `x` in the
other. Nor may the order in which the database returns the counts change what is hidden."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

from engine.runtime.suppression import Suppressed, Table, suppress_together

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: a report suppressed in a process of its own, printed as `_shown` gives it
_RUN = """
import json, sys
from engine.runtime.suppression import suppress_together
from tests.security.test_29_suppression_order import _shown, _tables
spec = json.load(sys.stdin)
print(json.dumps(_shown(suppress_together(_tables(spec), spec["threshold"]))))
"""


def _report(seed: int) -> dict[str, Any]:
    """Three tables of one report over the same records, as the ISP set has them: by type, by place
    and time of day, by type, sex and age; many small cells, so that many are hidden."""
    rng = random.Random(seed)
    types = ["rape", "sexual_assault", "physical_assault", "forced_marriage", "denial", "psychological"]
    places = ["forest", "garden", "school", "road", "home", "market", "farm", "latrine", "water_point", ""]
    times = ["morning", "afternoon", "evening_night", "unknown", ""]
    sexes, ages = ["female", "male"], ["0_11", "12_17", "18_25", "26_40", "41_60", ""]
    records = [
        (rng.choice(types), rng.choice(places), rng.choice(times), rng.choice(sexes), rng.choice(ages))
        for _ in range(rng.randint(150, 400))
    ]

    def count(positions: tuple[int, ...]) -> list[list[Any]]:
        counts: dict[tuple[str, ...], int] = {}
        for r in records:
            key = tuple(r[p] for p in positions)
            counts[key] = counts.get(key, 0) + 1
        return [[list(k), v] for k, v in counts.items()]

    return {
        "threshold": 5,
        "tables": [
            {"dims": ["type"], "counts": count((0,))},
            {"dims": ["place", "time"], "counts": count((1, 2))},
            {"dims": ["type", "sex", "age"], "counts": count((0, 3, 4))},
        ],
    }


def _run_in_process(spec: dict[str, Any], hash_seed: int) -> Any:
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, "-c", _RUN], input=json.dumps(spec), capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def _tables(spec: dict[str, Any]) -> list[Table]:
    return [Table(tuple(t["dims"]), {tuple(k): v for k, v in t["counts"]}) for t in spec["tables"]]


def _shown(result: list[Suppressed]) -> list[Any]:
    """What a reader sees of each table (keys as text, so that it reads the same through JSON)."""
    return [
        [
            sorted((repr(k), str(v)) for k, v in s.cells.items()),
            sorted((repr(k), str(v)) for k, v in s.row_totals.items()),
            sorted((repr(k), str(v)) for k, v in s.column_totals.items()),
            str(s.total),
            s.hidden,
        ]
        for s in result
    ]


def test_two_processes_hide_the_same_cells() -> None:
    """Each report in processes of different string hashing (as two server workers are): the same
    cells hidden in every one."""
    differing = []
    for seed in range(6):
        spec = _report(seed)
        runs = [_run_in_process(spec, h) for h in (1, 2, 3, 4)]
        if any(r != runs[0] for r in runs[1:]):
            differing.append(seed)
    assert differing == [], f"reports {differing} hid other cells in another process"


def test_the_order_the_counts_arrive_in_changes_nothing() -> None:
    """The database returns a GROUP BY's rows in whatever order its plan gives: shuffled, the same
    cells are hidden."""
    for seed in range(6):
        spec = _report(seed)
        tables = _tables(spec)
        first = _shown(suppress_together(tables, 5))
        rng = random.Random(seed)
        for _ in range(5):
            shuffled = []
            for t in tables:
                items = list(t.counts.items())
                rng.shuffle(items)
                shuffled.append(Table(t.dimensions, dict(items)))
            assert _shown(suppress_together(shuffled, 5)) == first, f"report {seed}: the row order changed it"
