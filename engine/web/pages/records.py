"""A record's page (forms, stage, workflow steps, links, history) and what is done from it:
creating a record, workflow steps and referrals, assignment, answering a referral."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.i18n import _
from engine.runtime.workflow import state_label, transition_label
from engine.service import assignments, records, referrals, transitions
from engine.service.context import Context
from engine.service.errors import Conflict, NotFound
from engine.web.pages.common import action, label_time, page, redirect, render


async def record_new(request: Request) -> Response:
    rt_id = request.path_params["record_type"]
    async with request.form(max_files=0, max_fields=5) as form:
        client_id = str(form.get("client_id") or uuid.uuid4())
        link_to = str(form["link_to"]) if form.get("link_to") else None

    def work(ctx: Context) -> Response:
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


def _record_page(request: Request, ctx: Context, record_type: str, record_id: str) -> Response:
    view = records.read(ctx, record_type, record_id)
    rt = ctx.module.record_types[view["record_type"]]
    wf = ctx.module.workflow_for(rt.id)
    tr = i18n.current()
    forms = [{"id": fid, **info} for fid, info in view["forms"].items()]
    steps = []
    if wf is not None and view["stage"]:
        here = list(wf.states).index(view["stage"])
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
            tr.text(f"record_types/{other_rt.id}/title", other_rt.title)[0] if other_rt else link["record_type"]
        )
        link["stage_label"] = state_label(other_wf, link["stage"]) if other_wf and link["stage"] else ""
    for h in history:
        h["at_label"] = label_time(h["at"])
        h["action_label"] = actions.get(h["action"], h["action"])
        for c in h["changes"]:
            f = rt.all_fields.get(c["field"])
            if c["field"] == "(stage)" and wf is not None:
                c["label"] = f"{state_label(wf, c.get('old') or '')} → {state_label(wf, c.get('new') or '')}"
            else:
                c["label"] = tr.text(f"{i18n.field_path(f)}/label", f.label)[0] if f else c["field"]
    linked = [
        {
            "record_type": other.id,
            "label": tr.text(f"record_types/{other.id}/link_action", other.link_action or other.title)[0],
            "new_id": str(uuid.uuid4()),
        }
        for other in ctx.module.record_types.values()
        if rt.id in other.recorded_from and ctx.policy.can_create(ctx.actor, other.id)
    ]
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
        linked_types=linked,
        new_id=str(uuid.uuid4()),
    )


async def record_page(request: Request) -> Response:
    p = request.path_params
    return await page(request, lambda ctx: _record_page(request, ctx, p["record_type"], p["id"]))


async def record_transition(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=50) as form:
        comment = str(form.get("comment") or "").strip() or None
        reason = str(form.get("override_reason") or "").strip() or None
        to = str(form.get("to") or "").strip() or None
        shared = [str(v) for v in form.getlist("forms")]
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(ctx: Context) -> Response:
        rt = ctx.module.record_types.get(p["record_type"])
        wf = ctx.module.workflow_for(p["record_type"]) if rt else None
        t = wf.transitions.get(p["transition"]) if wf else None
        if t is None:
            raise NotFound("no such step")
        if t.referral:
            referrals.refer(ctx, p["record_type"], p["id"], t.id, to, shared, comment, reason)
            return redirect(request, back, _("Referred to %(user)s.", user=to))
        transitions.transition(ctx, p["record_type"], p["id"], t.id, comment, reason)
        return redirect(request, back, _("Done: %(step)s.", step=transition_label(wf, t) if wf else t.label))

    return await action(request, work, back)


async def record_assign(request: Request) -> Response:
    p = request.path_params
    async with request.form(max_files=0, max_fields=5) as form:
        to = str(form.get("to") or "").strip()
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(ctx: Context) -> Response:
        assignments.assign(ctx, p["record_type"], p["id"], to, None)
        return redirect(request, back, _("Assigned to %(user)s.", user=to))

    return await action(request, work, back)


async def referral_answer(request: Request) -> Response:
    raw, decision = request.path_params["id"], request.path_params["decision"]

    def work(ctx: Context) -> Response:
        if not raw.isdigit() or decision not in ("accept", "decline"):
            raise NotFound("no such referral")
        referrals.respond(ctx, int(raw), decision == "accept", None)
        return redirect(request, "/", _("Referral accepted.") if decision == "accept" else _("Referral declined."))

    return await action(request, work, "/")
