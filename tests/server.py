"""Test helpers for the records service: databases (SQLite and PostgreSQL) and signed-in clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from engine.runtime.registry import Registry
from engine.service import accounts
from engine.storage import db
from engine.web.app import Settings, create_app

PG_ADMIN = os.environ.get("SANAD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery staple"


def postgres_available() -> bool:
    try:
        engine = db.make_engine(PG_ADMIN)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def database(kind: str, tmp_path: Any) -> Iterator[str]:
    """A fresh, migrated database of `kind` ('sqlite' or 'postgresql'); dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/sanad.db"
        db.upgrade(db.make_engine(url))
        yield url
        return
    if not postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}, and CI requires it")
        pytest.skip("PostgreSQL is not reachable")
    from sqlalchemy import text

    name = f"sanad_test_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)
        yield url
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Server:
    """An app on one database, with helpers to add users and sign them in."""

    url: str
    registry: Registry
    settings: Settings
    app: Any
    clients: list[TestClient] = field(default_factory=list)

    def add_user(
        self,
        name: str,
        role: str,
        agency: str | None = "agency_a",
        groups: tuple[str, ...] = ("team_1",),
        module: str | None = None,
        full_name: str | None = None,
    ) -> None:
        mod = self.registry.modules[module] if module else next(iter(self.registry.modules.values()))
        engine = db.make_engine(self.url)
        with db.transaction(db.session_factory(engine)) as session:
            accounts.add_user(
                session, accounts.hasher(cheap=True), mod, name, PASSWORD, role, agency, list(groups), full_name
            )
        engine.dispose()

    def client(self, username: str | None = None, ip: str = "testclient") -> TestClient:
        c = TestClient(self.app, base_url="http://testserver", client=(ip, 50000))
        c.__enter__()
        self.clients.append(c)
        if username:
            r = c.post("/api/v1/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return c

    def close(self) -> None:
        for c in self.clients:
            c.__exit__(None, None, None)
        self.app.state.sanad.database.dispose()


@contextmanager
def server(url: str, definitions: list[str], **settings: Any) -> Iterator[Server]:
    registry = Registry.load(definitions)
    s = Settings(
        definitions=definitions, database_url=url, secret_key="test-secret-" + "x" * 32, cheap_hashing=True, **settings
    )
    srv = Server(url, registry, s, create_app(s, registry))
    try:
        yield srv
    finally:
        srv.close()
