"""Writing the audit chain (storage.chain): one entry per transaction (a page read, on a statement
compiled once) and several (a change with its side effects) are chained in order, stored as given,
and the whole log verifies, on SQLite and PostgreSQL, also when many transactions commit at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, text

from engine.service import audit
from engine.service.database import Database, Unavailable
from engine.service.errors import Conflict
from engine.storage import chain, sealing
from engine.storage.models import AuditEntry


def test_one_and_several_entries_a_transaction_are_chained_in_order(db_url: str) -> None:
    database = Database.open(db_url)
    try:
        many = [f"step {i}" for i in range(chain._MOST_AT_ONCE + 2)]  # more than one statement writes
        batches = [["read"], ["change", "side effect", "another"], ["read again"], many, ["read once more"]]
        for n, actions in enumerate(batches):
            with database.transaction() as s:
                for action in actions:
                    audit.record(s, f"test.{action.replace(' ', '_')}", username="nobody", batch=n, note=action)
        with database.transaction() as s:
            rows = s.execute(
                select(AuditEntry.id, AuditEntry.seq, AuditEntry.action, AuditEntry.details).order_by(AuditEntry.seq)
            ).all()
            expected = [f"test.{a.replace(' ', '_')}" for batch in batches for a in batch]
            assert [r.action for r in rows] == expected
            assert [r.seq for r in rows] == list(range(1, len(expected) + 1))
            # each entry keeps its own values, and the log lists them in the order they were written
            assert [r.details["note"] for r in rows] == [a for batch in batches for a in batch]
            assert [r.id for r in rows] == sorted(r.id for r in rows)
            result = chain.verify(s, sealing.session_ring(s), full=True)
            assert result.ok, result.problems
            assert result.checked == len(expected)
    finally:
        database.dispose()


def test_on_postgresql_a_transaction_leaves_one_old_version_of_the_chains_end(db_url: str) -> None:
    """Every audited transaction moves the chain's end, one row of `audit_chain`. Each write of a
    PostgreSQL row leaves its old version behind until VACUUM removes it, and until then each look-up of
    the row gets slower (0.1 to 0.2 ms more per 1,000 transactions, measured on the benchmark machine).
    Locking the row with an UPDATE before moving it left two versions per transaction; the lock is now a
    `SELECT … FOR UPDATE`, which writes no version."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row versions are PostgreSQL's")
    database = Database.open(db_url)
    try:
        with database.engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
            conn.commit()

        def versions() -> int:
            with database.engine.connect() as conn:
                return int(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM heap_page_items(get_raw_page('audit_chain', 0)) WHERE t_data IS NOT NULL"
                        )
                    ).scalar_one()
                )

        with database.transaction() as s:
            audit.record(s, "test.first", username="nobody")
        before = versions()
        for n in range(5):
            with database.transaction() as s:
                audit.record(s, "test.read", username="nobody", n=n)
        assert versions() - before == 5
    finally:
        database.dispose()


def _actions(database: Database) -> list[str]:
    """The log's actions in chain order, after checking that the whole chain verifies."""
    with database.transaction() as s:
        result = chain.verify(s, sealing.session_ring(s), full=True)
        assert result.ok, result.problems
        rows = s.execute(select(AuditEntry.seq, AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    return [r.action for r in rows]


def _write(database: Database, *actions: str) -> None:
    with database.transaction() as s:
        for action in actions:
            audit.record(s, action, username="nobody")


def test_many_transactions_at_once_make_one_chain(db_url: str) -> None:
    """Eight threads each commit transactions of one to three entries: every entry is in the chain
    once, in a place of its own, and the chain verifies."""
    database = Database.open(db_url)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                _write(database, *(f"test.t{n}_{i}_{k}" for k in range(1 + (n + i) % 3)))
        except BaseException as exc:  # reported below, with the thread's number
            failures.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures, failures
        actions = _actions(database)
        expected = {f"test.t{n}_{i}_{k}" for n in range(8) for i in range(15) for k in range(1 + (n + i) % 3)}
        assert sorted(actions) == sorted(expected)
        # each transaction's entries stay together and in order
        for n in range(8):
            for i in range(15):
                mine = [a for a in actions if a.startswith(f"test.t{n}_{i}_")]
                start = actions.index(mine[0])
                assert actions[start : start + len(mine)] == sorted(mine)
    finally:
        database.dispose()


def _postgresql_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the entries sent with the COMMIT are PostgreSQL's (SQLite has one writer at a time)")


def test_on_postgresql_the_entries_and_the_commit_are_sent_together(db_url: str) -> None:
    """The chain's end is locked from the moment a transaction reads it until it commits. The entries
    and the COMMIT go in one message, so by the time SQLAlchemy's own commit reaches the driver the
    database has already committed: the lock was not held while this thread waited for its turn
    between them."""
    _postgresql_only(db_url)
    database = Database.open(db_url)
    seen: list[str] = []
    do_commit = database.engine.dialect.do_commit

    def watching(dbapi_connection: Any) -> None:
        seen.append(dbapi_connection.driver_connection.info.transaction_status.name)
        do_commit(dbapi_connection)

    try:
        database.engine.dialect.do_commit = watching  # type: ignore[method-assign]
        _write(database, "test.read")
        _write(database, *(f"test.step_{i}" for i in range(chain._MOST_AT_ONCE + 2)))
        # a session of its caller's transaction (here: a savepoint) keeps the ordinary commit
        with database.transaction() as s:
            with s.begin_nested():
                audit.record(s, "test.in_savepoint", username="nobody")
            audit.record(s, "test.after_savepoint", username="nobody")
        assert seen == ["IDLE", "IDLE", "IDLE"]
        database.engine.dialect.do_commit = do_commit  # type: ignore[method-assign]
        assert _actions(database) == [
            "test.read",
            *(f"test.step_{i}" for i in range(chain._MOST_AT_ONCE + 2)),
            "test.in_savepoint",
            "test.after_savepoint",
        ]
    finally:
        database.dispose()


def test_on_postgresql_a_commit_refused_with_the_entries_is_refused_as_any_other(db_url: str) -> None:
    """An error the database raises on the entries sent with the COMMIT reaches the caller as
    SQLAlchemy's error of the same kind (a request answers 409 or 503 by it, not 500), and nothing of
    the transaction stays."""
    _postgresql_only(db_url)
    database = Database.open(db_url)
    try:
        _write(database, "test.first")
        with database.engine.begin() as conn:  # the chain's end may not move past 1: the next append fails
            conn.execute(text("ALTER TABLE audit_chain ADD CONSTRAINT test_stop CHECK (seq < 2)"))
        with pytest.raises(Conflict):
            database.run(lambda s: audit.record(s, "test.refused", username="nobody"))
        with database.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_chain DROP CONSTRAINT test_stop"))
        _write(database, "test.after")  # the pool's connection is still good
        assert _actions(database) == ["test.first", "test.after"]
    finally:
        database.dispose()


def test_on_postgresql_a_connection_lost_before_the_entries_is_an_outage(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database's connection is cut just before the entries and the COMMIT are sent: the caller
    gets `Unavailable` (503, try again), the pool drops the dead connection, and the next transaction
    is written."""
    _postgresql_only(db_url)
    database = Database.open(db_url)
    committing = chain._committing_connection

    def cut(session: Any, connection: Any) -> Any:
        raw = committing(session, connection)
        pid = raw.info.backend_pid
        with database.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return raw

    try:
        _write(database, "test.first")
        monkeypatch.setattr(chain, "_committing_connection", cut)
        with pytest.raises(Unavailable):
            database.run(lambda s: audit.record(s, "test.lost", username="nobody"))
        monkeypatch.undo()
        _write(database, "test.after")
        assert _actions(database) == ["test.first", "test.after"]
    finally:
        database.dispose()
