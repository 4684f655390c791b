"""Issue 11: workflow comments are now shown (the case page, the history, the API, the caseworker's
home). They are the holding agency's conversation about a survivor: a user who reads the case
through a referral must never see them, and neither must a caseworker of another team."""

from __future__ import annotations

from tests.security.conftest import World
from tests.server import PASSWORD

SECRET = "She told me her brother-in-law is the one threatening her."


def _pages(world: World, username: str) -> object:
    c = world.client()
    r = c.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 200
    return c


def test_a_referral_recipient_never_sees_the_workflow_comments(world: World) -> None:
    rec = world.case(consent_referral="yes")
    assert world.step(rec, "request_plan", "amina", comment=SECRET).status_code == 200
    assert world.step(rec, "reject_plan", "sara", comment=SECRET + " Add a safety goal.").status_code == 200
    assert world.refer(rec, to="bea").status_code == 201
    ref = next(r for r in world.inbox("bea") if r["status"] == "pending")
    assert world.client("bea").post(f"/api/v1/referrals/{ref['id']}/accept", json={}).status_code == 200
    bea = world.client("bea")
    view = bea.get(f"/api/v1/records/case/{rec['id']}")
    assert view.status_code == 200 and view.json()["latest_decision"] is None
    history = bea.get(f"/api/v1/records/case/{rec['id']}/history")
    assert history.status_code == 200 and SECRET not in history.text
    page = _pages(world, "bea").get(f"/records/case/{rec['id']}")  # type: ignore[attr-defined]
    assert page.status_code == 200 and SECRET not in page.text
    # the holding agency sees it
    assert SECRET in _pages(world, "amina").get(f"/records/case/{rec['id']}").text  # type: ignore[attr-defined]
    assert SECRET in world.client("amina").get(f"/api/v1/records/case/{rec['id']}/history").text


def test_returned_cases_are_listed_only_for_their_caseworker(world: World) -> None:
    rec = world.case()
    assert world.step(rec, "request_plan", "amina").status_code == 200
    assert world.step(rec, "reject_plan", "sara", comment=SECRET).status_code == 200
    assert SECRET in _pages(world, "amina").get("/").text  # type: ignore[attr-defined]
    for other in ("adil", "bea", "vera"):
        assert SECRET not in _pages(world, other).get("/").text  # type: ignore[attr-defined]
