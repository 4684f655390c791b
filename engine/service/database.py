"""The service's handle on the database: opening it, one transaction per unit of work, migrations.

The web app and the command line hold a `Database` and run their work through `run` or
`transaction`; they never write SQL. Errors of concurrent writers become a `Conflict` the user can
act on (reload, try again) instead of a server error."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.service.errors import Conflict
from engine.storage import db

T = TypeVar("T")

#: an open unit of work, passed from `run`/`transaction` to the use cases (opaque to callers)
Unit = Session

data_dir = db.data_dir
private_folder = db.private_folder
resolve_url = db.resolve_url
display_url = db.display_url


class DatabaseUnavailable(Exception):
    """The database cannot be used as it is (unreachable, empty, or in need of a migration)."""


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    @classmethod
    def open(cls, url: str) -> Database:
        engine = db.make_engine(url)
        return cls(url, engine, db.session_factory(engine))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error."""
        with db.transaction(self.factory) as session:
            yield session

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
        except OperationalError as exc:
            if "locked" in str(exc).lower():
                raise Conflict("the database is busy; try again") from None
            raise

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
        except DatabaseUnavailable:
            raise
        except Exception as exc:  # connection problems: say which database and why
            raise DatabaseUnavailable(f"cannot use the database {where}: {str(exc).splitlines()[0]}") from None
