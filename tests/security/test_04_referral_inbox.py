"""Finding 4: a DPO (no case access) read and accepted agency referrals: saw the free-text comment
(which can hold the survivor's story), and accepting took it from the manager's queue."""

from __future__ import annotations

from tests.security.conftest import World


def test_only_users_who_may_read_the_record_see_and_answer_agency_referrals(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.refer(rec, to_agency="agency_b", comment="She fled last night; see the notes.").status_code == 201
    assert world.inbox("dpo_b") == []
    ref_id = world.inbox("max")[0]["id"]
    r = world.client("dpo_b").post(f"/api/v1/referrals/{ref_id}/accept", json={})
    assert r.status_code == 404, r.text
    assert [x["status"] for x in world.inbox("max")] == ["pending"]
    assert "She fled" not in world.client("dpo_b").get("/api/v1/referrals").text
