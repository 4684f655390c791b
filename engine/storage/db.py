"""Connecting to the database (SQLite by default, PostgreSQL for real deployments) and migrating it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine.storage import chain, keys, sealing  # chain and sealing also register their events

ENV_URL = "SANAD_DATABASE_URL"


def data_dir() -> str:
    """Where the default SQLite database lives: $SANAD_DATA_DIR, else the user's data folder."""
    base = os.environ.get("SANAD_DATA_DIR")
    if not base:
        xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        base = os.path.join(xdg, "sanad")
    return base


def private_folder(path: str) -> None:
    """Make the folder if needed, readable by its owner only (it holds survivors' records)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


def private_sqlite_file(url: str) -> None:
    """A SQLite database file readable and writable by its owner only (SQLite gives its -wal and
    -shm files the same mode), in a private folder when Sanad makes the folder."""
    from sqlalchemy.engine import make_url

    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        private_folder(folder)
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    elif os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)


def resolve_url(url: str | None) -> str:
    """--db, then $SANAD_DATABASE_URL, then a SQLite file in the data folder (created if needed)."""
    if url:
        return url
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    folder = data_dir()
    private_folder(folder)
    return "sqlite:///" + os.path.join(folder, "sanad.db")


def display_url(url: str) -> str:
    """The URL without a password, for messages and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, connect_timeout: int = 10) -> Engine:
    """An engine for `url`. PostgreSQL: a connection attempt gives up after `connect_timeout` seconds,
    unless the URL sets its own `connect_timeout`."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # a connection idle for a while is checked before use (a restarted server's dead connections are
    # replaced: _ping_when_idle), and a connection attempt to a server that does not answer gives up
    # after `connect_timeout` seconds instead of hanging requests
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    timeout = (
        {}
        if "connect_timeout" in parsed.query or parsed.get_driver_name() not in ("psycopg", "psycopg2")
        else {"connect_timeout": connect_timeout}
    )
    # per process: each server process (`serve --workers N`) has its own pool (docs/operations.md)
    pool = {
        "pool_size": _whole_setting("SANAD_DB_POOL_SIZE", 5, 1),
        "max_overflow": _whole_setting("SANAD_DB_MAX_OVERFLOW", 10, 0),
    }
    connect: dict[str, Any] = dict(timeout)
    if parsed.get_driver_name() == "psycopg" and not prepared_statements():
        connect["prepare_threshold"] = None  # psycopg never prepares a statement on the server
    engine = create_engine(url, connect_args=connect, **pool)
    _ping_when_idle(engine)
    if parsed.get_dialect().name == "postgresql":
        _planned_for_values(engine)
    return engine


#: an execution option (`statement.execution_options(**{PLANNED_EACH_RUN: True})`): on PostgreSQL the
#: statement is never prepared on the server, so it is planned for its own values on every run. A
#: prepared statement run often gets one generic plan for every set of values; a list's best plan
#: depends on them (a caseworker's few hundred records are found by owner, a manager's agency is walked
#: in date order), and at 500,000 cases the generic plan took a caseworker's page from 2 to 17 ms
PLANNED_EACH_RUN = "sanad_planned_each_run"


def _planned_for_values(engine: Engine) -> None:
    """PostgreSQL: statements marked PLANNED_EACH_RUN are sent unprepared (psycopg's `prepare=False`),
    and no statement is compiled to machine code (`jit` off for the connection's session, set once when
    it connects). JIT compiles past an estimated cost: a search on the GIN indexes was priced at 3% of
    the table, and compiling took 30 ms of a statement that runs in 0.3 ms. Both were set in each list's
    transaction before (`set_config(…, true)`), one round trip of the eight a list made."""

    @event.listens_for(engine, "connect")
    def _no_jit(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SET jit = off")
        dbapi_connection.commit()

    @event.listens_for(engine, "do_execute")
    def _unprepared(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        if context is not None and context.execution_options.get(PLANNED_EACH_RUN):
            cursor.execute(statement, parameters, prepare=False)
            return True
        return None


class SettingError(ValueError):
    """A database setting of the environment that cannot be used: says which, and what it takes."""


#: psycopg prepares a statement on the server after it ran this often on a connection (its default);
#: `SANAD_DB_PREPARED_STATEMENTS=off` turns that off, for a pooler that cannot keep them (PgBouncer in
#: transaction mode before 1.21, or without `max_prepared_statements`)
PREPARED_STATEMENTS = "SANAD_DB_PREPARED_STATEMENTS"
_ON, _OFF = ("on", "yes", "true", "1"), ("off", "no", "false", "0")


def prepared_statements() -> bool:
    """Whether PostgreSQL statements run often are prepared on the server ($SANAD_DB_PREPARED_STATEMENTS,
    on by default)."""
    text = (os.environ.get(PREPARED_STATEMENTS) or "on").strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise SettingError(
        f"{PREPARED_STATEMENTS}={os.environ.get(PREPARED_STATEMENTS)!r}: give 'on' (the default) or 'off' "
        "(off behind PgBouncer in transaction mode older than 1.21, or without max_prepared_statements)"
    )


def _whole_setting(name: str, default: int, low: int) -> int:
    text = (os.environ.get(name) or "").strip()
    if not text:
        return default
    try:
        n = int(text)
    except ValueError:
        n = low - 1
    if n < low:
        raise SettingError(f"{name}={text!r}: give a whole number of connections, {low} or more (default {default})")
    return n


#: a pooled connection that has been idle longer than this (seconds) is checked before use
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has been idle for a while (a restarted or
    failed-over server, a firewall that dropped idle connections): a dead one is replaced and the
    request does not notice. A connection in use a moment ago is not checked: a round trip on every
    request would cost more than the rare request that meets a restart (it answers 503, "try again",
    and the pool starts afresh)."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since <= PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the pooled connection is dead; a new one is opened") from exc


_IDLE_SINCE = "sanad_idle_since"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        session.info[chain.OWN_TRANSACTION] = True
        yield session


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("engine.storage") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "head")


def pending_migrations(engine: Engine) -> list[tuple[str, str]]:
    """The migrations `upgrade` would run, oldest first: each one's revision and title."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    found = reversed(list(script.iterate_revisions("head", current_revision(engine) or "base")))
    return [(r.revision, _title(r.doc or "")) for r in found]


#: where a migration's title ends: a colon or full stop after a word, a bracket or `code`
_TITLE_END = re.compile(r"(?<=[a-z)`])[:.] ")


def _title(doc: str) -> str:
    """A migration's title: its docstring on one line, up to the end of its first clause."""
    return _TITLE_END.split(" ".join(doc.split()), maxsplit=1)[0]


def is_new(engine: Engine) -> bool:
    """True for a database with none of Sanad's tables (and no migration history)."""
    names = set(inspect(engine).get_table_names())
    return "alembic_version" not in names and "records" not in names


def default_key_file() -> str:
    """--key-file, else $SANAD_KEY_FILE, else sanad.key in the data folder."""
    return keys.default_path(data_dir())


sealing.set_default(lambda: sealing.KeySource(default_key_file()))
