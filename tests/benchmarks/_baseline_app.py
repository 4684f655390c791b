"""The baseline of the service benchmark's mixed load: a bare Starlette app whose one route does one
primary-key SELECT on the same database as Sanad (`records` by id), with the same engine settings
(`engine.storage.db.make_engine`: driver, pool) and the same way of running blocking database work
(Starlette's thread pool, 40 threads; Sanad's requests go through its own limit, `serve --threads`,
4 by default), served by uvicorn with the same number of workers.

    BASELINE_DB=URL python -m uvicorn tests.benchmarks._baseline_app:app --port P [--workers N]
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.storage import db

_engine: Any = None
_ids: list[str] = []


def _setup() -> None:
    global _engine
    if _engine is None:
        _engine = db.make_engine(os.environ["BASELINE_DB"])
        with _engine.connect() as conn:
            _ids.extend(str(x) for x in conn.execute(text("SELECT id FROM records LIMIT 10000")).scalars())


def _one() -> dict[str, Any]:
    rid = random.choice(_ids) if _ids else ""
    with _engine.connect() as conn:
        row = conn.execute(text("SELECT id, short_id, stage, version FROM records WHERE id = :id"), {"id": rid}).first()
    return {"id": row[0], "short_id": row[1], "stage": row[2], "version": row[3]} if row else {}


async def one(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_one))


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    _setup()
    yield
    _engine.dispose()


app = Starlette(routes=[Route("/", one)], lifespan=_lifespan)
