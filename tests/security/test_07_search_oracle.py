"""Finding 7: search and filters were an oracle: a user holding a referral that shares only the
consent form could confirm a survivor's name, code or sex with ?q= / ?f_sex=; the list's audit
entry did not record the query."""

from __future__ import annotations

from tests.security.conftest import World


def test_search_and_filters_only_touch_fields_the_user_may_see(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.refer(rec, to="bea").status_code == 201
    bea = world.client("bea")
    everything = {i["id"] for i in bea.get("/api/v1/records/case").json()["items"]}
    assert rec["id"] in everything  # the referral lets her see that the case exists
    for q in ("GBV-0042", "Amal Haddad"):
        found = {i["id"] for i in bea.get("/api/v1/records/case", params={"q": q}).json()["items"]}
        assert rec["id"] not in found, q
    for sex in ("female", "male"):
        page = bea.get("/records/case", params={"f_sex": sex}).text
        assert rec["short_id"] not in page, sex
    # the owner still finds it by the same answers
    owner = {
        i["id"] for i in world.client("amina").get("/api/v1/records/case", params={"q": "GBV-0042"}).json()["items"]
    }
    assert rec["id"] in owner


def test_the_list_audit_entry_records_the_query_and_filters(world: World) -> None:
    world.case()
    world.client("amina").get("/records/case", params={"q": "GBV-0042", "f_sex": "female", "stage": "open"})
    entries = world.client("dpo_a").get("/api/v1/audit", params={"action": "record.list"}).json()["entries"]
    details = entries[0]["details"]
    assert (
        details.get("q") == "GBV-0042"
        and details.get("filters") == {"sex": "female"}
        and details.get("stage") == "open"
    )
