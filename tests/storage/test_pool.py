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


def _prepared_after_repeats(engine: Any) -> int:
    """Statements prepared on the server after one statement ran ten times on one connection."""
    with engine.connect() as conn:
        for n in range(10):
            conn.execute(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
        return int(conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() or 0)


def test_statements_run_often_are_prepared_unless_turned_off(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PgBouncer in transaction mode before 1.21 (or without max_prepared_statements) hands each
    transaction any server connection, where a statement prepared on another does not exist:
    SANAD_DB_PREPARED_STATEMENTS=off is the setting for it (docs/operations.md)."""
    engine = db.make_engine(pg_url)
    assert _prepared_after_repeats(engine) >= 1
    engine.dispose()
    monkeypatch.setenv(db.PREPARED_STATEMENTS, "off")
    engine = db.make_engine(pg_url)
    assert _prepared_after_repeats(engine) == 0
    engine.dispose()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SANAD_DB_PREPARED_STATEMENTS", "maybe", "give 'on' (the default) or 'off'"),
        ("SANAD_DB_POOL_SIZE", "lots", "SANAD_DB_POOL_SIZE='lots': give a whole number of connections, 1 or more"),
        ("SANAD_DB_MAX_OVERFLOW", "-1", "SANAD_DB_MAX_OVERFLOW='-1': give a whole number of connections, 0 or more"),
    ],
)
def test_a_database_setting_that_cannot_be_used_is_named(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, says: str
) -> None:
    from engine.cli import main

    monkeypatch.setenv(name, value)
    assert main(["users", "list", "--db", pg_url]) == 1
    err = capsys.readouterr().err
    assert says in err and "internal error" not in err and "Traceback" not in err


def test_a_prepared_statement_gone_from_the_connection_says_how_to_fix_it(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What PgBouncer in transaction mode does to a prepared statement (the next transaction runs on
    another server connection, where it does not exist), done here by deallocating it behind the
    driver's back: the request fails, and the log says which setting to change. (Tried for real
    with PgBouncer 1.18: sign-ins failed with this error; docs/operations.md.)"""
    from sqlalchemy.exc import DBAPIError

    from engine.service.database import Database

    database = Database.open(pg_url)
    query = text("SELECT CAST(:n AS integer) + 1")
    for n in range(6):
        with database.transaction() as session:
            session.execute(query, {"n": n})
    with database.engine.connect() as conn:  # unseen by the driver: a DEALLOCATE of its own it notices
        conn.execute(text(_DEALLOCATE_EVERY_STATEMENT))
        conn.commit()
    with pytest.raises(DBAPIError), database.transaction() as session:
        session.execute(query, {"n": 7})
    assert "SANAD_DB_PREPARED_STATEMENTS=off" in caplog.text
    database.dispose()


_DEALLOCATE_EVERY_STATEMENT = (
    "DO $$ DECLARE n text; BEGIN FOR n IN SELECT name FROM pg_prepared_statements "
    "LOOP EXECUTE 'DEALLOCATE ' || quote_ident(n); END LOOP; END $$"
)
