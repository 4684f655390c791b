"""Writing the audit chain (storage.chain): one entry per transaction (a page read, on a statement
compiled once) and several (a change with its side effects) are chained in order, stored as given,
and the whole log verifies, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

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
