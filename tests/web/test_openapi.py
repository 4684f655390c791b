"""The OpenAPI document of /api/v1 is complete and true: every response of every operation has a
schema, the components say which keys are always there, and the document lists exactly the routes
the app serves. (tests/security/test_20_api_fuzz.py checks the server against it, request by request.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.web import api
from engine.web.openapi import spec
from tests.conftest import MakeModule
from tests.server import Server, server

METHODS = ("get", "post", "put", "patch", "delete")
UNSAFE = ("post", "put", "patch", "delete")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    kind, name = ref.split("/")[-2:]
    found: dict[str, Any] = spec()["components"][kind][name]
    return found


def test_every_route_is_documented_and_every_operation_is_served() -> None:
    served = {(path.replace(":str", ""), m.lower()) for path, _fn, methods in api.ROUTES for m in methods}
    documented = {(path, method) for path, method, _op in operations()}
    assert documented == served


def test_every_response_of_every_operation_has_a_schema() -> None:
    thin = []
    for path, method, op in operations():
        for status, response in op["responses"].items():
            content = _resolve(response).get("content")
            if not content or any("schema" not in media for media in content.values()):
                thin.append(f"{method.upper()} {path} {status}")
    assert not thin, "responses without a schema: " + ", ".join(thin)


def test_every_error_is_the_error_object() -> None:
    for path, method, op in operations():
        for status, response in op["responses"].items():
            if int(status) >= 400:
                content = _resolve(response)["content"]
                assert list(content) == ["application/json"], (method, path, status)
                schema = content["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


@pytest.mark.parametrize(("path", "method", "op"), list(operations()), ids=lambda x: x if isinstance(x, str) else "")
def test_each_operation_documents_the_errors_it_can_give(path: str, method: str, op: dict[str, Any]) -> None:
    codes = set(op["responses"])
    assert {"400", "500"} <= codes, "any request: a NUL in the address, a bad Content-Length; an unexpected error"
    if path != "/api/v1/openapi.json":
        assert "503" in codes, "the database cannot be reached"
    if op.get("security", spec()["security"]):
        assert "401" in codes
    if method in UNSAFE:
        assert "403" in codes, "a cross-site request is refused"
    if "requestBody" in op:
        assert {"413", "415", "422"} <= codes, "too large, not JSON, a text holding a NUL"
    if "{" in path:
        assert "404" in codes


def test_the_referral_inbox_documents_its_401() -> None:
    assert "401" in spec()["paths"]["/api/v1/referrals"]["get"]["responses"]


def test_logout_works_without_a_session_and_says_so() -> None:
    assert spec()["paths"]["/api/v1/logout"]["post"]["security"] == []


def test_a_create_documents_its_body_as_it_is_read() -> None:
    body = spec()["paths"]["/api/v1/records/{record_type}"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["required"] == ["data"] and schema["additionalProperties"] is False
    assert set(schema["properties"]["link_to"]["type"]) == {"string", "null"}


def test_request_bodies_say_whether_other_keys_are_allowed() -> None:
    for path, method, op in operations():
        if "requestBody" in op:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema.get("additionalProperties") is False, (method, path)


def test_the_components_are_valid_json_schemas_with_required_keys() -> None:
    schemas = spec()["components"]["schemas"]
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        if schema.get("type") == "object" and schema.get("properties"):
            assert schema.get("required"), f"{name} has no required keys"


# -- the document against real answers -----------------------------------------------------------------
@pytest.fixture
def srv(db_url: str, make_module: MakeModule) -> Iterator[Server]:
    with server(db_url, [make_module()]) as s:
        s.add_user("amina", "caseworker")
        yield s


def _local(schema: Any) -> Any:
    """The schema with #/components/schemas/X written as #/$defs/X (to validate with jsonschema)."""
    if isinstance(schema, dict):
        return {
            k: (v.replace("#/components/schemas/", "#/$defs/") if k == "$ref" else _local(v)) for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_local(x) for x in schema]
    return schema


def validate(schema_ref: str, body: Any) -> None:
    components = _local(spec()["components"]["schemas"])
    schema = {"$ref": f"#/$defs/{schema_ref}", "$defs": components}
    errors = list(Draft202012Validator(schema).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_a_record_has_every_documented_key_and_no_other(srv: Server) -> None:
    c = srv.client("amina")
    rec = c.post("/api/v1/records/case", json={"data": {"sex": "female"}}).json()
    record = spec()["components"]["schemas"]["Record"]
    assert set(record["required"]) == set(rec) == set(record["properties"])
    assert record["additionalProperties"] is False
    validate("Record", rec)
    validate("RecordList", c.get("/api/v1/records/case").json())
    validate("History", c.get(f"/api/v1/records/case/{rec['id']}/history").json())
    validate("Me", c.get("/api/v1/me").json())
    validate("Modules", c.get("/api/v1/modules").json())
    validate("Form", c.get("/api/v1/modules/mini/forms/intake").json())
    r = c.post(f"/api/v1/records/case/{rec['id']}/transitions/request_plan", json={})
    validate("Error", r.json())
