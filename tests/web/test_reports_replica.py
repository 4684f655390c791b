"""Reports counted on a PostgreSQL replica (`sanad serve --reports-db`, issue 16): the counting reads
the replica, who may run the report and its audit entry stay on the main database, lists never read
the replica, the replica's session cannot write, a replica that cannot be reached leaves reports
counted on the main database, and `serve` refuses a reports database that cannot be one.

The replica here is a second database at the same schema holding fewer of the same kind of records: a
replica that lags behind, whose counts differ from the main database's."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from engine.cli import server as server_cli
from engine.service import replica as replica_module
from engine.service.replica import Replica
from engine.storage import db, sealing
from tests.conftest import ROOT, MakeModule
from tests.server import PG_ADMIN, database, server, statements_sent
from tests.service.test_reports import MODULE
from tests.web.test_reports_scope_audit import incident

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
COPIED, ADDED = 6, 5  # incidents in the replica's copy; incidents the main database gains afterwards
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


@dataclass
class Pair:
    main: str
    replica: str
    module: str


def _incidents(s: Any, count: int, first_day: int) -> None:
    c = s.client("amina")
    for i in range(count):
        incident(c, f"2026-11-{first_day + i}", "rape", "female", "north")


@pytest.fixture
def pair(tmp_path: Any, make_module: MakeModule) -> Iterator[Pair]:
    """A main database with COPIED + ADDED November incidents, and a replica that holds COPIED of them
    (one that has not replayed the last ADDED yet)."""
    root = make_module(MODULE)
    with database("postgresql", tmp_path / "main") as main, database("postgresql", tmp_path / "replica") as copy:
        for url, count in ((main, COPIED + ADDED), (copy, COPIED)):
            with server(url, [root]) as s:
                s.add_user("amina", "caseworker", groups=("team_1",))
                s.add_user("coord", "coordinator", groups=())
                _incidents(s, count, 10)
        yield Pair(main, copy, root)


def _reports_run(url: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'report.run'")).scalar_one())
    finally:
        engine.dispose()


def _monthly(c: Any) -> dict[str, Any]:
    r = c.get("/api/v1/reports/monthly", params=NOV)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_report_counts_on_the_replica_and_is_audited_on_the_main_database(pair: Pair) -> None:
    before_main, before_replica = _reports_run(pair.main), _reports_run(pair.replica)
    with server(pair.main, [pair.module], reports_database_url=pair.replica) as s:
        coord = s.client("coord")
        assert _monthly(coord)["records"] == COPIED  # what the replica holds
        with (
            statements_sent(s.app.state.sanad.replica.engine) as on_replica,
            statements_sent(s.app.state.sanad.database.engine) as on_main,
        ):
            page = coord.get("/reports/monthly", params=NOV)
        assert page.status_code == 200, page.text[:300]
        # the dashboard counts on the replica; who may run it is decided, and its run audited, on the main one
        assert any("count(" in x.lower() for x in on_replica), on_replica
        assert not any("count(" in x.lower() and "records" in x for x in on_main), on_main
        assert any("INSERT INTO audit_log" in x for x in on_main)
        # a list reads the main database: the records added since the copy are there
        amina = s.client("amina")
        assert amina.get("/api/v1/records/incident").json()["total"] == COPIED + ADDED
    # both runs audited on the main database, none written to the replica
    assert _reports_run(pair.main) == before_main + 2
    assert _reports_run(pair.replica) == before_replica
    with server(pair.main, [pair.module]) as s:  # without a replica: the main database's count
        assert _monthly(s.client("coord"))["records"] == COPIED + ADDED


def test_the_replicas_session_cannot_write(pair: Pair) -> None:
    """A --reports-db that points at the main database itself (a pool of its own for reports) still
    never writes: every reading session is a read-only transaction."""
    written = _count(pair.main, "audit_log")
    rep = Replica.open(pair.main, sealing.KeySource(os.environ["SANAD_KEY_FILE"]))
    try:
        fallback: Any = object()
        with pytest.raises(Exception, match="read-only transaction"), rep.reading(fallback) as session:
            assert session is not fallback
            session.execute(text("DELETE FROM audit_log"))
        assert rep.down_until == 0.0  # a refused write is not a replica that went away
    finally:
        rep.dispose()
    assert _count(pair.main, "audit_log") == written


def _count(url: str, table: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_a_replica_that_cannot_be_reached_leaves_reports_on_the_main_database(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    with server(pair.main, [pair.module], reports_database_url=UNREACHABLE) as s:
        coord = s.client("coord")
        with caplog.at_level(logging.WARNING, logger="sanad.replica"):
            t0 = time.monotonic()
            assert _monthly(coord)["records"] == COPIED + ADDED
            warned = [r.getMessage() for r in caplog.records if r.name == "sanad.replica"]
            assert len(warned) == 1 and "cannot be reached" in warned[0] and "main database" in warned[0]
            assert "127.0.0.1:1/nothing" in warned[0]
            # for the next minute reports do not try it again: no connection timeout, no new warning
            rep = s.app.state.sanad.replica
            assert rep.down_until > time.monotonic() + replica_module.RETRY_AFTER - (time.monotonic() - t0) - 1
            assert _monthly(coord)["records"] == COPIED + ADDED
            assert len([r for r in caplog.records if r.name == "sanad.replica"]) == 1
            # once that minute is past it is tried again (and found down again)
            rep.down_until = time.monotonic() - 1
            assert _monthly(coord)["records"] == COPIED + ADDED
            assert len([r for r in caplog.records if r.name == "sanad.replica"]) == 2


def _serve(tmp_path: Any, main: str, reports_db: str, module: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_") or k == "SANAD_KEY_FILE"}
    env["SANAD_DATA_DIR"] = str(tmp_path)
    command = ["serve", "--definitions", module, "--db", main, "--port", "0", "--reports-db", reports_db]
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_refuses_a_reports_database_that_cannot_be_one(pair: Pair, tmp_path: Any) -> None:
    lite = _serve(tmp_path, pair.main, f"sqlite:///{tmp_path}/other.db", pair.module)
    assert lite.returncode == 1 and "Traceback" not in lite.stderr
    assert "is not PostgreSQL" in lite.stderr and "--reports-db" in lite.stderr

    down = _serve(tmp_path, pair.main, UNREACHABLE, pair.module)
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert "the reports database postgresql+psycopg://postgres@127.0.0.1:1/nothing cannot be reached" in down.stderr

    # an empty database: no schema (not a replica of the main one)
    name = f"sanad_empty_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        empty = _serve(tmp_path, pair.main, PG_ADMIN.rsplit("/", 1)[0] + "/" + name, pair.module)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert empty.returncode == 1 and "Traceback" not in empty.stderr
    assert "is at schema none, the main database at" in empty.stderr and "not a replica" in empty.stderr
    for proc in (lite, down, empty):
        assert "serving" not in proc.stderr


def test_every_worker_process_counts_reports_on_the_replica(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --workers N --reports-db URL`: the replica reaches each worker's app."""
    conf = {"definitions": [pair.module], "database_url": pair.main, "key_file": os.environ["SANAD_KEY_FILE"]}
    conf |= {"idle_minutes": 30, "threads": 4, "reports_database_url": pair.replica, "access_log": False}
    monkeypatch.setenv(server_cli.WORKER_ENV, json.dumps(conf))
    monkeypatch.setenv("SANAD_SECRET_KEY", "test-secret-" + "x" * 32)
    app: Any = server_cli.worker_app()
    try:
        assert app.state.sanad.replica.url == pair.replica
    finally:
        app.state.sanad.replica.dispose()
        app.state.sanad.database.dispose()


def test_a_replica_lost_during_a_report_is_skipped_by_the_next_ones(pair: Pair) -> None:
    """The report that was running fails (the reader is told to try again); the next ones are counted
    on the main database for a minute instead of waiting for the replica again."""
    from sqlalchemy.exc import OperationalError

    rep = Replica.open(pair.replica, sealing.KeySource(os.environ["SANAD_KEY_FILE"]))
    fallback: Any = object()
    try:
        gone = OperationalError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True)
        with pytest.raises(OperationalError), rep.reading(fallback) as session:
            assert session is not fallback
            raise gone
        assert rep.down_until > time.monotonic() + replica_module.RETRY_AFTER - 5
        with rep.reading(fallback) as session:
            assert session is fallback
    finally:
        rep.dispose()
