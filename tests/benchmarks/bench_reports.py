"""Reports and exports at national scale, on PostgreSQL.

1. The GBV module's ISP monthly set (`isp_monthly`, 13 tables) over N incidents (default 1,000,000;
   10% linked to a case whose consent decides), against hand-written SQL GROUP BYs of the same data
   in the same run — one query per table, each with the same rule (period, classification,
   already counted elsewhere, consent through the linked case joined once), the flags and the
   sectors unpivoted in one pass, as a person writing it for speed would. Both sides must give the
   same counts (exit 2 otherwise). Target: Sanad within 1.5x of the hand-written SQL.
2. An export of M records (default 100,000) as de-identified CSV through `sanad export`, in a
   separate process, with its peak resident memory. Target: under 200 MB.

    python -m tests.benchmarks.bench_reports [--incidents N] [--export-records M] [--repeat R] [--db URL]

It creates a scratch database (sanad_bench_<random>) on the local PostgreSQL and drops it after.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from tests.benchmarks._timing import interleaved

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GBV = os.path.join(ROOT, "definitions", "gbv")
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

OPTIONS: dict[str, list[str]] = {
    "gbv_type": [
        "rape",
        "sexual_assault",
        "physical_assault",
        "forced_marriage",
        "denial_of_resources",
        "psychological_emotional_abuse",
        "non_gbv",
    ],
    "survivor_sex": ["female", "male"],
    "age_group_at_incident": ["0_11", "12_17", "18_plus"],
    "survivor_displacement_status": ["resident", "idp", "refugee", "returnee"],
    "displacement_incident": ["not_displaced", "pre_displacement", "during_flight", "during_refuge"],
    "incident_location_type": ["road", "market", "water_point", "latrine", "home"],
    "incident_timeofday": ["morning", "afternoon", "evening_night", "unknown"],
    "number_of_perpetrators": ["one", "two", "three", "more_than_three", "unknown"],
    "reporting_delay_band": ["0_3", "4_5", "6_14", "15_30", "over_30"],
    "within_72_hours": ["yes", "no"],
    "service_referred_from": ["health_medical", "self_referral", "community_or_camp_leader", "other"],
    "gbv_reported_elsewhere": ["no", "no", "no", "no", "no", "no", "no", "no", "gbvims_org", "non_gbvims_org"],
    "consent_reporting": ["yes"] * 9 + ["no"],
    "incident_admin1": ["north", "south", "east"],
}
FLAGS = [
    "case_context_child_sexual_abuse",
    "case_context_early_marriage",
    "case_context_harmful_traditional_practice",
    "case_context_possible_sexual_exploitation",
    "case_context_possible_sexual_slavery",
    "case_context_intimate_partner_violence",
]
SECTORS = [
    "service_safehouse_referral",
    "service_medical_referral",
    "service_psycho_referral",
    "service_legal_referral",
    "service_police_referral",
    "service_livelihoods_referral",
    "service_protection_referral",
]
STATUS = ["referred", "provided_by_own_agency", "declined_by_survivor", "service_unavailable", ""]
RELATION = ["intimate_partner_former_partner", "family_other", "no_relation", "other_community_member", "unknown"]
AGES = ["12_17", "18_25", "26_40", "41_60", "unknown"]


def incident_data(rng: random.Random, day: date) -> dict[str, Any]:
    data: dict[str, Any] = {k: rng.choice(v) for k, v in OPTIONS.items()}
    data["date_of_interview"] = day.isoformat()
    for f in FLAGS:
        data[f] = "yes" if rng.random() < 0.15 else "no"
    for s in SECTORS:
        if (v := rng.choice(STATUS)) != "":
            data[s] = v
    data["perpetrators"] = [
        {
            "_row": uuid.uuid4().hex[:12],
            "perpetrator_relationship": rng.choice(RELATION),
            "perpetrator_age_group": rng.choice(AGES),
        }
        for _ in range(rng.choice((1, 1, 1, 2)))
    ]
    return data


def populate(url: str, n: int, seed: int = 7) -> None:
    """Users, N incidents (10% linked to a case) by COPY; then ANALYZE."""
    from engine.service.database import Database

    db = Database.open(url)
    db.ready(create=True, announce=lambda m: None)
    db.dispose()
    engine = create_engine(url)
    rng = random.Random(seed)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO agencies (id, code, name) VALUES (1, 'ngo1', 'NGO 1')"))
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, module, role, agency_id, disabled, created_at) "
                "VALUES (1, 'bench', 'x', 'gbv', 'cm_manager', 1, false, now())"
            )
        )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols = (
            "id, short_id, module, record_type, stage, owner_id, agency_id, group_id, created_by, created_at, "
            "updated_by, updated_at, definitions_version, version, data, saved_forms"
        )
        links: list[tuple[str, str]] = []
        with cur.copy(f"COPY records ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for i in range(n):
                rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                day = date(2025, 1, 1) + timedelta(days=rng.randrange(700))
                copy.write_row(
                    (
                        rid,
                        f"I-{i:08d}",
                        "gbv",
                        "incident",
                        "complete",
                        1,
                        1,
                        None,
                        1,
                        now,
                        1,
                        now,
                        "1",
                        1,
                        json.dumps(incident_data(rng, day)),
                        None,
                    )
                )
                if rng.random() < 0.10:
                    cid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    consent = {"consent_reporting": "yes", "consent_withdrawn": "yes" if rng.random() < 0.2 else "no"}
                    copy.write_row(
                        (
                            cid,
                            f"C-{i:08d}",
                            "gbv",
                            "case",
                            "follow_up",
                            1,
                            1,
                            None,
                            1,
                            now,
                            1,
                            now,
                            "1",
                            1,
                            json.dumps(consent),
                            None,
                        )
                    )
                    links.append((cid, rid))
        with cur.copy("COPY record_links (from_id, to_id, kind, created_by, created_at) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for cid, rid in links:
                copy.write_row((cid, rid, "incident", 1, now))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


# -- the hand-written SQL ----------------------------------------------------------------------------------
BASE = """
FROM records r
LEFT JOIN (SELECT l.to_id AS rid, min(l.from_id) AS lid FROM record_links l
           JOIN records p ON p.id = l.from_id AND p.record_type = 'case' GROUP BY l.to_id) k ON k.rid = r.id
LEFT JOIN records c ON c.id = k.lid
WHERE r.module = 'gbv' AND r.record_type = 'incident'
  AND coalesce(r.data->>'gbv_type', '') <> '' AND r.data->>'gbv_type' <> 'non_gbv'
  AND coalesce(r.data->>'gbv_reported_elsewhere', '') <> 'gbvims_org'
  AND CASE WHEN c.id IS NOT NULL
           THEN c.data->>'consent_reporting' = 'yes' AND coalesce(c.data->>'consent_withdrawn', '') <> 'yes'
                AND coalesce(r.data->>'consent_reporting', '') <> 'no'
           ELSE r.data->>'consent_reporting' = 'yes' END
"""


def by(*fields: str) -> str:
    cols = ", ".join(f"coalesce(r.data->>'{f}', '')" for f in fields)
    return f"SELECT {cols}, count(*) {BASE} GROUP BY {', '.join(str(i + 1) for i in range(len(fields)))}"


HAND = {
    "by_type": by("gbv_type"),
    "by_type_sex_age": by("gbv_type", "survivor_sex", "age_group_at_incident"),
    "by_month": f"SELECT substr(r.data->>'date_of_interview', 1, 7), count(*) {BASE} GROUP BY 1",
    "by_displacement": by("survivor_displacement_status", "displacement_incident"),
    "by_place_and_time": by("incident_location_type", "incident_timeofday"),
    "by_case_context": "SELECT "
    + ", ".join(f"sum(CASE WHEN r.data->>'{f}' = 'yes' THEN 1 ELSE 0 END)" for f in FLAGS)
    + BASE,
    "perpetrator_relationship": f"SELECT coalesce(p->>'perpetrator_relationship', ''), count(*) {BASE.replace('WHERE', ', jsonb_array_elements(r.data->' + chr(39) + 'perpetrators' + chr(39) + ') p WHERE', 1)} GROUP BY 1",
    "perpetrator_age": f"SELECT coalesce(p->>'perpetrator_age_group', ''), count(*) {BASE.replace('WHERE', ', jsonb_array_elements(r.data->' + chr(39) + 'perpetrators' + chr(39) + ') p WHERE', 1)} GROUP BY 1",
    "perpetrator_count": by("number_of_perpetrators"),
    "reporting_delay": by("reporting_delay_band"),
    "within_72_hours": by("within_72_hours"),
    "services": "SELECT v.sector, v.status, count(*) "
    + BASE.replace(
        "WHERE",
        "CROSS JOIN LATERAL (VALUES "
        + ", ".join(f"('{s}', r.data->>'{s}')" for s in SECTORS)
        + ") AS v(sector, status) WHERE v.status <> '' AND",
        1,
    )
    + " GROUP BY 1, 2",
    "referral_source": by("service_referred_from"),
}


def hand_counts(engine: Any, queries: dict[str, str] | None = None) -> dict[str, dict[tuple[str, ...], int]]:
    """The hand-written GROUP BYs' counts (`queries`, default HAND), and the records they count."""
    queries = HAND if queries is None else queries
    out: dict[str, dict[tuple[str, ...], int]] = {}
    with engine.connect() as conn:
        for tid, sql in queries.items():
            rows = conn.execute(text(sql)).all()
            if tid == "by_case_context":
                out[tid] = {(f,): int(v) for f, v in zip(FLAGS, rows[0], strict=True) if v}
            else:
                out[tid] = {tuple(str(x) for x in row[:-1]): int(row[-1]) for row in rows}
        total = queries["by_type"].split("FROM records r", 1)[1].rsplit("GROUP BY", 1)[0]
        out["records"] = {(): int(conn.execute(text(f"SELECT count(*) FROM records r{total}")).scalar() or 0)}
    return out


def sanad_counts(
    session: Any, module: Any, start: date | None = None, end: date | None = None
) -> dict[str, dict[tuple[str, ...], int]]:
    """The raw counts Sanad's engine gets from the database for each table (before suppression), and
    the records it counts, over the period from `start` to `end` (None: all)."""
    from engine.storage import aggregate
    from engine.storage.models import Record

    report = module.reports["isp_monthly"]
    rt = module.record_types[report.record_type]
    base = [Record.module == module.id, Record.record_type == rt.id, *aggregate.period_sql(report, start, end)]
    # as a report runs: the records counted and every table's counts in one statement
    records, counted = aggregate.count_tables(session, report, list(report.tables), rt, base)
    out = {tid: {tuple(str(x) for x in k): v for k, v in counts.items() if v} for tid, counts in counted.items()}
    out["records"] = {(): records}
    return out


def peak_export_memory(url: str, limit: int) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, lines) of `sanad export records incident --deidentified` in a fresh process."""
    out = tempfile.mktemp(suffix=".csv")
    script = (
        "import resource, sys, time\n"
        "from engine.cli import main\n"
        "t = time.perf_counter()\n"
        f"code = main(['export', 'records', 'incident', '--deidentified', '-o', {out!r}, '--db', {url!r}, '--definitions', {GBV!r}])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t, code)\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        print(done.stderr, file=sys.stderr)
        raise SystemExit(2)
    rss, seconds, code = done.stdout.split()
    with open(out, "rb") as fh:
        lines = sum(1 for _ in fh) - 1
    os.remove(out)
    if code != "0":
        raise SystemExit(2)
    return float(rss), float(seconds), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--export-records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=ADMIN, help="an administrative URL of the PostgreSQL server")
    args = parser.parse_args(argv)

    from engine.language.loader import load_module
    from engine.service.database import Database

    module = load_module(GBV).module
    if module is None:
        print("the GBV module does not load", file=sys.stderr)
        return 2
    admin = create_engine(args.db, isolation_level="AUTOCOMMIT")
    names = []
    try:
        results: dict[str, Any] = {}
        # 1. the ISP set against hand-written SQL
        name = f"sanad_bench_{uuid.uuid4().hex[:8]}"
        names.append(name)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = args.db.rsplit("/", 1)[0] + f"/{name}"
        t0 = time.perf_counter()
        populate(url, args.incidents)
        print(f"populated {args.incidents:,} incidents in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        db = Database.open(url)
        engine = create_engine(url)
        with db.reading() as session:
            mine = sanad_counts(session, module)
        theirs = hand_counts(engine)
        bad = [t for t in mine if mine[t] != theirs.get(t)]
        if bad:
            print(f"the counts differ for {bad}: {mine[bad[0]]} vs {theirs.get(bad[0])}", file=sys.stderr)
            return 2

        def run_sanad() -> None:
            with db.reading() as session:
                sanad_counts(session, module)

        def run_hand() -> None:
            hand_counts(engine)

        sanad_t, hand_t = (min(x) for x in interleaved([run_sanad, run_hand], args.repeat))
        ratio = sanad_t / hand_t
        results["isp"] = (sanad_t, hand_t, ratio)
        db.dispose()
        engine.dispose()
        # 2. an export's memory
        name2 = f"sanad_bench_{uuid.uuid4().hex[:8]}"
        names.append(name2)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name2}"))
        url2 = args.db.rsplit("/", 1)[0] + f"/{name2}"
        populate(url2, args.export_records, seed=11)
        rss, seconds, lines = peak_export_memory(url2, args.export_records)
        results["export"] = (rss, seconds, lines)
    finally:
        with admin.connect() as conn:
            for n in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
        admin.dispose()

    sanad_t, hand_t, ratio = results["isp"]
    rss, seconds, lines = results["export"]
    ok_ratio, ok_memory = ratio <= 1.5, rss < 200
    out = io.StringIO()
    print(
        f"\nISP monthly set (13 tables) over {args.incidents:,} incidents, PostgreSQL, best of {args.repeat}", file=out
    )
    print(f"  Sanad       {sanad_t:8.2f} s", file=out)
    print(f"  hand SQL    {hand_t:8.2f} s", file=out)
    print(f"  ratio       {ratio:8.2f} x   target <= 1.5x {'OK' if ok_ratio else 'MISSED'}", file=out)
    print(f"\nDe-identified CSV export of {lines:,} records (incl. linked cases' incidents), fresh process", file=out)
    print(f"  time        {seconds:8.1f} s ({lines / max(seconds, 1e-9):,.0f} records/s)", file=out)
    print(f"  peak RSS    {rss:8.0f} MB  target < 200 MB {'OK' if ok_memory else 'MISSED'}", file=out)
    print(out.getvalue())
    return 0 if ok_ratio and ok_memory else 1


if __name__ == "__main__":
    sys.exit(main())
