"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from functools import cache
from typing import Any

from engine import __version__

ERROR = {"$ref": "#/components/schemas/Error"}


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "Malformed request",
        401: "Not signed in",
        403: "Not allowed for this user",
        404: "Not found (or not visible to this user)",
        409: "Conflict: stale version, wrong stage or duplicate",
        413: "The body is larger than this address accepts",
        422: "Invalid answers or a workflow step that cannot be taken yet, with reasons",
        429: "Too many sign-in attempts",
    }
    return {str(c): _resp(words[c], ERROR) for c in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


RT = {"name": "record_type", "in": "path", "required": True, "schema": {"type": "string"}, "example": "case"}
RID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "UUID or short id"}


@cache
def spec() -> dict[str, Any]:
    record = {"$ref": "#/components/schemas/Record"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sanad records API",
            "version": __version__,
            "description": "Case records, their workflow, assignment and referral. Every response holds only what the "
            "signed-in user may see: records outside their scope answer 404; fields above their role's sensitivity "
            "are never sent. Unsafe methods from another site are refused (Sec-Fetch-Site / Origin).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "sanad_session"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "status"],
                    "properties": {
                        "error": {"type": "string"},
                        "status": {"type": "integer"},
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "field": {"type": "string"},
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "current_version": {"type": "integer"},
                        "changes": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Record": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "short_id": {"type": "string"},
                        "module": {"type": "string"},
                        "record_type": {"type": "string"},
                        "stage": {"type": ["string", "null"]},
                        "version": {"type": "integer"},
                        "owner": {"type": ["string", "null"]},
                        "created_at": {"type": "string"},
                        "updated_at": {"type": "string"},
                        "definitions_version": {"type": "string"},
                        "data": {"type": "object", "description": "answers, by field id (only fields you may see)"},
                        "forms": {"type": "object"},
                        "transitions": {"type": "array", "items": {"type": "object"}},
                        "links": {"type": "array", "items": {"type": "object"}},
                        "relation": {
                            "enum": ["owner", "assignee", "group", "agency", "all", "referral"],
                            "description": "how you reach the record; it fixes what you may do (docs/access.md)",
                        },
                        "assignees": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "security": [{"session": []}],
        "paths": {
            "/api/v1/reports": {
                "get": {
                    "summary": "The reports your role may run",
                    "responses": {"200": _resp("Reports"), **_errors(401)},
                }
            },
            "/api/v1/reports/{report}": {
                "get": {
                    "summary": "Run a report over the records you reach: counts, small cells suppressed (docs/reports.md)",
                    "parameters": [
                        {"name": "report", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                        {"name": "format", "in": "query", "schema": {"enum": ["json", "csv", "xlsx"]}},
                        {"name": "locale", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _resp("The report's tables"), **_errors(400, 401, 403, 404)},
                }
            },
            "/api/v1/exports": {
                "post": {
                    "summary": "Export records (chosen forms or fields, de-identified if asked) or a declared layout "
                    "(e.g. incident_recorder) as CSV or XLSX, optionally in an encrypted ZIP (password of 12+ characters)",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {
                                "record_type": {"type": "string"},
                                "export": {"type": "string"},
                                "forms": {"type": "array", "items": {"type": "string"}},
                                "fields": {"type": "array", "items": {"type": "string"}},
                                "deidentified": {"type": "boolean"},
                                "format": {"enum": ["csv", "xlsx"]},
                                "password": {"type": "string", "minLength": 12},
                            },
                            "additionalProperties": False,
                        }
                    ),
                    "responses": {"200": _resp("The file"), **_errors(400, 401, 403, 404)},
                }
            },
            "/api/v1/offline": {
                "get": {
                    "summary": "What a device needs to work offline: the user's record types, workflow steps "
                    "(which may be queued offline) and forms with their compiled expressions, translated",
                    "parameters": [{"name": "locale", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _resp("The offline package"), **_errors(401)},
                }
            },
            "/api/v1/offline/records": {
                "get": {
                    "summary": "Records to keep on the device: only those the user holds (owner, assignee, referral), "
                    "as they may see them (audited)",
                    "parameters": [{"name": "id", "in": "query", "schema": {"type": "string"}, "required": True}],
                    "responses": {"200": _resp("The records"), **_errors(400, 401, 403, 404)},
                }
            },
            "/api/v1/sync": {
                "post": {
                    "summary": "Send the changes a device queued offline; per change: applied, merged, conflict "
                    "(with both values), duplicate, or rejected (with reasons per field). A change sent again "
                    "(same change_id) gets its first answer back.",
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["changes"],
                            "properties": {
                                "definitions_version": {"type": "string"},
                                "changes": {
                                    "type": "array",
                                    "maxItems": 200,
                                    "items": {
                                        "type": "object",
                                        "required": ["change_id", "op"],
                                        "properties": {
                                            "change_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                                            "op": {"enum": ["create", "update", "transition"]},
                                            "record_type": {"type": "string"},
                                            "id": {"type": "string", "format": "uuid"},
                                            "link_to": {"type": "string"},
                                            "data": {"type": "object", "description": "create: the answers"},
                                            "base_version": {
                                                "type": "integer",
                                                "description": "update: the version edited",
                                            },
                                            "changes": {"type": "object", "description": "update: the answers changed"},
                                            "form": {"type": "string", "description": "update: the form saved"},
                                            "transition": {"type": "string"},
                                            "comment": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        }
                    ),
                    "responses": {"200": _resp("One result per change"), **_errors(400, 401, 413)},
                }
            },
            "/api/v1/login": {
                "post": {
                    "summary": "Sign in; sets the session cookie",
                    "security": [],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                        }
                    ),
                    "responses": {"200": _resp("Signed in"), **_errors(400, 401, 429)},
                }
            },
            "/api/v1/logout": {
                "post": {"summary": "Sign out (ends the session)", "responses": {"200": _resp("Signed out")}}
            },
            "/api/v1/me": {
                "get": {"summary": "The signed-in user and role", "responses": {"200": _resp("You"), **_errors(401)}}
            },
            "/api/v1/modules": {
                "get": {
                    "summary": "The module you work in and its record types",
                    "responses": {"200": _resp("Modules"), **_errors(401)},
                }
            },
            "/api/v1/modules/{module}/forms/{form}": {
                "get": {
                    "summary": "A form as JSON with its compiled expressions (for the browser evaluator)",
                    "parameters": [
                        {"name": "module", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "form", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "locale", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _resp("The form"), **_errors(401, 404)},
                }
            },
            "/api/v1/records/{record_type}": {
                "get": {
                    "summary": "Records in your scope",
                    "parameters": [
                        RT,
                        {"name": "stage", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "short id or id prefix",
                        },
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                    ],
                    "responses": {"200": _resp("A page of records"), **_errors(400, 401, 403, 404)},
                },
                "post": {
                    "summary": "Create a record (idempotent with a client-chosen id)",
                    "parameters": [RT],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {
                                "data": {"type": "object"},
                                "id": {"type": "string", "format": "uuid"},
                                "link_to": {
                                    "type": "string",
                                    "description": "a record (e.g. a case) to link the new one to",
                                },
                            },
                            "additionalProperties": False,
                        }
                    ),
                    "responses": {
                        "201": _resp("Created", record),
                        "200": _resp("Already created (same id)", record),
                        **_errors(400, 401, 403, 404, 409, 422),
                    },
                },
            },
            "/api/v1/records/{record_type}/{id}": {
                "get": {
                    "summary": "One record",
                    "parameters": [RT, RID],
                    "responses": {"200": _resp("The record", record), **_errors(401, 404)},
                },
                "patch": {
                    "summary": "Change answers; send the version you edited",
                    "parameters": [RT, RID],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["version", "data"],
                            "properties": {
                                "version": {"type": "integer"},
                                "data": {"type": "object"},
                                "form": {"type": "string", "description": "the form that was saved"},
                            },
                            "additionalProperties": False,
                        }
                    ),
                    "responses": {"200": _resp("Saved", record), **_errors(400, 401, 403, 404, 409, 422)},
                },
            },
            "/api/v1/records/{record_type}/{id}/history": {
                "get": {
                    "summary": "Who changed what, when (fields you may see)",
                    "parameters": [RT, RID],
                    "responses": {"200": _resp("History"), **_errors(401, 404)},
                }
            },
            "/api/v1/records/{record_type}/{id}/transitions/{transition}": {
                "post": {
                    "summary": "Take a workflow step",
                    "parameters": [
                        RT,
                        RID,
                        {"name": "transition", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "properties": {"comment": {"type": "string"}, "override_reason": {"type": "string"}},
                        }
                    ),
                    "responses": {"200": _resp("Done", record), **_errors(400, 401, 403, 404, 409, 422)},
                }
            },
            "/api/v1/records/{record_type}/{id}/assignments": {
                "post": {
                    "summary": "Assign the record to a colleague in your scope",
                    "parameters": [RT, RID],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["to"],
                            "properties": {"to": {"type": "string"}, "comment": {"type": "string"}},
                        }
                    ),
                    "responses": {"200": _resp("Assigned", record), **_errors(400, 401, 403, 404, 409, 422)},
                }
            },
            "/api/v1/records/{record_type}/{id}/assignments/{username}": {
                "delete": {
                    "summary": "End a user's assignment to the record (their access through it ends)",
                    "parameters": [
                        RT,
                        RID,
                        {"name": "username", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _resp("Unassigned", record), **_errors(401, 403, 404)},
                }
            },
            "/api/v1/records/{record_type}/{id}/referrals": {
                "post": {
                    "summary": "Refer the record to a user or an agency, sharing the forms named (consent rules apply)",
                    "parameters": [RT, RID],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["transition", "forms"],
                            "properties": {
                                "transition": {"type": "string"},
                                "to": {"type": "string", "description": "a user name"},
                                "to_agency": {"type": "string", "description": "an agency code, instead of to"},
                                "forms": {"type": "array", "items": {"type": "string"}},
                                "write_forms": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                    "description": "of the shared forms, those the recipient may also write",
                                },
                                "comment": {"type": "string"},
                                "override_reason": {"type": "string"},
                            },
                        }
                    ),
                    "responses": {"201": _resp("Referred", record), **_errors(400, 401, 403, 404, 409, 422)},
                }
            },
            "/api/v1/referrals": {
                "get": {"summary": "Referrals made to you", "responses": {"200": _resp("Referrals")}}
            },
            "/api/v1/referrals/{id}/{decision}": {
                "post": {
                    "summary": "Accept or decline a referral made to you; revoke one (the holding agency); close one "
                    "(either side) — access through it ends",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        {
                            "name": "decision",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["accept", "decline", "revoke", "close"]},
                        },
                    ],
                    "responses": {"200": _resp("Answered"), **_errors(400, 401, 403, 404, 409)},
                }
            },
            "/api/v1/audit": {
                "get": {
                    "summary": "The audit log (audit.read)",
                    "parameters": [
                        {"name": "user", "in": "query", "schema": {"type": "string"}},
                        {"name": "record", "in": "query", "schema": {"type": "string"}},
                        {"name": "action", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {"200": _resp("Entries"), **_errors(401, 403)},
                }
            },
            "/api/v1/openapi.json": {
                "get": {"summary": "This description", "security": [], "responses": {"200": _resp("OpenAPI 3.1")}}
            },
        },
    }
