"""The JSON API on SQLite and PostgreSQL: records, scope, sensitivity, workflow, referral, audit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from engine.storage import db
from tests.conftest import BASE_FILES, MakeModule
from tests.server import Server, server

ROLES = """
    roles:
      - id: caseworker
        label: Caseworker
        scope: own
        permissions: [case.create, case.read, case.write, case.refer]
        forms: {read: ['*'], write: ['*']}
        sensitivity: [direct, quasi, none]
      - id: supervisor
        label: Supervisor
        scope: group
        permissions: [case.read, case.write, case.assign, case.refer, consent_override]
        forms: {read: ['*'], write: ['*']}
        sensitivity: [quasi, none]
      - id: lead
        label: Team lead
        scope: group
        permissions: [case.read, self_approve]
        forms: {read: ['*'], write: []}
        sensitivity: [direct, quasi, none]
      - id: coordinator
        label: Coordinator
        scope: all
        permissions: [reports.read]
        forms: {read: [], write: []}
        sensitivity: [none]
        aggregate_only: true
      - id: manager
        label: Case management manager
        scope: agency
        permissions: [case.read, case.assign]
        forms: {read: ['*'], write: []}
        sensitivity: [quasi, none]
      - id: auditor
        label: Data protection officer
        scope: agency
        permissions: [audit.read]
        forms: {read: [], write: []}
        sensitivity: [none]
"""
INTAKE = (
    BASE_FILES["forms/intake.yaml"]
    + """
          - id: name
            type: text
            label: Name
            sensitivity: direct
"""
)
WORKFLOW = (
    BASE_FILES["workflows/case_flow.yaml"].replace(
        "roles: [caseworker, lead], requires_forms: [intake, plan]}",
        "roles: [caseworker, lead, supervisor], requires_forms: [intake]}",
    )
    + """
          - id: refer
            label: Refer for health care
            from: [open, active]
            roles: [caseworker, supervisor]
            referral: true
            guards:
              - when: "${consent} = 'yes'"
                message: The survivor has not agreed to be referred.
                override: consent_override
"""
)
COMPLETE = {"sex": "female", "consent": "yes", "dob": "1990-01-01", "name": "Amal"}


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    root = make_module({"roles.yaml": ROLES, "forms/intake.yaml": INTAKE, "workflows/case_flow.yaml": WORKFLOW})
    with server(db_url, [root]) as s:
        s.add_user("amina", "caseworker")
        s.add_user("bilal", "caseworker")
        s.add_user("sam", "supervisor")
        s.add_user("lina", "lead")
        s.add_user("coord", "coordinator", groups=())
        s.add_user("other_sup", "supervisor", agency="agency_b", groups=("team_9",))
        s.add_user("dpo", "auditor", groups=())
        s.add_user("b_manager", "manager", agency="agency_b", groups=("team_8",))
        yield s


def create(c: Any, data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    r = c.post("/api/v1/records/case", json={"data": data if data is not None else COMPLETE, **extra})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# -- sign-in, sessions, CSRF -----------------------------------------------------------------
def test_login_wrong_password_and_throttling(srv: Server) -> None:
    c = srv.client()
    assert c.post("/api/v1/login", json={"username": "amina", "password": "nope"}).status_code == 401
    assert c.post("/api/v1/login", json={"username": "ghost", "password": "nope"}).status_code == 401
    assert c.get("/api/v1/records/case").status_code == 401
    for _ in range(4):
        c.post("/api/v1/login", json={"username": "amina", "password": "nope"})
    r = c.post("/api/v1/login", json={"username": "amina", "password": "correct horse battery staple"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert srv.client("bilal").get("/api/v1/me").status_code == 200  # other accounts are not locked


def test_cookie_and_security_headers(srv: Server) -> None:
    c = srv.client()
    r = c.post("/api/v1/login", json={"username": "amina", "password": "correct horse battery staple"})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


def test_cross_site_posts_are_refused(srv: Server) -> None:
    c = srv.client("amina")
    r = c.post("/api/v1/records/case", json={"data": COMPLETE}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = c.post("/api/v1/records/case", json={"data": COMPLETE}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    r = c.post(
        "/api/v1/records/case",
        json={"data": COMPLETE},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
    )
    assert r.status_code == 201
    assert c.get("/api/v1/records/case").json()["total"] == 1


def test_logout_and_idle_timeout_end_the_session(srv: Server) -> None:
    c = srv.client("amina")
    assert c.get("/api/v1/me").status_code == 200
    engine = db.make_engine(srv.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE sessions SET last_seen_at = :t"), {"t": "2000-01-01 00:00:00+00:00"})
    engine.dispose()
    r = c.get("/api/v1/me")
    assert r.status_code == 401 and "inactivity" in r.json()["error"]
    d = srv.client("bilal")
    stolen = d.cookies.get("sanad_session")
    assert d.post("/api/v1/logout").status_code == 200
    e = srv.client()
    e.cookies.set("sanad_session", stolen)
    assert e.get("/api/v1/me").status_code == 401
    e.cookies.set("sanad_session", "forged.value")
    assert e.get("/api/v1/me").status_code == 401


# -- records -----------------------------------------------------------------------------------
def test_create_read_update_and_history(srv: Server) -> None:
    c = srv.client("amina")
    rec = create(c, {"sex": "female", "dob": "2015-01-01", "caregiver": "Aunt"})
    assert rec["stage"] == "open" and rec["version"] == 1 and rec["short_id"].startswith("C-")
    assert rec["data"]["age"] >= 10  # computed on the server
    assert rec["forms"]["intake"]["complete"] is False  # consent missing: saved anyway, marked incomplete
    r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"dob": "1990-01-01"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 2 and "caregiver" not in body["data"]  # no longer relevant: cleared
    history = c.get(f"/api/v1/records/case/{rec['short_id']}/history").json()["history"]
    assert [h["action"] for h in history] == ["create", "update"]
    changed = {ch["field"]: ch for ch in history[1]["changes"]}
    assert changed["caregiver"]["old"] == "Aunt" and changed["caregiver"]["new"] is None


def test_bad_input_is_rejected_never_stored(srv: Server) -> None:
    c = srv.client("amina")
    r = c.post("/api/v1/records/case", json={"data": {"sex": "female", "favourite_colour": "blue"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "favourite_colour"
    r = c.post("/api/v1/records/case", json={"data": {"sex": "alien"}})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "sex", "code": "choice", "message": "'alien' is not one of the options offered."}
    ]
    r = c.post("/api/v1/records/case", json={"data": {"age": 3}})
    assert r.status_code == 403  # a calculation cannot be written
    assert (
        c.post("/api/v1/records/case", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 400
    )
    assert c.post("/api/v1/records/case", json=[1, 2]).status_code == 400
    for raw in (b'{"data": {"dob": 1e999}}', b'{"data": {"dob": NaN}}'):
        assert (
            c.post("/api/v1/records/case", content=raw, headers={"content-type": "application/json"}).status_code == 400
        )
    assert c.post("/api/v1/records/case", json={"data": {}, "extra": 1}).status_code == 400
    assert c.post("/api/v1/records/nope", json={"data": {}}).status_code == 404
    rec = create(c)
    assert c.patch(f"/api/v1/records/case/{rec['id']}", json={"data": {"sex": "male"}}).status_code == 400
    assert c.get("/api/v1/records/case").json()["total"] == 1


def test_create_with_a_client_id_is_idempotent(srv: Server) -> None:
    c = srv.client("amina")
    rid = str(uuid.uuid4())
    first = c.post("/api/v1/records/case", json={"id": rid, "data": COMPLETE})
    again = c.post("/api/v1/records/case", json={"id": rid, "data": COMPLETE})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] == rid
    assert c.get("/api/v1/records/case").json()["total"] == 1
    other = srv.client("bilal").post("/api/v1/records/case", json={"id": rid, "data": COMPLETE})
    assert other.status_code == 409
    assert c.post("/api/v1/records/case", json={"id": "not-a-uuid", "data": {}}).status_code == 422


def test_a_stale_save_gets_409_with_what_changed(srv: Server) -> None:
    c = srv.client("amina")
    rec = create(c)
    assert (
        c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"name": "Amal H."}}).status_code
        == 200
    )
    r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"sex": "male"}})
    assert r.status_code == 409
    assert r.json()["current_version"] == 2


def test_two_concurrent_saves_of_one_version_one_wins(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.service import records

    owner = srv.client("amina")
    rec = create(owner)
    barrier = threading.Barrier(2, timeout=20)
    real = records.evaluate

    def slow_evaluate(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if threading.current_thread().name.startswith("saver"):
            barrier.wait()  # both requests have passed the version check before either writes
        return result

    monkeypatch.setattr(records, "evaluate", slow_evaluate)
    clients = [srv.client("amina"), srv.client("amina")]
    statuses: list[int] = []

    def save(i: int) -> None:
        r = clients[i].patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"name": f"N{i}"}})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save, args=(i,), name=f"saver-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 409]
    monkeypatch.setattr(records, "evaluate", real)
    history = owner.get(f"/api/v1/records/case/{rec['id']}/history").json()["history"]
    assert [h["action"] for h in history] == ["create", "update"]


# -- access ------------------------------------------------------------------------------------
def test_scope_out_of_reach_is_404_and_lists_are_scoped(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a)
    b = srv.client("bilal")
    assert b.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert b.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"sex": "male"}}).status_code == 404
    assert b.get("/api/v1/records/case").json()["total"] == 0
    assert srv.client("sam").get(f"/api/v1/records/case/{rec['id']}").status_code == 200  # same group
    other = srv.client("other_sup")
    assert other.get(f"/api/v1/records/case/{rec['id']}").status_code == 404  # another agency's group
    coord = srv.client("coord")
    assert coord.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert coord.get("/api/v1/records/case").status_code == 403


def test_fields_above_the_role_sensitivity_never_leave_the_server(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a)
    c = a.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"name": "Amal Haddad"}})
    assert c.status_code == 200
    sam = srv.client("sam")
    r = sam.get(f"/api/v1/records/case/{rec['id']}")
    assert r.status_code == 200 and "name" not in r.json()["data"] and "Amal" not in r.text
    h = sam.get(f"/api/v1/records/case/{rec['id']}/history")
    assert "Amal" not in h.text and "name" not in {ch["field"] for e in h.json()["history"] for ch in e["changes"]}
    # writing a field you cannot see is refused as unknown, and saving keeps the hidden value
    assert sam.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 2, "data": {"name": "X"}}).status_code == 422
    assert (
        sam.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 2, "data": {"caregiver": "Aunt"}}).status_code
        == 200
    )
    assert a.get(f"/api/v1/records/case/{rec['id']}").json()["data"]["name"] == "Amal Haddad"


# -- workflow ----------------------------------------------------------------------------------
def test_transition_status_codes_and_reasons(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a, {"sex": "female"})
    url = f"/api/v1/records/case/{rec['id']}/transitions"
    r = a.post(f"{url}/request_plan", json={})
    assert r.status_code == 422
    assert r.json()["reasons"] == ["Complete the form 'Intake' first: 1 required answer is missing."]
    assert a.post(f"{url}/approve_plan", json={}).status_code == 409  # not from this stage
    assert a.post(f"{url}/nope", json={}).status_code == 404
    a.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1, "data": {"consent": "yes"}})
    r = a.post(f"{url}/request_plan", json={"comment": "Plan agreed with the survivor"})
    assert r.status_code == 200 and r.json()["stage"] == "plan_requested"
    assert a.post(f"{url}/approve_plan", json={}).status_code == 403  # caseworkers do not approve
    r = srv.client("sam").post(f"{url}/approve_plan", json={"comment": "Good plan"})
    assert r.status_code == 200 and r.json()["stage"] == "active"


def test_no_self_approval_without_the_permission(srv: Server) -> None:
    sam, lina = srv.client("sam"), srv.client("lina")
    a = srv.client("amina")
    rec = create(a)
    url = f"/api/v1/records/case/{rec['id']}/transitions"
    assert sam.post(f"{url}/request_plan", json={}).status_code == 200
    r = sam.post(f"{url}/approve_plan", json={})
    assert r.status_code == 403 and "another approver" in " ".join(r.json()["reasons"])
    assert lina.post(f"{url}/reject_plan", json={"comment": "Needs a safety plan"}).status_code == 200
    assert lina.post(f"{url}/request_plan", json={}).status_code == 200
    assert lina.post(f"{url}/approve_plan", json={}).status_code == 200  # self_approve


def test_referral_needs_consent_or_an_override_reason_and_shares_only_named_forms(srv: Server) -> None:
    a, sam, bilal = srv.client("amina"), srv.client("sam"), srv.client("bilal")
    rec = create(a, {**COMPLETE, "consent": "no"})
    url = f"/api/v1/records/case/{rec['id']}/referrals"
    body = {"transition": "refer", "to": "bilal", "forms": ["intake"]}
    r = a.post(url, json=body)
    assert r.status_code == 422 and r.json()["reasons"] == ["The survivor has not agreed to be referred."]
    r = sam.post(url, json=body)
    assert r.status_code == 422 and r.json().get("needs_reason") is True
    r = sam.post(url, json={**body, "override_reason": "Immediate medical risk"})
    assert r.status_code == 201, r.text
    seen = bilal.get(f"/api/v1/records/case/{rec['id']}").json()
    assert set(seen["forms"]) == {"intake"} and "goal" not in seen["data"]
    ref = bilal.get("/api/v1/referrals").json()["referrals"][0]
    assert ref["status"] == "pending" and ref["from"] == "sam"
    assert (
        bilal.post(f"/api/v1/referrals/{ref['id']}/decline", json={"comment": "Not my area"}).json()["status"]
        == "declined"
    )
    assert bilal.get(f"/api/v1/records/case/{rec['id']}").status_code == 404  # access ends with the decline
    assert bilal.post(f"/api/v1/referrals/{ref['id']}/accept", json={}).status_code == 409


def test_assignment_within_scope(srv: Server) -> None:
    a, sam, bilal = srv.client("amina"), srv.client("sam"), srv.client("bilal")
    rec = create(a)
    url = f"/api/v1/records/case/{rec['id']}/assignments"
    assert a.post(url, json={"to": "bilal"}).status_code == 403  # caseworkers do not assign
    assert sam.post(url, json={"to": "other_sup"}).status_code == 422  # another agency, another group
    assert sam.post(url, json={"to": "bilal"}).status_code == 200
    assert bilal.get(f"/api/v1/records/case/{rec['id']}").status_code == 200


def test_linked_records(srv: Server) -> None:
    a = srv.client("amina")
    case = create(a)
    child = create(a, {"sex": "female"}, link_to=case["id"])
    assert [link["id"] for link in a.get(f"/api/v1/records/case/{case['id']}").json()["links"]] == [child["id"]]
    b = srv.client("bilal")
    assert b.post("/api/v1/records/case", json={"data": {}, "link_to": case["id"]}).status_code == 404


# -- audit -------------------------------------------------------------------------------------
def test_audit_log_records_reads_and_sign_ins_and_refuses_changes(srv: Server) -> None:
    a = srv.client("amina")
    rec = create(a)
    a.get(f"/api/v1/records/case/{rec['id']}")
    srv.client().post("/api/v1/login", json={"username": "amina", "password": "wrong"})
    dpo = srv.client("dpo")
    entries = dpo.get("/api/v1/audit", params={"user": "amina"}).json()["entries"]
    actions = [e["action"] for e in entries]
    assert {"login.success", "login.failure", "record.create", "record.read"} <= set(actions)
    assert all(e["ip"] for e in entries)
    assert a.get("/api/v1/audit").status_code == 403
    engine = db.make_engine(srv.url)
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    engine.dispose()


def test_openapi_and_form_json(srv: Server) -> None:
    c = srv.client("amina")
    spec = c.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and "/api/v1/records/{record_type}/{id}" in spec["paths"]
    form = c.get("/api/v1/modules/mini/forms/intake").json()
    fields = {f["id"]: f for f in form["fields"]}
    assert fields["caregiver"]["relevant"] == {
        "op": "cmp",
        "cmp": "<",
        "args": [{"op": "ref", "name": "age", "up": 0}, {"op": "lit", "value": 18}],
    }
    assert "name" not in {f["id"] for f in srv.client("sam").get("/api/v1/modules/mini/forms/intake").json()["fields"]}


def test_random_submissions_are_refused_or_saved_never_a_server_error(srv: Server) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    c = srv.client("amina")
    rec = create(c)
    keys = st.sampled_from(["sex", "dob", "consent", "caregiver", "name", "goal", "services", "age", "total", "x", ""])
    values = st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=8),
            st.sampled_from(["female", "yes", "2015-02-30", "1990-01-01"]),
        ),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["service", "cost", "x"]), inner, max_size=3)
        ),
        max_leaves=8,
    )

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(keys, values, max_size=4))
    def check(data: dict[str, Any]) -> None:
        r = c.post("/api/v1/records/case", json={"data": data})
        assert r.status_code in (201, 400, 403, 422), r.text
        current = c.get(f"/api/v1/records/case/{rec['id']}").json()["version"]
        r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": current, "data": data})
        assert r.status_code in (200, 400, 403, 422), r.text

    check()


def test_referral_to_another_agency_is_accepted_by_its_manager(srv: Server) -> None:
    a, sam, other, mgr = srv.client("amina"), srv.client("sam"), srv.client("other_sup"), srv.client("b_manager")
    rec = create(a)
    assert mgr.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    r = sam.post(
        f"/api/v1/records/case/{rec['id']}/referrals",
        json={"transition": "refer", "to_agency": "agency_b", "forms": ["intake"]},
    )
    assert r.status_code == 201, r.text
    assert other.get("/api/v1/referrals").json()["referrals"] == []  # a group-scope role does not decide for the agency
    [ref] = mgr.get("/api/v1/referrals").json()["referrals"]
    assert ref["to_agency"] is True and ref["status"] == "pending"
    assert [i["id"] for i in mgr.get("/api/v1/records/case").json()["items"]] == [rec["id"]]
    seen = mgr.get(f"/api/v1/records/case/{rec['id']}").json()
    assert set(seen["forms"]) == {"intake"} and "name" not in seen["data"]
    assert mgr.post(f"/api/v1/referrals/{ref['id']}/accept", json={}).json()["status"] == "accepted"
    assert mgr.get(f"/api/v1/records/case/{rec['id']}").status_code == 200
    assert (
        sam.post(
            f"/api/v1/records/case/{rec['id']}/referrals",
            json={"transition": "refer", "to_agency": "nowhere", "forms": ["intake"]},
        ).status_code
        == 422
    )


def test_refused_requests_are_audited(srv: Server) -> None:
    a, b = srv.client("amina"), srv.client("bilal")
    rec = create(a)
    assert b.get(f"/api/v1/records/case/{rec['id']}").status_code == 404
    assert a.post(f"/api/v1/records/case/{rec['id']}/transitions/approve_plan", json={}).status_code == 409
    entries = srv.client("dpo").get("/api/v1/audit", params={"action": "request.refused"}).json()["entries"]
    seen = {(e["user"], e["record_id"], e["details"]["status"]) for e in entries}
    assert ("bilal", rec["id"], 404) in seen and ("amina", rec["id"], 409) in seen
