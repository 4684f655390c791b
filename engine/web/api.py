"""The JSON API, /api/v1. Every handler asks the service layer, which asks the policy."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.service import accounts, audit, records
from engine.service.errors import BadRequest, Forbidden, NotFound, ServiceError, Unauthorized
from engine.web.app import (
    clear_session_cookie,
    current_context,
    in_transaction,
    json_body,
    set_session_cookie,
    state,
    user_json,
)
from engine.web.openapi import spec

JSON = dict[str, Any]


def _str(body: JSON, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a text")
    return value


async def login(request: Request) -> Response:
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise BadRequest('send {"username": …, "password": …}')
    st = state(request)
    ip = request.client.host if request.client else None
    st.throttle.check(username, ip)

    def work(session: Session) -> tuple[JSON, str] | None:
        user = accounts.find_user(session, username)
        ok = accounts.verify_password(st.hasher, user, password)
        if not ok or user is None or user.disabled or st.registry.module(user.module) is None:
            audit.record(session, "login.failure", username=username, ip=ip)
            return None
        sid = accounts.start_session(session, user, ip)
        audit.record(session, "login.success", user=user, ip=ip)
        return user_json(user), sid

    result = await in_transaction(request, work)
    if result is None:
        st.throttle.failed(username, ip)
        raise Unauthorized("the user name or password is not right")
    st.throttle.succeeded(username)
    response = JSONResponse({"user": result[0]})
    set_session_cookie(request, response, result[1])
    return response


async def logout(request: Request) -> Response:
    from engine.web.app import _session_id

    sid = _session_id(request)

    def work(session: Session) -> None:
        if sid:
            user = None
            try:
                user = current_context(request, session).user
            except ServiceError:
                pass
            accounts.end_session(session, sid)
            if user is not None:
                audit.record(session, "logout", user=user, ip=request.client.host if request.client else None)

    await in_transaction(request, work)
    response = JSONResponse({"signed_out": True})
    clear_session_cookie(request, response)
    return response


async def me(request: Request) -> Response:
    def work(session: Session) -> JSON:
        ctx = current_context(request, session)
        role = ctx.actor.role
        return {
            "user": user_json(ctx.user),
            "role": {
                "id": role.id,
                "label": role.label,
                "scope": role.scope,
                "permissions": sorted(role.permissions),
                "aggregate_only": role.aggregate_only,
            },
        }

    return JSONResponse(await in_transaction(request, work))


async def modules(request: Request) -> Response:
    def work(session: Session) -> JSON:
        ctx = current_context(request, session)
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

    return JSONResponse(await in_transaction(request, work))


async def form(request: Request) -> Response:
    from renderers.json.form import field_to_json

    module_id, form_id = request.path_params["module"], request.path_params["form"]

    def work(session: Session) -> JSON:
        ctx = current_context(request, session)
        if module_id != ctx.module.id or form_id not in ctx.module.forms:
            raise NotFound("no such form")
        f = ctx.module.forms[form_id]
        if not ctx.actor.role.may_read_form(form_id):
            raise NotFound("no such form")
        fields = [field_to_json(x) for x in f.fields if ctx.policy.sees(ctx.actor, x)]
        return {
            "module": ctx.module.id,
            "version": ctx.module.version,
            "id": f.id,
            "title": f.title,
            "record_type": f.record_type,
            "description": f.description,
            "relevant": f.relevant.to_json() if f.relevant else None,
            "fields": fields,
            "locale": request.query_params.get("locale", ctx.module.default_locale),
        }

    return JSONResponse(await in_transaction(request, work))


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest("'page' must be a positive whole number")
    return int(raw)


async def records_collection(request: Request) -> Response:
    rt = request.path_params["record_type"]
    if request.method == "GET":
        page = _page(request)

        def listing(session: Session) -> JSON:
            ctx = current_context(request, session)
            return records.list_records(ctx, rt, request.query_params.get("stage"), request.query_params.get("q"), page)

        return JSONResponse(await in_transaction(request, listing))
    body = await json_body(request)
    extra = set(body) - {"data", "id", "link_to"}
    if extra:
        raise BadRequest(f"unknown keys: {', '.join(sorted(extra))} (send data, and optionally id and link_to)")

    def create(session: Session) -> tuple[JSON, bool]:
        ctx = current_context(request, session)
        return records.create(ctx, rt, body.get("data", {}), _str(body, "id"), _str(body, "link_to"))

    view, created = await in_transaction(request, create)
    return JSONResponse(view, status_code=201 if created else 200)


async def record_item(request: Request) -> Response:
    rt, rid = request.path_params["record_type"], request.path_params["id"]
    if request.method == "GET":
        return JSONResponse(await in_transaction(request, lambda s: records.read(current_context(request, s), rt, rid)))
    body = await json_body(request)
    extra = set(body) - {"data", "version"}
    if extra:
        raise BadRequest(f"unknown keys: {', '.join(sorted(extra))} (send version and data)")
    return JSONResponse(
        await in_transaction(
            request,
            lambda s: records.update(current_context(request, s), rt, rid, body.get("version"), body.get("data", {})),
        )
    )


async def record_history(request: Request) -> Response:
    rt, rid = request.path_params["record_type"], request.path_params["id"]
    return JSONResponse(
        {"history": await in_transaction(request, lambda s: records.history(current_context(request, s), rt, rid))}
    )


async def record_transition(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    return JSONResponse(
        await in_transaction(
            request,
            lambda s: records.transition(
                current_context(request, s),
                p["record_type"],
                p["id"],
                p["transition"],
                _str(body, "comment"),
                _str(body, "override_reason"),
            ),
        )
    )


async def record_assign(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    return JSONResponse(
        await in_transaction(
            request,
            lambda s: records.assign(
                current_context(request, s), p["record_type"], p["id"], body.get("to"), _str(body, "comment")
            ),
        )
    )


async def record_refer(request: Request) -> Response:
    p = request.path_params
    body = await json_body(request)
    return JSONResponse(
        await in_transaction(
            request,
            lambda s: records.refer(
                current_context(request, s),
                p["record_type"],
                p["id"],
                body.get("transition"),
                body.get("to"),
                body.get("forms"),
                _str(body, "comment"),
                _str(body, "override_reason"),
                body.get("to_agency"),
            ),
        ),
        status_code=201,
    )


async def referral_list(request: Request) -> Response:
    return JSONResponse(
        {"referrals": await in_transaction(request, lambda s: records.referrals_for(current_context(request, s)))}
    )


async def referral_respond(request: Request) -> Response:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise NotFound("no such referral")
    decision = request.path_params["decision"]
    if decision not in ("accept", "decline"):
        raise NotFound("use /accept or /decline")
    accept = decision == "accept"
    body = await json_body(request)
    return JSONResponse(
        await in_transaction(
            request, lambda s: records.respond(current_context(request, s), int(raw), accept, _str(body, "comment"))
        )
    )


async def audit_list(request: Request) -> Response:
    q = request.query_params

    def work(session: Session) -> JSON:
        ctx = current_context(request, session)
        if not ctx.actor.role.can("audit.read"):
            raise Forbidden("your role may not read the audit log")
        rows = audit.entries(session, username=q.get("user"), record_id=q.get("record"), action=q.get("action"))
        audit.record(session, "audit.read", user=ctx.user, ip=ctx.ip, filters=dict(q))
        return {
            "entries": [
                {
                    "id": e.id,
                    "at": audit.iso(e.at),
                    "user": e.username,
                    "ip": e.ip,
                    "action": e.action,
                    "record_id": e.record_id,
                    "details": e.details,
                }
                for e in rows
            ]
        }

    return JSONResponse(await in_transaction(request, work))


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
    ("/api/v1/records/{record_type}/{id}/referrals", record_refer, ["POST"]),
    ("/api/v1/referrals", referral_list, ["GET"]),
    ("/api/v1/referrals/{id}/{decision:str}", referral_respond, ["POST"]),
    ("/api/v1/audit", audit_list, ["GET"]),
]
