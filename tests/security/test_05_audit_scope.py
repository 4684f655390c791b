"""Finding 5: the audit log was not scoped: a DPO of agency B read agency A's entries (record ids,
addresses, referral targets)."""

from __future__ import annotations

from tests.security.conftest import World


def test_an_auditor_reads_their_own_agencys_entries(world: World) -> None:
    rec = world.case()
    world.client("amina").get(f"/api/v1/records/case/{rec['id']}")
    world.client("bea").get("/api/v1/records/case")
    entries = world.client("dpo_b").get("/api/v1/audit").json()["entries"]
    assert entries, "agency B's own activity is visible"
    assert all(e["user"] not in ("amina", "sara", "mona", "dpo_a") for e in entries), entries
    assert rec["id"] not in {e["record_id"] for e in entries}
    page = world.client("dpo_b").get("/audit").text
    assert "amina" not in page and rec["id"][:8] not in page
    mine = world.client("dpo_a").get("/api/v1/audit").json()["entries"]
    assert rec["id"] in {e["record_id"] for e in mine}
