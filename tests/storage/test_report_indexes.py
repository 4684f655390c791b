"""The indexes of the reports' periods (engine/storage/report_indexes.py), on SQLite and PostgreSQL:
made from the loaded definitions where missing (by `Database.report_indexes`, which `serve`, `db
upgrade` and `seed` call), with the very expression of the period filter, so that the count queries
of a one-month report find the month's records through them (EXPLAIN) and count the same; none for a
period whose answers are sealed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from engine.cli import main
from engine.language.loader import load_module
from engine.language.model import Module
from engine.service import reports
from engine.service.database import Database
from engine.storage import report_indexes
from engine.storage.models import Record, User
from tests.conftest import MakeModule
from tests.server import database
from tests.service.test_reports import MODULE

#: the index of the fixture module's report period (stats/incident/date_of_interview): a stable name
NAME = "ix_rp_2dc6f6e5a3af43a6"
START, END = date(2026, 11, 1), date(2026, 11, 30)


def _module(make_module: MakeModule, files: dict[str, str | None] | None = None) -> Module:
    loaded = load_module(make_module({**MODULE, **(files or {})}))
    assert loaded.module is not None, [d.format() for d in loaded.report.items]
    return loaded.module


def _fill(db: Database) -> int:
    """Incidents interviewed over two years (a few a day), some without a date or with a date and a
    time, and cases; the number of incidents the monthly report counts for November 2026."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    expected = 0
    with db.transaction() as session:
        owner = User(username="u", password_hash="x", module="stats", role="supervisor", created_at=now)
        session.add(owner)
        session.flush()

        def row(record_type: str, data: dict[str, Any]) -> dict[str, Any]:
            rid = str(uuid.uuid4())
            return {
                "id": rid,
                "short_id": rid[:12],
                "module": "stats",
                "record_type": record_type,
                "stage": None,
                "owner_id": owner.id,
                "created_by": owner.id,
                "created_at": now,
                "updated_by": owner.id,
                "updated_at": now,
                "definitions_version": "1",
                "version": 1,
                "data": data,
            }

        for i in range(2400):
            day = date.fromordinal(date(2025, 1, 1).toordinal() + i * 730 // 2400)
            answer = day.isoformat() + ("T10:30" if i % 7 == 0 else "")
            data = {"gbv_type": "rape", "consent_reporting": "yes", "reported_elsewhere": "no", "region": "north"}
            if i % 50 != 1:
                data["date_of_interview"] = answer
            rows.append(row("incident", data))
            expected += "date_of_interview" in data and START <= day <= END
            if i % 4 == 0:
                rows.append(row("case", {"date_of_interview": answer, "consent_reporting": "yes"}))
        session.execute(insert(Record.__table__), rows)
    return expected


def _catalogue(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'records' AND indexname LIKE 'ix_rp_%'"
        else:
            q = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_rp_%'"
        return {str(name): str(sql) for name, sql in conn.execute(text(q))}


def _run(db: Database, module: Module) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The monthly report for November 2026, and the statements it sent."""
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            result = reports.run_for_organisation(session, module, "monthly", START.isoformat(), END.isoformat())
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    result.pop("generated_at", None)
    return result, sent


def _plans(db: Database, statements: list[tuple[str, Any]]) -> list[str]:
    """The plan of every count query of the period (those that filter by the day of its answer)."""
    postgres = db.engine.dialect.name == "postgresql"
    day = (
        "substr(coalesce(records.data ->> 'date_of_interview', ''), 1, 10) >="
        if postgres
        else "'$.\"date_of_interview\"'), ''), 1, 10) >="
    )
    out = []
    with db.engine.connect() as conn:
        if postgres:  # a few thousand rows: make the planner's choice not depend on their number
            conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            if day not in statement:
                continue
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            out.append("\n".join(" ".join(str(x) for x in r) for r in rows))
    return out


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    yield database
    database.dispose()


def test_the_period_index_is_made_used_and_changes_no_count(
    db: Database, make_module: MakeModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _module(make_module)
    expected = _fill(db)
    assert expected > 50
    before, _ = _run(db, module)
    assert before["records"] == expected

    postgres = db.engine.dialect.name == "postgresql"
    if postgres:  # a big table's index is built CONCURRENTLY, writes going on: that way here
        monkeypatch.setattr(report_indexes, "CONCURRENT_ABOVE", -2)
    said: list[str] = []
    made = db.report_indexes([module], announce=said.append)
    assert (made.made, made.present, made.sealed, made.failed) == ([NAME], [], [], [])
    assert said == [f"made 1 report index(es) for the reports' periods: {NAME}"]
    [(name, sql)] = _catalogue(db).items()
    assert name == NAME
    if postgres:
        assert sql == (
            f"CREATE INDEX {NAME} ON public.records USING btree (module, record_type, "
            "substr(COALESCE((data ->> 'date_of_interview'::text), ''::text), 1, 10)) "
            "WHERE (((module)::text = 'stats'::text) AND ((record_type)::text = 'incident'::text))"
        )
    else:
        assert sql == (
            f"CREATE INDEX {NAME} ON records (module, record_type, "
            "substr(coalesce(json_extract(data, '$.\"date_of_interview\"'), ''), 1, 10)) "
            "WHERE module = 'stats' AND record_type = 'incident'"
        )

    again = db.report_indexes([module], announce=said.append)  # idempotent, and quiet when there
    assert (again.made, again.present) == ([], [NAME]) and len(said) == 1

    after, sent = _run(db, module)
    assert after == before  # the same counts, tables and labels
    plans = _plans(db, sent)
    assert len(plans) == 1  # the records counted and every table's counts: one statement (count_tables)
    for plan in plans:
        assert NAME in plan, plan


def test_a_sealed_period_gets_no_index(db: Database, make_module: MakeModule) -> None:
    sealed = str(MODULE["forms/incident.yaml"]).replace(
        "{id: date_of_interview, type: date, label: Date of the interview}",
        "{id: date_of_interview, type: date, label: Date of the interview, sensitivity: direct}",
    )
    # a module id of its own: which answers are sealed is learnt per module id, for the whole process
    own_id = str(MODULE["module.yaml"]).replace("id: stats", "id: sealed_stats")
    module = _module(make_module, {"forms/incident.yaml": sealed, "module.yaml": own_id})
    said: list[str] = []
    outcome = db.report_indexes([module], announce=said.append)
    assert (outcome.made, outcome.sealed) == ([], ["sealed_stats/incident/date_of_interview"])
    assert said == [
        "the report period sealed_stats/incident/date_of_interview is sealed (a direct field): it is not indexed"
    ]
    assert _catalogue(db) == {}


def test_db_upgrade_makes_them(db_url: str, make_module: MakeModule, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_module(MODULE)
    assert main(["db", "upgrade", "--db", db_url, "--definitions", folder]) == 0
    assert f"made 1 report index(es) for the reports' periods: {NAME}" in capsys.readouterr().err
    assert main(["db", "upgrade", "--db", db_url, "--definitions", folder]) == 0
    assert "report index" not in capsys.readouterr().err
    db = Database.open(db_url)
    try:
        assert list(_catalogue(db)) == [NAME]
    finally:
        db.dispose()


def test_a_failure_is_said_not_raised(db: Database, make_module: MakeModule, monkeypatch: pytest.MonkeyPatch) -> None:
    """An application role that may not create indexes (or a lock not granted in time): the server
    starts all the same, and says what to run."""

    def refused(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("must be owner of table records")

    monkeypatch.setattr(report_indexes, "_build", refused)
    said: list[str] = []
    outcome = db.report_indexes([_module(make_module)], announce=said.append)
    assert outcome.made == [] and outcome.failed == [
        f"{NAME} (stats/incident/date_of_interview): must be owner of table records"
    ]
    assert said == [
        f"could not make the report index {NAME} (stats/incident/date_of_interview): must be owner of table "
        "records; reports over a period read every record until 'sanad db upgrade' (as the owner of the tables) "
        "makes it"
    ]
    assert _catalogue(db) == {}


def test_postgresql_an_invalid_index_is_built_again(tmp_path: Any, make_module: MakeModule) -> None:
    """A concurrent build that failed (interrupted, or refused) leaves an invalid index of that name:
    the next start drops it and builds it again."""
    with database("postgresql", tmp_path) as url:
        db = Database.open(url)
        try:
            _fill(db)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                with pytest.raises(Exception, match="could not create unique index"):
                    conn.execute(text(f"CREATE UNIQUE INDEX CONCURRENTLY {NAME} ON records (module)"))
                assert report_indexes.existing(conn) == {NAME: False}
            outcome = db.report_indexes([_module(make_module)])
            assert outcome.made == [NAME]
            with db.engine.connect() as conn:
                assert report_indexes.existing(conn) == {NAME: True}
            assert "substr(COALESCE((data ->> 'date_of_interview'::text)" in _catalogue(db)[NAME]
        finally:
            db.dispose()
