"""The caseworkers' pages: server-rendered HTML on top of the same service and policy as the API.

Every page works without JavaScript (the server evaluates skip logic, calculations and errors
on every save and re-renders); with JavaScript the form re-evaluates live in the browser.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from engine import i18n
from engine.i18n import _
from engine.runtime.evaluation import evaluate
from engine.runtime.workflow import state_label, transition_label
from engine.service import accounts, audit, records
from engine.service.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError, TooManyAttempts, Unauthorized
from engine.service.records import Context
from engine.storage.models import Record
from engine.web.app import (
    audit_refusal,
    clear_session_cookie,
    current_context,
    in_transaction,
    set_session_cookie,
    state,
)
from renderers import html as renderer
from renderers.html import formview
from renderers.json.form import field_to_json

FLASH = "sanad_flash"
_env = renderer.environment()


def _flash_signer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(state(request).settings.secret_key, salt="sanad-flash")


def _peek_flash(request: Request) -> dict[str, Any]:
    """The flash data (a message and small state for the next page), if the cookie is genuine and fresh;
    render() then deletes the cookie, so it is shown once."""
    raw = request.cookies.get(FLASH)
    if not raw:
        return {}
    try:
        data = _flash_signer(request).loads(raw, max_age=120)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def redirect(request: Request, url: str, message: str | None = None, **extra: Any) -> Response:
    response = RedirectResponse(url, status_code=303)
    if message or extra:
        response.set_cookie(
            FLASH,
            _flash_signer(request).dumps({"messages": [message] if message else [], **extra}),
            httponly=True,
            samesite="lax",
            path="/",
            secure=request.url.scheme == "https",
        )
    return response


def _label_time(iso: str | None) -> str:
    """A timestamp in the reader's language (Babel/CLDR), e.g. '24 nov. 2026, 21:59'."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    from babel.dates import format_datetime

    return format_datetime(moment, "short", locale=i18n.current().locale)


LANGUAGE_NAMES = {"en": "English", "fr": "Français", "ar": "العربية", "es": "Español"}
ANONYMOUS_LOCALES = ("en", "fr", "ar", "es")


def anonymous_locale(request: Request) -> str:
    """The language of a page shown before sign-in: ?locale=, else the browser's."""
    st = state(request)
    locale = i18n.negotiate(
        request.query_params.get("locale"), None, request.headers.get("accept-language"), ANONYMOUS_LOCALES
    )
    module = next(iter(st.registry.modules.values()), None)
    if module is not None:
        i18n.use(i18n.translator_for(module, locale))
    return locale


def render(request: Request, template: str, ctx: Context | None, status: int = 200, **values: Any) -> HTMLResponse:
    flash = _peek_flash(request)
    locale = ctx.locale if ctx is not None else anonymous_locale(request)
    tr = i18n.current()
    nav = []
    if ctx is not None and not ctx.actor.role.aggregate_only:
        for rt in ctx.module.record_types.values():
            if ctx.policy.may_on_type(ctx.actor, rt.id, "read"):
                href = f"/records/{rt.id}"
                label = tr.text(f"record_types/{rt.id}/title", rt.title)[0]
                nav.append({"href": href, "label": label, "current": request.url.path.startswith(href)})
    if ctx is not None and ctx.actor.role.can("audit.read"):
        nav.append({"href": "/audit", "label": _("Audit log"), "current": request.url.path.startswith("/audit")})
    offered = ctx.module.locales if ctx is not None else ANONYMOUS_LOCALES
    body = _env.get_template(template).render(
        lang=locale,
        dir=i18n.locale_direction(locale),
        locales=[(code, LANGUAGE_NAMES.get(code, code)) for code in offered],
        back_url=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        user=ctx.user if ctx else None,
        role_label=tr.text(f"roles/{ctx.actor.role.id}/label", ctx.actor.role.label)[0] if ctx else "",
        nav=nav,
        flashes=flash.get("messages", []),
        flash=flash,
        **values,
    )
    response = HTMLResponse(body, status_code=status)
    if flash:
        response.delete_cookie(FLASH, path="/")
    return response


async def page(request: Request, fn: Any) -> Response:
    """Run a page handler in a transaction; signed-out users go to the sign-in page."""
    try:
        result: Response = await in_transaction(request, fn)
        return result
    except Unauthorized:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
    except NotFound as exc:
        await audit_refusal(request, exc)
        return render(
            request,
            "error.html",
            None,
            404,
            title=_("Not found"),
            message=_("There is no such page, or it is not yours to see."),
        )
    except Forbidden as exc:
        await audit_refusal(request, exc)
        return render(request, "error.html", None, 403, title=_("Not allowed"), message=exc.message)
    except ServiceError as exc:
        await audit_refusal(request, exc)
        return render(request, "error.html", None, exc.status, title=_("That did not work"), message=exc.message)


async def action(request: Request, fn: Any, back: str) -> Response:
    """Run a POST action; on a refusal go back with the reason as a message (nothing was saved)."""
    try:
        result: Response = await in_transaction(request, fn)
        return result
    except Unauthorized:
        return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)
    except ServiceError as exc:
        await audit_refusal(request, exc)
        reasons = " ".join(exc.details.get("reasons", []))
        return redirect(request, back, f"{exc.message}. {reasons}".strip())


# -- sign in / out -------------------------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


async def login_page(request: Request) -> Response:
    return render(
        request,
        "login.html",
        None,
        title=_("Sign in"),
        next=_safe_next(request.query_params.get("next")),
        idle_minutes=state(request).settings.idle_minutes,
    )


async def login_submit(request: Request) -> Response:
    st = state(request)
    async with request.form(max_files=0, max_fields=10) as form:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        nxt = _safe_next(str(form.get("next", "/")))
    ip = request.client.host if request.client else None

    def fail(message: str, status: int) -> Response:
        return render(
            request,
            "login.html",
            None,
            status,
            title=_("Sign in"),
            error=message,
            username=username,
            next=nxt,
            idle_minutes=st.settings.idle_minutes,
        )

    try:
        st.throttle.check(username, ip)
    except TooManyAttempts as exc:
        return fail(exc.message, 429)

    def work(session: Session) -> str | None:
        user = accounts.find_user(session, username)
        if not accounts.verify_password(st.hasher, user, password) or user is None or user.disabled:
            audit.record(session, "login.failure", username=username, ip=ip)
            return None
        audit.record(session, "login.success", user=user, ip=ip)
        return accounts.start_session(session, user, ip)

    sid = await in_transaction(request, work)
    if sid is None:
        st.throttle.failed(username, ip)
        return fail(_("The user name or password is not right."), 401)
    st.throttle.succeeded(username)
    response = RedirectResponse(nxt, status_code=303)
    set_session_cookie(request, response, sid)
    return response


async def logout_submit(request: Request) -> Response:
    from engine.web.api import logout

    await logout(request)
    response = redirect(request, "/login", _("You are signed out."))
    clear_session_cookie(request, response)
    return response


# -- home ----------------------------------------------------------------------------------------
def _rows(ctx: Context, items: list[dict[str, Any]], record_type: str) -> list[dict[str, Any]]:
    wf = ctx.module.workflow_for(record_type)
    for it in items:
        it["record_type"] = record_type
        it["stage_label"] = (
            state_label(wf, it["stage"]) if wf and it.get("stage") in wf.states else (it.get("stage") or "")
        )
        it["updated_label"] = _label_time(it.get("updated_at"))
    return items


async def home(request: Request) -> Response:
    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        role = ctx.actor.role
        values: dict[str, Any] = {
            "title": _("Welcome, %(name)s", name=ctx.user.full_name or ctx.user.username),
            "aggregate_only": role.aggregate_only,
            "audit_link": role.can("audit.read"),
        }
        wf = ctx.module.workflow_for("case")
        if role.aggregate_only or (role.can("reports.read") and not role.can("case.write")):
            values["counts"] = _stage_counts(ctx, "case")
        if not role.aggregate_only and ctx.policy.may_on_type(ctx.actor, "case", "read") and wf is not None:
            approval_stages = {
                s for t in wf.transitions.values() if t.approval and role.id in t.roles for s in t.from_states
            }
            waiting = []
            for stage_id in sorted(approval_stages):
                waiting += records.list_records(ctx, "case", stage_id, None, 1)["items"]
            values["approvals"] = _rows(ctx, waiting, "case")
            values["referrals"] = [r for r in records.referrals_for(ctx) if r["status"] == "pending"]
            if role.scope == "own" or role.can("case.create"):
                finals = {s.id for s in wf.states.values() if s.final}
                mine = [
                    r for r in records.list_records(ctx, "case", None, None, 1)["items"] if r["stage"] not in finals
                ]
                values["mine"] = _rows(ctx, mine[:20], "case")
                values["mine_title"] = _("Your open cases")
            values["can_create"] = ctx.policy.can_create(ctx.actor, "case")
            values["new_id"] = str(uuid.uuid4())
        values.setdefault("mine", None)
        return render(request, "home.html", ctx, **values)

    return await page(request, work)


def _stage_counts(ctx: Context, record_type: str) -> list[tuple[str, int]]:
    """Counts by stage in the user's scope (aggregate roles see counts, never records)."""
    wf = ctx.module.workflow_for(record_type)
    if wf is None:
        return []
    q = select(Record.stage, func.count()).where(Record.module == ctx.module.id, Record.record_type == record_type)
    if ctx.actor.role.scope == "agency":
        q = q.where(Record.agency_id == ctx.actor.agency_id)
    elif ctx.actor.role.scope != "all":
        return []
    counts = {stage: n for stage, n in ctx.session.execute(q.group_by(Record.stage))}
    return [(s.label, counts.get(s.id, 0)) for s in wf.states.values()]


# -- lists ---------------------------------------------------------------------------------------
async def record_list(request: Request) -> Response:
    rt_id = request.path_params["record_type"]
    qp = request.query_params

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        rt = ctx.module.record_types.get(rt_id)
        if rt is None or not ctx.policy.may_on_type(ctx.actor, rt_id, "read"):
            raise NotFound("no such list")
        page_no = int(qp["page"]) if qp.get("page", "").isdigit() and int(qp["page"]) > 0 else 1
        sort = qp.get("sort", "updated")
        choice_filters = [
            rt.scope.fields[fid]
            for fid in rt.list_fields
            if rt.scope.fields[fid].choices
            and rt.scope.fields[fid].sensitivity in ctx.actor.role.sensitivity
            and ctx.actor.role.may_read_form(rt.scope.fields[fid].form_id)
        ]
        filters = {f.id: qp.get(f"f_{f.id}", "") for f in choice_filters}
        result = records.list_records(
            ctx,
            rt_id,
            qp.get("stage") or None,
            qp.get("q") or None,
            page_no,
            sort,
            rt.list_fields,
            page_size=25,
            filters=filters,
            owner=qp.get("owner") or None,
            created_from=qp.get("from") or None,
            created_to=qp.get("to") or None,
        )
        columns = []
        for fid in rt.list_fields:
            f = rt.scope.fields[fid]
            if f.sensitivity in ctx.actor.role.sensitivity:
                columns.append({"id": fid, "label": f.label, "masked": f.sensitivity == "direct"})
        items = _rows(ctx, result["items"], rt_id)
        for it in items:
            it["cells"] = {
                str(c["id"]): _cell(rt.scope.fields[str(c["id"])], it.get("fields", {}).get(c["id"])) for c in columns
            }
        wf = ctx.module.workflow_for(rt_id)
        pages = max(1, -(-result["total"] // result["page_size"]))

        def page_link(n: int) -> str:
            params = {k: v for k, v in qp.items() if k != "page"}
            params["page"] = str(n)
            return f"/records/{rt_id}?{urlencode(params)}"

        flash = _peek_flash(request)
        return render(
            request,
            "list.html",
            ctx,
            title=i18n.current().text(f"record_types/{rt.id}/title", rt.title)[0],
            rt=rt,
            items=items,
            columns=columns,
            stages=list(wf.states.values()) if wf else [],
            stage=qp.get("stage"),
            q=qp.get("q"),
            sort=sort,
            total=result["total"],
            page=page_no,
            pages=pages,
            page_size=result["page_size"],
            page_link=page_link,
            revealed=flash.get("revealed"),
            back=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
            can_create=ctx.policy.can_create(ctx.actor, rt_id),
            choice_filters=[
                {"id": f.id, "label": f.label, "choices": f.choices, "value": filters[f.id]} for f in choice_filters
            ],
            owner=qp.get("owner"),
            date_from=qp.get("from"),
            date_to=qp.get("to"),
            new_id=str(uuid.uuid4()),
        )

    return await page(request, work)


def _cell(f: Any, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if f.choices:
        labels = {c.value: c.label for c in f.choices}
        vals = value if isinstance(value, list) else [value]
        return ", ".join(str(labels.get(v, v)) for v in vals)
    return str(value)


async def reveal(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=5) as form:
        back = _safe_next(str(form.get("back", f"/records/{p['record_type']}")))

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        rec, _ = records.load(ctx, p["record_type"], p["id"])
        audit.record(session, "record.reveal", user=ctx.user, ip=ctx.ip, record_id=rec.id, reason="shown in a list")
        return redirect(request, back, None, revealed=rec.id)

    return await page(request, work)


# -- creating ------------------------------------------------------------------------------------
async def record_new(request: Request) -> Response:
    rt_id = request.path_params["record_type"]
    async with request.form(max_files=0, max_fields=5) as form:
        client_id = str(form.get("client_id") or uuid.uuid4())
        link_to = str(form["link_to"]) if form.get("link_to") else None

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        try:
            view, created = records.create(ctx, rt_id, {}, client_id, link_to)
        except Conflict:
            view, created = records.create(ctx, rt_id, {}, str(uuid.uuid4()), link_to)
        first = ctx.module.record_types[rt_id].form_ids[0]
        return redirect(
            request,
            f"/records/{rt_id}/{view['id']}/forms/{first}",
            _("The record is created. Fill in the forms in any order.") if created else None,
        )

    return await page(request, work)


# -- a record ------------------------------------------------------------------------------------
async def record_page(request: Request) -> Response:
    p = request.path_params

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        view = records.read(ctx, p["record_type"], p["id"])
        rt = ctx.module.record_types[view["record_type"]]
        wf = ctx.module.workflow_for(rt.id)
        forms = [{"id": fid, **info} for fid, info in view["forms"].items()]
        steps = []
        if wf is not None and view["stage"]:
            ids = list(wf.states)
            here = ids.index(view["stage"])
            steps = [
                {"label": state_label(wf, s.id), "state": "done" if i < here else "current" if i == here else "ahead"}
                for i, s in enumerate(wf.states.values())
            ]
        history = records.history(ctx, rt.id, view["id"])
        actions = {"create": _("created"), "update": _("changed"), "transition": _("workflow step")}
        for link in view["links"]:
            other_rt = ctx.module.record_types.get(link["record_type"])
            other_wf = ctx.module.workflow_for(link["record_type"])
            link["type_label"] = (
                i18n.current().text(f"record_types/{other_rt.id}/title", other_rt.title)[0]
                if other_rt
                else link["record_type"]
            )
            link["stage_label"] = state_label(other_wf, link["stage"]) if other_wf and link["stage"] else ""
        for h in history:
            h["at_label"] = _label_time(h["at"])
            h["action_label"] = actions.get(h["action"], h["action"])
            for c in h["changes"]:
                f = rt.all_fields.get(c["field"])
                if c["field"] == "(stage)" and wf is not None:
                    c["label"] = f"{state_label(wf, c.get('old') or '')} → {state_label(wf, c.get('new') or '')}"
                else:
                    c["label"] = i18n.current().text(f"{i18n.field_path(f)}/label", f.label)[0] if f else c["field"]
        return render(
            request,
            "record.html",
            ctx,
            title=f"{rt.title} {view['short_id']}",
            rt=rt,
            rec=view,
            stage_label=state_label(wf, view["stage"]) if wf and view["stage"] else "",
            forms=forms,
            steps=steps,
            transitions=view["transitions"],
            links=view["links"],
            history=history,
            can_assign=ctx.policy.may_on_type(ctx.actor, rt.id, "assign"),
            can_create_incident="incident" in ctx.module.record_types
            and rt.id != "incident"
            and ctx.policy.can_create(ctx.actor, "incident"),
            new_id=str(uuid.uuid4()),
        )

    return await page(request, work)


async def record_transition(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=50) as form:
        comment = str(form.get("comment") or "").strip() or None
        reason = str(form.get("override_reason") or "").strip() or None
        to = str(form.get("to") or "").strip() or None
        shared = [str(v) for v in form.getlist("forms")]
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        rt = ctx.module.record_types.get(p["record_type"])
        wf = ctx.module.workflow_for(p["record_type"]) if rt else None
        t = wf.transitions.get(p["transition"]) if wf else None
        if t is None:
            raise NotFound("no such step")
        if t.referral:
            records.refer(ctx, p["record_type"], p["id"], t.id, to, shared, comment, reason)
            return redirect(request, back, _("Referred to %(user)s.", user=to))
        records.transition(ctx, p["record_type"], p["id"], t.id, comment, reason)
        return redirect(request, back, _("Done: %(step)s.", step=transition_label(wf, t) if wf else t.label))

    return await action(request, work, back)


async def record_assign(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=5) as form:
        to = str(form.get("to") or "").strip()
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(session: Session) -> Response:
        records.assign(current_context(request, session), p["record_type"], p["id"], to, None)
        return redirect(request, back, _("Assigned to %(user)s.", user=to))

    return await action(request, work, back)


async def referral_answer(request: Request) -> Response:
    raw, decision = request.path_params["id"], request.path_params["decision"]

    def work(session: Session) -> Response:
        if not raw.isdigit() or decision not in ("accept", "decline"):
            raise NotFound("no such referral")
        records.respond(current_context(request, session), int(raw), decision == "accept", None)
        return redirect(request, "/", _("Referral accepted.") if decision == "accept" else _("Referral declined."))

    return await action(request, work, "/")


# -- forms ---------------------------------------------------------------------------------------
def _form_page(
    request: Request,
    ctx: Context,
    rec: Record,
    hold: Any,
    form_id: str,
    values: dict[str, Any] | None = None,
    status: int = 200,
    conflict: list[dict[str, Any]] | None = None,
    server_errors: list[dict[str, Any]] | None = None,
    version: int | None = None,
    after_save: bool = False,
) -> Response:
    rt = ctx.module.record_types[rec.record_type]
    if form_id not in ctx.policy.readable_forms(ctx.actor, rt.id, hold):
        raise NotFound("no such form")
    form = rt.forms[form_id]
    shown = dict(rec.data) if values is None else values
    ev = evaluate(rt, shown)
    visible = ctx.policy.visible_fields(ctx.actor, rt.id, hold)
    editable = form_id in ctx.policy.writable_forms(ctx.actor, rt.id, hold)
    extra: dict[str, list[str]] = {}
    for e in server_errors or []:
        extra.setdefault(e["field"], []).append(e["message"])
    attempted = values is not None or after_save  # errors show after a save, not on a first look
    fields = formview.build(form, ev, shown, editable, visible, extra, show_errors=attempted)
    summary = []
    if attempted:
        for f in _walk(fields):
            for m in f.errors:
                summary.append({"dom_id": f.dom_id, "label": f.label, "message": m})
    summary_title = (
        _("Saved. These answers are still needed to complete the form")
        if after_save and values is None
        else _("Please check these answers")
    )
    field_defs = [_visible_json(field_to_json(f), visible) for f in form.fields if f.id in visible]
    _translate_choices(field_defs, rt)
    definition = {
        "id": form.id,
        "relevant": form.relevant.to_json() if form.relevant else None,
        "fields": field_defs,
        "order": [name for kind, name in _order(rt) if kind == "field" and name in visible],
    }
    record_values = ctx.policy.filter_data(ctx.actor, rt.id, hold, ev.values)
    if conflict:
        for c in conflict:
            changed = rt.all_fields.get(c["field"])
            c["label"] = changed.label if changed else c["field"]
            c["new_label"] = _cell(changed, c.get("new")) if changed else c.get("new")
    return render(
        request,
        "form.html",
        ctx,
        status,
        title=i18n.current().text(f"forms/{form.id}/title", form.title)[0],
        rt=rt,
        rec={"id": rec.id, "short_id": rec.short_id},
        form=form,
        fields=fields,
        summary=summary,
        summary_title=summary_title,
        editable=editable and ev.forms_relevant.get(form_id, True),
        form_relevant=ev.forms_relevant.get(form_id, True),
        version=version or rec.version,
        definition=definition,
        record_values=record_values,
        conflict=conflict,
        today=ev.today,
    )


def _translate_choices(nodes: list[dict[str, Any]], rt: Any) -> None:
    """Option labels in the definition sent to the browser, in the reader's language."""
    tr = i18n.current()
    for node in nodes:
        f = rt.all_fields.get(node["id"])
        if f is not None and f.choices and node.get("choices"):
            for ch, c in zip(node["choices"], f.choices, strict=False):
                ch["label"] = tr.gettext(c.label) if f.type == "yes_no" else tr.text(i18n.choice_path(f, c), c.label)[0]
        if node.get("fields"):
            _translate_choices(node["fields"], rt)


def _order(rt: Any) -> list[tuple[str, str]]:
    return [("form" if not hasattr(s, "type") else "field", s.id) for s in rt.steps]


def _visible_json(node: dict[str, Any], visible: frozenset[str]) -> dict[str, Any]:
    if "fields" in node:
        node = {**node, "fields": [_visible_json(x, visible) for x in node["fields"] if x["id"] in visible]}
    return node


def _walk(fields: list[formview.FieldView]) -> list[formview.FieldView]:
    out = []
    for f in fields:
        if f.relevant:
            out.append(f)
            for row in f.rows:
                out.extend(_walk(row))
    return out


def _shown(stored: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """What the form shows after a submission that was not saved: the user's answers over the stored
    ones, with the answers they cleared left empty."""
    merged = {**stored, **submitted}
    return {k: v for k, v in merged.items() if v is not None}


async def form_page(request: Request) -> Response:
    p = request.path_params

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        rec, hold = records.load(ctx, p["record_type"], p["id"])
        audit.record(session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id, form=p["form"])
        return _form_page(request, ctx, rec, hold, p["form"], after_save=bool(_peek_flash(request).get("saved")))

    return await page(request, work)


async def form_submit(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=5000) as form:
        items = [(k, str(v)) for k, v in form.multi_items()]
    action = next((v for k, v in items if k == "action"), "save")
    version_raw = next((v for k, v in items if k == "version"), "")

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        rec, hold = records.load(ctx, p["record_type"], p["id"])
        rt = ctx.module.record_types[rec.record_type]
        form_def = rt.forms.get(p["form"])
        if form_def is None or p["form"] not in ctx.policy.writable_forms(ctx.actor, rt.id, hold):
            raise Forbidden("you may not change this form")
        writable = ctx.policy.writable_fields(ctx.actor, rt.id, hold)
        data = formview.parse_submission(form_def, writable, items)
        if action.startswith(("add:", "remove:")):  # without JavaScript: change the rows, show the form again
            parts = action.split(":")
            sub = parts[1]
            rows = list(data.get(sub) or [])
            if parts[0] == "add":
                rows.append({})
            elif len(parts) == 3 and parts[2].isdigit() and int(parts[2]) < len(rows):
                rows.pop(int(parts[2]))
            data[sub] = rows
            return _form_page(
                request,
                ctx,
                rec,
                hold,
                p["form"],
                _shown(rec.data, data),
                version=int(version_raw) if version_raw.isdigit() else rec.version,
            )
        version = int(version_raw) if version_raw.isdigit() else None
        shown = _shown(rec.data, data)
        try:
            records.update(ctx, rt.id, rec.id, version, data)
        except Conflict as exc:
            return _form_page(
                request,
                ctx,
                rec,
                hold,
                p["form"],
                shown,
                409,
                conflict=exc.details.get("changes", []),
                version=exc.details.get("current_version"),
            )
        except Invalid as exc:
            return _form_page(
                request,
                ctx,
                rec,
                hold,
                p["form"],
                shown,
                422,
                server_errors=exc.details.get("errors", []),
                version=version,
            )
        return redirect(request, f"/records/{rt.id}/{rec.id}/forms/{p['form']}", _("Saved."), saved=True)

    return await page(request, work)


# -- audit ---------------------------------------------------------------------------------------
AUDIT_ACTIONS = [
    "request.refused",
    "login.success",
    "login.failure",
    "logout",
    "record.list",
    "record.read",
    "record.create",
    "record.update",
    "record.history",
    "record.transition",
    "record.assign",
    "record.refer",
    "record.reveal",
    "referral.accept",
    "referral.decline",
    "user.add",
    "user.disable",
    "audit.read",
]


async def audit_page(request: Request) -> Response:
    qp = request.query_params

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        if not ctx.actor.role.can("audit.read"):
            raise Forbidden("Your role may not read the audit log.")
        since = None
        if qp.get("since"):
            try:
                since = datetime.fromisoformat(qp["since"])
            except ValueError:
                since = None
        rows = audit.entries(
            session,
            username=qp.get("user") or None,
            record_id=qp.get("record") or None,
            action=qp.get("action") or None,
            since=since,
            limit=300,
        )
        entries = [
            {
                "at": audit.iso(e.at),
                "at_label": _label_time(audit.iso(e.at)),
                "username": e.username,
                "ip": e.ip,
                "action": e.action,
                "record_id": e.record_id,
                "details_text": ", ".join(f"{k}: {v}" for k, v in (e.details or {}).items() if v not in (None, "", [])),
            }
            for e in rows
        ]
        audit.record(session, "audit.read", user=ctx.user, ip=ctx.ip, filters=dict(qp))
        return render(
            request,
            "audit.html",
            ctx,
            title=_("Audit log"),
            entries=entries,
            actions=AUDIT_ACTIONS,
            f_user=qp.get("user"),
            f_record=qp.get("record"),
            f_action=qp.get("action"),
            f_since=qp.get("since"),
        )

    return await page(request, work)


async def set_locale(request: Request) -> Response:
    """The language switcher: saves the choice to the user's profile and goes back."""
    async with request.form(max_files=0, max_fields=5) as form:
        locale = str(form.get("locale") or "")
        back = _safe_next(str(form.get("back") or "/"))

    def work(session: Session) -> Response:
        ctx = current_context(request, session)
        if locale in ctx.module.locales:
            ctx.user.locale = locale
        return RedirectResponse(re.sub(r"([?&])locale=[^&]*&?", r"\1", back).rstrip("?&") or "/", status_code=303)

    try:
        return await in_transaction(request, work)
    except Unauthorized:
        target = back + ("&" if "?" in back else "?") + urlencode({"locale": locale})
        return RedirectResponse(target, status_code=303)


async def favicon(request: Request) -> Response:
    return Response(status_code=204, headers={"cache-control": "public, max-age=86400"})


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
    Route("/locale", set_locale, methods=["POST"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout_submit, methods=["POST"]),
    Route("/audit", audit_page, methods=["GET"]),
    Route("/records/{record_type}", record_list, methods=["GET"]),
    Route("/records/{record_type}/new", record_new, methods=["POST"]),
    Route("/records/{record_type}/{id}", record_page, methods=["GET"]),
    Route("/records/{record_type}/{id}/reveal", reveal, methods=["POST"]),
    Route("/records/{record_type}/{id}/assign", record_assign, methods=["POST"]),
    Route("/records/{record_type}/{id}/transitions/{transition}", record_transition, methods=["POST"]),
    Route("/records/{record_type}/{id}/forms/{form}", form_page, methods=["GET"]),
    Route("/records/{record_type}/{id}/forms/{form}", form_submit, methods=["POST"]),
    Route("/referrals/{id}/{decision}", referral_answer, methods=["POST"]),
    Mount("/static", app=StaticFiles(directory=renderer.STATIC), name="static"),
]
