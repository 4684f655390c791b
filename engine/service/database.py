"""The service's handle on the database: opening it, one transaction per unit of work, migrations.

The web app and the command line hold a `Database` and run their work through `run` or
`transaction`; they never write SQL. Errors of concurrent writers become a `Conflict` the user can
act on (reload, try again) instead of a server error."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.i18n import _
from engine.service.errors import Conflict, ServiceError
from engine.storage import db, report_indexes, sealing, search_indexes
from engine.storage.keys import KeyFileError
from engine.storage.models import Record, SealingKey
from engine.storage.report_indexes import Outcome as IndexOutcome

if TYPE_CHECKING:
    from engine.language.model import Module

T = TypeVar("T")

#: an open unit of work, passed from `run`/`transaction` to the use cases (opaque to callers)
Unit = Session

data_dir = db.data_dir
private_folder = db.private_folder
resolve_url = db.resolve_url
display_url = db.display_url


class DatabaseUnavailable(Exception):
    """The database cannot be used as it is (unreachable, empty, or in need of a migration)."""


class Unavailable(ServiceError):
    """The database went away during a unit of work (a restart, the network, a full disk): the work
    was rolled back, or the answer to its commit was lost; the client tries again (503, Retry-After).
    The pool checks each connection before lending it, so once the database is back the next unit
    of work succeeds, without restarting Sanad."""

    status = 503


log = logging.getLogger("sanad.database")
#: when the last warning was logged (one per 10 s): [the database unavailable, a prepared statement gone]
_warned = [0.0, 0.0]
#: SQLite errors about the file rather than the statement (a statement's error stays a bug: a 500)
_SQLITE_UNAVAILABLE = ("unable to open", "disk i/o", "disk is full", "readonly database")


def driver_message(exc: DBAPIError) -> str:
    """The driver's first line about a database error: never the statement or its values."""
    orig = str(exc.orig).strip()
    return orig.splitlines()[0] if orig else type(exc.orig).__name__


def unavailable(exc: DBAPIError, dialect: str, where: str) -> ServiceError | None:
    """What a database error means to the client: `Unavailable` if the database cannot be reached or
    used; a `Conflict` (try again) if a SQLite file stayed locked past the busy timeout or PostgreSQL
    rolled the transaction back (a deadlock, a serialization failure); else None (a bug, a 500)."""
    why = driver_message(exc)
    if dialect == "sqlite":
        if not isinstance(exc, OperationalError):
            return None
        if "locked" in why.lower() or "busy" in why.lower():
            return Conflict("the database is busy; try again")
        if not any(part in why.lower() for part in _SQLITE_UNAVAILABLE):
            return None
    elif _sqlstate(exc) == _NO_SUCH_PREPARED_STATEMENT:
        if time.monotonic() - _warned[1] > 10:
            _warned[1] = time.monotonic()
            log.error(
                "a statement prepared on this connection is gone (%s): behind PgBouncer in transaction "
                "mode before 1.21, or without max_prepared_statements, set %s=off (docs/operations.md)",
                why,
                db.PREPARED_STATEMENTS,
            )
        return None
    elif not (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)):
        return None
    elif _sqlstate(exc).startswith("40"):
        return Conflict("that collided with another change saved at the same moment; try again")
    if time.monotonic() - _warned[0] > 10:  # an outage is logged, not each of its requests
        _warned[0] = time.monotonic()
        log.warning("the database %s is unavailable: %s", where, why)
    return Unavailable(_("The database cannot be reached at the moment. Try again in a minute."), retry_after=5)


#: PostgreSQL's "prepared statement … does not exist": a pooler lent the transaction another server
#: connection than the one the statement was prepared on
_NO_SUCH_PREPARED_STATEMENT = "26000"


def _sqlstate(exc: DBAPIError) -> str:
    return str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    keys: sealing.KeySource | None = None

    @classmethod
    def open(cls, url: str, key_file: str | None = None) -> Database:
        """The database at `url`, its sealed answers opened with the key file `key_file` (default:
        $SANAD_KEY_FILE, else sanad.key in the data folder)."""
        try:
            engine = db.make_engine(url)
        except db.SettingError as exc:
            raise DatabaseUnavailable(str(exc)) from None
        source = sealing.KeySource(key_file or db.default_key_file())
        sealing.bind(engine, source)
        return cls(url, engine, db.session_factory(engine), source)

    @property
    def key_source(self) -> sealing.KeySource:
        return self.keys or sealing.source_for(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error. A database that cannot be
        reached becomes `Unavailable` (503), a write that collided a `Conflict` (see `unavailable`)."""
        try:
            with db.transaction(self.factory) as session:
                yield session
        except DBAPIError as exc:
            problem = unavailable(exc, self.engine.dialect.name, display_url(self.url))
            if problem is None:
                raise
            raise problem from exc

    def reading(self) -> Session:
        """A session for reading only (use it in a `with` block)."""
        return self.factory()

    def run(self, fn: Callable[[Session], T]) -> T:
        """`fn` in one transaction; a write that collided with another becomes a Conflict."""
        try:
            with self.transaction() as session:
                return fn(session)
        except StaleDataError:
            raise Conflict(
                "the record was changed by someone else at the same moment; reload it and apply your changes again"
            ) from None
        except IntegrityError:
            raise Conflict("that conflicts with data saved at the same moment; try again") from None

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------------
    def is_new(self) -> bool:
        return db.is_new(self.engine)

    def revision(self) -> str | None:
        return db.current_revision(self.engine)

    def head(self) -> str | None:
        return db.head_revision(self.engine)

    def upgrade(self) -> None:
        db.upgrade(self.engine)

    def pending_migrations(self) -> list[tuple[str, str]]:
        """(revision, title) of each migration `upgrade` would run, oldest first."""
        return db.pending_migrations(self.engine)

    def answer_indexes(self, modules: Iterable[Module], announce: Callable[[str], Any] | None = None) -> None:
        """The indexes the definitions ask for on answers, made where missing: the reports' periods and
        the lists' searched answers. `serve`, `db upgrade` (as the owner of the tables: an application
        role may not make them) and `seed` call this."""
        modules = list(modules)
        self.report_indexes(modules, announce)
        self.search_indexes(modules, announce)

    def report_indexes(self, modules: Iterable[Module], announce: Callable[[str], Any] | None = None) -> IndexOutcome:
        """The indexes of the reports' periods (storage.report_indexes), made where missing. Cheap when
        they are there; a failure is said, not raised."""
        outcome = report_indexes.ensure(self.engine, modules)
        if announce is not None:
            for label in outcome.sealed:
                announce(f"the report period {label} is sealed (a direct field): it is not indexed")
        _announce(
            outcome, announce, "report index", "for the reports' periods", "reports over a period read every record"
        )
        return outcome

    def search_indexes(self, modules: Iterable[Module], announce: Callable[[str], Any] | None = None) -> IndexOutcome:
        """The indexes of the lists' searched answers (storage.search_indexes, PostgreSQL), made where
        missing. Cheap when they are there; a failure is said, not raised."""
        outcome = search_indexes.ensure(self.engine, modules)
        _announce(
            outcome, announce, "search index", "for the lists' searches", "searching that answer reads more records"
        )
        return outcome

    def grant_app_role(self, role: str) -> list[str]:
        """PostgreSQL: let `role` (the application's login) use the tables, but only add to and read the
        audit log. Run as the owner of the tables (who also runs migrations). The statements run."""
        if self.engine.dialect.name != "postgresql":
            raise DatabaseUnavailable("roles are for PostgreSQL; a SQLite file has one user, its owner")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", role):
            raise DatabaseUnavailable(f"'{role}' is not a role name (letters, digits and _)")
        quoted = self.engine.dialect.identifier_preparer.quote(role)
        statements = [
            f"GRANT CONNECT ON DATABASE {self.engine.dialect.identifier_preparer.quote(self.engine.url.database or '')} TO {quoted}",
            f"GRANT USAGE ON SCHEMA public TO {quoted}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
            f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM {quoted}",
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {quoted}",
        ]
        with self.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
        return statements

    def ready(self, *, create: bool, announce: Callable[[str], Any] | None = None) -> None:
        """Make sure the tables are there and current: set up a new database when `create`, else
        say what to run. Raises DatabaseUnavailable with a message for the person running Sanad."""
        where = display_url(self.url)
        try:
            if self.is_new():
                if not create:
                    raise DatabaseUnavailable(f"the database {where} has no Sanad tables yet; run 'sanad db upgrade'")
                if announce is not None:
                    announce(f"setting up a new database at {where}")
                self.upgrade()
            elif self.revision() != self.head():
                raise DatabaseUnavailable(
                    f"the database {where} needs a migration; run 'sanad db upgrade' (back it up first)"
                )
            self.check_keys(announce)
        except DatabaseUnavailable:
            raise
        except KeyFileError as exc:
            raise DatabaseUnavailable(str(exc)) from None
        except Exception as exc:  # connection problems: say which database and why
            raise DatabaseUnavailable(f"cannot use the database {where}: {str(exc).splitlines()[0]}") from None

    def check_keys(self, announce: Callable[[str], Any] | None = None) -> None:
        """The key file is the one this database was sealed with (a new database, or one from before
        sealing, adopts the key file, made if there is none). Raises DatabaseUnavailable if not."""
        source = self.key_source
        with self.transaction() as session:
            known: dict[str, str | None] = {k.id: k.check for k in session.scalars(select(SealingKey))}
            for kid in session.scalars(select(Record.key_id).where(Record.key_id.is_not(None)).distinct()):
                if kid is not None:
                    known.setdefault(kid, None)  # sealed with it, though no check value was kept
            if not source.exists():
                if known:
                    raise DatabaseUnavailable(
                        f"this database was sealed with the key {', '.join(sorted(known))}, but there is no key "
                        f"file at {source.path}: give the right one with --key-file or $SANAD_KEY_FILE"
                    )
                if announce is not None:
                    announce(f"made a new key file at {source.path}: back it up, and keep it apart from the database")
            ring = source.ring()
            for kid, check in known.items():
                if kid not in ring.keys:
                    raise DatabaseUnavailable(
                        f"this database was sealed with the key {kid}, which is not in {source.path}: "
                        "give the key file this database was sealed with (--key-file or $SANAD_KEY_FILE)"
                    )
                if check is not None and ring.check(kid) != check:
                    raise DatabaseUnavailable(
                        f"the key {kid} in {source.path} is not the one this database was sealed with: "
                        "give the right key file (--key-file or $SANAD_KEY_FILE)"
                    )
            if ring.current not in known:
                session.add(SealingKey(id=ring.current, check=ring.check(ring.current), added_at=datetime.now(UTC)))


def _announce(outcome: IndexOutcome, announce: Callable[[str], Any] | None, what: str, why: str, without: str) -> None:
    """Say which indexes (`what`, made `why`) were made, and which could not be (meanwhile `without`)."""
    if announce is None:
        return
    if outcome.made:
        announce(f"made {len(outcome.made)} {what}(es) {why}: {', '.join(outcome.made)}")
    for problem in outcome.failed:
        announce(
            f"could not make the {what} {problem}; {without} until 'sanad db upgrade' (as the owner of the "
            "tables) makes it"
        )
