"""A record's page (forms, stage, workflow steps, links, history) and what is done from it:
creating a record, workflow steps and referrals, assignment, answering a referral."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.i18n import _
from engine.runtime.workflow import lock_message, state_label, transition_label
from engine.service import assignments, emergency, records, referrals, transitions
from engine.service.context import Context
from engine.service.errors import Conflict, Forbidden, NotFound
from engine.web.inputs import MAX_ID, positive_id
from engine.web.pages import emergency as emergency_page
from engine.web.pages.common import (
    Posted,
    action,
    form_state_label,
    label_time,
    page,
    redirect,
    render,
    safe_next,
    with_form,
)


@with_form(5)
async def record_new(request: Request, form: Posted) -> Response:
    rt_id = request.path_params["record_type"]
    client_id = form.get("client_id") or str(uuid.uuid4())
    link_to = form.get("link_to") or None

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
    history, older, newer_url, older_url, total = _history(request, ctx, rt.id, view["id"])
    actions = {
        "create": _("created"),
        "update": _("changed"),
        "transition": _("workflow step"),
        "emergency": _("emergency access"),
    }
    # break the glass: who opened the record in an emergency, when, why and until when
    # (those in the time the page shows: after the entry before it, before the entry after it)
    low = history[0]["at"] or "" if history and older else ""
    for g in emergency_page.labelled(emergency.of_record(ctx, rt.id, view["id"])):
        if (g["at"] or "") >= low and (newer_url is None or (g["at"] or "") < newer_url[1]):
            history.append({"at": g["at"], "by": g["user"], "action": "emergency", "changes": [], "emergency": g})
    history.sort(key=lambda h: h["at"] or "")
    for info in forms:
        info["state_label"] = form_state_label(info)
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
        answered: list[dict[str, Any]] = []
        computed: list[dict[str, Any]] = []
        for c in h["changes"]:
            f = rt.all_fields.get(c["field"])
            if c["field"] == "(stage)" and wf is not None:
                c["label"] = f"{state_label(wf, c.get('old') or '')} → {state_label(wf, c.get('new') or '')}"
                h["stage_change"] = c["label"]
                continue
            c["label"] = tr.text(f"{i18n.field_path(f)}/label", f.label)[0] if f else c["field"]
            (computed if f is not None and f.type == "calculate" else answered).append(c)
        h["answered"], h["computed"] = answered, computed  # calculated answers are folded away
    latest = view.get("latest_decision")
    if latest:
        latest["at_label"] = label_time(latest["at"])
    linked = [
        {
            "record_type": other.id,
            "label": tr.text(f"record_types/{other.id}/link_action", other.link_action or other.title)[0],
            "new_id": str(uuid.uuid4()),
        }
        for other in ctx.module.record_types.values()
        if rt.id in other.recorded_from
        and ctx.policy.can_create(ctx.actor, other.id)
        and view["relation"] != "emergency"  # read-only: nothing is recorded from it
    ]
    shares = referrals.shared(ctx, rt.id, view["id"])
    statuses = {
        "pending": _("waiting for an answer"),
        "accepted": _("accepted"),
        "declined": _("declined"),
        "revoked": _("revoked"),
        "closed": _("closed"),
    }
    for s in shares:
        s["status_label"] = statuses.get(s["status"], s["status"])
        s["form_titles"] = [tr.text(f"forms/{f}/title", rt.forms[f].title)[0] for f in s["forms"] if f in rt.forms]
    can_assign = ctx.policy.may_on_type(ctx.actor, rt.id, "assign") and view["relation"] not in (
        "referral",
        "emergency",
    )
    steps_open = [t for t in view["transitions"] if t["allowed"] and not t["referral"]]
    primary = next((t for t in steps_open if t["decision"] == "approve"), None) or next(
        (t for t in steps_open if t["decision"] != "return"), None
    )
    for t in view["transitions"]:
        t["primary"] = t is primary
    needs_comment = [t["label"] for t in steps_open if t["comment"] == "required"]
    locked = [f["title"] for f in forms if f["locked"]]
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
        steps_open=steps_open,
        needs_comment=needs_comment,
        deciding=any(t["approval"] for t in steps_open),
        latest=latest,
        locked_note=lock_message(wf, view["stage"]) if wf and locked and view["stage"] else None,
        locked_titles=locked,
        candidates=assignments.candidates(ctx, rt.id, view["id"]) if can_assign else [],
        links=view["links"],
        history=history,
        history_total=total,
        history_older=older_url,
        history_newer=newer_url[0] if newer_url else None,
        can_assign=can_assign,
        assignees=view["assignees"],
        shares=shares,
        linked_types=linked,
        new_id=str(uuid.uuid4()),
        emergency_until=emergency_page.until_label(view["emergency"]["expires_at"]) if view["emergency"] else "",
    )


#: history entries a record's page shows at once (the latest; older ones a page at a time)
HISTORY_PAGE = 20


def _history(
    request: Request, ctx: Context, record_type: str, record_id: str
) -> tuple[list[dict[str, Any]], bool, tuple[str, str] | None, str | None, int]:
    """One page of the record's history, oldest first: the latest HISTORY_PAGE entries, or with
    ?older_than=V those before the version V. Also: whether older entries remain, the address of the
    newer page with the time the page ends at (None on the first page), the older page's address
    (None on the last) and the number of entries in all."""
    raw = request.query_params.get("older_than", "")
    before = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < MAX_ID else None
    base = f"/records/{record_type}/{record_id}"
    if before is None:
        entries, total = records.history_page(ctx, record_type, record_id, limit=HISTORY_PAGE, values=False)
        newer: tuple[str, str] | None = None
    else:
        # the entry at `before` too: when the page ends (emergency accesses after it are on the newer page)
        entries, total = records.history_page(
            ctx, record_type, record_id, limit=HISTORY_PAGE + 1, before=before + 1, values=False
        )
        top = entries.pop() if entries and entries[-1]["version"] == before else None
        newer = (base + "#hist-h", top["at"] or "" if top else "\uffff")
    older = bool(entries) and entries[0]["version"] > 1 and len(entries) >= HISTORY_PAGE
    older_url = f"{base}?older_than={entries[0]['version']}#hist-h" if older else None
    return entries, older, newer, older_url, total


async def record_page(request: Request) -> Response:
    p = request.path_params
    return await page(request, lambda ctx: _record_page(request, ctx, p["record_type"], p["id"]))


@with_form(50)
async def record_transition(request: Request, form: Posted) -> Response:
    p = request.path_params
    comment = form.get("comment").strip() or None
    reason = form.get("override_reason").strip() or None
    to = form.get("to").strip() or None
    shared = form.getlist("forms")
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(ctx: Context) -> Response:
        emergency.refuse_change(ctx, p["record_type"], p["id"])
        rt = ctx.module.record_types.get(p["record_type"])
        wf = ctx.module.workflow_for(p["record_type"]) if rt else None
        t = wf.transitions.get(p["transition"]) if wf else None
        if t is None:
            raise NotFound("no such step")
        if t.referral:
            referrals.refer(ctx, p["record_type"], p["id"], t.id, to, shared, comment, reason)
            return redirect(request, back, _("Referred to %(user)s.", user=to))
        if t.confirm and form.get("confirmed") != "yes":
            return _confirm_page(request, ctx, p["record_type"], p["id"], t.id, comment, reason)
        transitions.transition(ctx, p["record_type"], p["id"], t.id, comment, reason)
        return redirect(request, back, _("Done: %(step)s.", step=transition_label(wf, t) if wf else t.label))

    return await action(request, work, back)


def _confirm_page(
    request: Request,
    ctx: Context,
    record_type: str,
    record_id: str,
    transition_id: str,
    comment: str | None,
    reason: str | None,
) -> Response:
    """Ask before a final step (closing a case): the same step again, confirmed, or back."""
    view = records.read(ctx, record_type, record_id)
    rt = ctx.module.record_types[view["record_type"]]
    wf = ctx.module.workflow_for(rt.id)
    assert wf is not None
    t = wf.transitions[transition_id]
    if not any(x["id"] == t.id and (x["allowed"] or x["needs_reason"]) for x in view["transitions"]):
        raise Forbidden(_("You may not take the step '%(step)s'.", step=transition_label(wf, t)))
    return render(
        request,
        "confirm.html",
        ctx,
        title=_("Please confirm: %(step)s", step=transition_label(wf, t)),
        rt=rt,
        rec=view,
        step=transition_label(wf, t),
        transition_id=t.id,
        to_label=state_label(wf, t.to) if t.to else "",
        final=bool(t.to and wf.states[t.to].final),
        comment=comment or "",
        reason=reason or "",
    )


@with_form(5)
async def record_assign(request: Request, form: Posted) -> Response:
    p = request.path_params
    to = form.get("to").strip()
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(ctx: Context) -> Response:
        emergency.refuse_change(ctx, p["record_type"], p["id"])
        assignments.assign(ctx, p["record_type"], p["id"], to, None)
        return redirect(request, back, _("Assigned to %(user)s.", user=to))

    return await action(request, work, back)


@with_form(5)
async def record_unassign(request: Request, form: Posted) -> Response:
    p = request.path_params
    back = f"/records/{p['record_type']}/{p['id']}"

    def work(ctx: Context) -> Response:
        emergency.refuse_change(ctx, p["record_type"], p["id"])
        assignments.unassign(ctx, p["record_type"], p["id"], p["username"], None)
        return redirect(request, back, _("%(user)s is no longer assigned.", user=p["username"]))

    return await action(request, work, back)


async def referral_answer(request: Request) -> Response:
    raw, decision = request.path_params["id"], request.path_params["decision"]
    back = safe_next(request.query_params.get("back") or "/")

    def work(ctx: Context) -> Response:
        referral_id = positive_id(raw, "referral")
        if decision in ("revoke", "close"):
            referrals.end(ctx, referral_id, "revoked" if decision == "revoke" else "closed", None)
            return redirect(request, back, _("Referral revoked.") if decision == "revoke" else _("Referral closed."))
        if decision not in ("accept", "decline"):
            raise NotFound("no such referral")
        referrals.respond(ctx, referral_id, decision == "accept", None)
        return redirect(request, "/", _("Referral accepted.") if decision == "accept" else _("Referral declined."))

    return await action(request, work, back)
