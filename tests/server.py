"""Test helpers for the records service: databases (SQLite and PostgreSQL) and signed-in clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from engine.runtime.registry import Registry
from engine.service import accounts, second_factor
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
def statements_sent(engine: Any) -> Iterator[list[str]]:
    """The SQL statements `engine` sends while the block runs (SQLAlchemy's `before_cursor_execute`)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


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

    def client(self, username: str | None = None, ip: str = "testclient", second_factor: bool = True) -> TestClient:
        """A client (signed in as `username`). Unless `second_factor` is False, it completes the
        second step of every sign-in by itself, as the person with the phone would (SignInClient):
        tests written before accounts had a second factor sign in as they did."""
        c = (SignInClient if second_factor else TestClient)(self.app, base_url="http://testserver", client=(ip, 50000))
        if isinstance(c, SignInClient):
            c.server = self
        c.__enter__()
        self.clients.append(c)
        if username:
            r = c.post("/api/v1/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
        return c

    def totp_secret(self, username: str, enrol: bool = True) -> str | None:
        """The user's TOTP secret; with `enrol`, a user whose role requires a second factor and who has
        none gets one first (as if they had set it up at their first sign-in). None: no second factor."""
        if not username or "\x00" in username:  # no such account (tests of bad input send these)
            return None
        engine = db.make_engine(self.url)
        try:
            with db.transaction(db.session_factory(engine)) as session:
                user = accounts.find_user(session, username)
                if user is None:
                    return None
                module = self.registry.module(user.module)
                if (
                    not second_factor.enabled(user)
                    and enrol
                    and module
                    and accounts.requires_second_factor(user, module)
                ):
                    second_factor.pending_secret(user)
                    second_factor.activate(accounts.hasher(cheap=True), user)
                return second_factor.secret(user) if second_factor.enabled(user) else None
        finally:
            engine.dispose()

    def totp_code(self, username: str) -> str | None:
        """A code the user's app shows now, accepted even if the test already signed in this user
        during this 30-second step (a code is accepted once: the account forgets the last one)."""
        secret = self.totp_secret(username)
        if secret is None:
            return None
        engine = db.make_engine(self.url)
        try:
            with db.transaction(db.session_factory(engine)) as session:
                user = accounts.find_user(session, username)
                assert user is not None
                user.totp_last_step = None
        finally:
            engine.dispose()
        return pyotp.TOTP(secret).now()

    def close(self) -> None:
        for c in self.clients:
            c.__exit__(None, None, None)
        self.app.state.sanad.database.dispose()
        if self.app.state.sanad.replica is not None:
            self.app.state.sanad.replica.dispose()


class SignInClient(TestClient):
    """A test client that completes the second step of a sign-in as the person with the phone would:
    over the API it adds the `code` of the account's app to /api/v1/login; on the pages, when /login
    leads to /sign-in/code it types the code there. A user whose role requires a second factor and
    who has none is given one first (Server.totp_secret)."""

    server: Server

    def post(self, url: Any, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if url == "/api/v1/login" and isinstance(body, dict) and "code" not in body and "password" in body:
            code = self.server.totp_code(str(body.get("username")))
            if code is not None:
                kwargs["json"] = {**body, "code": code}
            return super().post(url, *args, **kwargs)
        data = kwargs.get("data")
        if str(url).split("?")[0] == "/login" and isinstance(data, dict) and data.get("username"):
            name = str(data["username"])
            self.server.totp_secret(name)  # set up first when the role requires it
            response = super().post(url, *args, **kwargs)
            if response.url.path == "/sign-in/code":
                code = self.server.totp_code(name)
                target = response.url.path + (f"?{response.url.query}" if response.url.query else "")
                return super().post(target, data={"code": code}, headers=kwargs.get("headers"))
            return response
        return super().post(url, *args, **kwargs)


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


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    receive: Callable[[], Awaitable[dict[str, Any]]] = _no_body,
) -> int:
    """The status the app answers to one request driven through ASGI, with no client in between:
    for tests of concurrency (many requests on one event loop) and of bodies streamed in chunks
    (`receive` gives them; default: no body)."""
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *(headers or [])],
        "client": ("10.1.1.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return status
