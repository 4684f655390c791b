"""Faults: a server killed with SIGKILL in the middle of its writes, and PostgreSQL restarted under load.

Nothing acknowledged may be lost (a 2xx means it is stored), and nothing may be half-written: for
every record, its version, its history and its audit entries agree. A client that asks while the
database is away gets a clean 503 in JSON, at once, and the server recovers by itself when the
database is back.

The servers here are real: `python -m tests.security.test_24_faults serve …` runs the app of
`engine.web.app` under uvicorn in its own process (like `sanad serve`, with cheap password hashing
and the sign-in limits lifted, so a test can open hundreds of sessions), and the clients speak HTTP
to it from threads. test_25_concurrency uses the same helpers."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from engine.language.loader import load_module
from engine.service import accounts
from engine.service.database import Database
from tests.conftest import ROOT, MakeModule
from tests.security.conftest import ANSWERS, MODULE, PASSWORD
from tests.server import database, server

SECRET = "fault-test-secret-" + "x" * 32


# -- a real server in a subprocess -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The app served by uvicorn in a child process; `kill()` is SIGKILL, `start()` starts it again."""

    def __init__(self, url: str, definitions: list[str], log_path: str) -> None:
        self.url, self.definitions, self.log_path = url, definitions, log_path
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        # the tests' key file (tests/conftest.py), a data folder of the test's own, no other setting
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANAD_") or k == "SANAD_KEY_FILE"}
        env["SANAD_DATA_DIR"] = os.path.dirname(self.log_path)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.security.test_24_faults",
                    "serve",
                    self.url,
                    str(self.port),
                    *self.definitions,
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server stopped at start:\n{self.log()}")
            probe = Client(self.port, timeout=2)
            try:
                if probe.request("GET", "/api/v1/openapi.json")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                probe.close()
            time.sleep(0.05)
        raise AssertionError(f"the server did not answer within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no rollback, no flush; whatever was in flight is cut."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-4000:]


@contextmanager
def live_server(url: str, definitions: list[str], tmp_path: Any) -> Iterator[LiveServer]:
    srv = LiveServer(url, definitions, os.path.join(str(tmp_path), f"server-{uuid.uuid4().hex[:6]}.log"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _serve(url: str, port: int, definitions: list[str]) -> None:  # pragma: no cover - runs in the child
    import uvicorn

    from engine.runtime.registry import Registry
    from engine.web.app import Settings, create_app

    settings = Settings(
        definitions=definitions,
        database_url=url,
        secret_key=SECRET,
        cheap_hashing=True,
        throttle=(100_000, 100_000, 100_000, 900.0),
    )
    app = create_app(settings, Registry.load(definitions))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


# -- a client over HTTP, one keep-alive connection, its session cookie -------------------------------------
class Client:
    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}  # of the last response, names in lower case

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, JSON body or None). A connection that fails raises OSError (or http.client's)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except BaseException:
            self.close()
            raise
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        content_type = response.getheader("content-type") or ""
        if response.getheader("connection", "").lower() == "close":
            self.close()
        return response.status, json.loads(raw) if content_type.startswith("application/json") and raw else None

    def login(self, username: str) -> None:
        """Sign in, and let go of the connection: the next request opens a new one, so a session that
        waits longer than the server keeps idle connections (5 s) is not cut off."""
        status, body = self.request("POST", "/api/v1/login", {"username": username, "password": PASSWORD})
        self.close()
        assert status == 200, (status, body)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- the module, its users ---------------------------------------------------------------------------------
USERS = {
    "amina": ("caseworker", ("team_a1",)),
    **{f"cw{i}": ("caseworker", ("team_a1",)) for i in range(1, 4)},
    **{f"sup{i}": ("supervisor", ("team_a1",)) for i in range(1, 6)},
}
WRITER_NAMES = ["amina", "cw1", "cw2", "cw3"]


def protection_module(make_module: MakeModule) -> str:
    """The security review's module (tests/security/conftest.py), with its users added to `url`."""
    return make_module(MODULE)


def add_users(url: str, root: str, names: dict[str, tuple[str, tuple[str, ...]]] = USERS) -> None:
    module = load_module(root).module
    assert module is not None
    target = Database.open(url)
    with target.transaction() as session:
        for name, (role, groups) in names.items():
            accounts.add_user(
                session, accounts.hasher(cheap=True), module, name, PASSWORD, role, "agency_a", list(groups)
            )
    target.dispose()


# -- what must hold of the stored records, whatever happened -------------------------------------------------
@dataclass
class Stored:
    versions: dict[str, int]
    history: dict[str, list[tuple[int, str]]]
    short_ids: dict[str, str]


def check_consistent(url: str) -> Stored:
    """Every record whole: its history is versions 1..version (a create, then its changes), each
    history entry has its audit entry, no audit entry names a record that is not there; on SQLite
    the file passes `PRAGMA integrity_check` and its foreign keys hold."""
    target = Database.open(url)
    try:
        with target.engine.connect() as conn:
            if target.engine.dialect.name == "sqlite":
                assert conn.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            rows = conn.execute(text("SELECT id, version, short_id FROM records")).all()
            hist = conn.execute(text("SELECT record_id, version, action FROM record_history")).all()
            audits = conn.execute(
                text(
                    "SELECT record_id, action, details FROM audit_log WHERE action IN ('record.create', 'record.update')"
                )
            ).all()
    finally:
        target.dispose()
    versions = {r.id: r.version for r in rows}
    history: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for h in hist:
        history[h.record_id].append((h.version, h.action))
    created: Counter[str] = Counter()
    updated: dict[str, list[int]] = defaultdict(list)
    for a in audits:
        details = a.details if isinstance(a.details, dict) else json.loads(a.details)
        if a.action == "record.create":
            created[a.record_id] += 1
        else:
            updated[a.record_id].append(details["version"])
    problems = []
    for rid, version in versions.items():
        entries = sorted(history.get(rid, []))
        if [v for v, _ in entries] != list(range(1, version + 1)):
            problems.append(f"{rid}: version {version}, history versions {[v for v, _ in entries]}")
            continue
        if entries[0][1] != "create" or created[rid] != 1:
            problems.append(f"{rid}: {created[rid]} creation audit entries, first history {entries[0]}")
        if sorted(updated.get(rid, [])) != [v for v, action in entries if action == "update"]:
            problems.append(f"{rid}: update audit versions {sorted(updated.get(rid, []))}, history {entries}")
    orphans = (set(created) | set(updated) | set(history)) - set(versions)
    assert not orphans, f"history or audit entries of records that are not there: {sorted(orphans)[:5]}"
    assert not problems, "half-written records:\n" + "\n".join(problems[:10])
    return Stored(versions, dict(history), {r.id: r.short_id for r in rows})


# -- writers ------------------------------------------------------------------------------------------------
@dataclass
class Load:
    """Submissions shared by the writer threads: how many were sent, and what was acknowledged."""

    total: int
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    acked: dict[str, int] = field(default_factory=dict)  # record id -> highest version acknowledged
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # responses that break the rules (5xx but a clean 503, …)
    slowest: float = 0.0  # seconds, the longest a request waited for its answer
    lock: threading.Lock = field(default_factory=threading.Lock)
    server_up: threading.Event = field(default_factory=threading.Event)

    def next(self) -> int | None:
        with self.lock:
            if self.sent >= self.total:
                return None
            self.sent += 1
            return self.sent


def writer(load: Load, port: int, username: str, seed: int, allow_503: bool) -> None:
    """Create records (with their id chosen here) and change them; remember each acknowledged one."""
    rnd = random.Random(seed)
    client = Client(port, timeout=20)
    mine: dict[str, int] = {}  # the versions this writer last saw
    logged_in = False
    while True:
        if not load.server_up.wait(60):
            load.bad.append("the server did not come back")
            return
        if not logged_in:
            try:
                client.login(username)
                logged_in = True
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
                continue
        n = load.next()
        if n is None:
            client.close()
            return
        if mine and rnd.random() < 0.4:
            rid = rnd.choice(sorted(mine))
            field_id = rnd.choice(["goal", "code", "age"])
            value: Any = rnd.randint(1, 99) if field_id == "age" else f"{field_id} {n}"
            method, path, body = (
                "PATCH",
                f"/api/v1/records/case/{rid}",
                {"version": mine[rid], "data": {field_id: value}},
            )
        else:
            rid = str(uuid.uuid4())
            method, path, body = "POST", "/api/v1/records/case", {"id": rid, "data": {**ANSWERS, "goal": f"goal {n}"}}
        began = time.monotonic()
        try:
            status, answer = client.request(method, path, body)
        except (OSError, http.client.HTTPException):  # cut off: the outcome is unknown, not acknowledged
            with load.lock:
                load.outcomes["cut off"] += 1
            time.sleep(0.02)
            continue
        with load.lock:
            load.slowest = max(load.slowest, time.monotonic() - began)
            load.statuses[status] += 1
            if 200 <= status < 300:
                load.outcomes["acknowledged"] += 1
                assert isinstance(answer, dict)
                load.acked[rid] = max(load.acked.get(rid, 0), answer["version"])
            elif status == 409:
                load.outcomes["refused as stale"] += 1
            elif (
                status == 503
                and allow_503
                and isinstance(answer, dict)
                and answer.get("status") == 503
                and client.headers.get("retry-after") == "5"
            ):
                load.outcomes["database unavailable (503)"] += 1
            else:
                load.outcomes[f"status {status}"] += 1
                load.bad.append(f"{method} {path} -> {status}: {str(answer)[:200]}")
        if 200 <= status < 300:
            mine[rid] = answer["version"]
        elif status == 409 and rid in mine:  # an earlier change whose answer was cut off did land
            got, now = client.request("GET", f"/api/v1/records/case/{rid}")
            if got == 200:
                mine[rid] = now["version"]
        elif status == 401:
            logged_in = False
        elif status == 503:
            time.sleep(0.1)  # as a client told Retry-After would, only sooner


def check_acknowledged(load: Load, stored: Stored) -> int:
    """Every acknowledged record is there, with every acknowledged version in its history."""
    lost = [rid for rid, v in load.acked.items() if stored.versions.get(rid, 0) < v]
    assert not lost, f"{len(lost)} acknowledged records lost or rolled back: {lost[:5]}"
    return len(lost)


# -- the tests ----------------------------------------------------------------------------------------------
KILLS = 3
SUBMISSIONS = 1000
WRITERS = 4


def test_a_server_killed_mid_write_loses_nothing_acknowledged(
    db_url: str, make_module: MakeModule, tmp_path: Any
) -> None:
    root = protection_module(make_module)
    add_users(db_url, root)
    load = Load(SUBMISSIONS)
    srv = LiveServer(db_url, [root], os.path.join(str(tmp_path), "server.log"))
    srv.start()
    load.server_up.set()
    threads = [
        threading.Thread(target=writer, args=(load, srv.port, name, i, False), daemon=True)
        for i, name in enumerate(WRITER_NAMES[:WRITERS])
    ]
    kills = 0
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        rnd = random.Random(24)
        kill_points = sorted(
            rnd.randint(k * SUBMISSIONS // (KILLS + 1) - 60, k * SUBMISSIONS // (KILLS + 1) + 60)
            for k in range(1, KILLS + 1)
        )
        for point in kill_points:
            while load.sent < point and any(t.is_alive() for t in threads):
                time.sleep(0.002)
            load.server_up.clear()
            srv.kill()  # in the middle of the writers' requests
            kills += 1
            check_acknowledged(load, check_consistent(db_url))
            srv.start()
            load.server_up.set()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "the writers did not finish"
    finally:
        load.server_up.set()
        srv.stop()
    stored = check_consistent(db_url)
    lost = check_acknowledged(load, stored)
    assert not load.bad, load.bad[:5]
    assert kills == KILLS and load.sent == SUBMISSIONS
    assert load.outcomes["acknowledged"] > SUBMISSIONS // 2, load.outcomes
    print(
        f"\n{db_url.split(':')[0]}: {SUBMISSIONS} submissions, {load.outcomes['acknowledged']} acknowledged, "
        f"{lost} lost, {kills} kills; outcomes {dict(load.outcomes)}; {len(stored.versions)} records stored; "
        f"{time.monotonic() - started:.1f} s"
    )


def test_a_database_that_cannot_be_reached_is_a_clean_503(make_module: MakeModule) -> None:
    """No database at all (nothing listens on its port): the API answers 503 in JSON with Retry-After,
    a page answers with the error page and 503; never a 500, never a traceback."""
    root = protection_module(make_module)
    with server("postgresql+psycopg://sanad:secret@127.0.0.1:1/sanad", [root]) as srv:
        client = srv.client(second_factor=False)  # a plain client: the test's sign-in helper reads the database
        r = client.post("/api/v1/login", json={"username": "amina", "password": PASSWORD})
        assert r.status_code == 503 and r.headers["retry-after"] == "5", r.text
        assert r.json() == {
            "error": "The database cannot be reached at the moment. Try again in a minute.",
            "status": 503,
            "retry_after": 5,
        }
        client.cookies.set("sanad_session", srv.app.state.sanad.signer.dumps("a-session-id"))
        page = client.get("/records/case")
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert "cannot be reached" in page.text and "Traceback" not in page.text and "secret" not in page.text


def _cluster() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else ""


def _pg_ready(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode == 0:
            return True
        time.sleep(0.2)
    return False


@contextmanager
def postgres_restarted() -> Iterator[None]:
    """Restart the PostgreSQL cluster (SIGTERM to its sessions, a fresh postmaster); whatever happens,
    wait until it accepts connections again, so the tests after this one find it."""
    try:
        result = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "restart"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        yield
    finally:
        if not _pg_ready(60):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "start"], check=False)
            assert _pg_ready(60), "PostgreSQL did not come back after the restart"


RESTART_SUBMISSIONS = 500


def test_the_app_rides_out_a_postgresql_restart(make_module: MakeModule, tmp_path: Any) -> None:
    if not (os.geteuid() == 0 and _cluster() and shutil.which("pg_ctlcluster")):
        if os.environ.get("CI") == "true":
            pytest.fail("restarting PostgreSQL needs pg_ctlcluster and root, and CI requires this test")
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster and root")
    root = protection_module(make_module)
    with database("postgresql", tmp_path) as url:
        add_users(url, root)
        load = Load(RESTART_SUBMISSIONS)
        load.server_up.set()
        with live_server(url, [root], tmp_path) as srv:
            threads = [
                threading.Thread(target=writer, args=(load, srv.port, name, i, True), daemon=True)
                for i, name in enumerate(WRITER_NAMES[:WRITERS])
            ]
            for t in threads:
                t.start()
            while load.sent < RESTART_SUBMISSIONS // 4 and any(t.is_alive() for t in threads):
                time.sleep(0.01)
            before = load.sent
            with load.lock:  # the writers go on for as long as the restart takes (CI: a slow one
                load.total = 10**9  # outlasted the 500 submissions, leaving none to ride it out)
            with postgres_restarted():
                pass
            during = load.sent - before
            with load.lock:  # then 150 more submissions to ride it out with
                acked_before = load.outcomes["acknowledged"]
                load.total = load.sent + 150
            for t in threads:
                t.join(120)
            assert not any(t.is_alive() for t in threads), "the writers hung"
            # the same server, never restarted, answers again
            after = Client(srv.port)
            after.login("amina")
            status, _ = after.request("POST", "/api/v1/records/case", {"data": ANSWERS})
            after.close()
            assert status == 201
            assert "is unavailable" in srv.log()  # the operator is told, in the server's log
        stored = check_consistent(url)
    lost = check_acknowledged(load, stored)
    assert not load.bad, load.bad[:5]
    assert load.outcomes["cut off"] == 0, load.outcomes  # the server never dropped a connection, nor hung
    assert load.outcomes["database unavailable (503)"] > 0, load.outcomes  # the outage was met…
    assert load.outcomes["acknowledged"] - acked_before >= 100, load.outcomes  # …and ridden out
    assert load.slowest < 10, f"a request waited {load.slowest:.1f} s"
    print(
        f"\npostgresql restarted under load: {load.total} submissions ({during} while it restarted), "
        f"{load.outcomes['acknowledged']} acknowledged ({load.outcomes['acknowledged'] - acked_before} after), "
        f"{lost} lost; outcomes {dict(load.outcomes)}; slowest answer {load.slowest:.2f} s"
    )


if __name__ == "__main__":  # pragma: no cover - the server process of these tests
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        _serve(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.exit("usage: python -m tests.security.test_24_faults serve URL PORT DEFINITIONS...")
