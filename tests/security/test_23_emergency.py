"""Break the glass (issue 14): a user outside a record's scope whose role has `emergency_access` opens
it only after giving a reason, read-only, for the module's `emergency_access_hours`; every read is
audited as emergency access, and the record's supervisors see it on their home page.

The module is the security review's, with a duty officer (a group role with emergency access that
reads two forms and no direct identifier) in a second team of agency A, another in agency B, and a
second module served by the same server."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.diagnostics import Position
from engine.language.model import Role
from engine.runtime.policy import Actor, Holding, Policy, Reach
from engine.storage import db
from engine.storage.models import EmergencyGrant
from tests.conftest import MakeModule
from tests.security.conftest import MODULE, USERS, World
from tests.server import server

HOURS = 2
REASON = "The survivor is at the clinic now and her caseworker cannot be reached."

GLASS: dict[str, str | None] = {
    **MODULE,
    "module.yaml": str(MODULE["module.yaml"])
    + f"""
        settings:
          emergency_access_hours: {HOURS}
    """,
    "roles.yaml": str(MODULE["roles.yaml"])
    + """
          - id: duty_officer
            label: Duty officer
            scope: group
            permissions: [case.read, case.write, case.assign, case.refer]
            forms: {read: [consent, registration], write: [registration]}
            sensitivity: [quasi, none]
            emergency_access: true
    """,
    "workflows/case_flow.yaml": str(MODULE["workflows/case_flow.yaml"]).replace(
        "to: plan_requested, roles: [caseworker]}", "to: plan_requested, roles: [caseworker, duty_officer]}"
    ),
}

OTHER = {
    "module.yaml": """
        id: other
        title: Another module
        version: '1'
        default_locale: en
        locales: [en]
        record_types:
          case:
            title: Case
            forms: [note]
    """,
    "roles.yaml": """
        roles:
          - id: caseworker
            label: Caseworker
            scope: own
            permissions: [case.create, case.read, case.write]
            forms: {read: ['*'], write: ['*']}
            sensitivity: [direct, quasi, none]
    """,
    "forms/note.yaml": """
        id: note
        title: Note
        record_type: case
        fields:
          - {id: text, type: text, label: Text}
    """,
}


@pytest.fixture
def world(db_url: str, make_module: MakeModule, tmp_path: Any) -> Iterator[World]:
    root = make_module(GLASS)
    other = os.path.join(str(tmp_path), "other")
    for name, text in OTHER.items():
        os.makedirs(os.path.dirname(os.path.join(other, name)), exist_ok=True)
        with open(os.path.join(other, name), "w", encoding="utf-8") as fh:
            fh.write(textwrap.dedent(text).lstrip("\n"))
    with server(db_url, [root, other]) as srv:
        for name, (role, agency, groups) in USERS.items():
            srv.add_user(name, role, agency=agency, groups=groups)
        srv.add_user("tess", "duty_officer", agency="agency_a", groups=("team_a2",))
        srv.add_user("dana", "duty_officer", agency="agency_b", groups=("team_b2",))
        srv.add_user("olga", "caseworker", agency="agency_a", groups=("team_a1",), module="other")
        yield World(srv)


def glass(w: World, rec: dict[str, Any], by: str = "tess", reason: Any = REASON) -> Any:
    return w.client(by).post("/api/v1/emergency", json={"record": rec["short_id"], "reason": reason})


def entries(w: World, action: str, rec: dict[str, Any]) -> list[dict[str, Any]]:
    r = w.client("dpo_a").get(f"/api/v1/audit?action={action}&record={rec['id']}")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["entries"]
    return found


def set_expiry(w: World, grant_id: int, when: datetime) -> None:
    engine = db.make_engine(w.srv.url)
    with db.transaction(db.session_factory(engine)) as session:
        session.execute(update(EmergencyGrant).where(EmergencyGrant.id == grant_id).values(expires_at=when))
    engine.dispose()


def test_without_the_capability_the_glass_stays_whole(world: World) -> None:
    rec = world.case()
    for who in ("adil", "vera", "bo", "dpo_a"):  # a caseworker, a group role, another agency, the DPO
        r = glass(world, rec, by=who)
        assert r.status_code == 403 and "emergency access" in r.json()["error"], (who, r.text)
        assert world.client(who).get("/emergency").status_code == 403
    assert world.client("bo").get(f"/api/v1/records/case/{rec['id']}").status_code == 404


def test_without_a_reason_nothing_opens(world: World) -> None:
    rec = world.case()
    for reason in (None, "", "   ", "urgent", 42):
        r = glass(world, rec, reason=reason)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason", r.text
    page = world.client("tess").post("/emergency", data={"record": rec["short_id"], "reason": "now"})
    assert page.status_code == 422 and "at least 10 characters" in page.text
    assert rec["short_id"] in page.text  # what was typed stays in the form
    assert world.client("tess").get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert entries(world, "emergency.open", rec) == []


def test_with_both_the_record_is_read_as_the_role_reads_it_and_never_changed(world: World) -> None:
    rec = world.case()
    tess = world.client("tess")
    assert tess.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    r = glass(world, rec)
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["reason"] == REASON and grant["live"] and grant["record"]["id"] == rec["id"]
    opened = datetime.fromisoformat(grant["at"])
    assert datetime.fromisoformat(grant["expires_at"]) - opened == timedelta(hours=HOURS)  # the module's setting
    view = tess.get(f"/api/v1/records/case/{rec['id']}").json()
    assert view["relation"] == "emergency" and view["emergency"]["id"] == grant["id"]
    # the role's forms and sensitivity: no direct identifier, no plan, no subform's private note
    assert set(view["forms"]) == {"consent", "registration"}
    assert not any(f["writable"] for f in view["forms"].values())
    assert view["data"]["code"] == "GBV-0042" and "name" not in view["data"] and "goal" not in view["data"]
    assert all("note" not in row for row in view["data"]["services"])
    assert view["transitions"] == [] and view["assignees"] == []
    # read-only: no change, no workflow step, no assignment, no referral, no linked record
    base = f"/api/v1/records/case/{rec['id']}"
    refused = [
        tess.patch(base, json={"version": view["version"], "data": {"code": "X"}}),
        tess.post(f"{base}/transitions/request_plan", json={}),
        tess.post(f"{base}/assignments", json={"to": "adil"}),
        world.refer(rec, by="tess", to="bea"),
    ]
    for r in refused:  # over the API too, the reason is the emergency's, not a referral's
        assert r.status_code == 403 and "Emergency access is for reading only" in r.json()["error"], r.text
    page = tess.post(f"/records/case/{rec['id']}/transitions/request_plan", data={})
    assert "Emergency access is for reading only" in page.text
    after = world.client("amina").get(base).json()
    assert after["stage"] == "open" and after["version"] == view["version"] and after["data"]["code"] == "GBV-0042"
    # the same role inside its scope takes the step: the refusal is the emergency's
    assert world.client("amina").post(f"{base}/transitions/request_plan", json={}).status_code == 200


def test_it_is_listed_while_it_lasts_and_gone_after_expiry(world: World) -> None:
    rec = world.case()
    tess = world.client("tess")
    grant = glass(world, rec).json()
    listed = tess.get("/api/v1/records/case").json()["items"]
    assert rec["id"] in {i["id"] for i in listed}
    set_expiry(world, grant["id"], datetime.now(UTC) - timedelta(minutes=1))
    assert tess.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert tess.get(f"/api/v1/records/case/{rec['id']}/history").status_code == 404
    assert tess.get(f"/records/case/{rec['id']}").status_code == 404
    assert rec["id"] not in {i["id"] for i in tess.get("/api/v1/records/case").json()["items"]}
    # a new reason opens it again, for the module's hours from now
    again = glass(world, rec, reason="She came back to the centre tonight, asking for a safe shelter.")
    assert again.status_code == 201 and again.json()["id"] != grant["id"]
    assert tess.get(f"/api/v1/records/case/{rec['id']}").status_code == 200


def test_every_read_under_the_grant_is_audited_as_emergency_access(world: World) -> None:
    rec = world.case()
    tess = world.client("tess")
    grant = glass(world, rec).json()
    opened = entries(world, "emergency.open", rec)
    assert len(opened) == 1 and opened[0]["details"]["reason"] == REASON and opened[0]["user"] == "tess"
    reads = [
        f"/api/v1/records/case/{rec['id']}",
        f"/api/v1/records/case/{rec['id']}/history",
        f"/records/case/{rec['id']}",
        f"/records/case/{rec['id']}/forms/registration",
    ]
    for url in reads:
        assert tess.get(url).status_code == 200, url
    audited = entries(world, "emergency.read", rec)
    assert len(audited) == len(reads)  # one per request, whatever the request reads
    assert {e["user"] for e in audited} == {"tess"} and {e["details"]["grant"] for e in audited} == {grant["id"]}
    world.client("amina").get(f"/api/v1/records/case/{rec['id']}")  # the owner's reads are not emergency access
    assert len(entries(world, "emergency.read", rec)) == len(reads)
    # a list showing it is a read of it too
    assert rec["id"] in {i["id"] for i in tess.get("/api/v1/records/case").json()["items"]}
    listed = entries(world, "emergency.read", rec)
    assert len(listed) == len(reads) + 1 and listed[0]["details"]["via"] == "list"


def test_the_supervisor_sees_it_on_their_home_page_and_the_owner_in_the_history(world: World) -> None:
    rec = world.case()
    grant = glass(world, rec).json()
    for supervisor in ("sara", "mona"):  # the owner's group supervisor, the agency's manager
        home = world.client(supervisor).get("/").text
        assert "Emergency access to your team&#39;s records" in home, supervisor
        assert rec["short_id"] in home and "tess" in home and REASON in home
    for other in ("adil", "tess", "bo"):  # a caseworker, the user who opened it, another agency
        assert "Emergency access to your team" not in world.client(other).get("/").text, other
    history = world.client("amina").get(f"/records/case/{rec['id']}").text
    assert "emergency access" in history and REASON in history and "tess" in history
    # a supervisor of the record may end it; a caseworker may not
    assert world.client("adil").post(f"/api/v1/emergency/{grant['id']}/end").status_code == 404
    ended = world.client("sara").post(f"/api/v1/emergency/{grant['id']}/end")
    assert ended.status_code == 200 and ended.json()["ended_by"] == "sara" and not ended.json()["live"]
    assert world.client("tess").get(f"/api/v1/records/case/{rec['id']}").status_code == 404


def test_an_unknown_id_another_module_and_another_agency_answer_the_same(world: World) -> None:
    rec = world.case()
    elsewhere = world.client("olga").post("/api/v1/records/case", json={"data": {"text": "x"}})
    assert elsewhere.status_code == 201, elsewhere.text
    other_module = elsewhere.json()
    tries = {
        "unknown": glass(world, {"short_id": "C-ZZZZZZ"}),
        "unknown uuid": glass(world, {"short_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}),
        "other module": glass(world, other_module),
        "other module uuid": glass(world, {"short_id": other_module["id"]}),
        "other agency": glass(world, rec, by="dana"),
    }
    answers = {(r.status_code, r.json()["error"]) for r in tries.values()}
    assert len(answers) == 1 and next(iter(answers))[0] == 404, {k: r.text for k, r in tries.items()}
    pages = {
        world.client(who)
        .post("/emergency", data={"record": short, "reason": REASON})
        .text.count("There is no record with this id")
        for who, short in (("tess", "C-ZZZZZZ"), ("tess", other_module["short_id"]), ("dana", rec["short_id"]))
    }
    assert pages == {1}
    engine = db.make_engine(world.srv.url)
    with db.transaction(db.session_factory(engine)) as session:
        assert session.scalars(select(EmergencyGrant)).all() == []
    engine.dispose()


def test_inside_ones_reach_the_record_just_opens(world: World) -> None:
    world.srv.add_user("tom", "duty_officer", agency="agency_a", groups=("team_a1",))
    rec = world.case()
    r = glass(world, rec, by="tom")
    assert r.status_code == 200 and r.json()["in_reach"] and r.json()["id"] is None
    page = world.client("tom").post("/emergency", data={"record": rec["short_id"], "reason": REASON})
    assert page.status_code == 200 and page.url.path == f"/records/case/{rec['id']}"
    assert "without emergency access" in page.text
    assert entries(world, "emergency.open", rec) == []


def test_the_pages_open_show_the_banner_and_end_it(world: World) -> None:
    rec = world.case()
    tess = world.client("tess")
    assert 'href="/emergency"' in tess.get("/").text
    form = tess.get("/emergency")
    assert form.status_code == 200 and 'name="reason"' in form.text
    page = tess.post("/emergency", data={"record": rec["short_id"].lower(), "reason": REASON})
    assert page.status_code == 200 and page.url.path == f"/records/case/{rec['id']}"
    assert "Emergency access until" in page.text and "every view is recorded" in page.text
    assert "End emergency access" in page.text and "Assign to a colleague" not in page.text
    listed = tess.get("/emergency").text
    assert rec["short_id"] in listed and REASON in listed
    grant_id = int(listed.split('action="/emergency/')[1].split("/end")[0])
    done = tess.post(f"/emergency/{grant_id}/end", data={})
    assert done.status_code == 200 and "Emergency access ended." in done.text
    assert tess.get(f"/records/case/{rec['id']}").status_code == 404
    assert tess.post(f"/api/v1/emergency/{grant_id}/end").status_code == 409
    ended = entries(world, "emergency.end", rec)
    assert len(ended) == 1 and ended[0]["user"] == "tess"


def _role(emergency: bool, aggregate: bool = False) -> Role:
    everything = frozenset({"*"})
    return Role(
        "r", "R", "group", frozenset({"case.read"}), everything, everything, frozenset({"none"}), aggregate,
        Position("roles.yaml", 1, 1), emergency_access=emergency,
    )  # fmt: skip


def test_the_one_rule_grants_read_only_access_within_the_agency_and_the_role() -> None:
    held = Holding(owner_id=1, agency_id=10, group_id=100, emergency=frozenset({7}))
    assert Reach(7, agency_id=10, emergency=True).relation(held) == "emergency"
    assert Reach(7, agency_id=10, emergency=False).relation(held) is None  # the role lost the capability
    assert Reach(7, agency_id=11, emergency=True).relation(held) is None  # never across agencies
    assert Reach(8, agency_id=10, emergency=True).relation(held) is None  # someone else's grant
    assert Reach(7, agency_id=10, group_ids=frozenset({100}), emergency=True).relation(held) == "group"
    module = SimpleNamespace(record_types={"case": SimpleNamespace(form_ids=("a", "b"))})
    policy = Policy(module)  # type: ignore[arg-type]
    found = policy.access(Actor(7, "tess", _role(True), agency_id=10), "case", held)
    assert found is not None and found.relation == "emergency" and found.read_forms == {"a", "b"}
    assert not (found.write_forms or found.workflow or found.assign or found.refer or found.link)
    assert policy.access(Actor(7, "tess", _role(False), agency_id=10), "case", held) is None
    assert policy.access(Actor(7, "tess", _role(True, aggregate=True), agency_id=10), "case", held) is None
    assert policy.access(Actor(7, "tess", _role(True), agency_id=None), "case", held) is None
