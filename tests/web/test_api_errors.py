"""Every error of the API is JSON {"error", "status"} (Starlette's own 404 and 405, an unexpected
exception included), a 500 never shows a traceback, the pages keep their HTML error pages, and
request bodies are read as the OpenAPI document describes them (security review, issue 14)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import request_response
from starlette.testclient import TestClient

from engine.web import api
from tests.conftest import MakeModule
from tests.security.conftest import World, world  # noqa: F401  (the fixture)
from tests.server import PASSWORD, Server, server


@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module()]) as s:
        s.add_user("amina", "caseworker")
        yield s


def signed_in(srv: Server, username: str = "amina") -> TestClient:
    """A client that gets the app's response to an unexpected exception instead of the exception."""
    c = TestClient(srv.app, base_url="http://testserver", raise_server_exceptions=False)
    c.__enter__()
    srv.clients.append(c)
    assert c.post("/api/v1/login", json={"username": username, "password": PASSWORD}).status_code == 200
    return c


def is_error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json", r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    return body


# -- Starlette's own errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/records", "/api/v2/me", "/api/", "/api/v1/me/x"])
def test_an_unknown_api_address_is_a_json_404(srv: Server, path: str) -> None:
    body = is_error(srv.client("amina").get(path), 404)
    assert set(body) == {"error", "status"}
    is_error(srv.client().post(path, json={}), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/me", {"GET", "HEAD"}),
        ("DELETE", "/api/v1/records/case", {"GET", "HEAD", "POST"}),
        ("GET", "/api/v1/login", {"POST"}),
        ("POST", "/api/v1/openapi.json", {"GET", "HEAD"}),
    ],
)
def test_a_method_an_address_does_not_take_is_a_json_405(
    srv: Server, method: str, path: str, allowed: set[str]
) -> None:
    r = srv.client("amina").request(method, path)
    body = is_error(r, 405)
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed
    assert set(body) == {"error", "status"}


def test_an_unexpected_error_is_a_json_500_without_its_details(
    srv: Server, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_ctx: Any) -> Any:
        raise RuntimeError("the secret inner workings")

    monkeypatch.setattr(api, "_me", broken)
    c = signed_in(srv)
    with caplog.at_level(logging.ERROR):
        r = c.get("/api/v1/me")
    body = is_error(r, 500)
    assert set(body) == {"error", "status"}
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text
    # the server keeps the details for its operators
    assert any("the secret inner workings" in (rec.exc_text or "") for rec in caplog.records)
    assert c.get("/api/v1/modules").status_code == 200  # and goes on serving


def test_an_unexpected_error_outside_the_handlers_is_a_json_500(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.web import security

    def broken(_scope: Any) -> bool:
        raise RuntimeError("the secret inner workings")

    c = signed_in(srv)
    monkeypatch.setattr(security, "same_origin", broken)
    r = c.post("/api/v1/logout")
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {"error": r.json()["error"], "status": 500} and "secret" not in r.text


def test_pages_keep_their_html_error_pages(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    c = signed_in(srv)
    r = c.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text
    r = c.post("/queue")
    assert r.status_code == 405 and r.headers["content-type"].startswith("text/html") and "GET" in r.headers["allow"]

    async def broken(_request: Any) -> Any:
        raise RuntimeError("the secret inner workings")

    [route] = [r for r in srv.app.router.routes if getattr(r, "path", None) == "/"]
    monkeypatch.setattr(route, "app", request_response(broken))
    r = c.get("/")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "secret" not in r.text and "Traceback" not in r.text


# -- bodies: as documented -------------------------------------------------------------------------------
def test_a_create_without_a_body_is_refused(srv: Server) -> None:
    c = srv.client("amina")
    is_error(c.post("/api/v1/records/case"), 400)
    is_error(c.post("/api/v1/records/case", json={}), 400)
    is_error(c.post("/api/v1/records/case", json={"id": str(uuid.uuid4())}), 400)
    assert c.get("/api/v1/records/case").json()["total"] == 0
    assert c.post("/api/v1/records/case", json={"data": {}}).status_code == 201  # an empty record is a create


def test_link_to_null_links_nothing(srv: Server) -> None:
    c = srv.client("amina")
    r = c.post("/api/v1/records/case", json={"data": {}, "link_to": None})
    assert r.status_code == 201 and r.json()["links"] == []
    is_error(c.post("/api/v1/records/case", json={"data": {}, "link_to": 7}), 400)


def test_a_save_without_data_is_refused(srv: Server) -> None:
    c = srv.client("amina")
    rec = c.post("/api/v1/records/case", json={"data": {}}).json()
    is_error(c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 1}), 400)
    is_error(c.patch(f"/api/v1/records/case/{rec['id']}"), 400)
    assert c.get(f"/api/v1/records/case/{rec['id']}").json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/login", {"username": "amina", "password": PASSWORD, "remember": True}),
        ("POST", "/api/v1/records/case/{id}/transitions/request_plan", {"commment": "typo"}),
        ("POST", "/api/v1/records/case/{id}/assignments", {"to": "amina", "note": "x"}),
        ("DELETE", "/api/v1/records/case/{id}/assignments/amina", {"reason": "x"}),
        ("POST", "/api/v1/records/case/{id}/referrals", {"transition": "refer", "forms": ["intake"], "x": 1}),
        ("POST", "/api/v1/referrals/1/accept", {"comment": "ok", "x": 1}),
        ("POST", "/api/v1/sync", {"changes": [], "x": 1}),
    ],
)
def test_unknown_keys_in_a_body_are_refused(srv: Server, method: str, path: str, body: dict[str, Any]) -> None:
    c = srv.client("amina")
    rec = c.post("/api/v1/records/case", json={"data": {}}).json()
    r = c.request(method, path.replace("{id}", rec["id"]), json=body)
    assert "x" in is_error(r, 400)["error"] or "unknown" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/sync", {"changes": [], "definitions_version": 3}),
        ("/api/v1/sync", {"definitions_version": "1"}),
        ("/api/v1/login", {"username": "amina"}),
    ],
)
def test_required_keys_and_their_types(srv: Server, path: str, body: dict[str, Any]) -> None:
    is_error(srv.client("amina").post(path, json=body), 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
def test_a_body_that_is_not_json_is_a_415(srv: Server, content_type: str | None) -> None:
    c = srv.client("amina")
    headers = {"content-type": content_type} if content_type else {}
    r = c.post("/api/v1/records/case", content=b'{"data": {}}', headers=headers)
    is_error(r, 415)
    assert c.get("/api/v1/records/case").json()["total"] == 0
    headers = {"content-type": "application/json; charset=utf-8"}
    assert c.post("/api/v1/records/case", content=b'{"data": {}}', headers=headers).status_code == 201


def test_an_empty_body_needs_no_content_type(srv: Server) -> None:
    c = srv.client("amina")
    rec = c.post("/api/v1/records/case", json={"data": {}}).json()
    r = c.post(f"/api/v1/records/case/{rec['id']}/transitions/request_plan")
    assert r.status_code == 422, r.text  # the step's own answer: its forms are not complete
    assert c.post("/api/v1/logout").status_code == 200


def test_keeping_no_record_offline_is_an_empty_list(srv: Server) -> None:
    r = srv.client("amina").get("/api/v1/offline/records")
    assert r.status_code == 200 and r.json() == {"records": []}


def test_a_referral_lets_the_recipient_write_the_forms_named(world: World) -> None:  # noqa: F811
    rec = world.case()
    r = world.refer(rec, to="bea", forms=["consent", "registration"], write_forms=["registration"])
    assert r.status_code == 201, r.text
    [referral] = world.inbox("bea")
    assert referral["write_forms"] == ["registration"]


# -- numbers past PostgreSQL's integers (found by the fuzzing, tests/security/test_20_api_fuzz.py) ---------
PAST_INT4 = [2**31, 2**53 - 2]


@pytest.mark.parametrize("number", PAST_INT4)
def test_ids_past_the_databases_integers_are_not_found(srv: Server, number: int) -> None:
    c = srv.client("amina")
    is_error(c.post(f"/api/v1/referrals/{number}/accept"), 404)
    is_error(c.post(f"/api/v1/emergency/{number}/end"), 404)
    assert c.post(f"/api/v1/referrals/{2**31 - 1}/accept").status_code == 404


@pytest.mark.parametrize("number", PAST_INT4)
def test_a_version_past_the_databases_integers_is_refused(srv: Server, number: int) -> None:
    c = srv.client("amina")
    rec = c.post("/api/v1/records/case", json={"data": {}}).json()
    is_error(c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": number, "data": {}}), 400)
    r = c.patch(f"/api/v1/records/case/{rec['id']}", json={"version": 2**31 - 1, "data": {}})
    assert is_error(r, 409)["current_version"] == 1
