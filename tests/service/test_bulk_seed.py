"""`sanad seed` (service.bulk_seed): test data at scale, written as the app writes it. The app opens,
lists, searches and saves the seeded records; their answers pass validation; identifying answers are
sealed at rest; the audit log's chain verifies; a database holding records is refused unless --append.
On SQLite always, on PostgreSQL when it is reachable."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from engine.cli import main
from engine.runtime.evaluation import evaluate
from engine.runtime.registry import Registry
from engine.service import bulk_seed
from engine.service.bulk_seed import SeedError, SeedSummary
from engine.storage import chain, db, sealing
from engine.storage.models import Record, RecordHistory, RecordLink, TransitionLog, User
from tests.conftest import ROOT, STALE_LAST_STEPS
from tests.server import PASSWORD, database, server

GBV = os.path.join(ROOT, "definitions", "gbv")
SMALL: dict[str, Any] = {
    "cases": 120,
    "incidents": 160,
    "audit": 700,
    "agencies": 2,
    "groups_per_agency": 2,
    "users": 24,
    "templates": 40,
    "password": PASSWORD,
}


def _session(url: str) -> Iterator[Session]:
    engine = db.make_engine(url)
    try:
        with db.session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SeedSummary]]:
    with database("sqlite", tmp_path_factory.mktemp("bulk")) as url:
        yield url, bulk_seed.seed(url, module=GBV, **SMALL)


@pytest.fixture
def session(seeded: tuple[str, SeedSummary]) -> Iterator[Session]:
    yield from _session(seeded[0])


# -- what is written -------------------------------------------------------------------------------------------
def test_the_counts_and_the_accounts(seeded: tuple[str, SeedSummary], session: Session) -> None:
    _url, s = seeded
    assert (s.cases, s.incidents, s.audit, s.agencies, s.groups, s.users) == (120, 160, 700, 2, 4, 24)
    types = Counter(session.scalars(select(Record.record_type)))
    assert types == {"case": 120, "incident": 160}
    roles = Counter(session.scalars(select(User.role)))
    assert roles["gbv_coordinator"] == 1 and roles["cm_manager"] == 2 and roles["supervisor"] == 4
    assert roles["caseworker"] == 24 - 1 - 2 * 2 - 4
    assert s.usernames["caseworker"][0] == "caseworker1"
    assert set(s.second_factor_roles) == {"supervisor", "cm_manager", "dpo"}
    assert s.history >= s.records and s.steps == s.history - s.records
    assert s.rates()["records"] > 0


def test_records_are_spread_over_stages_owners_groups_and_five_years(session: Session) -> None:
    cases = list(session.scalars(select(Record).where(Record.record_type == "case")))
    assert len({c.stage for c in cases}) >= 5
    assert len({c.owner_id for c in cases}) >= 8
    assert len({c.group_id for c in cases}) == 4 and len({c.agency_id for c in cases}) == 2
    years = {c.created_at.year for c in cases}
    assert len(years) >= 4
    assert all(c.updated_at >= c.created_at for c in cases)
    assert len({c.short_id for c in cases}) == len(cases) and all(c.short_id.startswith("C-") for c in cases)
    owners = {u.id: u for u in session.scalars(select(User))}
    assert all(owners[c.owner_id].role == "caseworker" for c in cases)
    assert all(owners[c.owner_id].agency_id == c.agency_id for c in cases)


def test_incidents_linked_to_cases_carry_the_case_s_survivor_code(session: Session) -> None:
    links = list(session.scalars(select(RecordLink)))
    assert 0.3 * 160 <= len(links) <= 0.9 * 160
    by_id = {r.id: r for r in session.scalars(select(Record))}
    for link in links:
        case, incident = by_id[link.from_id], by_id[link.to_id]
        assert (case.record_type, incident.record_type, link.kind) == ("case", "incident", "incident")
        assert incident.data["survivor_code"] == case.data["survivor_code"]
        assert incident.owner_id == case.owner_id and incident.created_at >= case.created_at
    codes = [r.data["survivor_code"] for r in by_id.values() if r.record_type == "case"]
    assert len(set(codes)) == len(codes)


def test_every_answer_passes_validation_and_the_stage_s_forms_are_complete(session: Session) -> None:
    module = Registry.load([GBV]).modules["gbv"]
    for rec in session.scalars(select(Record)):
        rt = module.record_types[rec.record_type]
        ev = evaluate(rt, rec.data, rec.created_at.date().isoformat())
        blocking = [(e.path, e.code) for e in ev.errors if e.code != "required"]
        assert not blocking, (rec.record_type, rec.stage, blocking)
        assert ev.answers() == rec.data  # calculations included, as the app stores them
        assert rec.saved_forms and set(rec.saved_forms) <= set(rt.form_ids)
        if rec.record_type == "incident" and rec.stage in ("complete", "reviewed", "archived"):
            assert not [e for e in ev.errors if e.code == "required"], rec.stage


def test_history_and_steps_follow_the_workflow(session: Session) -> None:
    module = Registry.load([GBV]).modules["gbv"]
    rec = session.scalars(select(Record).where(Record.record_type == "case", Record.version >= 4)).first()
    assert rec is not None
    history = list(session.scalars(select(RecordHistory).where(RecordHistory.record_id == rec.id)))
    assert [h.version for h in sorted(history, key=lambda h: h.version)] == list(range(1, rec.version + 1))
    steps = list(
        session.scalars(select(TransitionLog).where(TransitionLog.record_id == rec.id).order_by(TransitionLog.at))
    )
    wf = module.workflows["case_workflow"]
    stage = wf.initial
    for step in steps:
        t = wf.transitions[step.transition]
        assert step.from_stage == stage and stage in t.from_states
        stage = step.to_stage
    assert stage == rec.stage
    create = next(h for h in history if h.action == "create")
    assert {c["field"] for c in create.changes} == set(rec.data)  # opened by the ORM
    assert all(c["new"] == rec.data[c["field"]] for c in create.changes)
    # every record names its latest step, as the app keeps it (a home page's "returned to you")
    assert rec.last_step == steps[-1].transition
    assert session.execute(text(STALE_LAST_STEPS)).all() == []
    assert session.scalar(select(func.count()).where(Record.last_step.is_not(None))) > 0


def test_identifying_answers_are_sealed_at_rest_with_blind_indexes(session: Session) -> None:
    row = session.execute(
        text("SELECT id, data, blind, key_id FROM records WHERE record_type = 'case' AND data LIKE '%\"name\"%'")
    ).first()
    assert row is not None
    stored = json.loads(row.data)
    assert set(stored["name"]) == {"$sealed"}
    assert "survivor_code" in stored and isinstance(stored["survivor_code"], str)  # quasi: in clear
    rec = session.get(Record, row.id)
    assert rec is not None and isinstance(rec.data["name"], str)  # opened on the way out
    ring = sealing.ring_for(session.get_bind())  # type: ignore[arg-type]
    assert row.key_id == ring.current
    assert json.loads(row.blind)["name"] == ring.blind(sealing.blind_scope("gbv", "case", "name"), rec.data["name"])
    history = session.execute(
        text("SELECT changes FROM record_history WHERE record_id = :id AND action = 'create'"), {"id": row.id}
    ).scalar_one()
    assert '"name", "old": null, "new": {"$sealed"' in history
    secret = session.execute(text("SELECT totp_secret FROM users WHERE role = 'supervisor'")).scalars().first()
    assert secret is not None and secret.startswith("sealed:v1:")


def test_the_audit_chain_verifies(seeded: tuple[str, SeedSummary], session: Session) -> None:
    ring = sealing.ring_for(session.get_bind())  # type: ignore[arg-type]
    v = chain.verify(session, ring, full=True)
    assert v.ok, v.problems[:3]
    assert v.checked == 700
    actions = Counter(session.scalars(text("SELECT action FROM audit_log")))  # type: ignore[call-overload]
    assert actions["record.read"] > actions["record.list"] > actions["login.failure"]
    assert main(["audit", "verify", "--db", seeded[0]]) == 0


# -- the app works on them -----------------------------------------------------------------------------------
def _app_works(url: str, summary: SeedSummary) -> None:
    with server(url, [GBV]) as srv:
        worker = summary.usernames["caseworker"][0]
        c = srv.client(worker)
        page = c.get("/api/v1/records/case").json()
        assert page["total"] >= 1 and page["items"], page
        first = page["items"][0]
        opened = c.get(f"/api/v1/records/case/{first['id']}")
        assert opened.status_code == 200, opened.text
        rec = opened.json()
        code, name = rec["data"]["survivor_code"], rec["data"].get("name")
        found = c.get("/api/v1/records/case", params={"q": code}).json()["items"]
        assert [r["id"] for r in found] == [first["id"]]
        if name:  # a direct answer: found through its blind index, whatever the case and spacing
            found = c.get("/api/v1/records/case", params={"q": f"  {name.upper()} "}).json()["items"]
            assert first["id"] in [r["id"] for r in found]
        assert c.get(f"/records/case/{first['id']}").status_code == 200  # the record's page
        saved = c.patch(
            f"/api/v1/records/case/{first['id']}",
            json={"version": rec["version"], "data": {"nickname": "Tester"}, "form": "survivor_information"},
        )
        if rec["stage"] in ("closed",):
            assert saved.status_code in (200, 409), saved.text
        else:
            assert saved.status_code == 200, saved.text
            assert saved.json()["version"] == rec["version"] + 1
        incidents = c.get("/api/v1/records/incident").json()
        assert incidents["items"]
        # a supervisor (second factor from the seeded secret) and a manager sign in and list
        for role in ("supervisor", "cm_manager"):
            other = srv.client(summary.usernames[role][0])
            assert other.get("/api/v1/records/case").json()["total"] >= 1
    engine = db.make_engine(url)
    with db.session_factory(engine)() as session:
        assert chain.verify(session, sealing.ring_for(engine), full=True).ok
    engine.dispose()


def test_the_app_lists_opens_searches_and_saves_seeded_records(seeded: tuple[str, SeedSummary]) -> None:
    _app_works(*seeded)


def test_the_second_factor_of_the_seeded_accounts_is_the_given_secret(seeded: tuple[str, SeedSummary]) -> None:
    import pyotp

    url, s = seeded
    with server(url, [GBV]) as srv:
        c = srv.client(second_factor=False)
        code = pyotp.TOTP(s.totp_secret).now()
        r = c.post("/api/v1/login", json={"username": s.usernames["dpo"][0], "password": PASSWORD, "code": code})
        assert r.status_code == 200, r.text


# -- refusals, appending, PostgreSQL ---------------------------------------------------------------------------
def test_a_database_with_records_is_refused_unless_append(tmp_path: Any) -> None:
    with database("sqlite", tmp_path) as url:
        small = {**SMALL, "cases": 10, "incidents": 10, "audit": 20, "templates": 5}
        bulk_seed.seed(url, module=GBV, **small)
        with pytest.raises(SeedError, match="already holds 20 records: add --append"):
            bulk_seed.seed(url, module=GBV, **small)
        again = bulk_seed.seed(url, module=GBV, append=True, seed=2, **small)
        assert again.usernames["caseworker"][0] == "caseworker1-2"
        for session in _session(url):
            assert session.scalar(text("SELECT count(*) FROM records")) == 40
            assert chain.verify(session, sealing.ring_for(session.get_bind()), full=True).ok  # type: ignore[arg-type]
            assert len(set(session.scalars(text("SELECT short_id FROM records")))) == 40  # type: ignore[call-overload]


def test_a_new_database_is_migrated_and_errors_are_clear(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    args = ["seed", "--cases", "5", "--incidents", "5", "--audit", "10", "--agencies", "1"]
    args += ["--groups-per-agency", "1", "--users", "6", "--templates", "3", "--db", url, "--json", "--quiet"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cases"] == 5 and out["usernames"]["caseworker"] == ["caseworker1", "caseworker2"]
    assert main(args) == 1
    assert "already holds 10 records" in capsys.readouterr().err
    assert main([*args[:-4], "--users", "3", "--db", f"sqlite:///{tmp_path}/other.db"]) == 1
    assert "too few" in capsys.readouterr().err
    bad = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert main(["seed", "--cases", "1", "--db", bad, "--quiet"]) == 1
    assert "cannot reach the database" in capsys.readouterr().err


def test_postgresql(tmp_path: Any) -> None:
    with database("postgresql", tmp_path) as url:
        summary = bulk_seed.seed(url, module=GBV, **SMALL)
        for session in _session(url):
            assert session.scalar(text("SELECT count(*) FROM records")) == 280
            assert chain.verify(session, sealing.ring_for(session.get_bind()), full=True).ok  # type: ignore[arg-type]
            indexes = set(session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'records'")))  # type: ignore[call-overload]
            assert {"ix_records_owner", "ix_records_list"} <= indexes  # dropped for the load, built again
        _app_works(url, summary)
