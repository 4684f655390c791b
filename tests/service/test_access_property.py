"""The access model, as a property: in random worlds of users (every kind of role and scope), three
agencies with their groups, records at every stage, assignments (active, ended, across agencies)
and referrals (to users and to agencies, in every status, sharing random forms, some granting
write), on SQLite and PostgreSQL:

- a record appears in a user's lists exactly when opening it succeeds;
- every field returned — the record, its history, a stale save's 409 payload, list columns, search
  hits — is one the model allows;
- every workflow transition accepted is one the model allows.

The model is worked out here from docs/access.md and the roles alone, independently of
engine/runtime/policy.py."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from engine.language.model import Module, Role
from engine.runtime.registry import Registry
from engine.service import accounts, listing, records, transitions
from engine.service.context import Context
from engine.service.database import Database
from engine.service.errors import Conflict, Forbidden, Invalid, NotFound
from engine.storage.models import Agency, Assignment, Group, RecordHistory, Referral, User, UserGroup
from tests.conftest import MakeModule, stored_record
from tests.security.conftest import MODULE

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ROLES = (
    MODULE["roles.yaml"]  # type: ignore[operator]
    + """
          - id: coordinator
            label: Coordinator
            scope: all
            permissions: [case.read]
            forms: {read: [consent, plan], write: []}
            sensitivity: [none]
    """
)
FULL = {
    "consent": "yes",
    "consent_referral": "yes",
    "code": "CODE",
    "name": "Name",
    "sex": "female",
    "age": 30,
    "goal": "Goal",
    "closure_reason": "Reason",
    "services": [{"_row": "r1", "service": "Counselling", "note": "private"}],
}
OPEN = ("pending", "accepted")


@dataclass
class Ref:
    to_user: int | None
    to_agency: int | None
    status: str
    forms: frozenset[str]
    write_forms: frozenset[str]


@dataclass
class Rec:
    id: str
    short_id: str
    owner: int
    agency: int
    group: int | None
    stage: str
    assignees: dict[int, bool] = field(default_factory=dict)  # user id -> active
    refs: list[Ref] = field(default_factory=list)


@dataclass
class Person:
    id: int
    role: str
    agency: int | None
    groups: set[int]


@dataclass
class Allowed:
    relation: str
    read_forms: frozenset[str]
    write_forms: frozenset[str]
    fields: frozenset[str]  # every field id, at any depth, the user may see
    workflow: bool


def oracle(m: Module, u: Person, r: Rec) -> Allowed | None:
    """The access model of docs/access.md, written out again."""
    role: Role = m.roles[u.role]
    if role.aggregate_only or "case.read" not in role.permissions:
        return None
    mine = u.agency is not None and r.agency == u.agency
    relation = None
    if r.owner == u.id:
        relation = "owner"
    elif r.assignees.get(u.id) and mine:
        relation = "assignee"
    elif role.scope in ("group", "agency", "all") and r.group in u.groups and mine:
        relation = "group"
    elif role.scope in ("agency", "all") and mine:
        relation = "agency"
    elif role.scope == "all":
        relation = "all"
    grant_forms: set[str] = set()
    grant_write: set[str] = set()
    if relation is None:
        for ref in r.refs:
            to_me = ref.to_user == u.id and ref.status in OPEN
            to_my_agency = (
                ref.to_user is None
                and ref.status == "pending"
                and role.scope in ("agency", "all")
                and u.agency is not None
                and ref.to_agency == u.agency
            )
            if to_me or to_my_agency:
                relation = "referral"
                grant_forms |= ref.forms
                grant_write |= ref.write_forms & ref.forms
    if relation is None:
        return None
    rt = m.record_types["case"]
    read = {f for f in rt.form_ids if "*" in role.forms_read or f in role.forms_read}
    write = {f for f in rt.form_ids if "*" in role.forms_write or f in role.forms_write}
    if "case.write" not in role.permissions:
        write = set()
    if relation == "referral":
        read &= grant_forms
        write &= grant_write
    visible = frozenset(
        fid
        for fid, f in rt.all_fields.items()
        if f.form_id in read
        and f.sensitivity in role.sensitivity
        and (f.scope.owner is None or f.scope.owner.sensitivity in role.sensitivity)
    )
    return Allowed(relation, frozenset(read), frozenset(write), visible, relation != "referral")


def _fields_of(data: dict[str, Any]) -> set[str]:
    out = set()
    for k, v in data.items():
        out.add(k)
        if isinstance(v, list):
            for row in v:
                if isinstance(row, dict):
                    out |= {x for x in _fields_of(row) if x != "_row"}
    return out


def build(database: Database, m: Module, rng: random.Random) -> tuple[list[Person], list[Rec]]:
    people: list[Person] = []
    recs: list[Rec] = []
    stages = list(m.workflow_for("case").states)  # type: ignore[union-attr]
    forms = list(m.record_types["case"].form_ids)
    with database.transaction() as s:
        agencies = [Agency(code=f"agency_{i}", name=f"Agency {i}") for i in range(3)]
        s.add_all(agencies)
        s.flush()
        groups = {
            a.id: [
                Group(code="team_1", name="Team 1", agency_id=a.id),
                Group(code="team_2", name="Team 2", agency_id=a.id),
            ]
            for a in agencies
        }
        s.add_all([g for gs in groups.values() for g in gs])
        s.flush()
        for i in range(16):
            role = list(m.roles)[i % len(m.roles)]
            agency = rng.choice(agencies) if rng.random() < 0.95 else None
            user = User(
                username=f"u{i}",
                password_hash="-",
                module=m.id,
                role=role,
                agency_id=agency.id if agency else None,
                disabled=False,
                created_at=NOW,
            )
            s.add(user)
            s.flush()
            mine = set()
            if agency is not None:
                for g in rng.sample(groups[agency.id], rng.randint(0, 2)):
                    s.add(UserGroup(user_id=user.id, group_id=g.id))
                    mine.add(g.id)
            people.append(Person(user.id, role, user.agency_id, mine))
        owners = [p for p in people if p.agency is not None]
        for n in range(28):
            owner = rng.choice(owners)
            group = rng.choice([None, *(g.id for g in groups[owner.agency])])  # type: ignore[index]
            rec = stored_record(
                owner,
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                short_id=f"C-{n:06d}",
                module=m.id,
                stage=rng.choice(stages),
                agency_id=owner.agency,
                group_id=group,
                version=3,
                data={**FULL, "code": f"CODE-{n}", "name": f"Name {n}"},
                at=NOW,
            )
            s.add(rec)
            s.flush()
            r = Rec(rec.id, rec.short_id, owner.id, owner.agency, group, rec.stage)  # type: ignore[arg-type]
            for version in (2, 3):
                changed = rng.sample(["name", "goal", "closure_reason", "sex", "services"], 2)
                s.add(
                    RecordHistory(
                        record_id=rec.id,
                        version=version,
                        user_id=owner.id,
                        at=NOW,
                        action="update",
                        changes=[{"field": f, "old": None, "new": FULL[f]} for f in changed],
                    )
                )
            for _ in range(rng.choice([0, 0, 1, 2])):
                who = rng.choice(people)
                active = rng.random() < 0.75
                s.add(Assignment(record_id=rec.id, user_id=who.id, by_user_id=owner.id, at=NOW, active=active))
                r.assignees[who.id] = r.assignees.get(who.id, False) or active
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                shared = frozenset(rng.sample(forms, rng.randint(1, len(forms))))
                writes = frozenset(rng.sample(sorted(shared), rng.randint(0, len(shared))))
                if rng.random() < 0.4:
                    agency = rng.choice(agencies)
                    ref = Ref(None, agency.id, rng.choice(["pending", "declined", "revoked"]), shared, writes)
                else:
                    ref = Ref(
                        rng.choice(people).id,
                        None,
                        rng.choice(["pending", "accepted", "declined", "revoked", "closed"]),
                        shared,
                        writes,
                    )
                s.add(
                    Referral(
                        record_id=rec.id,
                        transition="refer",
                        to_user_id=ref.to_user,
                        to_agency_id=ref.to_agency,
                        by_user_id=owner.id,
                        forms=sorted(ref.forms),
                        write_forms=sorted(ref.write_forms),
                        status=ref.status,
                        at=NOW,
                    )
                )
                r.refs.append(ref)
            recs.append(r)
    return people, recs


@pytest.fixture(params=[1, 2, 3, 4])
def world(
    request: pytest.FixtureRequest, db_url: str, make_module: MakeModule
) -> Iterator[tuple[Database, Registry, Any]]:
    root = make_module({**MODULE, "roles.yaml": ROLES})
    registry = Registry.load([root])
    database = Database.open(db_url)
    people, recs = build(database, registry.modules["protection"], random.Random(request.param))
    yield database, registry, (people, recs)
    database.dispose()


def test_the_access_model_holds(world: tuple[Database, Registry, Any]) -> None:
    database, registry, (people, recs) = world
    m = registry.modules["protection"]
    wf = m.workflow_for("case")
    assert wf is not None
    checked = {"opened": 0, "referral": 0, "transitions": 0, "refused": 0}
    with database.transaction() as s:
        for person in people:
            user = s.get(User, person.id)
            ctx = Context(s, user, accounts.actor_for(s, user, m), m, registry.policies[m.id], ip="test")
            allowed = {r.id: oracle(m, person, r) for r in recs}
            # lists: exactly the records the model lets this user open, with allowed columns only
            try:
                pages = [
                    listing.list_records(ctx, "case", None, None, p, fields=("code", "name", "sex"), page_size=10)
                    for p in range(1, 5)
                ]
                listed = {i["id"]: i for page in pages for i in page["items"]}
            except Forbidden:
                listed = {}
            assert set(listed) == {rid for rid, a in allowed.items() if a is not None}, person
            for rid, item in listed.items():
                assert set(item["fields"]) <= allowed[rid].fields  # type: ignore[union-attr]
            # search by an answer finds only records held by the user's own agency's relations
            for r in recs[:6]:
                try:
                    hits = listing.list_records(ctx, "case", None, f"CODE-{recs.index(r)}", 1)["items"]
                except Forbidden:
                    continue
                for hit in hits:
                    a = allowed[hit["id"]]
                    assert a is not None and a.relation != "referral" and "code" in a.fields
            for r in recs:
                a = allowed[r.id]
                try:
                    view = records.read(ctx, "case", r.id)
                except (NotFound, Forbidden):
                    assert a is None, (person, r)
                    continue
                assert a is not None, (person, r)
                checked["opened"] += 1
                checked["referral"] += a.relation == "referral"
                assert set(view["forms"]) == a.read_forms
                assert _fields_of(view["data"]) <= a.fields
                for h in records.history(ctx, "case", r.id):
                    assert {c["field"] for c in h["changes"]} <= a.fields | {"(stage)"}
                if a.write_forms:
                    try:
                        records.update(ctx, "case", r.id, 1, {})
                    except Conflict as exc:
                        assert {c["field"] for c in exc.details["changes"]} <= a.fields
                # transitions: accepted only when the model allows them
                for t in wf.transitions.values():
                    nested = s.begin_nested()
                    try:
                        if t.referral:
                            from engine.service import referrals

                            referrals.refer(
                                ctx,
                                "case",
                                r.id,
                                t.id,
                                None,
                                sorted(a.read_forms) or ["consent"],
                                None,
                                None,
                                "agency_0",
                            )
                        else:
                            transitions.transition(ctx, "case", r.id, t.id, None, None)
                        accepted = True
                    except (Forbidden, Invalid, Conflict, NotFound):
                        accepted = False
                    nested.rollback()
                    if accepted:
                        checked["transitions"] += 1
                        assert a.workflow and person.role in t.roles and r.stage in t.from_states, (person, r, t.id)
                    else:
                        checked["refused"] += 1
    assert checked["opened"] > 20 and checked["referral"] > 0 and checked["transitions"] > 0, checked
