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


# -- what a referral grants, and when it ends (docs/access.md: the referral recipient) -----------------------
def _referral_id(world: World, username: str, rec: dict[str, Any]) -> int:
    return int(next(r["id"] for r in world.inbox(username) if r["record_id"] == rec["id"]))


def _save(world: World, username: str, rec: dict[str, Any], form: str, data: dict[str, Any]) -> Any:
    c = world.client(username)
    version = world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()["version"]
    return c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": version, "form": form, "data": data})


def test_a_recipient_writes_only_the_forms_the_referral_grants(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.refer(rec, to="bea", forms=["consent", "plan"], write_forms=["plan"]).status_code == 201
    _accept(world, "bea")
    assert _save(world, "bea", rec, "plan", {"goal": "Safe housing by March"}).status_code == 200
    r = _save(world, "bea", rec, "consent", {"consent": "no"})
    assert r.status_code == 403, r.text
    view = world.client("amina").get(f"/api/v1/records/case/{rec['id']}").json()
    assert view["data"]["goal"] == "Safe housing by March" and view["data"]["consent"] == "yes"
    # a form the referral does not share is neither read nor written
    assert "name" not in world.client("bea").get(f"/api/v1/records/case/{rec['id']}").json()["data"]
    r = _save(world, "bea", rec, "registration", {"name": "Someone else"})
    assert r.status_code == 422 and "name" in r.text  # a field she cannot see does not exist for her


def test_access_through_a_referral_ends_when_the_holder_revokes_it(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.refer(rec, to="bea", forms=["consent", "plan"], write_forms=["plan"]).status_code == 201
    _accept(world, "bea")
    ref = _referral_id(world, "bea", rec)
    assert world.client("bea").get(f"/api/v1/records/case/{rec['id']}").status_code == 200
    # the recipient cannot revoke (she may close it when her work is done)
    assert world.client("bea").post(f"/api/v1/referrals/{ref}/revoke", json={}).status_code == 403
    r = world.client("amina").post(f"/api/v1/referrals/{ref}/revoke", json={"comment": "Moved to another area."})
    assert r.status_code == 200, r.text
    assert world.client("bea").get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert _save(world, "bea", rec, "plan", {"goal": "Anything"}).status_code == 404
    assert rec["id"] not in {x["id"] for x in world.client("bea").get("/api/v1/records/case").json()["items"]}
    # ended once: a second revoke is a conflict, not a new grant
    assert world.client("amina").post(f"/api/v1/referrals/{ref}/revoke", json={}).status_code == 409


def test_access_through_a_referral_ends_when_either_side_closes_it(world: World) -> None:
    for closer in ("bea", "amina"):
        rec = world.case(consent_referral="yes")
        assert world.refer(rec, to="bea").status_code == 201
        _accept(world, "bea")
        ref = _referral_id(world, "bea", rec)
        r = world.client(closer).post(f"/api/v1/referrals/{ref}/close", json={"comment": "Work done."})
        assert r.status_code == 200, (closer, r.text)
        assert world.client("bea").get(f"/api/v1/records/case/{rec['id']}").status_code == 404, closer
        assert world.client("amina").get(f"/api/v1/records/case/{rec['id']}").status_code == 200
