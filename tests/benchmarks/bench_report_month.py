"""One month of the ISP report on a database of N incidents, on PostgreSQL, with and without the
report indexes (engine/storage/report_indexes.py).

The incidents are those of bench_reports (N, default 200,000, interviewed over 700 days, 10% linked
to a case whose consent decides). For one month (default 2025-06), the 13 tables of the GBV
module's `isp_monthly` report and its count of records, as Sanad's engine counts them
(`storage.aggregate`, with the report's period filter), against the hand-written SQL of
bench_reports restricted to the same month — with the same expression for the day as Sanad's filter
(and its index): `substr(coalesce(data->>'date_of_interview', ''), 1, 10)` between the first and
the last day; the links to the cases read for the month's incidents only, as Sanad does. Measured first without the report indexes (every query reads every incident), then
after they are made (as `sanad serve` and `sanad db upgrade` make them) and ANALYZE. Every side
must give the same counts (exit 2 otherwise). Target: with the indexes, Sanad within 1.5x of the
hand-written SQL, and at least 1.3x faster than without them (INDEX_GAIN).

    python -m tests.benchmarks.bench_report_month [--incidents N] [--month YYYY-MM] [--repeat R] [--db URL]

It creates a scratch database (sanad_bench_<random>) on the local PostgreSQL and drops it after.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from calendar import monthrange
from datetime import date

from sqlalchemy import create_engine, text

from tests.benchmarks._timing import interleaved
from tests.benchmarks.bench_reports import ADMIN, GBV, HAND, hand_counts, populate, sanad_counts

#: where the hand-written queries' rule ends (bench_reports.BASE): the month's condition goes after it
END_OF_RULE = "ELSE r.data->>'consent_reporting' = 'yes' END\n"
#: the links to the cases (bench_reports.BASE): only those of the month's incidents are read
LINKS = "AND p.record_type = 'case' GROUP BY l.to_id"


def _month(alias: str, start: date, end: date) -> str:
    day = f"substr(coalesce({alias}.data->>'date_of_interview', ''), 1, 10)"
    return f"{day} <> '' AND {day} >= '{start.isoformat()}' AND {day} <= '{end.isoformat()}'"


def hand_month(start: date, end: date) -> dict[str, str]:
    month_links = (
        "AND p.record_type = 'case' WHERE l.to_id IN (SELECT m.id FROM records m WHERE m.module = 'gbv' "
        f"AND m.record_type = 'incident' AND {_month('m', start, end)}) GROUP BY l.to_id"
    )
    out = {}
    for tid, sql in HAND.items():
        assert sql.count(END_OF_RULE) == 1 and sql.count(LINKS) == 1, tid
        out[tid] = sql.replace(END_OF_RULE, END_OF_RULE + f"  AND {_month('r', start, end)}\n").replace(
            LINKS, month_links
        )
    return out


#: how much faster the month must be with the report indexes than without. It was 3x while each table
#: read the incidents again (a month cost 14 reads of the whole table without the index); since a
#: report reads them once (aggregate.count_tables), the index spares one read of the table: 1.6x at
#: 1,000,000 incidents, 1.7x at 200,000. Below 1.3x the index is not doing its work
INDEX_GAIN = 1.3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--month", default="2025-06", help="the month reported, YYYY-MM (the data spans 2025-2026)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=ADMIN, help="an administrative URL of the PostgreSQL server")
    args = parser.parse_args(argv)
    year, month = (int(x) for x in args.month.split("-"))
    start, end = date(year, month, 1), date(year, month, monthrange(year, month)[1])

    from engine.language.loader import load_module
    from engine.service.database import Database

    module = load_module(GBV).module
    if module is None:
        print("the GBV module does not load", file=sys.stderr)
        return 2
    queries = hand_month(start, end)
    admin = create_engine(args.db, isolation_level="AUTOCOMMIT")
    name = f"sanad_bench_{uuid.uuid4().hex[:8]}"
    rows: list[tuple[str, float, float]] = []
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = args.db.rsplit("/", 1)[0] + f"/{name}"
        t0 = time.perf_counter()
        populate(url, args.incidents)
        print(f"populated {args.incidents:,} incidents in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        db = Database.open(url)
        engine = create_engine(url)
        expected: dict[str, dict[tuple[str, ...], int]] | None = None
        phases = ["without the report indexes"]
        if hasattr(db, "report_indexes"):
            phases.append("with the report indexes")
        for phase in phases:
            if phase.startswith("with "):
                t0 = time.perf_counter()
                made = db.report_indexes([module])
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE records"))
                print(f"made {made} in {time.perf_counter() - t0:.1f} s (with ANALYZE)", file=sys.stderr)
            with db.reading() as session:
                mine = sanad_counts(session, module, start, end)
            theirs = hand_counts(engine, queries)
            if mine != theirs or (expected is not None and mine != expected):
                bad = [t for t in mine if mine[t] != theirs.get(t) or (expected and mine[t] != expected[t])]
                print(f"{phase}: the counts differ for {bad}", file=sys.stderr)
                return 2
            expected = mine

            def run_sanad() -> None:
                with db.reading() as session:
                    sanad_counts(session, module, start, end)

            def run_hand() -> None:
                hand_counts(engine, queries)

            sanad_t, hand_t = (min(x) for x in interleaved([run_sanad, run_hand], args.repeat))
            rows.append((phase, sanad_t, hand_t))
        assert expected is not None
        counted = expected["records"][()]
        db.dispose()
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    print(
        f"\nISP monthly report (13 tables + the count of records) for {args.month} over {args.incidents:,} "
        f"incidents ({counted:,} counted), PostgreSQL, best of {args.repeat}"
    )
    for phase, sanad_t, hand_t in rows:
        print(f"  {phase:28}  Sanad {sanad_t:7.3f} s   hand SQL {hand_t:7.3f} s   ratio {sanad_t / hand_t:5.2f}x")
    if len(rows) < 2:
        return 1
    (_, before, _), (_, after, hand_after) = rows
    ok = after / hand_after <= 1.5 and before / after >= INDEX_GAIN
    print(
        f"  indexes: {before / after:.1f}x faster; target >= {INDEX_GAIN}x and <= 1.5x of hand SQL "
        f"{'OK' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
