"""The OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json).

The document is the contract, and it is tested as one: every operation lists every status it can
answer with a schema for each (the errors are all `Error`), the components say which keys are always
there and that there are no others, and bodies are described exactly as the handlers read them
(tests/web/test_openapi.py). tests/security/test_20_api_fuzz.py sends thousands of requests made from
this document, signed in as each role and anonymously, and checks each answer against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from engine import __version__
from engine.service.emergency import MAX_REASON, MIN_REASON
from engine.service.listing import COUNT_CAP, MAX_PAGE, MAX_PAGE_SIZE, SORTS
from engine.web.inputs import MAX_ID

JSON = dict[str, Any]


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None, *, closed: bool = True) -> JSON:
    """An object with `required` keys (always there) and `optional` ones; `closed`: no other key."""
    out: JSON = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def array(items: JSON, **extra: Any) -> JSON:
    return {"type": "array", "items": items, **extra}


def nullable(schema: JSON) -> JSON:
    """The schema, or null."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    return {"anyOf": [schema, {"type": "null"}]}


STR: JSON = {"type": "string"}
INT: JSON = {"type": "integer"}
BOOL: JSON = {"type": "boolean"}
ANY: JSON = {}
TIME: JSON = {"type": "string", "format": "date-time"}
TEXTS = array(STR)
COUNT: JSON = {
    "type": ["integer", "string"],
    "description": "a count, or '<n>' where it is smaller than the report's threshold, or 'x' where it "
    "would let a small count be worked out (docs/reports.md)",
}

# -- responses ---------------------------------------------------------------------------------------
ERRORS = {
    400: "Malformed request: a body, parameter or id that cannot be read (every number, page and id is read "
    "strictly), a required key missing, an unknown key, a NUL character in the address",
    401: "Not signed in, or the session ended (after a period of inactivity, or signed out)",
    403: "Not allowed for this user (their role, or a field they may see but not change), or a cross-site request",
    404: "Not found, or not the user's to see",
    409: "Conflict: someone saved since `version` (`current_version`, `changes`), a form locked at this stage "
    "(`code: form_locked`), a step not possible at this stage, or already done",
    413: "The body is larger than this address accepts (2 MB for the API, counted while it streams in)",
    415: "A body that is not JSON: send `Content-Type: application/json`",
    422: "Invalid answers (`errors`, per field), a text holding a NUL or broken character (naming its field), or a "
    "workflow step that cannot be taken yet (`reasons`, and `needs_reason` when a reason may override a guard)",
    429: "Too many sign-in attempts: wait `retry_after` seconds (also in `Retry-After`)",
    500: "An unexpected error: the server logged it, and the answer never holds its details",
    503: "The database cannot be reached at the moment (nothing of the request was kept, or the answer to "
    "its commit was lost): try again after `retry_after` seconds (also in `Retry-After`)",
}


def response(description: str, schema: JSON, media: str = "application/json", **extra: Any) -> JSON:
    return {"description": description, "content": {media: {"schema": schema}}, **extra}


def errors(*codes: int) -> dict[str, JSON]:
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}


def operation(
    op_id: str,
    summary: str,
    ok: dict[int, JSON],
    codes: tuple[int, ...] = (),
    *,
    method: str = "get",
    parameters: list[JSON] | None = None,
    body: JSON | None = None,
    body_required: bool = True,
    public: bool = False,
    links: dict[str, JSON] | None = None,
    database: bool = True,
) -> JSON:
    """One operation, with the errors every request of its kind can meet added to `codes`: 400 (an
    address or header that cannot be read), 500 and 503 (the database cannot be reached) for all;
    401 where a session is needed; 403 for unsafe methods (a cross-site request is refused); 413,
    415 and 422 where a body is read."""
    every = {400, 500, 503, *codes}
    if not database:
        every.discard(503)
    if not public:
        every.add(401)
    if method != "get":
        every.add(403)
    if body is not None:
        every |= {413, 415, 422}
    responses: dict[str, JSON] = {str(status): {**r, **({"links": links} if links else {})} for status, r in ok.items()}
    responses.update(errors(*sorted(every)))
    out: JSON = {"operationId": op_id, "summary": summary, "responses": responses}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": body}},
        }
    if public:
        out["security"] = []
    return out


def path_param(name: str, schema: JSON | None = None, description: str | None = None, **extra: Any) -> JSON:
    out: JSON = {"name": name, "in": "path", "required": True, "schema": schema or STR, **extra}
    if description:
        out["description"] = description
    return out


def query(name: str, schema: JSON, description: str | None = None, **extra: Any) -> JSON:
    out: JSON = {"name": name, "in": "query", "schema": schema, **extra}
    if description:
        out["description"] = description
    return out


def link(op_id: str, description: str, body: JSON | None = None, **parameters: str) -> JSON:
    out: JSON = {"operationId": op_id, "parameters": parameters, "description": description}
    if body is not None:
        out["requestBody"] = body
    return out


RT = path_param("record_type", description="a record type of the module, e.g. case", example="case")
RID = path_param("id", description="the record's id (a UUID) or its short id (C-7K2M9Q)")
LOCALE = query("locale", STR, "the language of the texts (else the user's saved language, else Accept-Language)")
COMMENT = nullable(STR)


def _record_links(status: str) -> dict[str, JSON]:
    """From a record just answered: open it, read its history, change it, take its first step."""
    rt, rid = "$request.path.record_type", "$response.body#/id"
    return {
        "GetRecord": link("getRecord", f"the record {status}", record_type=rt, id=rid),
        "GetOffline": link("offlineRecords", "keep it offline", id=rid),
        "GetHistory": link("getHistory", "its history", record_type=rt, id=rid),
        "UpdateRecord": link(
            "updateRecord",
            "save it again",
            {"version": "$response.body#/version", "data": {}},
            record_type=rt,
            id=rid,
        ),
        "TakeStep": link(
            "takeStep", "take its first step", record_type=rt, id=rid, transition="$response.body#/transitions/0/id"
        ),
        "Assign": link("assign", "assign it", record_type=rt, id=rid),
        "Refer": link("refer", "refer it", record_type=rt, id=rid),
    }


# -- components ----------------------------------------------------------------------------------------
def _schemas() -> dict[str, JSON]:
    field_error = obj({"field": STR, "message": STR}, {"code": STR})
    change = obj(
        {
            "field": {"type": "string", "description": "a field id, or (stage) for a workflow step"},
            "old": ANY,
            "new": ANY,
        }
    )
    step = obj(
        {
            "transition": STR,
            "label": STR,
            "decision": nullable({"enum": ["approve", "return"]}),
            "request": BOOL,
            "from_stage": nullable(STR),
            "to_stage": nullable(STR),
            "to_label": nullable(STR),
            "by": nullable(STR),
            "at": TIME,
            "comment": nullable(STR),
            "override_reason": nullable(STR),
        }
    )
    expression = {
        "type": "object",
        "required": ["op"],
        "properties": {"op": STR},
        "description": "a compiled expression, as the browser evaluator reads it (docs/expressions.md)",
    }
    field: JSON = obj(
        {"id": STR, "type": STR, "label": STR, "sensitivity": {"enum": ["direct", "quasi", "none"]}},
        {
            "hint": STR,
            "relevant": expression,
            "required": {"anyOf": [BOOL, expression]},
            "required_message": STR,
            "constraint": expression,
            "constraint_message": STR,
            "calculate": expression,
            "choice_filter": expression,
            "default": ANY,
            "min": ANY,
            "max": ANY,
            "read_only": {"const": True},
            "section": STR,
            "choices": array(obj({"value": STR, "label": STR}, closed=False)),
            "fields": array(ref("Field"), description="a subform's columns (those the user may see)"),
            "order": TEXTS,
        },
    )
    layout_item = {
        "oneOf": [
            obj({"field": STR}),
            obj(
                {"section": STR, "label": STR, "items": array(ref("LayoutItem"))},
                {"hint": STR, "relevant": expression},
            ),
        ]
    }
    messages = {
        **obj({k: STR for k in ("required", "constraint", "summary", "problem", "row", "yes", "no")}),
        "description": "the texts a client shows itself, in the language of the request",
    }
    form_keys: dict[str, Any] = {
        "module": STR,
        "version": STR,
        "id": STR,
        "title": STR,
        "record_type": STR,
        "description": nullable(STR),
        "relevant": nullable(ref("Expression")),
        "fields": array(ref("Field"), description="only the fields the user's role may see"),
        "layout": array(ref("LayoutItem")),
        "messages": ref("Messages"),
        "locale": STR,
    }
    form = obj(form_keys)
    offline_form = obj({**form_keys, "writable": BOOL, "order": TEXTS})
    form_state = obj(
        {
            "title": STR,
            "relevant": BOOL,
            "writable": BOOL,
            "locked": BOOL,
            "state": {"enum": ["not_started", "in_progress", "complete"]},
            "complete": BOOL,
            "missing": {"type": "integer", "minimum": 0},
        }
    )
    relation = {
        "enum": ["owner", "assignee", "group", "agency", "all", "referral", "emergency"],
        "description": "how the user reaches the record; it fixes what they may do (docs/access.md)",
    }
    record = obj(
        {
            "id": {"type": "string", "format": "uuid"},
            "short_id": STR,
            "module": STR,
            "record_type": STR,
            "stage": nullable(STR),
            "version": {"type": "integer", "minimum": 1},
            "owner": nullable(STR),
            "created_at": TIME,
            "updated_at": TIME,
            "definitions_version": STR,
            "relation": relation,
            "data": {"type": "object", "description": "answers, by field id (only the fields the user may see)"},
            "forms": {"type": "object", "additionalProperties": form_state, "description": "by form id"},
            "transitions": array(
                obj(
                    {
                        "id": STR,
                        "label": STR,
                        "allowed": BOOL,
                        "needs_reason": BOOL,
                        "reasons": TEXTS,
                        "referral": BOOL,
                        "approval": BOOL,
                        "decision": nullable({"enum": ["approve", "return"]}),
                        "comment": {"enum": ["required", "optional"]},
                        "confirm": BOOL,
                        "to": nullable(STR),
                    }
                ),
                description="the steps the user's role could take at this stage (none through a referral)",
            ),
            "links": array(obj({"id": STR, "short_id": STR, "record_type": STR, "stage": nullable(STR)})),
            "latest_decision": nullable(ref("Step")),
            "assignees": TEXTS,
            "emergency": nullable(
                {
                    **obj({"id": INT, "reason": STR, "at": TIME, "expires_at": TIME}),
                    "description": "the emergency access the user reads the record under (relation emergency)",
                }
            ),
        }
    )
    offline_record = obj(
        {
            "id": STR,
            "short_id": STR,
            "record_type": STR,
            "stage": nullable(STR),
            "version": INT,
            "definitions_version": STR,
            "relation": relation,
            "data": {"type": "object"},
            "read_forms": TEXTS,
            "write_forms": TEXTS,
        }
    )
    profile = obj({"username": STR, "role": STR, "module": STR, "full_name": nullable(STR)})
    return {
        "Error": obj(
            {"error": STR, "status": {"type": "integer", "minimum": 400, "maximum": 599}},
            {
                "errors": array(ref("FieldError"), description="422, 403: what is wrong, per field"),
                "reasons": array(STR, description="why a workflow step cannot be taken, in a caseworker's words"),
                "needs_reason": {"const": True, "description": "a reason (override_reason) may override a guard"},
                "current_version": {"type": "integer", "description": "409: the version saved since"},
                "changes": array(
                    obj(
                        {"field": STR, "old": ANY, "new": ANY, "by": nullable(STR), "at": TIME, "version": INT},
                    ),
                    description="409: who changed which field since the version sent",
                ),
                "code": {"enum": ["form_locked"]},
                "stage": STR,
                "forms": TEXTS,
                "retry_after": {"type": "integer", "minimum": 0, "description": "429: seconds to wait"},
                "second_factor": {
                    "enum": ["code", "enrol"],
                    "description": "signing in: send the code of the account's authenticator app (401), or set "
                    "a second factor up on the web pages first (403)",
                },
            },
        ),
        "FieldError": field_error,
        "Change": change,
        "Step": step,
        "Expression": expression,
        "Field": field,
        "LayoutItem": layout_item,
        "Messages": messages,
        "Form": form,
        "OfflineForm": offline_form,
        "Record": record,
        "RecordList": obj(
            {
                "items": array(
                    obj(
                        {
                            "id": STR,
                            "short_id": STR,
                            "stage": nullable(STR),
                            "version": INT,
                            "owner": nullable(STR),
                            "updated_at": TIME,
                            "created_at": TIME,
                        }
                    )
                ),
                "page": {"type": "integer", "minimum": 1},
                "page_size": INT,
                "total": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": COUNT_CAP,
                    "description": f"records that match, counted up to {COUNT_CAP}",
                },
                "total_capped": {
                    "type": "boolean",
                    "description": f"true when more than {COUNT_CAP} records match (`total` is then {COUNT_CAP})",
                },
                "next": {
                    "type": ["string", "null"],
                    "description": "the cursor of the next page (pass it as `after`); null on the last page",
                },
            }
        ),
        "History": obj(
            {
                "history": array(
                    obj(
                        {
                            "version": INT,
                            "at": TIME,
                            "by": nullable(STR),
                            "action": {"enum": ["create", "update", "transition"]},
                            "changes": array(ref("Change"), description="of the fields the user may see"),
                            "hidden_changes": {
                                "type": "integer",
                                "minimum": 0,
                                "description": "answers changed that the user may not see: counted, never named",
                            },
                        },
                        {"step": ref("Step")},
                    )
                )
            }
        ),
        "Profile": profile,
        "SignedIn": obj({"user": ref("Profile")}),
        "SignedOut": obj({"signed_out": {"const": True}}),
        "Me": obj(
            {
                "user": ref("Profile"),
                "role": obj(
                    {
                        "id": STR,
                        "label": STR,
                        "scope": {"enum": ["own", "group", "agency", "all"]},
                        "permissions": TEXTS,
                        "aggregate_only": BOOL,
                    }
                ),
            }
        ),
        "Modules": obj(
            {
                "modules": array(
                    obj(
                        {
                            "id": STR,
                            "title": STR,
                            "version": STR,
                            "locales": TEXTS,
                            "record_types": array(obj({"id": STR, "title": STR, "forms": TEXTS})),
                        }
                    )
                )
            }
        ),
        "Referrals": obj(
            {
                "referrals": array(
                    obj(
                        {
                            "id": INT,
                            "record_id": STR,
                            "short_id": STR,
                            "record_type": STR,
                            "status": {"enum": ["pending", "accepted", "declined", "revoked", "closed"]},
                            "forms": TEXTS,
                            "write_forms": TEXTS,
                            "from": nullable(STR),
                            "at": TIME,
                            "comment": nullable(STR),
                            "to_agency": {"type": "boolean", "description": "made to the user's agency"},
                        }
                    )
                )
            }
        ),
        "ReferralAnswer": obj(
            {"id": INT, "status": {"enum": ["accepted", "declined", "revoked", "closed"]}},
        ),
        "AuditLog": obj(
            {
                "entries": array(
                    obj(
                        {
                            "id": INT,
                            "at": TIME,
                            "user": nullable(STR),
                            "ip": nullable(STR),
                            "action": STR,
                            "record_id": nullable(STR),
                            "details": {"type": "object"},
                        }
                    )
                )
            }
        ),
        "Reports": obj(
            {
                "reports": array(
                    obj(
                        {
                            "id": STR,
                            "title": STR,
                            "record_type": STR,
                            "audience": STR,
                            "filters": TEXTS,
                            "tables": TEXTS,
                        }
                    )
                )
            }
        ),
        "Report": obj(
            {
                "report": STR,
                "title": STR,
                "module": STR,
                "record_type": STR,
                "audience": STR,
                "from": nullable({"type": "string", "format": "date"}),
                "to": nullable({"type": "string", "format": "date"}),
                "suppress_below": INT,
                "records": COUNT,
                "tables": array(
                    obj(
                        {
                            "id": STR,
                            "title": STR,
                            "dimensions": TEXTS,
                            "rows": array(
                                obj(
                                    {"count": COUNT},
                                    {"average_days": nullable({"type": "number"})},
                                    closed=False,
                                ),
                                description="one per combination of categories: the dimensions' values and count",
                            ),
                            "total": COUNT,
                            "additive": BOOL,
                            "chart": STR,
                            "labels": obj(
                                {
                                    "dimensions": {"type": "object", "additionalProperties": STR},
                                    "values": {
                                        "type": "object",
                                        "additionalProperties": {"type": "object", "additionalProperties": STR},
                                    },
                                }
                            ),
                            "categories": {"type": "object", "additionalProperties": {"type": "array"}},
                            "row_totals": array({"type": "object", "required": ["count"]}),
                            "column_totals": array({"type": "object", "required": ["count"]}),
                        },
                        {"description": nullable(STR), "measure": STR},
                    )
                ),
                "filters": {"type": "object", "additionalProperties": STR},
            }
        ),
        "OfflinePackage": obj(
            {
                "module": STR,
                "definitions_version": STR,
                "locale": STR,
                "user": STR,
                "limit": {"type": "integer", "minimum": 1},
                "record_types": array(
                    obj(
                        {
                            "id": STR,
                            "title": STR,
                            "can_create": BOOL,
                            "recorded_from": TEXTS,
                            "link_action": STR,
                            "initial": nullable(STR),
                            "stages": {"type": "object", "additionalProperties": STR},
                            "steps": array(
                                obj(
                                    {
                                        "id": STR,
                                        "label": STR,
                                        "from": TEXTS,
                                        "to": nullable(STR),
                                        "offline": {"type": "boolean", "description": "may be queued offline"},
                                        "comment": {"enum": ["required", "optional"]},
                                    }
                                )
                            ),
                            "forms": array(ref("OfflineForm")),
                            "list_fields": TEXTS,
                        }
                    )
                ),
            }
        ),
        "OfflineRecord": offline_record,
        "OfflineRecords": obj({"records": array(ref("OfflineRecord"))}),
        "SyncChange": {
            **obj(
                {
                    "change_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                    "op": {"enum": ["create", "update", "transition"]},
                },
                {
                    "record_type": STR,
                    "id": {"type": "string", "format": "uuid"},
                    "link_to": nullable(STR),
                    "data": {"type": "object", "description": "create: the answers"},
                    "base_version": {"type": "integer", "minimum": 1, "description": "update: the version edited"},
                    "changes": {"type": "object", "description": "update: the answers changed"},
                    "form": {"type": "string", "description": "update: the form saved"},
                    "transition": STR,
                    "comment": STR,
                },
                closed=False,
            ),
            "description": "One change a device queued. The server reads each on its own: a change that is not "
            "well formed is answered `rejected` with its reasons, and the others are still applied.",
        },
        "SyncResult": obj(
            {"status": {"enum": ["applied", "duplicate", "merged", "conflict", "rejected"]}},
            {
                "change_id": STR,
                "id": {"description": "the record's id (for a rejected change, as the change gave it)"},
                "record": ref("OfflineRecord"),
                "conflicts": array(obj({"field": STR, "base": ANY, "mine": ANY, "theirs": ANY})),
                "reasons": TEXTS,
                "errors": array(ref("FieldError")),
                "definitions_changed": {"const": True},
                "replayed": {"const": True, "description": "the first answer to a change sent again"},
            },
        ),
        "Sync": obj(
            {"definitions_version": STR, "definitions_changed": BOOL, "results": array(ref("SyncResult"))},
        ),
        "EmergencyRecord": obj({"id": STR, "short_id": STR, "record_type": STR}),
        "EmergencyGrant": obj(
            {
                "id": INT,
                "user": nullable(STR),
                "record": ref("EmergencyRecord"),
                "reason": STR,
                "at": TIME,
                "expires_at": TIME,
                "ended_at": nullable(TIME),
                "ended_by": nullable(STR),
                "live": BOOL,
                "in_reach": {"const": False},
            }
        ),
        "InReach": obj({"id": {"type": "null"}, "record": ref("EmergencyRecord"), "in_reach": {"const": True}}),
        "OpenAPI": obj({"openapi": STR, "info": {"type": "object"}, "paths": {"type": "object"}}, closed=False),
    }


def _responses() -> dict[str, JSON]:
    out = {f"E{code}": response(text, ref("Error")) for code, text in ERRORS.items()}
    for code in (429, 503):
        out[f"E{code}"]["headers"] = {
            "Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}, "description": "seconds"}
        }
    return out


# -- bodies -------------------------------------------------------------------------------------------
CREATE = obj(
    {"data": {"type": "object", "description": "answers by field id; {} for an empty record"}},
    {
        "id": nullable(
            {"type": "string", "format": "uuid", "description": "chosen by the client: repeating the create is safe"}
        ),
        "link_to": nullable({"type": "string", "description": "a record (e.g. a case) to link the new one to"}),
    },
)
UPDATE = obj(
    {
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_ID - 1, "description": "the version edited"},
        "data": {"type": "object", "description": "the answers changed, by field id; null clears one"},
    },
    {"form": nullable({"type": "string", "description": "the form that was saved (it counts as started)"})},
)
STEP = obj({}, {"comment": COMMENT, "override_reason": COMMENT})
ASSIGN = obj({"to": {"type": "string", "description": "a user name"}}, {"comment": COMMENT})
REFER = {
    **obj(
        {"transition": STR, "forms": array(STR, minItems=1)},
        {
            "to": nullable({"type": "string", "description": "a user name"}),
            "to_agency": nullable({"type": "string", "description": "an agency code, instead of to"}),
            "write_forms": nullable(array(STR, description="of the shared forms, those the recipient may also write")),
            "comment": COMMENT,
            "override_reason": COMMENT,
        },
    ),
    "oneOf": [
        {"required": ["to"], "properties": {"to": STR}},
        {"required": ["to_agency"], "properties": {"to_agency": STR}},
    ],
}
ANSWER = obj({}, {"comment": COMMENT})
LOGIN = obj(
    {"username": {"type": "string", "minLength": 1}, "password": STR},
    {
        "code": nullable(
            {
                "type": "string",
                "description": "for an account with a second factor (or whose role requires one): the 6-digit "
                "code its authenticator app shows, or one of its recovery codes; each is accepted once",
            }
        )
    },
)
EMERGENCY = obj(
    {
        "record": {"type": "string", "description": "the record's id or short id"},
        "reason": {"type": "string", "minLength": MIN_REASON, "maxLength": MAX_REASON},
    }
)
SYNC = obj(
    {
        "changes": array(
            {"description": "a change (components/schemas/SyncChange)"},
            maxItems=200,
        )
    },
    {"definitions_version": nullable({"type": "string", "description": "the definitions the device has"})},
)
EXPORT = {
    **obj(
        {},
        {
            "record_type": STR,
            "export": {"type": "string", "description": "a declared layout (e.g. incident_recorder)"},
            "forms": {
                "type": ["array", "string"],
                "items": STR,
                "description": "form ids (a list, or comma-separated)",
            },
            "fields": {"type": ["array", "string"], "items": STR, "description": "field ids"},
            "deidentified": BOOL,
            "format": {"enum": ["csv", "xlsx"]},
            "password": {"type": "string", "minLength": 12, "description": "encrypt the file in a ZIP"},
        },
    ),
    "oneOf": [
        {"required": ["record_type"], "not": {"required": ["export"]}},
        {
            "required": ["export"],
            "not": {"anyOf": [{"required": [k]} for k in ("record_type", "forms", "fields", "deidentified")]},
        },
    ],
}
FILE = {"type": "string", "format": "binary"}
FILES = {
    "text/csv": {"schema": FILE},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": FILE},
}


def _paths() -> dict[str, JSON]:
    record = ref("Record")
    return {
        "/api/v1/openapi.json": {
            "get": operation(
                "openapi",
                "This description",
                {200: response("OpenAPI 3.1", ref("OpenAPI"))},
                public=True,
                database=False,
            )
        },
        "/api/v1/login": {
            "post": operation(
                "login",
                "Sign in; sets the session cookie",
                {
                    200: response(
                        "Signed in",
                        ref("SignedIn"),
                        headers={"Set-Cookie": {"schema": STR, "description": "sanad_session and sanad_device"}},
                    )
                },
                (401, 429),
                method="post",
                body=LOGIN,
                public=True,
            )
        },
        "/api/v1/logout": {
            "post": operation(
                "logout",
                "Sign out: ends the session of the cookie sent, if any (answers the same without one)",
                {200: response("Signed out", ref("SignedOut"))},
                method="post",
                public=True,
            )
        },
        "/api/v1/me": {"get": operation("me", "The signed-in user and role", {200: response("You", ref("Me"))})},
        "/api/v1/modules": {
            "get": operation(
                "modules",
                "The module you work in and the record types you may read",
                {200: response("Modules", ref("Modules"))},
                links={
                    "ListRecords": link(
                        "listRecords",
                        "the records of its first record type",
                        record_type="$response.body#/modules/0/record_types/0/id",
                    ),
                    "CreateRecord": link(
                        "createRecord",
                        "an empty record of its first record type",
                        {"data": {}},
                        record_type="$response.body#/modules/0/record_types/0/id",
                    ),
                    "GetForm": link(
                        "getForm",
                        "its first form",
                        module="$response.body#/modules/0/id",
                        form="$response.body#/modules/0/record_types/0/forms/0",
                    ),
                },
            )
        },
        "/api/v1/modules/{module}/forms/{form}": {
            "get": operation(
                "getForm",
                "A form as JSON with its compiled expressions (for the browser evaluator and offline clients)",
                {200: response("The form", ref("Form"))},
                (404,),
                parameters=[path_param("module"), path_param("form"), LOCALE],
            )
        },
        "/api/v1/records/{record_type}": {
            "get": operation(
                "listRecords",
                "The records you reach, 50 a page, newest change first. Page through a list with the cursor "
                "`next` of each page passed as `after` (an index seek, however deep); `page` still reads page "
                "n by offset. `total` is exact up to 1,000 records; past it, `total_capped` is true",
                {200: response("A page of records", ref("RecordList"))},
                (400, 403, 404),
                parameters=[
                    RT,
                    query("stage", STR),
                    query("q", STR, "a short id or id prefix, or a list field's answer (records your agency holds)"),
                    query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                    query("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 50}),
                    query("sort", {"enum": list(SORTS), "default": "updated"}, "newest change or newest record first"),
                    query("after", STR, "the `next` cursor of the page before (same filters and sort)"),
                ],
                links={
                    "GetRecord": link(
                        "getRecord",
                        "the first record listed",
                        record_type="$request.path.record_type",
                        id="$response.body#/items/0/id",
                    ),
                    "GetHistory": link(
                        "getHistory",
                        "its history",
                        record_type="$request.path.record_type",
                        id="$response.body#/items/0/id",
                    ),
                },
            ),
            "post": operation(
                "createRecord",
                "Create a record (idempotent with a client-chosen id)",
                {201: response("Created", record), 200: response("Already created (the same id)", record)},
                (403, 404, 409),
                method="post",
                parameters=[RT],
                body=CREATE,
                links=_record_links("created"),
            ),
        },
        "/api/v1/records/{record_type}/{id}": {
            "get": operation(
                "getRecord",
                "One record, as you may see it",
                {200: response("The record", record)},
                (404,),
                parameters=[RT, RID],
            ),
            "patch": operation(
                "updateRecord",
                "Change answers; send the version you edited",
                {200: response("Saved", record)},
                (403, 404, 409),
                method="patch",
                parameters=[RT, RID],
                body=UPDATE,
                links=_record_links("saved"),
            ),
        },
        "/api/v1/records/{record_type}/{id}/history": {
            "get": operation(
                "getHistory",
                "Who changed what, when (the fields you may see)",
                {200: response("History", ref("History"))},
                (400, 404),
                parameters=[
                    RT,
                    RID,
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                        "only the latest N entries (still oldest first); without it, every entry",
                    ),
                    query(
                        "before",
                        {"type": "integer", "minimum": 1},
                        "with limit: the latest N entries before this version (the first version of the "
                        "page you have), i.e. the next page back",
                    ),
                ],
            )
        },
        "/api/v1/records/{record_type}/{id}/transitions/{transition}": {
            "post": operation(
                "takeStep",
                "Take a workflow step",
                {200: response("Done", record)},
                (403, 404, 409),
                method="post",
                parameters=[RT, RID, path_param("transition")],
                body=STEP,
                body_required=False,
                links=_record_links("after the step"),
            )
        },
        "/api/v1/records/{record_type}/{id}/assignments": {
            "post": operation(
                "assign",
                "Assign the record to a colleague in your scope",
                {200: response("Assigned", record)},
                (403, 404, 409),
                method="post",
                parameters=[RT, RID],
                body=ASSIGN,
                links={
                    "Unassign": link(
                        "unassign",
                        "end the assignment",
                        record_type="$request.path.record_type",
                        id="$request.path.id",
                        username="$request.body#/to",
                    )
                },
            )
        },
        "/api/v1/records/{record_type}/{id}/assignments/{username}": {
            "delete": operation(
                "unassign",
                "End a user's assignment to the record (their access through it ends)",
                {200: response("Unassigned", record)},
                (403, 404),
                method="delete",
                parameters=[RT, RID, path_param("username")],
                body=ANSWER,
                body_required=False,
            )
        },
        "/api/v1/records/{record_type}/{id}/referrals": {
            "post": operation(
                "refer",
                "Refer the record to a user or an agency, sharing the forms named (consent rules apply)",
                {201: response("Referred", record)},
                (403, 404, 409),
                method="post",
                parameters=[RT, RID],
                body=REFER,
            )
        },
        "/api/v1/referrals": {
            "get": operation(
                "listReferrals",
                "Referrals made to you (and, for agency-wide roles, to your agency)",
                {200: response("Referrals", ref("Referrals"))},
                links={
                    "Answer": link(
                        "answerReferral",
                        "answer the newest",
                        id="$response.body#/referrals/0/id",
                        decision="accept",
                    )
                },
            )
        },
        "/api/v1/referrals/{id}/{decision}": {
            "post": operation(
                "answerReferral",
                "Accept or decline a referral made to you; revoke one (the holding agency); close one (either "
                "side). Access through it ends when it is declined, revoked or closed",
                {200: response("Answered", ref("ReferralAnswer"))},
                (404, 409),
                method="post",
                parameters=[
                    path_param("id", {"type": "integer", "minimum": 1, "maximum": MAX_ID - 1}),
                    path_param("decision", {"enum": ["accept", "decline", "revoke", "close"]}),
                ],
                body=ANSWER,
                body_required=False,
            )
        },
        "/api/v1/audit": {
            "get": operation(
                "auditLog",
                "The audit log (roles with audit.read): your agency's entries, newest first",
                {200: response("Entries", ref("AuditLog"))},
                (403,),
                parameters=[query("user", STR), query("record", STR), query("action", STR)],
            )
        },
        "/api/v1/reports": {
            "get": operation(
                "listReports",
                "The reports your role may run",
                {200: response("Reports", ref("Reports"))},
                links={"Run": link("runReport", "run the first", report="$response.body#/reports/0/id")},
            )
        },
        "/api/v1/reports/{report}": {
            "get": operation(
                "runReport",
                "Run a report over the records you reach: counts, small cells suppressed (docs/reports.md). "
                "The report's declared filters are query parameters too (e.g. ?sex=female); others are ignored",
                {
                    200: {
                        "description": "The report's tables (JSON), or the file (CSV, XLSX)",
                        "content": {"application/json": {"schema": ref("Report")}, **FILES},
                    }
                },
                (403, 404),
                parameters=[
                    path_param("report"),
                    query("from", {"type": "string", "format": "date"}),
                    query("to", {"type": "string", "format": "date"}),
                    query("format", {"enum": ["json", "csv", "xlsx"]}),
                    LOCALE,
                ],
            )
        },
        "/api/v1/exports": {
            "post": operation(
                "export",
                "Export records (chosen forms or fields, de-identified if asked) or a declared layout (e.g. "
                "incident_recorder) as CSV or XLSX, optionally in an encrypted ZIP (a password of 12+ characters)",
                {
                    200: {
                        "description": "The file",
                        "content": {**FILES, "application/zip": {"schema": FILE}},
                    }
                },
                (403, 404),
                method="post",
                body=EXPORT,
            )
        },
        "/api/v1/offline": {
            "get": operation(
                "offlinePackage",
                "What a device needs to work offline: the user's record types, workflow steps (which may be "
                "queued offline) and forms with their compiled expressions, translated. Nothing of any record",
                {200: response("The offline package", ref("OfflinePackage"))},
                parameters=[LOCALE],
            )
        },
        "/api/v1/offline/records": {
            "get": operation(
                "offlineRecords",
                "Records to keep on the device: only those the user holds (owner, assignee, referral), as they "
                "may see them (audited); at most the module's offline_records",
                {200: response("The records", ref("OfflineRecords"))},
                (403, 404),
                parameters=[query("id", array(STR), "a record id, repeated for each record", explode=True)],
            )
        },
        "/api/v1/sync": {
            "post": operation(
                "sync",
                "Send the changes a device queued offline, applied in order; per change: applied, merged, "
                "conflict (with both values), duplicate, or rejected (with reasons per field). A change sent "
                "again (the same change_id) gets its first answer back",
                {200: response("One result per change, in the same order", ref("Sync"))},
                method="post",
                body=SYNC,
            )
        },
        "/api/v1/emergency": {
            "post": operation(
                "openEmergency",
                "Break the glass (roles with emergency_access): open a record of your agency outside your scope, "
                "read-only, for the module's emergency_access_hours, with a reason (audited; the record's "
                "supervisors see it)",
                {
                    201: response("The emergency access", ref("EmergencyGrant")),
                    200: response("No emergency access needed: you may open the record anyway", ref("InReach")),
                },
                (403, 404),
                method="post",
                body=EMERGENCY,
                links={"End": link("endEmergency", "end it", id="$response.body#/id")},
            )
        },
        "/api/v1/emergency/{id}/end": {
            "post": operation(
                "endEmergency",
                "End an emergency access before it expires (the user who opened it, or a supervisor of the record)",
                {200: response("Ended", ref("EmergencyGrant"))},
                (404, 409),
                method="post",
                parameters=[path_param("id", {"type": "integer", "minimum": 1, "maximum": MAX_ID - 1})],
            )
        },
    }


@cache
def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sanad records API",
            "version": __version__,
            "description": "Case records, their workflow, assignment and referral. Every response holds only what the "
            "signed-in user may see: records outside their scope answer 404; fields above their role's sensitivity "
            "are never sent. Unsafe methods from another site are refused (Sec-Fetch-Site / Origin). Every error, "
            "for any address under /api/, is JSON {error, status}: an unknown address is a 404, a method the "
            "address does not take a 405 (with Allow).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "sanad_session"}},
            "schemas": _schemas(),
            "responses": _responses(),
        },
        "security": [{"session": []}],
        "paths": _paths(),
    }
