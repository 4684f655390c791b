"""Writing the audit chain (storage.chain): one entry per transaction (a page read, on a statement
compiled once) and several (a change with its side effects) are chained in order, stored as given,
and the whole log verifies, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from engine.service import audit
from engine.service.database import Database
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
