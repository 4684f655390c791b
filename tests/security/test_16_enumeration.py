"""Finding 16: user names could be enumerated through the referral target message ("no active
user" for a name that does not exist, "cannot receive" for one that does)."""

from __future__ import annotations

from tests.security.conftest import World


def test_the_same_answer_whether_the_user_exists_or_not(world: World) -> None:
    rec = world.case(consent_referral="yes")
    missing = world.refer(rec, to="nobody_here")
    cannot = world.refer(rec, to="dpo_b")  # exists, but their role cannot read cases
    assert missing.status_code == cannot.status_code == 422
    assert missing.json()["error"] == cannot.json()["error"].replace("dpo_b", "nobody_here")
    a = world.client("sara").post(f"/api/v1/records/case/{rec['id']}/assignments", json={"to": "nobody_here"})
    b = world.client("sara").post(f"/api/v1/records/case/{rec['id']}/assignments", json={"to": "dpo_a"})
    assert a.status_code == b.status_code and a.json()["error"] == b.json()["error"].replace("dpo_a", "nobody_here")
