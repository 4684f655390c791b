"""Finding 17: at database level, the application's own PostgreSQL user could TRUNCATE audit_log,
and on SQLite `INSERT OR REPLACE` rewrote an entry."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from engine.cli import main
from engine.language.loader import load_module
from engine.service import accounts
from engine.service.database import Database
from tests.security.conftest import MODULE
from tests.server import database


def _with_entries(url: str, make_module: object) -> None:
    """A user added: the audit log has an entry."""
    module = load_module(make_module(MODULE)).module  # type: ignore[operator]
    target = Database.open(url)
    with target.transaction() as session:
        accounts.add_user(
            session, accounts.hasher(cheap=True), module, "amina", "long enough pw", "caseworker", "a", ["t"]
        )
    target.dispose()


def test_sqlite_refuses_to_replace_an_audit_entry(tmp_path: object, make_module: object) -> None:
    with database("sqlite", tmp_path) as url:
        _with_entries(url, make_module)
        _refuses_replace(url)


def _refuses_replace(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        first = conn.execute(text("SELECT id, action FROM audit_log ORDER BY id LIMIT 1")).one()
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(
            text("INSERT OR REPLACE INTO audit_log (id, at, action, details) VALUES (:id, '2026-01-01', 'x', '{}')"),
            {"id": first.id},
        )
    with engine.begin() as conn:
        assert (
            conn.execute(text("SELECT action FROM audit_log WHERE id = :id"), {"id": first.id}).scalar() == first.action
        )
    engine.dispose()


def test_the_app_role_may_only_insert_and_read_the_audit_log(
    tmp_path: object, make_module: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with database("postgresql", tmp_path) as url:
        _with_entries(url, make_module)
        _app_role(url, capsys)


def _app_role(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    role = f"sanad_app_{uuid.uuid4().hex[:8]}"
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    try:
        assert main(["db", "grant", role, "--db", url]) == 0, capsys.readouterr().err
        app_url = url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{role}@")
        app = create_engine(app_url)
        with app.begin() as conn:  # what the application does works
            conn.execute(text("INSERT INTO audit_log (at, action, details) VALUES (now(), 'test', '{}')"))
            assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() >= 1
            conn.execute(text("SELECT count(*) FROM records")).scalar()
        for statement in ("TRUNCATE audit_log", "UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError), app.begin() as conn:
                conn.execute(text(statement))
        app.dispose()
    finally:
        with owner.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        owner.dispose()
