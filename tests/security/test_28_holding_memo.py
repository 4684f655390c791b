"""Who holds a record is read once per unit of work (a case page asks six times) — and forgotten at
every write, so an access decision never uses a holding that a write of the same unit of work has
changed: an assignment added, an assignment ended by a bulk UPDATE, a record given to someone else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from engine.service.context import holding
from engine.service.database import Database
from engine.storage.models import Agency, Assignment, Record, User
from tests.conftest import stored_record

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture()
def world(db_url: str) -> Iterator[tuple[Database, str, int, int]]:
    database = Database.open(db_url)
    with database.transaction() as s:
        agency = Agency(code="a1", name="Agency 1")
        s.add(agency)
        s.flush()
        owner, other = (
            User(
                username=n,
                password_hash="-",
                module="gbv",
                role="caseworker",
                agency_id=agency.id,
                disabled=False,
                created_at=NOW,
            )
            for n in ("owner", "other")
        )
        s.add_all([owner, other])
        s.flush()
        rec = stored_record(owner, short_id="C-000001", agency_id=agency.id, at=NOW)
        s.add(rec)
        rid, oid, xid = rec.id, owner.id, other.id
    yield database, rid, oid, xid
    database.dispose()


def test_a_pending_assignment_is_seen_by_the_next_decision(world: tuple[Database, str, int, int]) -> None:
    database, rid, oid, xid = world
    with database.transaction() as s:
        rec = s.get(Record, rid)
        assert rec is not None
        assert xid not in holding(s, rec).assignee_ids
        s.add(Assignment(record_id=rid, user_id=xid, by_user_id=oid, at=NOW, active=True))  # not flushed
        assert xid in holding(s, rec).assignee_ids


def test_a_bulk_update_ending_an_assignment_is_seen(world: tuple[Database, str, int, int]) -> None:
    database, rid, oid, xid = world
    with database.transaction() as s:
        s.add(Assignment(record_id=rid, user_id=xid, by_user_id=oid, at=NOW, active=True))
    with database.transaction() as s:
        rec = s.get(Record, rid)
        assert rec is not None
        assert xid in holding(s, rec).assignee_ids
        s.execute(update(Assignment).where(Assignment.record_id == rid).values(active=False))
        assert xid not in holding(s, rec).assignee_ids


def test_a_record_given_to_another_owner_is_seen(world: tuple[Database, str, int, int]) -> None:
    database, rid, _oid, xid = world
    with database.transaction() as s:
        rec = s.get(Record, rid)
        assert rec is not None
        before = holding(s, rec)
        assert holding(s, rec) is before  # read once while nothing changes
        rec.owner_id = xid
        assert holding(s, rec).owner_id == xid
