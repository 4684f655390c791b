"""The demo seeder and the GBV module's demo data: an account per role, cases at every stage with valid
answers, real history, approvals by someone other than the requester, and the same scope rules as
any other data."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.runtime.evaluation import evaluate
from engine.runtime.registry import Registry
from engine.service import seeding
from engine.service.database import Database
from engine.storage import db
from engine.storage.models import (
    Assignment,
    AuditEntry,
    Group,
    Record,
    RecordHistory,
    RecordLink,
    Referral,
    TransitionLog,
    User,
)
from tests.conftest import ROOT, STALE_LAST_STEPS
from tests.server import database, server

GBV = os.path.join(ROOT, "definitions", "gbv")
INCIDENT_STAGES = ("draft", "complete", "reviewed", "archived")
CASE_STAGES = (
    "engagement",
    "assessment",
    "action_planning",
    "action_plan_requested",
    "implementation",
    "follow_up",
    "closure_requested",
    "closed",
)


@dataclass
class Seeded:
    url: str
    registry: Registry
    accounts: list[seeding.DemoAccount]

    def session(self) -> Iterator[Session]:
        engine = db.make_engine(self.url)
        try:
            with db.session_factory(engine)() as session:
                yield session
        finally:
            engine.dispose()

    def password(self, username: str) -> str:
        return next(a.password for a in self.accounts if a.username == username)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    registry = Registry.load([GBV])
    with database("sqlite", tmp_path_factory.mktemp("demo")) as url:
        target = Database.open(url)
        accounts = seeding.seed(target, registry, cheap_hashing=True)
        target.dispose()
        yield Seeded(url, registry, accounts)


@pytest.fixture
def session(seeded: Seeded) -> Iterator[Session]:
    yield from seeded.session()


def _records(session: Session, record_type: str) -> list[Record]:
    return list(session.scalars(select(Record).where(Record.record_type == record_type)))


# -- accounts ---------------------------------------------------------------------------------------
def test_an_account_for_every_role_with_a_strong_password(seeded: Seeded, session: Session) -> None:
    module = seeded.registry.modules["gbv"]
    roles = Counter(a.role for a in seeded.accounts)
    assert set(roles) == set(module.roles)
    assert roles["caseworker"] == 2  # one per team, so that scope can be shown
    assert len({a.username for a in seeded.accounts}) == len(seeded.accounts)
    assert all(len(a.password) >= 16 and a.label for a in seeded.accounts)
    assert len({a.password for a in seeded.accounts}) == len(seeded.accounts)
    users = {u.username: u for u in session.scalars(select(User))}
    assert set(users) == {a.username for a in seeded.accounts}
    assert all(a.password not in u.password_hash for a in seeded.accounts for u in users.values())
    groups = {g.code: g.name for g in session.scalars(select(Group))}
    assert groups == {"team_north": "Team north", "team_south": "Team south"}


# -- records -----------------------------------------------------------------------------------------
def test_cases_at_every_stage_and_incidents_linked_to_them(session: Session) -> None:
    cases = _records(session, "case")
    incidents = _records(session, "incident")
    assert len(cases) == 40
    stages = Counter(c.stage for c in cases)
    assert all(stages[s] >= 1 for s in CASE_STAGES), stages
    assert set(stages) == set(CASE_STAGES)
    incident_stages = Counter(i.stage for i in incidents)
    assert all(incident_stages[s] >= 1 for s in INCIDENT_STAGES), incident_stages
    assert 0.8 * len(cases) <= len(incidents) <= 1.6 * len(cases)
    links = list(session.scalars(select(RecordLink)))
    case_ids = {c.id for c in cases}
    parent_of = {link.to_id: link.from_id for link in links}
    assert all(parent_of.get(i.id) in case_ids for i in incidents)  # every incident belongs to a case
    per_case = Counter(parent_of[i.id] for i in incidents)
    assert max(per_case.values()) == 2
    # the incident carries the case's survivor code, never a name
    code_of = {c.id: c.data.get("survivor_code") for c in cases}
    for i in incidents:
        assert code_of[parent_of[i.id]] in (None, i.data["survivor_code"])
        assert "name" not in i.data


def test_every_answer_passes_validation(seeded: Seeded, session: Session) -> None:
    module = seeded.registry.modules["gbv"]
    for rec in session.scalars(select(Record)):
        ev = evaluate(module.record_types[rec.record_type], rec.data)
        blocking = [(e.path, e.code, e.message) for e in ev.errors if e.code != "required"]
        assert not blocking, (rec.record_type, rec.stage, blocking)


def test_the_data_is_varied(session: Session) -> None:
    cases = _records(session, "case")
    ages = [c.data["age"] for c in cases if "age" in c.data]
    assert min(ages) < 18 <= max(ages)
    assert len({c.data["risk_level"] for c in cases if "risk_level" in c.data}) == 3
    assert {c.data["sex"] for c in cases if "sex" in c.data} == {"female", "male"}
    names = [c.data["name"] for c in cases if "name" in c.data]
    assert len(set(names)) >= 0.8 * len(names)
    assert any("\u0600" <= ch <= "\u06ff" for n in names for ch in n)  # some written in Arabic script
    assert any(not n.isascii() and not any("\u0600" <= ch <= "\u06ff" for ch in n) for n in names)  # é, í…
    assert len({c.data.get("nationality") for c in cases if c.data.get("nationality")}) >= 3
    codes = [c.data["survivor_code"] for c in cases if "survivor_code" in c.data]
    assert len(set(codes)) == len(codes)
    assert any(c.data.get("consent_withdrawn") == "yes" for c in cases)
    assert any(c.data.get("consent_for_services") == "no" for c in cases)
    assert Counter(c.data.get("closure_reason") for c in cases if c.stage == "closed").keys() >= {
        "needs_met",
        "survivor_request",
        "no_contact",
    }


def test_history_transitions_and_approvals_by_someone_else(session: Session) -> None:
    role = {u.id: u.role for u in session.scalars(select(User))}
    logs = list(session.scalars(select(TransitionLog).order_by(TransitionLog.id)))
    assert len(logs) > 100
    previous: dict[str, TransitionLog] = {}
    approvals = 0
    for log in logs:
        if log.transition in ("approve_action_plan", "approve_closure", "approve_review"):
            approvals += 1
            request = previous[log.record_id]
            assert request.to_stage == log.from_stage
            assert request.user_id != log.user_id and role[log.user_id] == "supervisor"
        previous[log.record_id] = log
    assert approvals >= 20
    assert {log.transition for log in logs} >= {
        "reject_action_plan",
        "reject_closure",
        "reopen",
        "request_early_closure",
    }
    history = Counter(h.action for h in session.scalars(select(RecordHistory)))
    assert history["create"] == len(list(session.scalars(select(Record.id))))
    assert history["update"] > history["create"]
    assert history["transition"] > 0
    ips = set(session.scalars(select(AuditEntry.ip)))
    assert "demo" in ips
    # each step that moved a record is the one the record names (a home page's "returned to you")
    assert session.execute(text(STALE_LAST_STEPS)).all() == []
    assert "reject_action_plan" in set(session.scalars(select(Record.last_step)))


def test_referrals_and_an_assignment(session: Session) -> None:
    referrals = list(session.scalars(select(Referral)))
    assert {r.status for r in referrals} == {"accepted", "pending"}
    assert any(r.override_reason for r in referrals)  # one emergency referral without recorded consent
    assignments = list(session.scalars(select(Assignment)))
    assert len(assignments) == 1


# -- through the API ------------------------------------------------------------------------------------
def _sign_in(srv: Any, seeded: Seeded, username: str) -> Any:
    c = srv.client()
    r = c.post("/api/v1/login", json={"username": username, "password": seeded.password(username)})
    assert r.status_code == 200, r.text
    return c


def test_sign_in_and_scope_through_the_api(seeded: Seeded, session: Session) -> None:
    users = {u.username: u.id for u in session.scalars(select(User))}
    groups = {g.code: g.id for g in session.scalars(select(Group))}
    cases = _records(session, "case")
    north = {c.short_id for c in cases if c.group_id == groups["team_north"]}
    own = {c.short_id for c in cases if c.owner_id == users["caseworker"]}
    assert own and north and len(north) < len(cases)
    with server(seeded.url, [GBV]) as srv:
        c = srv.client()
        r = c.post("/api/v1/login", json={"username": "caseworker", "password": "not the password"})
        assert r.status_code == 401

        listing = _sign_in(srv, seeded, "caseworker").get("/api/v1/records/case").json()
        assert {i["short_id"] for i in listing["items"]} == own
        assert {i["owner"] for i in listing["items"]} == {"caseworker"}

        listing = _sign_in(srv, seeded, "supervisor").get("/api/v1/records/case").json()
        assert {i["short_id"] for i in listing["items"]} == north

        # the other team's caseworker sees their own cases and those referred or assigned to them
        listing = _sign_in(srv, seeded, "caseworker2").get("/api/v1/records/case").json()
        owners = Counter(i["owner"] for i in listing["items"])
        assert owners["caseworker2"] >= 1 and owners["caseworker"] >= 1
        assert not {i["short_id"] for i in listing["items"]} >= north

        listing = _sign_in(srv, seeded, "cm_manager").get("/api/v1/records/case").json()
        assert listing["total"] == len(cases)

        assert _sign_in(srv, seeded, "dpo").get("/api/v1/records/case").status_code == 403


# -- refusal and reproducibility ----------------------------------------------------------------------------
def test_seeding_twice_is_refused(seeded: Seeded) -> None:
    target = Database.open(seeded.url)
    try:
        with pytest.raises(seeding.DemoError, match="empty database"):
            seeding.seed(target, seeded.registry, cheap_hashing=True)
    finally:
        target.dispose()


def test_an_unknown_module_is_refused(seeded: Seeded) -> None:
    target = Database.open(seeded.url)
    try:
        with pytest.raises(seeding.DemoError, match="no module 'nope'"):
            seeding.seed(target, seeded.registry, "nope")
    finally:
        target.dispose()


def _snapshot(url: str) -> list[str]:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as session:
            return sorted(
                json.dumps([r.record_type, r.stage, r.data], sort_keys=True) for r in session.scalars(select(Record))
            )
    finally:
        engine.dispose()


def test_seeding_gives_the_same_data_every_time(tmp_path: Any) -> None:
    registry = Registry.load([GBV])
    snapshots = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        with database("sqlite", folder) as url:
            target = Database.open(url)
            seeding.seed(target, registry, cheap_hashing=True, limit=10)
            target.dispose()
            snapshots.append(_snapshot(url))
    assert snapshots[0] == snapshots[1]
    assert len([s for s in snapshots[0] if s.startswith('["case"')]) == 10


# -- the child-protection example's demo ---------------------------------------------------------------
CP = os.path.join(ROOT, "examples", "child-protection")


def test_the_child_protection_demo_reaches_every_stage_of_both_workflows(tmp_path: Any) -> None:
    registry = Registry.load([CP])
    module = registry.modules["child_protection"]
    with database("sqlite", tmp_path) as url:
        target = Database.open(url)
        made = seeding.seed(target, registry, cheap_hashing=True)
        target.dispose()
        engine = db.make_engine(url)
        with db.session_factory(engine)() as session:
            reached = Counter((r.record_type, r.stage) for r in session.scalars(select(Record)))
            history = Counter(h.action for h in session.scalars(select(RecordHistory)))
        engine.dispose()
    assert {a.role for a in made} == set(module.roles)
    for rt in module.record_types:
        wf = module.workflow_for(rt)
        assert wf is not None
        assert {s for t, s in reached if t == rt} == set(wf.states), (rt, reached)
    assert history["transition"] > 20
