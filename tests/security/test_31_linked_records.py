"""A record's links name only the linked records the reader may read.

A referral shares one record: its recipient sees that the case is linked to others only when she
may read them too. The links are decided by the one access rule (`Policy.can_read`) from the linked
records' own holdings, whether read whole or, as now, only their columns that decide access."""

from __future__ import annotations

from typing import Any

from tests.security.conftest import World


def _linked(world: World, rec: dict[str, Any]) -> dict[str, Any]:
    r = world.client("amina").post(
        "/api/v1/records/case",
        json={"data": {"code": "GBV-0043", "consent": "yes", "consent_referral": "yes"}, "link_to": rec["id"]},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _links(world: World, username: str, rec: dict[str, Any]) -> list[str]:
    r = world.client(username).get(f"/api/v1/records/case/{rec['id']}")
    assert r.status_code == 200, r.text
    return [link["id"] for link in r.json()["links"]]


def _accept(world: World, username: str, rec: dict[str, Any]) -> None:
    ref = next(r for r in world.inbox(username) if r["record_id"] == rec["id"] and r["status"] == "pending")
    r = world.client(username).post(f"/api/v1/referrals/{ref['id']}/accept", json={})
    assert r.status_code == 200, r.text


def test_a_recipient_sees_no_link_to_a_record_not_referred_to_her(world: World) -> None:
    case = world.case()
    other = _linked(world, case)
    assert _links(world, "amina", case) == [other["id"]]
    assert _links(world, "sara", case) == [other["id"]]  # her team holds both
    assert world.refer(case, to="bea").status_code == 201
    _accept(world, "bea", case)
    assert _links(world, "bea", case) == []
    assert world.client("bea").get(f"/api/v1/records/case/{other['id']}").status_code == 404
    # once the linked record is referred to her too, she sees the link, both ways
    assert world.refer(other, to="bea").status_code == 201
    _accept(world, "bea", other)
    assert _links(world, "bea", case) == [other["id"]]
    assert _links(world, "bea", other) == [case["id"]]


def test_a_link_shows_a_number_and_a_stage_never_answers(world: World) -> None:
    case = world.case()
    _linked(world, case)
    body = world.client("amina").get(f"/api/v1/records/case/{case['id']}").json()
    assert [sorted(link) for link in body["links"]] == [["id", "record_type", "short_id", "stage"]]
