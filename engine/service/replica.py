"""Reports read from a replica: a copy of the database that PostgreSQL keeps up to date (a streaming
replica, a hot standby), so that counting a year of incidents does not take the primary's CPU and
disk from the caseworkers who are saving.

Only the counting moves (`reports.compute`). Who may run a report, over which records (their agency,
their teams), is decided on the primary, in the request's own transaction, and the report's audit
entry is written there: a standby accepts no writes, and the audit log has one chain. Record pages,
lists and exports never read the replica: a copy a few seconds behind could still show a record to
someone whose access was just taken away. A report counts records and hides small counts; a few
seconds of lag changes a count, never who sees a survivor's answers.

A replica that cannot be reached is not an outage: the report is counted on the primary, as without a
replica, and the log says so (once a minute). Each reading session is read-only, so a replica URL that
points at the primary itself (a pool of its own for reports) can never write either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.service.database import driver_message
from engine.storage import db, sealing

log = logging.getLogger("sanad.replica")

#: after the replica failed, reports go to the primary for this long (seconds) before it is tried again:
#: a replica that is down costs one report a connection timeout, not every report
RETRY_AFTER = 60.0
#: how long a report waits to connect to the replica before it is counted on the primary (seconds), unless
#: the URL sets its own `connect_timeout`
CONNECT_TIMEOUT = 3

_READ_ONLY = text("SET TRANSACTION READ ONLY")


class ReplicaError(Exception):
    """A replica that cannot serve this app: not PostgreSQL, unreachable, or at another schema."""


@dataclass
class Replica:
    url: str
    engine: Engine
    factory: sessionmaker[Session]
    #: time.monotonic() until which the replica is skipped (after a failure)
    down_until: float = field(default=0.0)

    @classmethod
    def open(cls, url: str, keys: sealing.KeySource) -> Replica:
        """The replica at `url`, its sealed answers opened with the primary's key file (the same data).
        Raises ReplicaError for a database that cannot be one (SQLite: a file has no replica)."""
        if not url.startswith("postgresql"):
            raise ReplicaError(
                f"the reports database {db.display_url(url)} is not PostgreSQL: a replica for reports is a "
                "PostgreSQL streaming replica of the main database (give a postgresql:// URL, or no "
                "--reports-db)"
            )
        engine = db.make_engine(url, connect_timeout=CONNECT_TIMEOUT)
        sealing.bind(engine, keys)
        return cls(url, engine, db.session_factory(engine))

    def check(self, head: str | None) -> None:
        """Raise ReplicaError, saying what to do, unless the replica answers and has the schema this
        app needs (`head`: the primary's migration). A replica of another database, or one that has not
        replayed the latest migration yet, would count with the wrong tables."""
        where = db.display_url(self.url)
        try:
            found = db.current_revision(self.engine)
        except DBAPIError as exc:
            raise ReplicaError(f"the reports database {where} cannot be reached: {driver_message(exc)}") from None
        if found != head:
            raise ReplicaError(
                f"the reports database {where} is at schema {found or 'none'}, the main database at {head}: "
                "it is not a replica of the main database, or it has not caught up with its last migration "
                "(wait, or check the replication)"
            )

    @contextmanager
    def reading(self, fallback: Session) -> Iterator[Session]:
        """A read-only session on the replica, for the block; `fallback` (the request's own session, on
        the primary) when the replica cannot be reached or failed within the last RETRY_AFTER seconds."""
        session = self._connected()
        if session is None:
            yield fallback
            return
        try:
            yield session
        except DBAPIError as exc:
            # the replica went away during the report: the next ones are counted on the primary
            if exc.connection_invalidated:
                self._failed(exc)
            raise
        finally:
            session.rollback()  # nothing was written: there is nothing to keep
            session.close()

    def _connected(self) -> Session | None:
        """A session on the replica in a read-only transaction, or None (it is down, or just failed)."""
        if time.monotonic() < self.down_until:
            return None
        session = self.factory()
        try:
            session.execute(_READ_ONLY)  # the first statement: connects, and starts the transaction
        except DBAPIError as exc:
            session.close()
            self._failed(exc)
            return None
        return session

    def _failed(self, exc: DBAPIError) -> None:
        self.down_until = time.monotonic() + RETRY_AFTER
        log.warning(
            "the reports database %s cannot be reached (%s): reports are counted on the main database for "
            "the next %d s",
            db.display_url(self.url),
            driver_message(exc),
            RETRY_AFTER,
        )

    def dispose(self) -> None:
        self.engine.dispose()
