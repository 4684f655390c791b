"""Finding 8: a lone surrogate in an answer (SQLite) answered 500 but was saved, and from then on
the record, its history and its form were 500 forever; on PostgreSQL a NUL byte in a login name, an
answer or q was a 500."""

from __future__ import annotations

from tests.security.conftest import World


def _raw_patch(c: object, url: str, body: str) -> object:
    return c.patch(url, content=body.encode("utf-8"), headers={"content-type": "application/json"})  # type: ignore[attr-defined]


def test_a_lone_surrogate_is_refused_and_nothing_is_saved(world: World) -> None:
    rec = world.case()
    c = world.client("amina")
    url = f"/api/v1/records/case/{rec['id']}"
    r = _raw_patch(c, url, '{"version": 1, "data": {"name": "Am\\ud800al"}}')
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert "name" in r.text  # type: ignore[attr-defined]
    assert c.get(url).status_code == 200 and c.get(url).json()["version"] == 1
    assert c.get(url + "/history").status_code == 200
    assert c.get(f"/records/case/{rec['id']}/forms/registration").status_code == 200


def test_nul_bytes_are_refused_not_a_server_error(world: World) -> None:
    rec = world.case()
    c = world.client("amina")
    r = _raw_patch(c, f"/api/v1/records/case/{rec['id']}", '{"version": 1, "data": {"goal": "a\\u0000b"}}')
    assert r.status_code == 422 and "goal" in r.text, r.text  # type: ignore[attr-defined]
    r = world.client().post("/api/v1/login", json={"username": "ami\u0000na", "password": "x"})
    assert r.status_code in (400, 401, 422), r.text
    assert c.get("/api/v1/records/case", params={"q": "GBV\u00000042"}).status_code in (200, 400)
    assert c.get("/records/case", params={"q": "GBV\u00000042"}).status_code in (200, 400)
    r = c.post(f"/records/case/{rec['id']}/forms/plan", data={"f:goal": "x\u0000y", "version": "1"})
    assert r.status_code in (400, 422), r.status_code
