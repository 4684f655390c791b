"""The records service under load, against baselines measured in the same run (issue 16, "The suite").

    python -m tests.benchmarks.bench_service [--scale small|medium|national] [--db postgresql|sqlite|both]
                                             [--workers N] [--json out.json]

Rows (each printed with Sanad's figure, the baseline's, the ratio and the goal):

- mixed load (80% reads: home, case list, case page, form page; 20% saves and transitions) at 10,
  50 and 300 closed-loop users, against a bare Starlette + uvicorn route doing one primary-key
  SELECT on the same database with the same number of workers (`_baseline_app.py`), driven by the
  same load generator (`_load.py`): >= 0.4x its requests/s, 0 errors, p95 < 300 ms at 50 users;
- the CPU one request of that load costs the server's processes, PostgreSQL and the load generator,
  and how busy the machine was (for information: requests/s is at most CPUs / that cost);
- the case list, page 1, filtered by stage + date range, and searches by case number and by survivor
  code, for a caseworker, a supervisor (group) and a manager (agency), through the service
  (`listing.list_records` in one transaction, as a request runs it) against hand-written SQL of the
  same page (scope, filter, order, 50 rows, a total capped at 1,000): <= 1.5x and p95 < 100 ms;
- the server's CPU per request of each kind alone (home, list, case page, form page, API read,
  save), one worker, 10 users (for information: which kind costs what at this scale; `--skip cpu`);
- a case page, a form save, a transition, and creating a case (what an offline device's sync does for
  each new record): p95 at the small (1,000 cases) and the large scale, flat;
- SQLite, 10 users, the same mixed load: no "database is locked", p95 < 500 ms;
- the ISP monthly set against hand-written GROUP BYs and an export's peak memory (`bench_reports`,
  run as a subprocess);
- the server's memory after N requests against after 1,000 (growth < 10%);
- scaling: the mixed load at 50 users with 1 worker and with N.

Data comes from `python3 -m engine.cli seed` when the checkout has it, else from the demo data cloned
to the size asked (a stand-in, said in the output). PostgreSQL (127.0.0.1:5432, user postgres):
scratch databases `sanad_svc_<random>`, dropped at the end. Exit 0: every goal met; 1: a goal missed;
2: the benchmark is broken (a server does not start, the hand-written SQL gives another page, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import functools
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.pool import NullPool

from engine.cli.common import whole_number
from engine.storage import chain
from tests.benchmarks import _load
from tests.benchmarks._load import Connection, Outcome, ServerProcess
from tests.benchmarks._timing import table

ROOT = _load.ROOT
ADMIN = os.environ.get("SANAD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
#: SQLite's error when a writer waited too long for another; a server's log or an answer that has it failed
LOCKED = "database is locked"
PASSWORD = "bench-password-0123456789"
SECRET = "bench-secret-" + "k" * 40
PY = sys.executable


@dataclass(frozen=True)
class Scale:
    cases: int  # the large database (mixed load, lists, the large side of "flat")
    small_cases: int  # the small side of "flat"
    sqlite_cases: int
    incidents: int
    audit: int
    users: tuple[int, ...]
    warmup: float
    duration: float
    memory: tuple[int, int]  # requests: the first reading, the second
    flat_n: int  # requests per kind for the flat rows
    list_n: int  # repeats of each list query per side
    isp_incidents: int
    export_records: int
    isp_repeat: int
    agencies: int = 50  # `sanad seed --agencies`
    accounts: int = 2000  # `sanad seed --users`


SCALES = {
    "small": Scale(
        10_000,
        1_000,
        10_000,
        2_000,
        10_000,
        (10, 50),
        3,
        12,
        (1_000, 3_000),
        30,
        15,
        20_000,
        5_000,
        1,
        agencies=5,
        accounts=200,
    ),
    "medium": Scale(
        100_000,
        1_000,
        100_000,
        200_000,
        1_000_000,
        (10, 50, 300),
        5,
        30,
        (1_000, 20_000),
        100,
        30,
        200_000,
        100_000,
        2,
        agencies=20,
        accounts=800,
    ),
    "national": Scale(
        500_000,
        1_000,
        100_000,
        1_000_000,
        10_000_000,
        (10, 50, 300),
        10,
        60,
        (1_000, 100_000),
        200,
        50,
        1_000_000,
        100_000,
        2,
    ),
}


class Broken(Exception):
    """The benchmark itself failed (exit 2)."""


# -- results ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    sanad: str
    baseline: str
    ratio: float | None
    goal: str
    met: bool | None  # None: for information
    data: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[str]:
        mark = "" if self.met is None else ("✓" if self.met else "✗ MISSED")
        return [self.what, self.sanad, self.baseline, f"{self.ratio:.2f}x" if self.ratio else "", f"{self.goal} {mark}"]


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s == s else "-"


def load_text(o: Outcome) -> str:
    return f"{o.rate:.1f} req/s, p50 {ms(o.pct(0.5))}, p95 {ms(o.pct(0.95))}, {o.error_count} err"


def load_data(o: Outcome) -> dict[str, Any]:
    return {
        "users": o.users,
        "requests": o.requests,
        "seconds": round(o.seconds, 2),
        "rps": round(o.rate, 2),
        "p50_ms": round(o.pct(0.5) * 1000, 2),
        "p95_ms": round(o.pct(0.95) * 1000, 2),
        "errors": o.error_count,
        "error_kinds": dict(o.errors.most_common(5)),
        "p95_ms_by_kind": {k: round(o.pct(0.95, k) * 1000, 2) for k in sorted(o.by_kind)},
        "requests_by_kind": {k: len(v) for k, v in sorted(o.by_kind.items())},
    }


def say(msg: str) -> None:
    print(f"[bench_service {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- databases and data ----------------------------------------------------------------------------------


@dataclass
class Data:
    url: str
    cases: int
    how: str  # "seed" or the stand-in
    passwords: dict[str, str]  # username -> password (else PASSWORD)


def pg_create() -> str:
    name = f"sanad_svc_{uuid.uuid4().hex[:10]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def pg_drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


#: tables every request of the mixed load rewrites a row of (the audit chain's end; a session's last
#: use): on a PostgreSQL without autovacuum their old row versions pile up and slow each request down
HOT_TABLES = ("audit_chain", "sessions")


def vacuum_hot_tables(url: str, run: Run) -> None:
    """Before a load: what autovacuum does every minute, where it is off (the CI machines' PostgreSQL).
    Without it the audit chain's end, one row rewritten by every request, costs PostgreSQL 0.1 ms more
    per 1,000 requests: tens of milliseconds by the end of a national run."""
    if not url.startswith("postgresql"):
        return
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as conn:
            if conn.execute(text("SHOW autovacuum")).scalar_one() == "on":
                return
            for table in HOT_TABLES:
                conn.execute(text(f"VACUUM {table}"))
    finally:
        eng.dispose()
    note = "PostgreSQL runs without autovacuum: " + ", ".join(HOT_TABLES) + " are vacuumed before each load"
    if note not in run.notes:
        run.notes.append(note)


class ChainWatch:
    """How busy the audit chain's end is while a load runs (PostgreSQL): every request that writes
    an audit entry locks that one row at commit, and holds it until its commit is done, so requests/s
    can never pass 1 / the time it is held. A thread looks at `pg_stat_activity` every 50 ms from
    `delay` seconds on (after the warm-up): a connection whose last statement took the lock or wrote
    the entries, or that is committing, holds it; one waiting for a lock in a statement on
    `audit_chain` waits for it. (A commit of a transaction that wrote no entry counts as held too:
    nearly every request writes one.)"""

    INTERVAL = 0.05

    def __init__(self, url: str, delay: float) -> None:
        self.url, self.delay = url, delay
        self.counts = ChainCounts()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ChainWatch:
        if self.url.startswith("postgresql"):
            self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _sample(self) -> None:
        eng = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with eng.connect() as conn:
                if self._stop.wait(self.delay):
                    return
                while not self._stop.wait(self.INTERVAL):
                    row = conn.execute(_CHAIN_ACTIVITY).one()
                    self.counts.add(bool(row.held), int(row.waiting or 0))
        finally:
            eng.dispose()


@dataclass
class ChainCounts:
    """What a `ChainWatch` saw: how many times it looked, in how many of them the chain's end was
    held, and the requests it found waiting for it, summed over its looks."""

    samples: int = 0
    held: int = 0
    waiting: int = 0

    def add(self, held: bool, waiting: int) -> None:
        self.samples += 1
        self.held += 1 if held else 0
        self.waiting += waiting

    @classmethod
    def of(cls, watches: list[ChainWatch]) -> ChainCounts:
        """The looks of several watches (the rounds of one user count) together."""
        return cls(
            sum(w.counts.samples for w in watches),
            sum(w.counts.held for w in watches),
            sum(w.counts.waiting for w in watches),
        )

    def data(self) -> dict[str, Any]:
        if not self.samples:
            return {}
        return {
            "samples": self.samples,
            "held": round(self.held / self.samples, 3),
            "waiting": round(self.waiting / self.samples, 2),
        }

    def text(self) -> str:
        d = self.data()
        return f"held {d['held']:.0%} of the time; {d['waiting']:.1f} requests waiting on average" if d else "-"


#: the connections of this database, other than the watcher's own, that hold the audit chain's end
#: (their last statement locked it or wrote the entries, or they are committing) or wait for it. The
#: statements are the chain's own (storage.chain), as PostgreSQL shows them: the one that writes the
#: entries by its start, which holds no parameter
_CHAIN_ACTIVITY = text(
    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND query LIKE '%audit_chain%') AS waiting, "
    "count(*) FILTER (WHERE (wait_event_type IS DISTINCT FROM 'Lock') AND ("
    "  ((query = :lock OR starts_with(query, :append)) AND state IN ('active', 'idle in transaction'))"
    "  OR (query = 'COMMIT' AND state = 'active'))) > 0 AS held "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
).bindparams(
    lock=str(chain._LOCK_END_ROW),
    append=str(chain._appending(1).compile(dialect=postgresql.dialect())).split(" (", 1)[0],
)


#: PostgreSQL's settings that the figures depend on (docs/operations.md, "PostgreSQL's own settings")
PG_SETTINGS = ("server_version", "shared_buffers", "effective_cache_size", "synchronous_commit", "autovacuum")


def pg_settings(url: str) -> str:
    """`name=value` for each of PG_SETTINGS, as the database reports them."""
    eng = create_engine(url, poolclass=NullPool)
    try:
        with eng.connect() as conn:
            return ", ".join(f"{name}={conn.execute(text(f'SHOW {name}')).scalar_one()}" for name in PG_SETTINGS)
    finally:
        eng.dispose()


def seed_command() -> bool:
    return os.path.exists(os.path.join(ROOT, "engine", "cli", "seed.py"))


def seed(url: str, cases: int, incidents: int, audit: int, env: dict[str, str], sc: Scale) -> Data:
    data = _seed(url, cases, incidents, audit, env, sc)
    upgrade(url, env)
    return data


def upgrade(url: str, env: dict[str, str]) -> None:
    """The schema as the servers expect it (a migration added to the checkout since the data was made)."""
    done = subprocess.run(
        [PY, "-m", "engine.cli", "db", "upgrade", "--db", url], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise Broken(f"sanad db upgrade failed: {done.stderr[-1000:]}")


def _seed(url: str, cases: int, incidents: int, audit: int, env: dict[str, str], sc: Scale) -> Data:
    if seed_command():
        helptext = subprocess.run(
            [PY, "-m", "engine.cli", "seed", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        ).stdout
        cmd = [PY, "-m", "engine.cli", "seed", "--cases", str(cases), "--db", url, "--quiet"]
        cmd += ["--agencies", str(sc.agencies), "--users", str(sc.accounts)]
        if "--incidents" in helptext:
            cmd += ["--incidents", str(incidents)]
        if "--audit" in helptext:
            cmd += ["--audit", str(audit)]
        if "--password" in helptext:
            cmd += ["--password", PASSWORD]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise Broken(f"sanad seed failed ({done.returncode}): {done.stderr[-2000:]}")
        say(f"seeded {cases:,} cases with 'sanad seed' in {time.perf_counter() - t0:.0f} s")
        return Data(url, cases, "sanad seed", {})
    return stand_in_seed(url, cases)


def reused(url: str, env: dict[str, str]) -> Data:
    """A database an earlier `--keep` run seeded: brought to the checkout's schema, its cases counted."""
    upgrade(url, env)
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            cases = conn.execute(text("SELECT count(*) FROM records WHERE record_type = 'case'")).scalar_one()
    finally:
        eng.dispose()
    say(f"reusing {int(cases):,} cases")
    return Data(url, int(cases), "reused", {})


def display(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def stand_in_seed(url: str, cases: int) -> Data:
    """Until `sanad seed` exists: the demo data (through the service), its cases cloned to `cases`."""
    from sqlalchemy import select

    from engine.runtime.registry import Registry
    from engine.service import seeding
    from engine.service.database import Database
    from engine.storage import sealing
    from engine.storage.models import Record

    t0 = time.perf_counter()
    reg = Registry.load([os.path.join(ROOT, "definitions", "gbv")])
    db = Database.open(url)
    db.ready(create=True, announce=lambda m: None)
    made = seeding.seed(db, reg, "gbv", cheap_hashing=True)
    passwords = {a.username: a.password for a in made}
    sealing.register(reg.modules["gbv"])  # the new rows are sealed for their own ids, as the service does
    columns = [c.name for c in Record.__table__.columns if c.name not in ("id", "short_id", "key_id", "blind")]
    rng = random.Random(5)
    now = datetime.now(UTC)
    with db.transaction() as session:
        src = [
            {c: getattr(r, c) for c in columns}
            for r in session.scalars(select(Record).where(Record.record_type == "case"))
        ]
    todo = max(0, cases - len(src))
    for start in range(0, todo, 1000):
        with db.transaction() as session:
            for i in range(start, min(todo, start + 1000)):
                row = dict(src[i % len(src)])
                created = now - timedelta(days=rng.uniform(1, 720))
                row.update(created_at=created, updated_at=created + timedelta(days=rng.uniform(0, 30)))
                row["data"] = copy.deepcopy(row["data"])
                session.add(
                    Record(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), short_id=f"C-Z{i:07d}", **row)
                )
    db.dispose()
    if url.startswith("postgresql"):
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("ANALYZE"))
        eng.dispose()
    say(f"stand-in data: the demo, its cases cloned to {cases:,} ({time.perf_counter() - t0:.0f} s)")
    return Data(url, cases, "demo cloned (sanad seed not in this checkout)", passwords)


def users_by_role(url: str) -> dict[str, list[str]]:
    """Usernames by role; caseworkers first those owning the most cases."""
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.username, u.role, (SELECT count(*) FROM records r WHERE r.owner_id = u.id "
                "AND r.record_type = 'case') AS n FROM users u WHERE NOT u.disabled ORDER BY n DESC, u.username"
            )
        ).all()
    eng.dispose()
    out: dict[str, list[str]] = {}
    for name, role, n in rows:
        if role != "caseworker" or n > 0:
            out.setdefault(role, []).append(name)
    return out


# -- servers ---------------------------------------------------------------------------------------------


def serve_has_workers(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [PY, "-m", "engine.cli", "serve", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    return "--workers" in done.stdout


@contextmanager
def sanad_server(url: str, workers: int, env: dict[str, str], logdir: str) -> Iterator[ServerProcess]:
    port = _load.free_port()
    cmd = [PY, "-m", "engine.cli", "serve", "--db", url, "--port", str(port), "--idle-minutes", "600"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    srv = _load.start(cmd, env, port, os.path.join(logdir, f"sanad-{port}.log"), workers)
    try:
        yield srv
    finally:
        srv.stop()


@contextmanager
def baseline_server(url: str, workers: int, env: dict[str, str], logdir: str) -> Iterator[ServerProcess]:
    port = _load.free_port()
    cmd = [PY, "-m", "uvicorn", "tests.benchmarks._baseline_app:app", "--port", str(port), "--log-level", "warning"]
    cmd += ["--no-access-log", "--workers", str(workers)]
    srv = _load.start(cmd, {**env, "BASELINE_DB": url}, port, os.path.join(logdir, f"baseline-{port}.log"), workers)
    try:
        yield srv
    finally:
        srv.stop()


# -- simulated users -------------------------------------------------------------------------------------

READ_FORMS = ["survivor_information", "consent_services", "survivor_assessment", "safety_plan", "action_plan"]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass
class Sim:
    """A simulated caseworker: one connection, one session, the cases it works on."""

    port: int
    username: str
    password: str
    conn: Connection
    cookie: str = ""
    cases: list[dict[str, Any]] = field(default_factory=list)
    steps: dict[str, list[str]] = field(default_factory=dict)  # case id -> transitions it may take now
    n: int = 0

    def h(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Cookie": self.cookie, **(extra or {})}

    async def sign_in(self) -> None:
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        for _ in range(5):
            a = await self.conn.request("POST", "/api/v1/login", JSON_HEADERS, body)
            if a.status == 200:
                self.cookie = "; ".join(f"{k}={v}" for k, v in a.cookies().items())
                return
            if a.status == 429:
                await asyncio.sleep(float(a.header("retry-after") or 1))
                continue
            raise Broken(f"sign-in of {self.username} answered {a.status}: {a.body[:300]!r}")
        raise Broken(f"sign-in of {self.username} kept being throttled")

    def learn(self, rec: dict[str, Any]) -> None:
        """Remember a record's version and the steps this user may take on it now."""
        for c in self.cases:
            if c["id"] == rec.get("id"):
                c["version"], c["stage"] = rec.get("version"), rec.get("stage")
        ok = [
            t.get("id")
            for t in rec.get("transitions", [])
            if isinstance(t, dict)
            and t.get("allowed")
            and not t.get("decision")
            and not t.get("referral")
            and t.get("comment") != "required"
            and not t.get("needs_reason")
            and not t.get("confirm")
        ]
        self.steps[str(rec.get("id"))] = [str(t) for t in ok if t]

    def case(self, rng: random.Random) -> dict[str, Any]:
        return rng.choice(self.cases)

    async def get(self, path: str, kind: str) -> tuple[str, str | None]:
        a = await self.conn.request("GET", path, self.h())
        return kind, None if a.status == 200 else _err(a)

    async def save(self, rng: random.Random) -> tuple[str, str | None]:
        open_cases = [c for c in self.cases if c.get("stage") not in ("closed", "closure_requested")] or self.cases
        c = rng.choice(open_cases)
        self.n += 1
        body = {"version": c["version"], "data": {"nickname": f"b{self.n}"}, "form": "survivor_information"}
        a = await self.conn.request(
            "PATCH", f"/api/v1/records/case/{c['id']}", self.h(JSON_HEADERS), json.dumps(body).encode()
        )
        if a.status == 200:
            self.learn(json.loads(a.body))
            return "save", None
        if a.status == 409:  # someone else saved (another simulated user of the same account): reload
            r = await self.conn.request("GET", f"/api/v1/records/case/{c['id']}", self.h())
            if r.status == 200:
                self.learn(json.loads(r.body))
        return "save", _err(a)

    async def create(self, rng: random.Random) -> tuple[str, str | None]:
        """A new case as a device that was offline sends it: its own id, a first answer."""
        self.n += 1
        body = {"id": str(uuid.uuid4()), "data": {"nickname": f"n{self.n}"}}
        a = await self.conn.request("POST", "/api/v1/records/case", self.h(JSON_HEADERS), json.dumps(body).encode())
        return "create", None if a.status == 201 else _err(a)

    async def transition(self, rng: random.Random) -> tuple[str, str | None]:
        ready = [(cid, ts) for cid, ts in self.steps.items() if ts]
        if not ready:
            return await self.save(rng)
        cid, ts = rng.choice(ready)
        a = await self.conn.request(
            "POST", f"/api/v1/records/case/{cid}/transitions/{rng.choice(ts)}", self.h(JSON_HEADERS), b"{}"
        )
        if a.status == 200:
            self.learn(json.loads(a.body))
            return "transition", None
        self.steps[cid] = []
        return "transition", _err(a)

    async def home(self, rng: random.Random) -> tuple[str, str | None]:
        return await self.get("/", "home")

    async def list_page(self, rng: random.Random) -> tuple[str, str | None]:
        return await self.get("/records/case" + rng.choice(["", "", "?stage=" + self.case(rng)["stage"]]), "list")

    async def case_page(self, rng: random.Random) -> tuple[str, str | None]:
        return await self.get(f"/records/case/{self.case(rng)['id']}", "case page")

    async def form_page(self, rng: random.Random) -> tuple[str, str | None]:
        return await self.get(f"/records/case/{self.case(rng)['id']}/forms/{rng.choice(READ_FORMS)}", "form page")

    async def api_read(self, rng: random.Random) -> tuple[str, str | None]:
        return await self.get(f"/api/v1/records/case/{self.case(rng)['id']}", "API read")

    async def mixed(self, rng: random.Random) -> tuple[str, str | None]:
        x = rng.random()
        if x < 0.2:
            return await self.home(rng)
        if x < 0.4:
            return await self.list_page(rng)
        if x < 0.6:
            return await self.case_page(rng)
        if x < 0.8:
            return await self.form_page(rng)
        if x < 0.9:
            return await self.save(rng)
        return await self.transition(rng)


#: the kinds of request of the mixed load, and a read of the API: each measured alone by `cpu_rows`
KINDS = {
    "home": Sim.home,
    "list": Sim.list_page,
    "case page": Sim.case_page,
    "form page": Sim.form_page,
    "API read": Sim.api_read,
    "save": Sim.save,
}


def _err(a: _load.Answer) -> str:
    text_ = a.body[:400].decode("utf-8", "replace")
    if LOCKED in text_:
        return f"{a.status} {LOCKED}"
    try:
        return f"{a.status} {json.loads(a.body).get('error', '')}"[:120]
    except (ValueError, AttributeError):
        return f"{a.status}"


class Crowd:
    """Signed-in simulated caseworkers, kept across the servers of one database (sessions live in the
    database and the cookies are signed with the same key): one session per simulated user."""

    def __init__(self, data: Data) -> None:
        self.data = data
        roles = users_by_role(data.url)
        self.accounts = roles.get("caseworker", [])
        if not self.accounts:
            raise Broken("the database has no caseworker who owns a case")
        self.sims: list[Sim] = []

    async def ensure(self, port: int, n: int) -> list[Sim]:
        """n simulated users on the server at `port`, signed in, each with its share of cases."""
        for s in self.sims:
            s.conn = Connection("127.0.0.1", port)
            s.port = port
        new = []
        while len(self.sims) < n:
            i = len(self.sims)
            name = self.accounts[i % len(self.accounts)]
            s = Sim(port, name, self.data.passwords.get(name, PASSWORD), Connection("127.0.0.1", port))
            self.sims.append(s)
            new.append(s)
        for k in range(0, len(new), 4):  # a few at a time: the sign-in throttle counts attempts per address
            await asyncio.gather(*(s.sign_in() for s in new[k : k + 4]))
        # each account's cases, shared out among the simulated users who sign in as it
        share: dict[str, list[Sim]] = {}
        for s in self.sims:
            share.setdefault(s.username, []).append(s)
        for name, sims in share.items():
            if all(s.cases for s in sims):
                continue
            need, page = 3 * len(sims), 1
            found: list[dict[str, Any]] = []
            while len(found) < need and page <= 40:
                a = await sims[0].conn.request("GET", f"/api/v1/records/case?page={page}", sims[0].h())
                if a.status != 200:
                    raise Broken(f"the case list of {name} answered {a.status}")
                items = json.loads(a.body)["items"]
                found += items
                if len(items) < 50:
                    break
                page += 1
            if not found:
                raise Broken(f"{name} has no case")
            for k, s in enumerate(sims):
                s.cases = [dict(c) for c in found[k :: len(sims)]] or [dict(found[k % len(found)])]

        async def learn(s: Sim) -> None:
            for c in s.cases[:1]:
                a = await s.conn.request("GET", f"/api/v1/records/case/{c['id']}", s.h())
                if a.status == 200:
                    s.learn(json.loads(a.body))

        await asyncio.gather(*(learn(s) for s in new))
        return self.sims[:n]

    async def close(self) -> None:
        for s in self.sims:
            await s.conn.close()


async def baseline_load(
    port: int,
    users: int,
    warmup: float,
    duration: float,
    watch: dict[str, _load.Clock] | None = None,
    path: str = "/",
) -> Outcome:
    """`users` connections asking the baseline app for `path` (`/`: one SELECT; `/floor`: what every
    request of Sanad's must do, see _baseline_app) one request after another."""
    conns = [Connection("127.0.0.1", port) for _ in range(users)]

    def step(c: Connection) -> _load.Step:
        async def one(rng: random.Random) -> tuple[str, str | None]:
            a = await c.request("GET", path)
            return "select", None if a.status == 200 else f"{a.status}"

        return one

    try:
        return await _load.run_load([step(c) for c in conns], warmup, duration, watch=watch)
    finally:
        for c in conns:
            await c.close()


# -- the rows --------------------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    scale: Scale
    env: dict[str, str]
    workdir: str
    workers: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the mixed load's rounds at each user count, each load in turn (see mixed_rows)
    rounds: int = 3

    def add(self, row: Row) -> None:
        self.rows.append(row)
        say(" | ".join(row.cells()))


def mixed_rows(run: Run, data: Data, crowd: Crowd, label: str) -> dict[int, Outcome]:
    """The mixed load at each user count on Sanad, the baseline and the floor, same workers, same
    generator. Both servers run at once, and at each user count the three loads take turns, `--rounds`
    times, each for its share of the scale's duration: a shared machine's speed drifts by a fifth
    within minutes, and one long run of each, minutes apart, measured the drift as much as the
    servers (at 50 users a lone run gave 179 requests/s where runs in turns just before gave
    197-206). Each figure is of its rounds together (`_load.merged`); the rows say the spread."""
    sc = run.scale
    rounds = max(1, run.rounds)
    share = sc.duration / rounds
    runs: dict[str, dict[int, list[Outcome]]] = {"sanad": {}, "baseline": {}, "floor": {}}
    chains: dict[int, list[ChainWatch]] = {}
    with (
        sanad_server(data.url, run.workers, run.env, run.workdir) as srv,
        baseline_server(data.url, run.workers, run.env, run.workdir) as bsrv,
    ):
        for n in sc.users:
            for r in range(rounds):
                # the first round at each user count warms the servers up; the later ones only
                # their connections
                warmup = sc.warmup if r == 0 else min(sc.warmup, 3.0)
                vacuum_hot_tables(data.url, run)
                # the watcher starts with the load; the users' sign-ins come first, so it may look at
                # a little of the warm-up too (the figure is for information)
                locked = srv.log_text().count(LOCKED)
                with ChainWatch(data.url, warmup) as watched:
                    o = asyncio.run(_ensure_and_run(crowd, srv.port, n, warmup, share, cpu_clocks(srv, data.url)))
                runs["sanad"].setdefault(n, []).append(o)
                chains.setdefault(n, []).append(watched)
                if locked := srv.log_text().count(LOCKED) - locked:  # this round's, not the log's so far
                    o.errors[f"server log: {LOCKED}"] += locked
                b = asyncio.run(baseline_load(bsrv.port, n, warmup, share, cpu_clocks(bsrv, data.url)))
                runs["baseline"].setdefault(n, []).append(b)
                vacuum_hot_tables(data.url, run)
                f = asyncio.run(baseline_load(bsrv.port, n, warmup, share, cpu_clocks(bsrv, data.url), path="/floor"))
                runs["floor"].setdefault(n, []).append(f)
                say(
                    f"mixed load, {n} users, round {r + 1} of {rounds}: Sanad {o.rate:.1f}, baseline "
                    f"{b.rate:.1f}, floor {f.rate:.1f} req/s"
                )
    out = {n: _load.merged(xs) for n, xs in runs["sanad"].items()}
    base = {n: _load.merged(xs) for n, xs in runs["baseline"].items()}
    floor = {n: _load.merged(xs) for n, xs in runs["floor"].items()}

    def spread(n: int) -> dict[str, Any]:
        return {
            "rounds": rounds,
            "seconds_each": round(share, 1),
            **{f"{k}_rps_by_round": [round(o.rate, 1) for o in runs[k][n]] for k in runs},
        }

    def rounds_text(n: int) -> str:
        if rounds == 1:
            return ""
        by_round = " / ".join(
            f"{s_.rate:.0f}:{b_.rate:.0f}" for s_, b_ in zip(runs["sanad"][n], runs["baseline"][n], strict=True)
        )
        return f" [{rounds} rounds of {share:.0f} s in turns; req/s Sanad:baseline {by_round}]"

    for n in sc.users:
        s, b = out[n], base[n]
        ratio = s.rate / b.rate if b.rate else None
        ok = ratio is not None and ratio >= 0.4 and s.error_count == 0
        goal = ">= 0.4x, 0 errors"
        if n == 50:
            ok = ok and s.pct(0.95) < 0.3
            goal += ", p95 < 300 ms"
        run.add(
            Row(
                f"mixed load, {label}, {data.cases:,} cases, {n} users, {run.workers} worker(s)",
                load_text(s) + rounds_text(n),
                load_text(b),
                ratio,
                goal,
                ok,
                {"sanad": load_data(s), "baseline": load_data(b), "rounds": spread(n)},
            )
        )
    for n in sc.users:
        s, f = out[n], floor[n]
        run.add(
            Row(
                f"mixed load against the floor (session, record, audit entry, commit), {n} users",
                load_text(s),
                load_text(f),
                s.rate / f.rate if f.rate else None,
                "for information: what Sanad's own work costs beyond the work no request may skip",
                None,
                {"sanad": load_data(s), "floor": load_data(f)},
            )
        )
    n = max((k for k in sc.users if k <= 50), default=min(sc.users))
    s, b, f = out[n], base[n], floor[n]
    run.add(
        Row(
            f"CPU per request, mixed load, {n} users: server / PostgreSQL / load generator; machine busy",
            cpu_text(s),
            cpu_text(b),
            s.cpu_ms_per_request("server") / b.cpu_ms_per_request("server") if b.cpu.get("server") else None,
            f"for information: requests/s is at most {os.cpu_count()} CPUs / the CPU of one request",
            None,
            {"sanad": cpu_data(s), "baseline": cpu_data(b)},
        )
    )
    run.add(
        Row(
            f"CPU per request, the floor, {n} users: server / PostgreSQL / load generator; machine busy",
            cpu_text(f),
            cpu_text(b),
            f.cpu_ms_per_request("server") / b.cpu_ms_per_request("server") if b.cpu.get("server") else None,
            "for information: the floor against the one SELECT",
            None,
            {"floor": cpu_data(f), "baseline": cpu_data(b)},
        )
    )
    if data.url.startswith("postgresql"):
        run.add(
            Row(
                f"audit chain's end, mixed load, {' / '.join(str(k) for k in sc.users)} users",
                " | ".join(f"{k}: {ChainCounts.of(chains[k]).text()}" for k in sc.users),
                "",
                None,
                "for information: one row every request locks at commit; held near 100%, it caps "
                "requests/s at 1 / the time it is held",
                None,
                {str(k): ChainCounts.of(chains[k]).data() for k in sc.users},
            )
        )
    return out


def cpu_clocks(srv: ServerProcess, url: str) -> dict[str, _load.Clock]:
    """What a load run watches: the server's processes, PostgreSQL's, the load generator's, the machine."""
    return {
        "server": _load.tree_cpu(srv.proc.pid),
        "postgresql": _load.postgres_cpu(display(url)),
        "load generator": _load.own_cpu,
        "machine": _load.machine_busy,
    }


def cpu_data(o: Outcome) -> dict[str, Any]:
    busy = o.cpu.get("machine", float("nan")) / (o.seconds * (os.cpu_count() or 1)) if o.seconds else float("nan")
    return {
        "cpu_ms_per_request": {
            k: round(o.cpu_ms_per_request(k), 3) for k in ("server", "postgresql", "load generator")
        },
        "machine_busy": round(busy, 3),
    }


def cpu_text(o: Outcome) -> str:
    d = cpu_data(o)
    per = d["cpu_ms_per_request"]
    parts = " / ".join(
        "-" if math.isnan(per[k]) else f"{per[k]:.2f}" for k in ("server", "postgresql", "load generator")
    )
    busy = d["machine_busy"]
    return f"{parts} ms" if math.isnan(busy) else f"{parts} ms; busy {busy:.0%}"


async def _ensure_and_run(
    crowd: Crowd, port: int, n: int, warmup: float, duration: float, watch: dict[str, _load.Clock] | None = None
) -> Outcome:
    sims = await crowd.ensure(port, n)
    try:
        return await _load.run_load([s.mixed for s in sims], warmup, duration, watch=watch)
    finally:
        await crowd.close()


def scaling_and_memory(run: Run, data: Data, crowd: Crowd, at_n: Outcome | None) -> None:
    sc = run.scale
    vacuum_hot_tables(data.url, run)
    with sanad_server(data.url, 1, run.env, run.workdir) as srv:
        one = asyncio.run(_ensure_and_run(crowd, srv.port, 50, sc.warmup, sc.duration))
    # memory: a fresh server, after its first 1,000 requests and after N
    first, second = sc.memory
    with sanad_server(data.url, 1, run.env, run.workdir) as srv:
        asyncio.run(go_on(crowd, srv.port, first))
        m1 = srv.rss_mb()
        asyncio.run(go_on(crowd, srv.port, second - first))
        m2 = srv.rss_mb()
    with baseline_server(data.url, 1, run.env, run.workdir) as bsrv:
        b1 = asyncio.run(baseline_load(bsrv.port, 50, sc.warmup, sc.duration))
    ratio = one.rate / b1.rate if b1.rate else None
    run.add(
        Row(
            f"mixed load, {data.cases:,} cases, 50 users, 1 worker",
            load_text(one),
            load_text(b1),
            ratio,
            ">= 0.4x, 0 errors",
            ratio is not None and ratio >= 0.4 and one.error_count == 0,
            {"sanad": load_data(one), "baseline": load_data(b1)},
        )
    )
    if at_n is not None and run.workers > 1:
        f = at_n.rate / one.rate if one.rate else None
        run.add(
            Row(
                f"scaling, 50 users: 1 -> {run.workers} workers ({os.cpu_count()} CPUs)",
                f"{one.rate:.1f} -> {at_n.rate:.1f} req/s",
                "",
                f,
                "stated",
                None,
                {"workers_1_rps": one.rate, f"workers_{run.workers}_rps": at_n.rate},
            )
        )
    else:
        run.add(Row("scaling", "not measured: one worker only", "", None, "stated", None))
    growth = (m2 - m1) / m1 if m1 else 0.0
    run.add(
        Row(
            f"server memory after {second:,} requests vs after {first:,} (1 worker)",
            f"{m2:.0f} MB",
            f"{m1:.0f} MB",
            m2 / m1 if m1 else None,
            "growth < 10%" + ("" if second >= 100_000 else f" (at {second:,}, not 100k)"),
            growth < 0.10,
            {"after_first_mb": m1, "after_second_mb": m2, "first": first, "second": second},
        )
    )


async def go_on(crowd: Crowd, port: int, count: int) -> Outcome:
    sims = await crowd.ensure(port, 10)
    try:
        return await _load.run_load([s.mixed for s in sims], 0, requests=count)
    finally:
        await crowd.close()


def flat_measure(data: Data, crowd: Crowd, run: Run) -> dict[str, Outcome]:
    """One user at a time: n case pages, n saves, n transitions, n creates (closed loop, after a short
    warm-up)."""
    out: dict[str, Outcome] = {}
    vacuum_hot_tables(data.url, run)
    with sanad_server(data.url, run.workers, run.env, run.workdir) as srv:

        async def go() -> None:
            sims = await crowd.ensure(srv.port, 10)
            s = sims[0]
            try:
                for t in sims:  # the steps each may take on each of its cases (setup, not timed)
                    for c in t.cases[:10]:
                        a = await t.conn.request("GET", f"/api/v1/records/case/{c['id']}", t.h())
                        if a.status == 200:
                            t.learn(json.loads(a.body))

                async def page(rng: random.Random) -> tuple[str, str | None]:
                    return await s.get(f"/records/case/{s.case(rng)['id']}", "case page")

                async def step(rng: random.Random) -> tuple[str, str | None]:
                    for t in sims:  # the first simulated user with a step to take
                        if any(t.steps.values()):
                            return await t.transition(rng)
                    return "no step left", None  # counted apart: the row gives n

                out["case page"] = await _load.run_load([page], 0.5, requests=run.scale.flat_n)
                out["save"] = await _load.run_load([s.save], 0.5, requests=run.scale.flat_n)
                out["transition"] = await _load.run_load([step], 0, requests=run.scale.flat_n)
                out["create"] = await _load.run_load([s.create], 0.5, requests=run.scale.flat_n)
            finally:
                await crowd.close()

        asyncio.run(go())
    return out


def flat_rows(run: Run, small: dict[str, Outcome], large: dict[str, Outcome], n_small: int, n_large: int) -> None:
    for kind in ("case page", "save", "transition", "create"):
        s, b = large[kind], small[kind]
        p_large, p_small = s.pct(0.95, kind), b.pct(0.95, kind)
        ratio = p_large / p_small if p_small == p_small and p_small else None
        ok = p_large < 0.15 and ratio is not None and ratio <= 1.5 and s.error_count == 0 and b.error_count == 0
        run.add(
            Row(
                f"{kind}, p95: {n_large:,} cases vs {n_small:,}",
                f"{ms(p_large)} (n={len(s.by_kind.get(kind, []))})",
                f"{ms(p_small)} (n={len(b.by_kind.get(kind, []))})",
                ratio,
                "p95 < 150 ms, flat (<= 1.5x)",
                ok,
                {"large": load_data(s), "small": load_data(b)},
            )
        )


# -- CPU per request, by kind --------------------------------------------------------------------------


def cpu_rows(run: Run, data: Data, crowd: Crowd) -> None:
    """Each kind of request alone, on one worker, 10 users: the server's CPU per request. The mixed
    load's CPU per request is an average over its kinds, and under 50 users it also pays for the
    contention of threads; this says what each kind costs, at this scale."""
    seconds = max(5.0, run.scale.duration / 4)
    found: dict[str, Outcome] = {}
    with sanad_server(data.url, 1, run.env, run.workdir) as srv:

        async def go() -> None:
            sims = await crowd.ensure(srv.port, 10)
            try:
                for kind, call in KINDS.items():
                    users = [functools.partial(call, s) for s in sims]
                    watch = {"server": _load.tree_cpu(srv.proc.pid)}
                    found[kind] = await _load.run_load(users, 1, seconds, watch=watch)
            finally:
                await crowd.close()

        asyncio.run(go())
    for kind, o in found.items():
        errors = f", {o.error_count} errors" if o.error_count else ""
        run.add(
            Row(
                f"server CPU per request: {kind} alone, 1 worker, 10 users, {data.cases:,} cases",
                f"{o.cpu_ms_per_request('server'):.2f} ms ({o.rate:.0f} req/s, p50 {ms(o.pct(0.5))}{errors})",
                "",
                None,
                "for information",
                None,
                {"sanad": load_data(o), "server_cpu_ms": round(o.cpu_ms_per_request("server"), 3)},
            )
        )


# -- lists: the service against hand-written SQL ---------------------------------------------------------


def list_rows(run: Run, data: Data) -> None:
    from engine.runtime.registry import Registry
    from engine.service import accounts, listing, records
    from engine.service.context import Context
    from engine.service.database import Database
    from engine.storage import sealing

    reg = Registry.load([os.path.join(ROOT, "definitions", "gbv")])
    module = reg.modules["gbv"]
    policy = reg.policies["gbv"]
    db = Database.open(data.url)
    pg = data.url.startswith("postgresql")
    roles = users_by_role(data.url)
    worker = roles["caseworker"][0]
    eng = create_engine(data.url)

    def context(session: Any, user: Any) -> Context:
        assert user is not None
        return Context(session, user, accounts.actor_for(session, user, module), module, policy, ip="127.0.0.1")

    def ctx_of(session: Any, name: str) -> Context:
        return context(session, accounts.find_user(session, name))

    sessions: dict[str, str] = {}

    def signed_in(session: Any, name: str) -> Context:
        """`name`'s context as a request finds it: the user and their groups from the session cookie's
        session, in one query (`accounts.resume_session`), as `web.context.current_context` does."""
        if name not in sessions:
            with db.transaction() as s:
                user = accounts.find_user(s, name)
                assert user is not None
                sessions[name] = accounts.start_session(s, user, "127.0.0.1")
        return context(session, accounts.resume_session(session, sessions[name], timedelta(hours=1)))

    with db.transaction() as session:
        w = accounts.find_user(session, worker)
        assert w is not None
        groups = [
            int(g)
            for g in session.execute(text("SELECT group_id FROM user_groups WHERE user_id = :u"), {"u": w.id}).scalars()
        ]
        sup = session.execute(
            text(
                "SELECT u.username FROM users u JOIN user_groups g ON g.user_id = u.id "
                "WHERE u.role = 'supervisor' AND u.agency_id = :a AND g.group_id IN ("
                + ",".join(str(g) for g in groups or [0])
                + ") ORDER BY u.username LIMIT 1"
            ),
            {"a": w.agency_id},
        ).scalar()
        mgr = session.execute(
            text("SELECT username FROM users WHERE role = 'cm_manager' AND agency_id = :a ORDER BY username LIMIT 1"),
            {"a": w.agency_id},
        ).scalar()
        wctx = ctx_of(session, worker)
        page = listing.list_records(wctx, "case", None, None, 1)
        if not page["items"]:
            raise Broken(f"{worker} has no case")
        sample = page["items"][len(page["items"]) // 2]
        rec = records.read(wctx, "case", sample["id"])
        code = str(rec["data"].get("survivor_code") or "")
        stage_rows = session.execute(
            text(
                "SELECT stage, count(*) FROM records WHERE record_type = 'case' AND owner_id = :u GROUP BY stage ORDER BY 2 DESC"
            ),
            {"u": w.id},
        ).all()
        stage = str(stage_rows[0][0])
        newest = session.execute(text("SELECT max(created_at) FROM records WHERE record_type = 'case'")).scalar()
        ring = sealing.session_ring(session)
        digest = ring.blind(sealing.blind_scope("gbv", "case", "survivor_code"), code) if code else ""
    newest_day = (newest if isinstance(newest, datetime) else datetime.fromisoformat(str(newest))).date()
    date_from, date_to = (newest_day - timedelta(days=365)).isoformat(), newest_day.isoformat()
    people = [("caseworker", worker), ("supervisor", sup), ("manager", mgr)]
    queries = [
        ("list p1, stage + dates", {"stage": stage, "q": None, "from": date_from, "to": date_to}),
        ("search case number", {"stage": None, "q": sample["short_id"], "from": None, "to": None}),
        ("search survivor code", {"stage": None, "q": code, "from": None, "to": None}),
    ]
    for role_label, name in people:
        if not name:
            run.notes.append(f"lists: no {role_label} in the caseworker's agency/group; rows skipped")
            continue
        with db.transaction() as session:
            c = ctx_of(session, name)
            reach = c.policy.reach(c.actor)
            code_field = module.record_types["case"].scope.fields["survivor_code"]
            sees_code = (
                c.actor.role.may_read_form(code_field.form_id) and code_field.sensitivity in c.actor.role.sensitivity
            )
            sealed = code_field.sensitivity == "direct"
            gids = sorted(reach.group_ids)
            uid, aid, agency_wide, inbox = reach.user_id, reach.agency_id, reach.agency_wide, reach.agency_inbox
        for qlabel, q in queries:
            hand_sql, count_sql, params = hand_list(
                pg, uid, aid, gids, agency_wide, inbox, q, sees_code, digest if sealed else None
            )

            def sanad_side(q: dict[str, Any] = q, name: str = name) -> list[str]:
                with db.transaction() as session:
                    r = listing.list_records(
                        signed_in(session, name),
                        "case",
                        q["stage"],
                        q["q"],
                        1,
                        created_from=q["from"],
                        created_to=q["to"],
                    )
                return [i["id"] for i in r["items"]]

            def hand_side(sql: str = hand_sql, count: str = count_sql, params: dict[str, Any] = params) -> list[str]:
                with eng.connect() as conn:
                    rows = conn.execute(text(sql), params).all()
                    conn.execute(text(count), params)
                return [str(r[0]) for r in rows]

            mine, theirs = sanad_side(), hand_side()
            if mine != theirs:
                raise Broken(
                    f"lists: {role_label} / {qlabel}: the hand-written SQL gives another page "
                    f"({len(theirs)} rows vs Sanad's {len(mine)})"
                )
            ts: list[float] = []
            th: list[float] = []
            for _ in range(run.scale.list_n):
                t0 = time.perf_counter()
                sanad_side()
                t1 = time.perf_counter()
                hand_side()
                t2 = time.perf_counter()
                ts.append(t1 - t0)
                th.append(t2 - t1)
            p50s, p50h = statistics.median(ts), statistics.median(th)
            p95s = sorted(ts)[min(len(ts) - 1, round(0.95 * (len(ts) - 1)))]
            ratio = p50s / p50h if p50h else None
            run.add(
                Row(
                    f"{qlabel}, {role_label} ({len(mine)} rows), {data.cases:,} cases",
                    f"p50 {ms(p50s)}, p95 {ms(p95s)}",
                    f"p50 {ms(p50h)} (hand SQL)",
                    ratio,
                    "<= 1.5x, p95 < 100 ms",
                    ratio is not None and ratio <= 1.5 and p95s < 0.1,
                    {"sanad_ms": [round(x * 1000, 3) for x in ts], "hand_ms": [round(x * 1000, 3) for x in th]},
                )
            )
    db.dispose()
    eng.dispose()


def hand_list(
    pg: bool,
    uid: int,
    aid: int | None,
    gids: list[int],
    agency_wide: bool,
    inbox: int | None,
    q: dict[str, Any],
    sees_code: bool,
    digest: str | None,
) -> tuple[str, str, dict[str, Any]]:
    """The page and its count (up to 1,001) as someone writing SQL for speed would: the scope's
    subqueries as arrays, one ORDER BY; for a user who reaches the whole agency, the agency's records
    and the others as two ordered, limited parts (`UNION`), each walking its own index.
    `digest`: the survivor code's blind index when the answer is sealed; None: compared as stored."""

    def ids(sub: str) -> str:
        return f"r.id = ANY(ARRAY({sub}))" if pg else f"r.id IN ({sub})"

    params: dict[str, Any] = {"uid": uid, "aid": aid}
    held = ["r.owner_id = :uid"]
    if aid is not None:
        held.append(
            f"(r.agency_id = :aid AND {ids('SELECT record_id FROM assignments WHERE user_id = :uid AND active')})"
        )
        if gids:
            held.append(f"(r.agency_id = :aid AND r.group_id IN ({','.join(str(g) for g in gids)}))")
        if agency_wide:
            held.append("r.agency_id = :aid")
    referred = [
        ids("SELECT record_id FROM referrals WHERE to_user_id = :uid AND status IN ('pending', 'accepted')"),
    ]
    if inbox is not None:
        referred.append(
            ids(
                "SELECT record_id FROM referrals WHERE to_agency_id = :inbox AND to_user_id IS NULL AND status = 'pending'"
            )
        )
        params["inbox"] = inbox
    # (scope, held within it)
    parts = [(" OR ".join([*held, *referred]), " OR ".join(held))]
    if agency_wide and aid is not None:
        parts = [("r.agency_id = :aid", "TRUE"), (" OR ".join(["r.owner_id = :uid", *referred]), " OR ".join(held))]
    where = ["r.module = 'gbv'", "r.record_type = 'case'"]
    if q["stage"]:
        where.append("r.stage = :stage")
        params["stage"] = q["stage"]
    if q["from"]:
        where.append("r.created_at >= :dfrom")
        params["dfrom"] = datetime.fromisoformat(q["from"]).replace(tzinfo=UTC)
    if q["to"]:
        where.append("r.created_at < :dto")
        params["dto"] = datetime.fromisoformat(q["to"]).replace(tzinfo=UTC) + timedelta(days=1)

    def part_where(scope: str, held_here: str) -> str:
        found = [*where, f"({scope})"]
        if q["q"]:
            needle = q["q"].strip()
            params["upper"], params["lower"] = needle.upper() + "%", needle.lower() + "%"
            alts = ["r.short_id LIKE :upper", "r.id LIKE :lower"]
            if sees_code:
                col = "blind" if digest is not None else "data"
                code = digest if digest is not None else needle
                if pg:
                    # the answer as text, which its search index serves, looked up first on its own:
                    # next to the scope, the planner may read every held record (a team's thousands)
                    alts.append(
                        f"(({held_here}) AND r.id = ANY(ARRAY(SELECT a.id FROM records a WHERE a.module = 'gbv' "
                        f"AND a.record_type = 'case' AND a.{col} ->> 'survivor_code' = :code)))"
                    )
                else:
                    alts.append(f"(({held_here}) AND json_extract(r.{col}, '$.survivor_code') = :code)")
                params["code"] = code
            found.append(f"({' OR '.join(alts)})")
        return " AND ".join(found)

    columns = "r.id, r.short_id, r.stage, r.version, r.owner_id, r.updated_at, r.created_at"
    wheres = [part_where(scope, held_here) for scope, held_here in parts]
    if len(wheres) == 1:
        sql = f"SELECT {columns} FROM records r WHERE {wheres[0]} ORDER BY r.updated_at DESC, r.id LIMIT 50"
        count = f"SELECT count(*) FROM (SELECT r.id FROM records r WHERE {wheres[0]} LIMIT 1001) t"
        return sql, count, params
    firsts = " UNION ".join(
        f"SELECT * FROM (SELECT r.id, r.updated_at FROM records r WHERE {w} ORDER BY r.updated_at DESC, r.id LIMIT 50) p{n}"
        for n, w in enumerate(wheres)
    )
    sql = (
        f"SELECT {columns} FROM records r JOIN (SELECT id, updated_at FROM ({firsts}) f "
        "ORDER BY updated_at DESC, id LIMIT 50) page ON page.id = r.id ORDER BY r.updated_at DESC, r.id"
    )
    counted = " UNION ".join(
        f"SELECT * FROM (SELECT r.id FROM records r WHERE {w} LIMIT 1001) c{n}" for n, w in enumerate(wheres)
    )
    return sql, f"SELECT count(*) FROM ({counted}) t", params


# -- reports and exports (bench_reports, as a subprocess) ------------------------------------------------


def report_rows(run: Run) -> None:
    sc = run.scale
    cmd = [PY, "-m", "tests.benchmarks.bench_reports", "--incidents", str(sc.isp_incidents)]
    cmd += ["--export-records", str(sc.export_records), "--repeat", str(sc.isp_repeat), "--db", ADMIN]
    done = subprocess.run(cmd, cwd=ROOT, env=run.env, capture_output=True, text=True, check=False)
    out = done.stdout
    m_s = re.search(r"Sanad\s+([\d.]+) s", out)
    m_h = re.search(r"hand SQL\s+([\d.]+) s", out)
    m_r = re.search(r"peak RSS\s+([\d.]+) MB", out)
    m_l = re.search(r"export of ([\d,]+) records", out)
    if done.returncode == 2 or not (m_s and m_h and m_r):
        raise Broken(f"bench_reports failed ({done.returncode}): {done.stderr[-1500:]}")
    s, h, rss = float(m_s.group(1)), float(m_h.group(1)), float(m_r.group(1))
    run.add(
        Row(
            f"ISP monthly set, {sc.isp_incidents:,} incidents (bench_reports)",
            f"{s:.2f} s",
            f"{h:.2f} s (hand GROUP BY)",
            s / h if h else None,
            "<= 1.5x",
            s / h <= 1.5 if h else False,
        )
    )
    run.add(
        Row(
            f"export {m_l.group(1) if m_l else sc.export_records} records, de-identified CSV (bench_reports)",
            f"peak RSS {rss:.0f} MB",
            "",
            None,
            "< 200 MB",
            rss < 200,
        )
    )


# -- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--db", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="server workers (default: CPUs)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument(
        "--rounds",
        type=whole_number("rounds", 20),
        default=3,
        help="the mixed load's rounds at each user count: Sanad, the baseline and the floor take turns, each "
        "round a share of the scale's duration (default: 3; 1 measures each load in one run)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["mixed", "lists", "cpu", "flat", "sqlite", "reports", "memory"],
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the PostgreSQL databases and the key file at the end (printed), to --reuse them",
    )
    parser.add_argument(
        "--reuse",
        metavar="URL",
        help="measure on this PostgreSQL database, seeded by an earlier --keep run of the same scale, instead of "
        "seeding one (its key file: --key-file or $SANAD_KEY_FILE); it is never dropped",
    )
    parser.add_argument("--key-file", metavar="PATH", help="the key file of the --reuse database")
    args = parser.parse_args(argv)
    if args.reuse and not (args.key_file or os.environ.get("SANAD_KEY_FILE")):
        parser.error("--reuse needs the key file of that database: --key-file PATH or $SANAD_KEY_FILE")
    sc = SCALES[args.scale]
    workdir = tempfile.mkdtemp(prefix="sanad-bench-svc-")
    env = {
        **os.environ,
        "PYTHONPATH": ROOT,
        "SANAD_DATA_DIR": os.path.join(workdir, "data"),
        "SANAD_SECRET_KEY": SECRET,
    }
    os.environ.update(SANAD_DATA_DIR=env["SANAD_DATA_DIR"], SANAD_SECRET_KEY=SECRET)
    if args.reuse:
        env["SANAD_KEY_FILE"] = os.environ["SANAD_KEY_FILE"] = os.path.abspath(
            args.key_file or os.environ["SANAD_KEY_FILE"]
        )
    workers = args.workers
    run = Run(args, sc, env, workdir, workers, rounds=args.rounds)
    if workers > 1 and not serve_has_workers(env):
        run.notes.append(
            f"'sanad serve' has no --workers in this checkout: every server runs 1 worker (asked {workers})"
        )
        run.workers = workers = 1
    run.notes.append(
        f"data: {'sanad seed' if seed_command() else 'the demo cloned (sanad seed is not in this checkout)'}"
    )
    pg_urls: list[str] = []
    code = 0
    t_start = time.perf_counter()
    try:
        use_pg = args.db in ("postgresql", "both")
        use_sqlite = args.db in ("sqlite", "both")

        def new_db(kind: str, cases: int, tag: str) -> Data:
            if kind == "postgresql":
                url = pg_create()
                pg_urls.append(url)
            else:
                url = f"sqlite:///{workdir}/{tag}.db"
            return seed(
                url, cases, sc.incidents if cases == sc.cases else 0, sc.audit if cases == sc.cases else 0, env, sc
            )

        main_kind = "postgresql" if use_pg else "sqlite"
        if args.reuse:
            big = reused(args.reuse, env)
            run.notes.append(f"data: {big.cases:,} cases of an earlier run, reused ({display(args.reuse)})")
        else:
            say(f"seeding the {main_kind} database: {sc.cases:,} cases")
            big = new_db(main_kind, sc.cases, "large")
        if big.url.startswith("postgresql"):
            run.notes.append(f"PostgreSQL: {pg_settings(big.url)}")
        crowd = Crowd(big)
        at_n: Outcome | None = None
        if "mixed" not in args.skip:
            outs = mixed_rows(run, big, crowd, main_kind)
            at_n = outs.get(50)
        if "memory" not in args.skip:
            scaling_and_memory(run, big, crowd, at_n)
        if "lists" not in args.skip:
            list_rows(run, big)
        if "cpu" not in args.skip:
            cpu_rows(run, big, crowd)
        if "flat" not in args.skip:
            say(f"seeding the small {main_kind} database: {sc.small_cases:,} cases")
            small = new_db(main_kind, sc.small_cases, "small")
            small_crowd = Crowd(small)
            f_small = flat_measure(small, small_crowd, run)
            f_large = flat_measure(big, crowd, run)
            flat_rows(run, f_small, f_large, small.cases, big.cases)
        if use_sqlite and use_pg and "sqlite" not in args.skip:
            say(f"seeding the SQLite database: {sc.sqlite_cases:,} cases")
            lite = new_db("sqlite", sc.sqlite_cases, "sqlite")
            lite_crowd = Crowd(lite)
            with sanad_server(lite.url, workers, env, workdir) as srv:
                s = asyncio.run(_ensure_and_run(lite_crowd, srv.port, 10, sc.warmup, sc.duration))
                log = srv.log_text()
            with baseline_server(lite.url, workers, env, workdir) as bsrv:
                b = asyncio.run(baseline_load(bsrv.port, 10, sc.warmup, sc.duration))
            locked = sum(v for k, v in s.errors.items() if LOCKED in k) + log.count(LOCKED)
            run.add(
                Row(
                    f"mixed load, SQLite, {lite.cases:,} cases, 10 users, {workers} worker(s)",
                    load_text(s),
                    load_text(b),
                    s.rate / b.rate if b.rate else None,
                    'no "database is locked", p95 < 500 ms',
                    locked == 0 and s.pct(0.95) < 0.5,
                    {"sanad": load_data(s), "baseline": load_data(b), "locked": locked},
                )
            )
        if use_pg and "reports" not in args.skip:
            say("bench_reports: ISP monthly set and export memory")
            report_rows(run)
    except Broken as exc:
        print(f"broken: {exc}", file=sys.stderr)
        logs = sorted(
            (os.path.join(workdir, f) for f in os.listdir(workdir) if f.endswith(".log")), key=os.path.getmtime
        )
        if logs:
            with open(logs[-1], encoding="utf-8", errors="replace") as fh:
                print(f"the end of {os.path.basename(logs[-1])}:\n{fh.read()[-3000:]}", file=sys.stderr)
        code = 2
    except Exception:
        traceback.print_exc()
        code = 2
    finally:
        if args.keep:
            key = env.get("SANAD_KEY_FILE") or os.path.join(env["SANAD_DATA_DIR"], "sanad.key")
            for url in pg_urls:
                print(f"kept: {url} (key file {key}); drop it with DROP DATABASE when done", file=sys.stderr)
        else:
            for url in pg_urls:
                try:
                    pg_drop(url)
                except Exception as exc:
                    print(f"could not drop {url}: {exc}", file=sys.stderr)
            shutil.rmtree(workdir, ignore_errors=True)
    missed = [r for r in run.rows if r.met is False]
    if code == 0 and missed:
        code = 1
    header = (
        f"\nSanad service benchmark, scale {args.scale}, {run.workers} worker(s), {os.cpu_count()} CPUs, "
        f"{time.perf_counter() - t_start:.0f} s"
    )
    print(header)
    print(table(["what", "Sanad", "baseline (same run)", "ratio", "goal"], [r.cells() for r in run.rows], right={3}))
    for n in run.notes:
        print(f"note: {n}")
    result = {
        "scale": args.scale,
        "workers": run.workers,
        "cpus": os.cpu_count(),
        "exit": code,
        "notes": run.notes,
        "rows": [
            {
                "what": r.what,
                "sanad": r.sanad,
                "baseline": r.baseline,
                "ratio": r.ratio,
                "goal": r.goal,
                "met": r.met,
                **r.data,
            }
            for r in run.rows
        ],
    }
    print(
        "\n"
        + json.dumps(
            {k: v for k, v in result.items() if k != "rows"}
            | {
                "rows": [
                    {k: v for k, v in r.items() if k in ("what", "sanad", "baseline", "ratio", "goal", "met")}
                    for r in result["rows"]
                ]
            },
            indent=1,
        )
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1, default=str)
    print(f"\nexit {code}: " + ("every goal met" if code == 0 else "a goal missed" if code == 1 else "broken"))
    return code


if __name__ == "__main__":
    sys.exit(main())
