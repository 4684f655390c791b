"""The PostgreSQL pool checks a connection before use only when it has been idle for a while: a dead
idle connection is replaced without the request noticing, and a busy one costs no round trip."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from engine.storage import db
from tests.server import database


@pytest.fixture
def pg_url(tmp_path: Any) -> Any:
    with database("postgresql", tmp_path) as url:
        yield url


def _kill_pooled_connection(engine: Any) -> None:
    """End the server side of the connection the pool holds (as a restart or a firewall would)."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = db.make_engine(engine.url.render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_a_dead_idle_connection_is_replaced_unnoticed(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.make_engine(pg_url)
    _kill_pooled_connection(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", -1.0)  # every connection counts as idle a long time
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar() == 42
    engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    pings: list[str] = []
    original = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append("ping")
        return bool(original(dbapi_connection))

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    for _ in range(5):
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert pings == []
    engine.dialect.do_ping = original  # type: ignore[method-assign]
    engine.dispose()
