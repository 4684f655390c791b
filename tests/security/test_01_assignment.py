"""Finding 1: assignment bypassed a referral's form limit.

A case referred to agency B sharing only the consent form: B's manager assigned it to B's
caseworker, then declined the referral; B's caseworker then read every form (the name included),
could write answers, and kept access after the decline. No way existed to remove an assignment."""

from __future__ import annotations

from tests.security.conftest import World


def test_a_referral_recipient_cannot_assign_the_record(world: World) -> None:
    rec = world.case()
    assert world.refer(rec, to_agency="agency_b").status_code == 201
    r = world.client("max").post(f"/api/v1/records/case/{rec['id']}/assignments", json={"to": "bea"})
    assert r.status_code in (403, 422), r.text
    world.client("max").post(f"/api/v1/referrals/{world.inbox('max')[0]['id']}/decline", json={})
    bea = world.client("bea")
    assert bea.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    r = bea.patch(f"/api/v1/records/case/{rec['id']}", json={"version": rec["version"], "data": {"goal": "x"}})
    assert r.status_code == 404


def test_nobody_is_assigned_outside_the_owning_agency(world: World) -> None:
    rec = world.case()
    r = world.client("sara").post(f"/api/v1/records/case/{rec['id']}/assignments", json={"to": "bea"})
    assert r.status_code == 422, r.text
    assert world.client("bea").get(f"/api/v1/records/case/{rec['id']}").status_code == 404


def test_an_assignment_can_be_ended_and_access_ends_with_it(world: World) -> None:
    rec = world.case()
    sara = world.client("sara")
    assert sara.post(f"/api/v1/records/case/{rec['id']}/assignments", json={"to": "adil"}).status_code == 200
    assert world.client("adil").get(f"/api/v1/records/case/{rec['id']}").status_code == 200
    r = sara.delete(f"/api/v1/records/case/{rec['id']}/assignments/adil")
    assert r.status_code == 200, r.text
    assert world.client("adil").get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    actions = [e["action"] for e in world.client("dpo_a").get("/api/v1/audit").json()["entries"]]
    assert "record.unassign" in actions
