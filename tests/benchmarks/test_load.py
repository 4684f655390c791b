"""The load generator's CPU figures (bench_service's "CPU per request" row): each watched clock is read
from the end of the warm-up to the last answer, and divided by the requests counted in that window.
Also the suite's other instruments: the audit chain's watcher and the baselines' routes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time

import pytest

from tests.benchmarks import _load


def test_a_watched_clock_counts_only_the_measured_window() -> None:
    ticks = {"n": 0}

    async def step(_rng: random.Random) -> tuple[str, str | None]:
        ticks["n"] += 1  # a clock that moves by one per request, warm-up included
        await asyncio.sleep(0.002)
        return "step", None

    out = asyncio.run(_load.run_load([step, step], 0.1, 0.3, watch={"requests": lambda: float(ticks["n"])}))
    assert out.requests > 10
    assert ticks["n"] > out.requests  # the warm-up's requests moved the clock too, before the window
    # the clock moved once per counted request (give or take the requests in flight at either edge)
    assert abs(out.cpu["requests"] - out.requests) <= 2
    assert out.cpu_ms_per_request("requests") == pytest.approx(1000 * out.cpu["requests"] / out.requests)
    assert out.cpu_ms_per_request("not watched") != out.cpu_ms_per_request("not watched")  # nan


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the CPU clocks read Linux's /proc")
def test_the_cpu_clocks_see_work_done() -> None:
    mine, busy = _load.tree_cpu(os.getpid()), _load.machine_busy
    before = (mine(), _load.own_cpu(), busy())
    t_end = time.process_time() + 0.2
    while time.process_time() < t_end:
        sum(range(1000))
    after = (mine(), _load.own_cpu(), busy())
    assert after[0] - before[0] >= 0.1  # this process's tree spent the 0.2 s (clock ticks are 10 ms)
    assert after[1] - before[1] >= 0.15
    assert after[2] - before[2] >= 0.1
    assert _load.postgres_cpu("postgres")() >= 0.0


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the CPU clocks read Linux's /proc")
def test_postgresql_cpu_counts_a_connection_that_closed_during_the_window() -> None:
    """A backend that ends between two readings still counts: its CPU was not lost from the sum."""
    from tests.server import PG_ADMIN, postgres_available

    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}, and CI requires it")
        pytest.skip("PostgreSQL is not reachable")
    import psycopg

    database = PG_ADMIN.rsplit("/", 1)[1]
    clock = _load.postgres_cpu(database)
    before = clock()
    with psycopg.connect(PG_ADMIN.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # a few tenths of a second of the backend's CPU, then the connection closes
        conn.execute("SELECT count(*) FROM generate_series(1, 4000000) AS x(n) WHERE n % 7 = 3").fetchone()
        spent = _load._cpu_of(int(row[0]))[1]
    deadline = time.monotonic() + 5
    after = clock()
    while after - before < spent and time.monotonic() < deadline:
        time.sleep(0.1)  # the postmaster waits for the ended backend: its CPU moves to the postmaster
        after = clock()
    assert spent >= 0.1
    assert after - before >= spent  # without the ended backends, the sum had lost all of it


_SLOW_WORKERS = """
import subprocess, sys, time
# two 'workers': one ready at once, one that starts for a second (loading its definitions)
quick = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
slow = subprocess.Popen([sys.executable, "-c", "import time; t = time.time() + 1.0; "
                         "[0 for _ in iter(lambda: time.time() < t, False)]; time.sleep(60)"])
time.sleep(60)
"""


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="the process tree is read from Linux's /proc")
def test_a_server_is_ready_once_every_worker_has_started() -> None:
    """Users connect only once every worker has finished starting: connected earlier, they all
    stay with the first worker ready (130 requests/s from one worker, the other idle)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WORKERS], start_new_session=True)
    try:
        t0 = time.monotonic()
        _load.wait_settled(proc, 2)
        assert time.monotonic() - t0 >= 1.0  # waited for the slow one
        assert len(_load._tree(proc.pid)) == 3
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the 'workers' too
    proc.wait()
    with pytest.raises(RuntimeError, match="exited"):
        _load.wait_settled(proc, 2)


def test_the_chain_watch_sees_who_holds_the_audit_chain_and_who_waits(tmp_path: object) -> None:
    """bench_service's "audit chain's end" row: one transaction holds the chain's end as a request
    does between its lock and its commit, another waits for it; the watcher sees both, and neither
    once they are done; one whose statement wrote its entries and moved the end holds it until it
    ends. The statements are the ones the service sends, as PostgreSQL shows them: the one that
    writes the entries on several lines, which a pattern on one line missed."""
    import threading
    from datetime import UTC, datetime

    from sqlalchemy import text

    from engine.storage import chain, db
    from tests.benchmarks.bench_service import ChainWatch
    from tests.server import database

    with database("postgresql", tmp_path) as url:
        engine = db.make_engine(url)
        with engine.begin() as conn:  # a database made by migrations has the chain's end
            assert conn.execute(text("SELECT count(*) FROM audit_chain")).scalar() == 1
        lock = str(chain._LOCK_END_ROW)
        holder = engine.connect()
        holder.begin()
        holder.execute(text(lock))
        waited = threading.Event()

        def wait_for_it() -> None:
            with engine.begin() as conn:
                conn.execute(text(lock))
            waited.set()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.3)
        with ChainWatch(url, 0.0) as busy:
            time.sleep(0.5)
        holder.rollback()
        holder.close()
        waiter.join(10)
        assert waited.is_set()
        with ChainWatch(url, 0.0) as idle:
            time.sleep(0.3)
        # the statement that writes an entry and moves the end, as a request sends it after the lock
        writer = engine.connect()
        writer.begin()
        end = writer.execute(chain._LOCK_END_ROW).one()
        row = {c: None for c in chain._COLUMNS} | {"at": datetime.now(UTC), "action": "test.held", "details": {}}
        row |= {"seq": end.seq + 1, "prev_hash": end.hash, "hash": "not checked here"}
        values = {f"{c}_0": v for c, v in row.items()} | {"end_seq": row["seq"], "end_hash": row["hash"]}
        writer.execute(chain._appending(1), values)
        with ChainWatch(url, 0.0) as moving:
            time.sleep(0.3)
        writer.rollback()
        writer.close()
        engine.dispose()
    assert moving.counts.samples >= 3 and moving.counts.data()["held"] == 1.0, moving.counts.data()
    assert busy.counts.samples >= 5 and busy.counts.data()["held"] == 1.0 and busy.counts.data()["waiting"] == 1.0, (
        busy.counts.data()
    )
    assert idle.counts.samples >= 3 and idle.counts.data()["held"] == 0.0 and idle.counts.data()["waiting"] == 0.0, (
        idle.counts.data()
    )
    assert busy.counts.text() == "held 100% of the time; 1.0 requests waiting on average"


def test_the_floor_route_reads_and_writes_one_chained_audit_entry(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_service's "floor" baseline (_baseline_app `/floor`) does what every request of Sanad's
    must do: one entry in the audit log, through the hash chain, which still verifies."""
    from sqlalchemy import func, select
    from starlette.testclient import TestClient

    from engine.service.database import Database
    from engine.storage import chain, sealing
    from engine.storage.models import AuditEntry
    from tests.benchmarks import _baseline_app

    monkeypatch.setenv("BASELINE_DB", db_url)
    for name, value in (("_engine", None), ("_database", None), ("_ids", []), ("_users", [])):
        monkeypatch.setattr(_baseline_app, name, value)
    with TestClient(_baseline_app.app) as client:
        assert client.get("/").status_code == 200
        for _ in range(3):
            assert client.get("/floor").status_code == 200
    database = Database.open(db_url)
    try:
        with database.transaction() as s:
            actions = s.scalars(select(AuditEntry.action).where(AuditEntry.seq.is_not(None))).all()
            assert actions.count("record.read") == 3
            assert s.scalar(select(func.count()).select_from(AuditEntry)) == len(actions)
            assert chain.verify(s, sealing.session_ring(s), full=True).ok
    finally:
        database.dispose()


def test_the_select_baseline_opens_no_connection_beyond_its_pool(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many requests at once on the one-SELECT route work on the pool's connections, never more: with
    Starlette's 40 threads on a pool of 5, every fifth request opened (and closed) a connection, and
    the baseline measured PostgreSQL starting backends."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event
    from starlette.testclient import TestClient

    from tests.benchmarks import _baseline_app

    monkeypatch.setenv("BASELINE_DB", db_url)
    for name, value in (("_engine", None), ("_database", None), ("_ids", []), ("_users", [])):
        monkeypatch.setattr(_baseline_app, name, value)
    with TestClient(_baseline_app.app) as client:
        engine = _baseline_app._engine
        opened = []
        event.listen(engine, "connect", lambda *_: opened.append(1))
        with ThreadPoolExecutor(30) as pool:
            statuses = list(pool.map(lambda _: client.get("/").status_code, range(300)))
        assert statuses == [200] * 300
        assert engine.pool.size() == 5
        # the one the setup opened stays in the pool; at most 5 at work at once
        assert len(opened) <= 5


def test_the_suite_names_the_postgresql_settings_it_ran_with(tmp_path: object) -> None:
    """The figures depend on PostgreSQL's memory settings: the suite's notes name them."""
    from tests.benchmarks.bench_service import PG_SETTINGS, pg_settings
    from tests.server import database

    with database("postgresql", tmp_path) as url:
        said = pg_settings(url)
    assert [part.split("=", 1)[0] for part in said.split(", ")] == list(PG_SETTINGS)
    assert "shared_buffers=" in said and "shared_buffers=," not in said


def test_windows_of_one_load_merge_into_one_measurement() -> None:
    one = _load.Outcome(50, 10.0, [0.1] * 100, {"home": [0.1] * 100}, cpu={"server": 0.5, "machine": 15.0})
    one.errors["home: 500"] += 2
    two = _load.Outcome(50, 30.0, [0.3] * 500, {"home": [0.3] * 200, "save": [0.3] * 300}, cpu={"server": 2.5})
    two.errors["home: 500"] += 1
    out = _load.merged([one, two])
    assert out.requests == 600 and out.seconds == 40.0
    assert out.rate == 15.0  # 600 requests in 40 s: not the mean of 10 and 16.7 req/s
    assert out.pct(0.95) == 0.3 and out.pct(0.1) == 0.1
    assert (len(out.by_kind["home"]), len(out.by_kind["save"])) == (300, 300)
    assert out.errors["home: 500"] == 3
    assert out.cpu_ms_per_request("server") == pytest.approx(5.0)
    assert "machine" not in out.cpu  # a clock one window did not watch is no figure of the whole
    assert one.requests == 100 and two.requests == 500  # the windows themselves are left as they were


def test_the_mixed_load_takes_turns_with_its_baselines(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """At each user count Sanad, the baseline and the floor run in turns, `rounds` times, each for its
    share of the duration; each row is of its rounds together and says how each round went."""
    import argparse
    import contextlib
    from collections.abc import Iterator
    from typing import Any

    from tests.benchmarks import bench_service as bs

    calls: list[tuple[str, int, float, float]] = []
    rates = iter(range(100, 10_000, 10))
    log: list[str] = []  # the server's log: SQLite said "locked" once, in the second round at 10 users

    def outcome(users: int, duration: float) -> _load.Outcome:
        rate = next(rates)
        return _load.Outcome(users, duration, [0.05] * int(rate * duration), cpu={"server": 1.0})

    class Srv:
        port = 1

        def log_text(self) -> str:
            return "\n".join(log)

    @contextlib.contextmanager
    def server(*_: Any) -> Iterator[Srv]:
        yield Srv()

    async def sanad(_crowd: Any, _port: int, n: int, warmup: float, duration: float, _watch: Any) -> _load.Outcome:
        calls.append(("sanad", n, warmup, duration))
        if len(calls) == 4:
            log.append("sqlite3.OperationalError: database is locked")
        return outcome(n, duration)

    async def baseline(_port: int, n: int, warmup: float, duration: float, _w: Any, path: str = "/") -> _load.Outcome:
        calls.append(("floor" if path == "/floor" else "baseline", n, warmup, duration))
        return outcome(n, duration)

    monkeypatch.setattr(bs, "sanad_server", server)
    monkeypatch.setattr(bs, "baseline_server", server)
    monkeypatch.setattr(bs, "_ensure_and_run", sanad)
    monkeypatch.setattr(bs, "baseline_load", baseline)
    monkeypatch.setattr(bs, "cpu_clocks", lambda *_: {})
    monkeypatch.setattr(bs, "say", lambda _msg: None)
    scale = bs.SCALES["small"]  # users 10 and 50, warm-up 3 s, 12 s each
    run = bs.Run(argparse.Namespace(), scale, {}, str(tmp_path), 2, rounds=3)
    out = bs.mixed_rows(run, bs.Data("sqlite:///nothing", 10, "test", {}), None, "sqlite")  # type: ignore[arg-type]

    assert [c[:2] for c in calls] == [
        (kind, n) for n in (10, 50) for _ in range(3) for kind in ("sanad", "baseline", "floor")
    ]
    assert {c[3] for c in calls} == {4.0}  # each round a third of the 12 s
    assert [c[2] for c in calls if c[1] == 10][:3] == [3.0] * 3  # the first round warms up fully
    assert out[10].requests == sum(int(r * 4.0) for r in (100, 130, 160))  # Sanad's three rounds, merged
    row = next(r for r in run.rows if r.what.startswith("mixed load, sqlite") and "10 users" in r.what)
    assert "3 rounds of 4 s in turns" in row.sanad and "100:110 / 130:140 / 160:170" in row.sanad
    assert row.data["rounds"]["sanad_rps_by_round"] == [100.0, 130.0, 160.0]
    # the log's "locked" is counted in the round it appeared in, once
    assert dict(out[10].errors) == {"server log: database is locked": 1}
    assert not out[50].errors


def test_a_number_of_rounds_out_of_range_is_refused_with_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.benchmarks import bench_service as bs

    with pytest.raises(SystemExit) as stopped:
        bs.main(["--rounds", "0"])
    assert stopped.value.code == 2
    assert "'0' is not a number of rounds: give a whole number from 1 to 20" in capsys.readouterr().err
