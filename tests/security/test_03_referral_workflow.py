"""Finding 3: a referral recipient ran the owning agency's workflow.

Another agency's supervisor holding a referral (shared: consent only) approved the case's closure
and referred the survivor onwards with override_reason although she never consented; a caseworker
holding a referral moved the case back to planning, and so could choose her own approver."""

from __future__ import annotations

from typing import Any

from tests.security.conftest import World


def _to_closure_requested(world: World, rec: dict[str, Any]) -> None:
    assert world.step(rec, "request_plan", "amina").status_code == 200
    assert world.step(rec, "approve_plan", "sara").status_code == 200
    assert world.step(rec, "request_closure", "amina").status_code == 200


def _accept(world: World, username: str) -> None:
    ref = next(r for r in world.inbox(username) if r["status"] == "pending")
    r = world.client(username).post(f"/api/v1/referrals/{ref['id']}/accept", json={})
    assert r.status_code == 200, r.text


def test_a_recipient_cannot_approve_the_owning_agencys_closure(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.refer(rec, to="bo").status_code == 201
    _accept(world, "bo")
    _to_closure_requested(world, rec)
    r = world.step(rec, "approve_closure", "bo")
    assert r.status_code == 403, r.text
    assert world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["stage"] == "closure_requested"
    view = world.client("bo").get(f"/api/v1/records/case/{rec['id']}").json()
    assert view["transitions"] == []  # nothing of the workflow is offered


def test_a_recipient_cannot_refer_onwards_or_override_consent(world: World) -> None:
    rec = world.case(consent_referral="no")
    assert world.refer(rec, by="sara", to="bo", override_reason="Emergency shelter tonight.").status_code == 201
    _accept(world, "bo")
    r = world.refer(rec, by="bo", to="bea", override_reason="I decide.")
    assert r.status_code == 403, r.text
    assert not [x for x in world.inbox("bea") if x["record_id"] == rec["id"]]


def test_a_recipient_caseworker_cannot_move_the_case(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.step(rec, "request_plan", "amina").status_code == 200
    assert world.step(rec, "approve_plan", "sara").status_code == 200
    assert world.refer(rec, to="bea").status_code == 201
    _accept(world, "bea")
    r = world.step(rec, "back_to_planning", "bea")
    assert r.status_code == 403, r.text
    assert world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["stage"] == "active"
