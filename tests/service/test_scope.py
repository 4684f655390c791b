"""The one scope rule: a record is in a user's lists exactly when opening it succeeds.

Lists and counts use the SQL that storage/scope.py builds from the policy's Reach; opening one
record uses Reach.relation on who holds it. Random worlds of users (every role of the GBV module,
two agencies, groups), records, assignments and referrals (to users and to agencies, pending,
accepted and declined) check that the two agree, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engine.runtime.registry import Registry
from engine.service import accounts, listing
from engine.service.context import Context, load
from engine.service.database import Database
from engine.service.errors import Forbidden, NotFound
from engine.storage.models import Agency, Assignment, Group, Record, Referral, User, UserGroup
from tests.conftest import ROOT, stored_record

GBV = os.path.join(ROOT, "definitions", "gbv")
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load([GBV])


def _world(database: Database, registry: Registry, rng: random.Random) -> None:
    module = registry.modules["gbv"]
    with database.transaction() as s:
        agencies = [Agency(code=f"agency_{i}", name=f"Agency {i}") for i in range(2)]
        s.add_all(agencies)
        s.flush()
        groups = [Group(code=f"team_{i}", name=f"Team {i}", agency_id=agencies[i % 2].id) for i in range(4)]
        s.add_all(groups)
        s.flush()
        users = []
        for i in range(14):
            role = list(module.roles)[i % len(module.roles)]
            agency = rng.choice(agencies)
            u = User(
                username=f"u{i}",
                password_hash="-",
                module="gbv",
                role=role,
                agency_id=agency.id if rng.random() < 0.9 else None,
                disabled=False,
                created_at=NOW,
            )
            s.add(u)
            s.flush()
            for g in rng.sample([g for g in groups if g.agency_id == agency.id], rng.randint(0, 2)):
                s.add(UserGroup(user_id=u.id, group_id=g.id))
            users.append(u)
        for n in range(40):
            owner = rng.choice(users)
            rec = stored_record(
                owner,
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                short_id=f"C-{n:06d}",
                group_id=rng.choice([None, *(g.id for g in groups)]),
                at=NOW,
            )
            s.add(rec)
            s.flush()
            if rng.random() < 0.3:
                s.add(
                    Assignment(
                        record_id=rec.id,
                        user_id=rng.choice(users).id,
                        by_user_id=owner.id,
                        at=NOW,
                        active=rng.random() < 0.8,
                    )
                )
            for _ in range(rng.choice([0, 0, 1, 2])):
                to_agency = rng.random() < 0.4
                s.add(
                    Referral(
                        record_id=rec.id,
                        transition="refer_psychosocial",
                        to_user_id=None if to_agency else rng.choice(users).id,
                        to_agency_id=rng.choice(agencies).id if to_agency else None,
                        by_user_id=owner.id,
                        forms=["consent_referrals"],
                        status=rng.choice(["pending", "accepted", "declined"]) if not to_agency else "pending",
                        at=NOW,
                    )
                )


@pytest.fixture(params=[1, 2, 3])
def world(request: pytest.FixtureRequest, db_url: str, registry: Registry) -> Iterator[Database]:
    database = Database.open(db_url)
    _world(database, registry, random.Random(request.param))
    yield database
    database.dispose()


def test_a_record_is_listed_exactly_when_it_can_be_opened(world: Database, registry: Registry) -> None:
    module = registry.modules["gbv"]
    checked = 0
    with world.transaction() as s:
        for user in s.query(User).order_by(User.id):
            ctx = Context(s, user, accounts.actor_for(s, user, module), module, registry.policies["gbv"])
            try:
                listed = {
                    item["id"]
                    for page in range(1, 4)
                    for item in listing.list_records(ctx, "case", None, None, page, page_size=20)["items"]
                }
            except Forbidden:
                listed = set()  # a role that may not read cases lists nothing, and opens nothing
            opened = set()
            for rec in s.query(Record):
                try:
                    load(ctx, "case", rec.id)
                    opened.add(rec.id)
                except NotFound:
                    pass
            assert listed == opened, f"{user.username} ({user.role}): listed {len(listed)}, can open {len(opened)}"
            counts = dict(listing.stage_counts(ctx, "case"))
            if ctx.actor.role.scope in ("agency", "all"):
                assert sum(counts.values()) == len(opened) or not ctx.policy.may_on_type(ctx.actor, "case", "read")
            checked += len(opened)
    assert checked > 0
