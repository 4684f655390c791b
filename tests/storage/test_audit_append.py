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
        batches = [["read"], ["change", "side effect", "another"], ["read again"], ["read once more"]]
        for n, actions in enumerate(batches):
            with database.transaction() as s:
                for action in actions:
                    audit.record(s, f"test.{action.replace(' ', '_')}", username="nobody", batch=n, note=action)
        with database.transaction() as s:
            rows = s.execute(select(AuditEntry.seq, AuditEntry.action).order_by(AuditEntry.seq)).all()
            expected = [f"test.{a.replace(' ', '_')}" for batch in batches for a in batch]
            assert [r.action for r in rows] == expected
            assert [r.seq for r in rows] == list(range(1, len(expected) + 1))
            result = chain.verify(s, sealing.session_ring(s), full=True)
            assert result.ok, result.problems
            assert result.checked == len(expected)
    finally:
        database.dispose()
