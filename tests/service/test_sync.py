"""Offline work on the server, SQLite and PostgreSQL: the package a device takes offline, the records
it may keep, and the batch of queued changes — replayed changes applied once, stale edits merged,
conflicts reported with both values and resolved, refused changes explained while the others go
through, offline-only steps, a change of definitions, and the audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BASE_FILES, MakeModule
from tests.server import Server, server

INTAKE = (
    BASE_FILES["forms/intake.yaml"]
    + """
          - {id: name, type: text, label: Name, sensitivity: direct}
          - {id: phone, type: text, label: Phone, constraint: "regex(., '^[0-9 ]+$')", constraint_message: Digits only.}
"""
)
ROLES = BASE_FILES["roles.yaml"].replace(
    "permissions: [case.read]\n            forms: {read: ['*'], write: []}",
    "permissions: [case.read, case.write]\n            forms: {read: ['*'], write: ['*']}",
)


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module({"forms/intake.yaml": INTAKE, "roles.yaml": ROLES})]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("sam", "supervisor")
        s.add_user("bilal", "caseworker")
        yield s


def cid() -> str:
    return uuid.uuid4().hex


def send(c: Any, *changes: dict[str, Any], version: str = "1") -> list[dict[str, Any]]:
    r = c.post("/api/v1/sync", json={"definitions_version": version, "changes": list(changes)})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def create(c: Any, **data: Any) -> dict[str, Any]:
    rid = str(uuid.uuid4())
    (res,) = send(c, {"change_id": cid(), "op": "create", "record_type": "case", "id": rid, "data": data})
    assert res["status"] == "applied", res
    return dict(res["record"])


def update(c: Any, rec: dict[str, Any], base: int, **changes: Any) -> dict[str, Any]:
    (res,) = send(
        c,
        {
            "change_id": cid(),
            "op": "update",
            "record_type": "case",
            "id": rec["id"],
            "base_version": base,
            "changes": changes,
        },
    )
    return res


def test_a_change_sent_again_is_applied_once(srv: Server) -> None:
    a = srv.client("amina")
    rid, change = str(uuid.uuid4()), cid()
    item = {"change_id": change, "op": "create", "record_type": "case", "id": rid, "data": {"sex": "female"}}
    first = send(a, item)[0]
    again = send(a, item)[0]
    assert first["status"] == "applied" and again["status"] == "applied" and again["replayed"] is True
    other_tab = send(a, {**item, "change_id": cid()})[0]
    assert other_tab["status"] == "duplicate"  # a second tab's create of the same record
    assert a.get("/api/v1/records/case").json()["total"] == 1
    edit = {
        "change_id": cid(),
        "op": "update",
        "record_type": "case",
        "id": rid,
        "base_version": 1,
        "changes": {"consent": "yes"},
    }
    one, two = send(a, edit, edit)
    assert one["status"] == "applied" and two["replayed"] is True
    assert a.get(f"/api/v1/records/case/{rid}").json()["version"] == 2
    stolen = send(srv.client("bilal"), {**item})[0]
    assert stolen["status"] == "rejected"  # someone else's change id


def test_stale_edits_merge_and_conflicts_are_resolved(srv: Server) -> None:
    a, sam = srv.client("amina"), srv.client("sam")
    rec = create(a, sex="female", name="Amal", phone="555")
    # the supervisor edits online meanwhile (version 1 -> 2)
    r = sam.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"phone": "777"}})
    assert r.status_code == 200
    merged = update(a, rec, 1, name="Amal H.")
    assert merged["status"] == "merged" and merged["record"]["data"]["phone"] == "777"
    assert merged["record"]["data"]["name"] == "Amal H."
    conflict = update(a, rec, 1, phone="999", consent="yes")
    assert conflict["status"] == "conflict"
    assert conflict["conflicts"] == [{"field": "phone", "mine": "999", "theirs": "777", "base": "555"}]
    assert conflict["record"]["data"]["consent"] == "yes" and conflict["record"]["data"]["phone"] == "777"
    resolved = update(a, rec, conflict["record"]["version"], phone="999")  # the user chose theirs... mine
    assert resolved["status"] == "applied" and resolved["record"]["data"]["phone"] == "999"


def test_subform_rows_merge_by_their_ids(srv: Server) -> None:
    a, sam = srv.client("amina"), srv.client("sam")
    rec = create(a, sex="female", consent="yes", goal="Safety", services=[{"_row": "r1", "service": "Shelter"}])
    now = sam.get(f"/api/v1/records/case/{rec['id']}").json()
    rows = [*now["data"]["services"], {"_row": "s1", "service": "Health"}]
    assert (
        sam.patch(
            f"/api/v1/records/case/{rec['id']}", json={"version": now["version"], "data": {"services": rows}}
        ).status_code
        == 200
    )
    mine = [{"_row": "r1", "service": "Shelter tonight"}, {"_row": "a1", "service": "Legal aid"}]
    res = update(a, rec, 1, services=mine)
    assert res["status"] == "merged"
    services = res["record"]["data"]["services"]
    assert [r["_row"] for r in services] == ["r1", "s1", "a1"] and services[0]["service"] == "Shelter tonight"


def test_a_refused_change_is_explained_and_the_others_go_through(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a, sex="female")
    bad = {
        "change_id": cid(),
        "op": "update",
        "record_type": "case",
        "id": rec["id"],
        "base_version": 1,
        "changes": {"phone": "call me"},
    }
    good = {
        "change_id": cid(),
        "op": "update",
        "record_type": "case",
        "id": rec["id"],
        "base_version": 1,
        "changes": {"consent": "no"},
    }
    unknown = {**good, "change_id": cid(), "changes": {"nope": 1}}
    r1, r2, r3 = send(a, bad, good, unknown)
    assert (
        r1["status"] == "rejected"
        and r1["errors"][0]["field"] == "phone"
        and r1["errors"][0]["message"] == "Digits only."
    )
    assert r2["status"] == "applied" and r3["status"] == "rejected"
    assert "phone" not in a.get(f"/api/v1/records/case/{rec['id']}").json()["data"]


def test_steps_that_need_the_server_are_refused_offline(srv: Server) -> None:
    a, sam = srv.client("amina"), srv.client("sam")
    rec = create(a, sex="female", consent="yes", dob="1990-01-01", goal="Safety")
    (req,) = send(
        a,
        {
            "change_id": cid(),
            "op": "transition",
            "record_type": "case",
            "id": rec["id"],
            "transition": "request_plan",
            "comment": "Agreed.",
        },
    )
    assert req["status"] == "applied" and req["record"]["stage"] == "plan_requested"
    srv.add_user("lead", "lead")
    (approve,) = send(
        srv.client("lead"),
        {"change_id": cid(), "op": "transition", "record_type": "case", "id": rec["id"], "transition": "approve_plan"},
    )
    assert approve["status"] == "rejected" and "online" in approve["reasons"][0]
    steps = {s["id"]: s["offline"] for rt in a.get("/api/v1/offline").json()["record_types"] for s in rt["steps"]}
    assert steps["request_plan"] is True and "approve_plan" not in steps  # not the caseworker's
    assert sam is not None


def test_definitions_changed_since_the_device_took_them(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a, sex="female")
    r = a.post(
        "/api/v1/sync",
        json={
            "definitions_version": "0.9",
            "changes": [
                {
                    "change_id": cid(),
                    "op": "update",
                    "record_type": "case",
                    "id": rec["id"],
                    "base_version": 1,
                    "changes": {"phone": "x"},
                }
            ],
        },
    ).json()
    assert r["definitions_changed"] is True and r["definitions_version"] == "1"
    assert r["results"][0]["status"] == "rejected" and r["results"][0]["definitions_changed"] is True


def test_the_device_receives_only_what_the_user_may_see(srv: Server) -> None:
    a, sam = srv.client("amina"), srv.client("sam")
    package = a.get("/api/v1/offline").json()
    case = next(rt for rt in package["record_types"] if rt["id"] == "case")
    intake = next(f for f in case["forms"] if f["id"] == "intake")
    assert "name" in {f["id"] for f in intake["fields"]} and intake["writable"] is True
    assert package["limit"] == 50 and package["definitions_version"] == "1"
    rec = create(a, sex="female", name="Amal")
    mine = a.get("/api/v1/offline/records", params={"id": rec["id"]}).json()["records"][0]
    assert mine["data"]["name"] == "Amal" and mine["relation"] == "owner"
    # a supervisor reaches it through the group, but does not hold it: it does not go on their device
    assert sam.get("/api/v1/offline/records", params={"id": rec["id"]}).status_code == 403
    assert srv.client("bilal").get("/api/v1/offline/records", params={"id": rec["id"]}).status_code == 404
    too_many = a.get("/api/v1/offline/records", params={"id": [rec["id"]] * 51})
    assert too_many.status_code == 400
