"""The baselines of the service benchmark's mixed load: a bare Starlette app on the same database as
Sanad, with the same engine settings (`engine.storage.db.make_engine`: driver, pool) and the same way
of running blocking database work (Starlette's thread pool, limited to the pool's connections; Sanad's
requests go through its own limit, `serve --threads`, 2 by default), served by uvicorn with the same number of workers.

- `/`: one primary-key SELECT (`records` by id), the issue's baseline.
- `/floor`: what every request of Sanad's must do whatever it shows, and nothing else, in one
  transaction: read the signed-in user (by primary key; Sanad reads the session row with its user),
  read one record by primary key, and write one audit entry through Sanad's own hash chain
  (`engine.storage.chain`: lock the chain's end, hash and seal, write, commit). A request of Sanad's
  can be no cheaper than this; the ratio to it says what Sanad's own work costs (access rules,
  evaluation, rendering) beyond the work it may not skip.

    BASELINE_DB=URL python -m uvicorn tests.benchmarks._baseline_app:app --port P [--workers N]
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.service.database import Database
from engine.storage import chain, db
from engine.storage.models import AuditEntry

_engine: Any = None
_database: Database | None = None
_ids: list[str] = []
_users: list[int] = []


def _setup() -> None:
    global _engine, _database
    if _engine is None:
        _engine = db.make_engine(os.environ["BASELINE_DB"])
        # the floor's: the key file is the one Sanad's server uses ($SANAD_KEY_FILE)
        _database = Database.open(os.environ["BASELINE_DB"])
        with _engine.connect() as conn:
            _ids.extend(str(x) for x in conn.execute(text("SELECT id FROM records LIMIT 10000")).scalars())
            _users.extend(int(x) for x in conn.execute(text("SELECT id FROM users LIMIT 1000")).scalars())


def _one() -> dict[str, Any]:
    rid = random.choice(_ids) if _ids else ""
    with _engine.connect() as conn:
        row = conn.execute(text("SELECT id, short_id, stage, version FROM records WHERE id = :id"), {"id": rid}).first()
    return {"id": row[0], "short_id": row[1], "stage": row[2], "version": row[3]} if row else {}


async def one(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_one))


_USER = text("SELECT id, username, agency_id, disabled FROM users WHERE id = :id")
_RECORD = text("SELECT id, short_id, stage, version, agency_id FROM records WHERE id = :id")


def _floor() -> dict[str, Any]:
    assert _database is not None
    rid, uid = random.choice(_ids) if _ids else "", random.choice(_users) if _users else 0
    with _database.transaction() as session:
        user = session.execute(_USER, {"id": uid}).first()
        row = session.execute(_RECORD, {"id": rid}).first()
        chain.append(
            session,
            AuditEntry(
                at=datetime.now(UTC),
                user_id=user.id if user else None,
                username=user.username if user else None,
                ip="127.0.0.1",
                action="record.read",
                record_id=rid,
                details={"via": "benchmark floor"},
                agency_id=user.agency_id if user else None,
                record_agency_id=row.agency_id if row else None,
            ),
        )
    return {"id": row[0], "short_id": row[1], "stage": row[2], "version": row[3]} if row else {}


async def floor(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_floor))


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    _setup()
    # no more requests at work than the pool keeps connections: with Starlette's 40 threads on a pool
    # of 5 (and 10 beyond it, closed when handed back to a full pool), 50 users made the SELECT open a
    # new PostgreSQL connection every fifth request (1,595 in 13 s), and PostgreSQL's CPU per request
    # was mostly starting backends. Sanad's own limit (`--threads 2`) is within its pool
    to_thread.current_default_thread_limiter().total_tokens = _engine.pool.size()
    yield
    _engine.dispose()
    if _database is not None:
        _database.dispose()


app = Starlette(routes=[Route("/", one), Route("/floor", floor)], lifespan=_lifespan)
