"""The JSON API, /api/v1. Every handler asks the service layer, which asks the policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine import i18n
from engine.service import (
    accounts,
    assignments,
    audit,
    emergency,
    listing,
    records,
    referrals,
    reports,
    sync,
    transitions,
)
from engine.service.context import Context
from engine.service.errors import BadRequest, Forbidden, NotFound, Unauthorized
from engine.service.listing import MAX_PAGE, MAX_PAGE_SIZE, PAGE_SIZE, SORTS
from engine.web import downloads
from engine.web.context import (
    clear_session_cookie,
    in_context,
    json_body,
    remember_device,
    set_session_cookie,
    sign_out,
)
from engine.web.inputs import MAX_ID, check_keys, optional_text, optional_texts, positive_id, version_of, whole_number
from engine.web.openapi import spec
from engine.web.pages.auth import first_step, second_step
from renderers import tabular
from renderers.json.form import evaluation_order, form_to_json

JSON = dict[str, Any]


async def answer(request: Request, use_case: Callable[[Context], Any], status: int = 200) -> Response:
    """Run a use case for the signed-in user in one transaction; its result as JSON. The response is
    rendered inside the transaction, so a result that cannot be sent is never committed either."""
    response: Response = await in_context(request, lambda ctx: JSONResponse(use_case(ctx), status_code=status))
    return response


def _str(body: JSON, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a text")
    return value


async def login(request: Request) -> Response:
    """Sign in with the password and, for an account with a second factor, its `code` (a code of its
    authenticator app or a recovery code) in the same request (engine/web/pages/auth.py)."""
    body = await json_body(request)
    check_keys(body, ("username", "password"), ("code",))
    username, password, code = body.get("username"), body.get("password"), body.get("code")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise BadRequest('send {"username": …, "password": …} (and "code": … for an account with a second factor)')
    if code is not None and not isinstance(code, str):
        raise BadRequest("'code' is the code of the account's authenticator app (or a recovery code), as a text")
    attempt = await first_step(request, username, password)
    if attempt.user_id is None:
        raise Unauthorized("the user name or password is not right")
    if attempt.then == accounts.ENROL:
        raise Forbidden(
            "your role requires a second factor and your account has none yet: sign in once on the web pages "
            "to set it up, then send its code as 'code'",
            second_factor="enrol",
        )
    if attempt.then == accounts.CODE:
        if not code:
            raise Unauthorized(
                "this account has a second factor: send the code its authenticator app shows (or a recovery code) "
                "as 'code' with the user name and password",
                second_factor="code",
            )
        assert attempt.user_id is not None and attempt.username is not None
        attempt = await second_step(request, attempt.user_id, attempt.username, code, attempt.fingerprint)
        if attempt.session_id is None:
            raise Unauthorized(
                "this code was already used: send the next one"
                if attempt.refused == "used"
                else "the code is not right",
                second_factor="code",
            )
    assert attempt.session_id is not None
    response = JSONResponse({"user": attempt.profile})
    set_session_cookie(request, response, attempt.session_id)
    remember_device(request, response, username)
    return response


async def logout(request: Request) -> Response:
    await sign_out(request)
    response = JSONResponse({"signed_out": True})
    clear_session_cookie(request, response)
    return response


def _me(ctx: Context) -> JSON:
    role = ctx.actor.role
    return {
        "user": accounts.profile(ctx.user),
        "role": {
            "id": role.id,
            "label": role.label,
            "scope": role.scope,
            "permissions": sorted(role.permissions),
            "aggregate_only": role.aggregate_only,
        },
    }


async def me(request: Request) -> Response:
    return await answer(request, _me)


def _modules(ctx: Context) -> JSON:
    m = ctx.module
    return {
        "modules": [
            {
                "id": m.id,
                "title": m.title,
                "version": m.version,
                "locales": list(m.locales),
                "record_types": [
                    {"id": rt.id, "title": rt.title, "forms": list(rt.form_ids)}
                    for rt in m.record_types.values()
                    if ctx.policy.may_on_type(ctx.actor, rt.id, "read")
                ],
            }
        ]
    }


async def modules(request: Request) -> Response:
    return await answer(request, _modules)


async def form(request: Request) -> Response:
    module_id, form_id = request.path_params["module"], request.path_params["form"]

    def work(ctx: Context) -> JSON:
        if module_id != ctx.module.id or form_id not in ctx.module.forms:
            raise NotFound("no such form")
        f = ctx.module.forms[form_id]
        if not ctx.actor.role.may_read_form(form_id):
            raise NotFound("no such form")
        # texts in the language negotiated for this request (?locale=, the user's choice,
        # Accept-Language), with the pages' fallback chain; only the fields this role may see
        return form_to_json(ctx.module, f, i18n.current(), lambda x: ctx.policy.sees(ctx.actor, x))

    return await answer(request, work)


def _page(request: Request) -> int:
    return whole_number(request.query_params.get("page"), "page", default=1, low=1, high=MAX_PAGE)


async def records_collection(request: Request) -> Response:
    rt = request.path_params["record_type"]
    if request.method == "GET":
        page, q = _page(request), request.query_params
        size = whole_number(q.get("page_size"), "page_size", default=PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
        sort = q.get("sort") or "updated"
        if sort not in SORTS:
            raise BadRequest(f"'sort' is one of {', '.join(SORTS)}")
        return await answer(
            request,
            lambda ctx: listing.list_records(
                ctx, rt, q.get("stage"), q.get("q"), page, sort, page_size=size, after=q.get("after") or None
            ),
        )
    body = await json_body(request)
    check_keys(body, ("data",), ("id", "link_to"))  # an empty record is {"data": {}}
    if not isinstance(body["data"], dict):
        raise BadRequest("'data' must be an object of field ids and answers")
    record_id, link_to = optional_text(body, "id"), optional_text(body, "link_to")
    view, created = await in_context(request, lambda ctx: records.create(ctx, rt, body["data"], record_id, link_to))
    return JSONResponse(view, status_code=201 if created else 200)


async def record_item(request: Request) -> Response:
    rt, rid = request.path_params["record_type"], request.path_params["id"]
    if request.method == "GET":
        return await answer(request, lambda ctx: records.read(ctx, rt, rid))
    body = await json_body(request)
    check_keys(body, ("version", "data"), ("form",))
    version = version_of(body)
    if not isinstance(body["data"], dict):
        raise BadRequest("'data' must be an object of field ids and answers")
    form = body.get("form")
    if form is not None and not isinstance(form, str):
        raise BadRequest("'form' is the id of the form that was saved")
    return await answer(request, lambda ctx: records.update(ctx, rt, rid, version, body["data"], form=form))


async def record_history(request: Request) -> Response:
    """Every entry, oldest first; with ?limit=N the latest N (and ?before=V: the latest N before the
    version V, i.e. the next page back: pass the first entry's version of the page before)."""
    rt, rid, q = request.path_params["record_type"], request.path_params["id"], request.query_params
    limit = whole_number(q.get("limit"), "limit", default=0, low=1, high=1000) or None
    before = whole_number(q.get("before"), "before", default=0, low=1, high=MAX_ID - 1) or None
    return await answer(request, lambda ctx: {"history": records.history(ctx, rt, rid, limit=limit, before=before)})


async def record_transition(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    check_keys(body, (), ("comment", "override_reason"))
    comment, reason = _str(body, "comment"), _str(body, "override_reason")
    return await answer(
        request, lambda ctx: transitions.transition(ctx, p["record_type"], p["id"], p["transition"], comment, reason)
    )


async def record_assign(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    check_keys(body, ("to",), ("comment",))
    comment = _str(body, "comment")
    return await answer(
        request, lambda ctx: assignments.assign(ctx, p["record_type"], p["id"], body.get("to"), comment)
    )


async def record_unassign(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)  # optional: an empty body is {}
    check_keys(body, (), ("comment",))
    comment = _str(body, "comment")
    return await answer(
        request, lambda ctx: assignments.unassign(ctx, p["record_type"], p["id"], p["username"], comment)
    )


async def record_refer(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    check_keys(body, ("transition", "forms"), ("to", "to_agency", "write_forms", "comment", "override_reason"))
    comment, reason = _str(body, "comment"), _str(body, "override_reason")
    write_forms = optional_texts(body, "write_forms")
    return await answer(
        request,
        lambda ctx: referrals.refer(
            ctx,
            p["record_type"],
            p["id"],
            body.get("transition"),
            body.get("to"),
            body.get("forms"),
            comment,
            reason,
            body.get("to_agency"),
            write_forms,
        ),
        status=201,
    )


async def referral_list(request: Request) -> Response:
    return await answer(request, lambda ctx: {"referrals": referrals.referrals_for(ctx)})


async def referral_respond(request: Request) -> Response:
    referral_id = positive_id(request.path_params["id"], "referral")
    decision = request.path_params["decision"]
    if decision not in ("accept", "decline", "revoke", "close"):
        raise NotFound("use /accept, /decline, /revoke or /close")
    body = await json_body(request)
    check_keys(body, (), ("comment",))
    comment = _str(body, "comment")
    if decision in ("revoke", "close"):
        status = "revoked" if decision == "revoke" else "closed"
        return await answer(request, lambda ctx: referrals.end(ctx, referral_id, status, comment))
    return await answer(request, lambda ctx: referrals.respond(ctx, referral_id, decision == "accept", comment))


async def audit_list(request: Request) -> Response:
    q = request.query_params

    def work(ctx: Context) -> JSON:
        return {
            "entries": audit.read_log(
                ctx, username=q.get("user"), record_id=q.get("record"), action=q.get("action"), filters=dict(q)
            )
        }

    return await answer(request, work)


async def report_list(request: Request) -> Response:
    def work(ctx: Context) -> JSON:
        tr = i18n.current()
        return {
            "reports": [
                {
                    "id": r.id,
                    "title": tr.text(f"reports/{r.id}/title", r.title)[0],
                    "record_type": r.record_type,
                    "audience": r.audience,
                    "filters": list(r.filters),
                    "tables": [t.id for t in r.tables],
                }
                for r in reports.available(ctx)
            ]
        }

    return await answer(request, work)


async def report_run(request: Request) -> Response:
    """A report as JSON (the documented contract), CSV or XLSX (?format=)."""
    report_id = request.path_params["report"]
    qp = request.query_params
    kind = qp.get("format", "json")
    if kind not in ("json", "csv", "xlsx"):
        raise BadRequest("'format' is json, csv or xlsx")
    filters = {k: v for k, v in qp.items() if k not in ("from", "to", "format", "locale")}

    def work(ctx: Context) -> JSON:
        report = ctx.module.reports.get(report_id)
        known = {k: v for k, v in filters.items() if report is not None and k in report.filters}
        return reports.run(ctx, report_id, qp.get("from"), qp.get("to"), known, file_format=kind)

    if kind == "json":
        return await answer(request, work)
    result = await in_context(request, work)
    body, media, suffix = tabular.report_file(result, kind)
    name = f"{result['report']}-{result['from'] or 'start'}-{result['to'] or 'now'}.{suffix}"
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})


async def export_file(request: Request) -> Response:
    """POST {record_type, forms?, fields?, deidentified?, format?, password?} or {export, format?,
    password?}: the file (CSV, XLSX, or an encrypted ZIP of it), the reader's access rules applied."""
    body = await json_body(request)
    check_keys(body, (), ("record_type", "export", "forms", "fields", "deidentified", "format", "password"))
    _export_body(body)
    return await downloads.export_response(request, body)


def _export_body(body: JSON) -> None:
    """An export names a record type (with forms, fields, deidentified) or a declared export, not
    both; each key of its type (null is not a value here)."""
    if ("record_type" in body) == ("export" in body):
        raise BadRequest('name a record type or a declared export: {"record_type": "case"} or {"export": "…"}')
    if "export" in body and {"forms", "fields", "deidentified"} & set(body):
        raise BadRequest("a declared export has its own columns: send only export, format and password")
    for key in ("record_type", "export"):
        if key in body and not isinstance(body[key], str):
            raise BadRequest(f"'{key}' must be a text")
    for key in ("forms", "fields"):
        value = body.get(key, [])
        if not isinstance(value, str) and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise BadRequest(f"'{key}' is a list of ids")
    if "deidentified" in body and not isinstance(body["deidentified"], bool):
        raise BadRequest("'deidentified' is true or false")
    if "format" in body and body["format"] not in ("csv", "xlsx"):
        raise BadRequest("'format' is csv or xlsx")
    if "password" in body and not isinstance(body["password"], str):
        raise BadRequest("'password' is a text")
    if body.get("password") == "":
        raise BadRequest("'password' is empty: leave it out for a file that is not encrypted")


async def offline_package(request: Request) -> Response:
    """What a device needs to work offline: the user's record types, steps and forms, translated."""

    def work(ctx: Context) -> JSON:
        found = sync.package(ctx)
        tr = i18n.current()
        for rt in found["record_types"]:
            record_type = ctx.module.record_types[rt["id"]]
            order = [name for kind, name in evaluation_order(record_type) if kind == "field"]
            for entry in rt["forms"]:
                one = form_to_json(
                    ctx.module, record_type.forms[entry["id"]], tr, lambda f: ctx.policy.sees(ctx.actor, f)
                )
                entry.update(one, order=order)
        return found

    return await answer(request, work)


async def offline_records(request: Request) -> Response:
    ids = request.query_params.getlist("id")
    return await answer(request, lambda ctx: {"records": sync.offline_records(ctx, ids)})


async def sync_changes(request: Request) -> Response:
    body = await json_body(request)
    check_keys(body, ("changes",), ("definitions_version",))
    if not isinstance(body["changes"], list):
        raise BadRequest('\'changes\' is a list: {"changes": [...], "definitions_version": "..."}')
    optional_text(body, "definitions_version")
    return await answer(request, lambda ctx: sync.sync(ctx, body))


async def emergency_open(request: Request) -> Response:
    """Break the glass: POST {record, reason}; the grant (201), or {in_reach: true} (200) when the
    user may open the record anyway."""
    body = await json_body(request)
    extra = set(body) - {"record", "reason"}
    if extra:
        raise BadRequest(f"unknown keys: {', '.join(sorted(extra))} (send record and reason)")
    grant = await in_context(request, lambda ctx: emergency.open_emergency(ctx, body.get("record"), body.get("reason")))
    return JSONResponse(grant, status_code=200 if grant["in_reach"] else 201)


async def emergency_end(request: Request) -> Response:
    grant_id = positive_id(request.path_params["id"], "emergency access")
    return await answer(request, lambda ctx: emergency.end_emergency(ctx, grant_id))


async def openapi(request: Request) -> Response:
    return JSONResponse(spec(), headers={"cache-control": "public, max-age=300"})


ROUTES = [
    ("/api/v1/openapi.json", openapi, ["GET"]),
    ("/api/v1/login", login, ["POST"]),
    ("/api/v1/logout", logout, ["POST"]),
    ("/api/v1/me", me, ["GET"]),
    ("/api/v1/modules", modules, ["GET"]),
    ("/api/v1/modules/{module}/forms/{form}", form, ["GET"]),
    ("/api/v1/records/{record_type}", records_collection, ["GET", "POST"]),
    ("/api/v1/records/{record_type}/{id}", record_item, ["GET", "PATCH"]),
    ("/api/v1/records/{record_type}/{id}/history", record_history, ["GET"]),
    ("/api/v1/records/{record_type}/{id}/transitions/{transition}", record_transition, ["POST"]),
    ("/api/v1/records/{record_type}/{id}/assignments", record_assign, ["POST"]),
    ("/api/v1/records/{record_type}/{id}/assignments/{username}", record_unassign, ["DELETE"]),
    ("/api/v1/records/{record_type}/{id}/referrals", record_refer, ["POST"]),
    ("/api/v1/referrals", referral_list, ["GET"]),
    ("/api/v1/referrals/{id}/{decision:str}", referral_respond, ["POST"]),
    ("/api/v1/audit", audit_list, ["GET"]),
    ("/api/v1/reports", report_list, ["GET"]),
    ("/api/v1/reports/{report}", report_run, ["GET"]),
    ("/api/v1/exports", export_file, ["POST"]),
    ("/api/v1/offline", offline_package, ["GET"]),
    ("/api/v1/offline/records", offline_records, ["GET"]),
    ("/api/v1/sync", sync_changes, ["POST"]),
    ("/api/v1/emergency", emergency_open, ["POST"]),
    ("/api/v1/emergency/{id}/end", emergency_end, ["POST"]),
]
