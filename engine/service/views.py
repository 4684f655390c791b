"""A record as one user may see it: answers filtered by the policy, forms with their state, the
workflow steps open to the user, and linked records they may read."""

from __future__ import annotations

from typing import Any

from engine.i18n import current
from engine.language.model import RecordType
from engine.runtime.evaluation import Evaluation
from engine.runtime.policy import Holding
from engine.runtime.workflow import TransitionCheck, check_transition, locked_forms, offered, transition_label
from engine.service import audit, decisions, emergency
from engine.service.context import Context, access, access_holdings, parts_of, requested_by, usernames
from engine.service.evaluations import evaluated
from engine.storage.models import Record


def transition_checks(ctx: Context, rec: Record, rt: RecordType, ev: Evaluation) -> list[TransitionCheck]:
    """The verdict on each step open from the record's stage to the user's role. The others are not
    shown, so not checked: a record in a 22-step workflow offers a caseworker two or three, and each
    check evaluates guards and words its reasons. Who requested the pending decision is only asked
    when one of them is an approval."""
    wf = ctx.module.workflow_for(rt.id)
    role = ctx.actor.role
    if wf is None or rec.stage is None:
        return []
    steps = offered(wf, rec.stage, role)
    mine = any(t.approval for t in steps) and requested_by(ctx.session, rec) == ctx.user.id
    return [check_transition(wf, t, ev, role, rec.stage, requested_by_user=mine and t.approval) for t in steps]


def started_forms(rt: RecordType, data: dict[str, Any]) -> set[str]:
    """Forms holding an answer someone gave: what counts as saved for records stored before the
    forms saved were kept."""
    out = set()
    for key in data:
        f = rt.scope.fields.get(key)
        if f is not None and f.type != "calculate":
            out.add(f.form_id)
    return out


def form_state(rec: Record, rt: RecordType, ev: Evaluation, form_id: str) -> str:
    """'not_started' (never saved), 'in_progress' (saved, something required missing or wrong) or
    'complete' (saved, nothing missing): one answer for the record page, the lists and the API."""
    saved = set(rec.saved_forms) if rec.saved_forms is not None else started_forms(rt, rec.data)
    if form_id not in saved:
        return "not_started"
    return "in_progress" if ev.errors_for(form_id) else "complete"


def view(ctx: Context, rec: Record, hold: Holding, ev: Evaluation | None = None) -> dict[str, Any]:
    """The record as this user may see it."""
    rt = ctx.module.record_types[rec.record_type]
    ev = ev or evaluated(rt, rec)
    mine = access(ctx, rec, hold)
    readable, writable = mine.read_forms, mine.write_forms
    names = usernames(ctx.session, {rec.owner_id})
    forms = {}
    wf = ctx.module.workflow_for(rt.id)
    locked = locked_forms(wf, rec.stage, rt.form_ids)
    for fid in rt.form_ids:
        if fid not in readable:
            continue
        errs = ev.errors_for(fid)
        state = form_state(rec, rt, ev, fid)
        forms[fid] = {
            "title": current().text(f"forms/{fid}/title", rt.forms[fid].title)[0],
            "relevant": ev.forms_relevant.get(fid, True),
            "writable": fid in writable and fid not in locked,
            "locked": fid in locked,
            "state": state,
            "complete": state == "complete",
            "missing": sum(1 for e in errs if e.code == "required"),
        }
    transitions = [
        {
            "id": c.transition.id,
            "label": transition_label(wf, c.transition) if wf else c.transition.label,
            "allowed": c.allowed,
            "needs_reason": c.can_override,
            "reasons": list(c.reasons + c.needs_reason),
            "referral": c.transition.referral,
            "approval": c.transition.approval,
            "decision": c.transition.decision,
            "comment": c.transition.comment,
            "confirm": c.transition.confirm,
            "to": c.transition.to,
        }
        for c in (transition_checks(ctx, rec, rt, ev) if mine.workflow else [])
    ]
    return {
        "id": rec.id,
        "short_id": rec.short_id,
        "module": rec.module,
        "record_type": rec.record_type,
        "stage": rec.stage,
        "version": rec.version,
        "owner": names.get(rec.owner_id),
        "created_at": audit.iso(rec.created_at),
        "updated_at": audit.iso(rec.updated_at),
        "definitions_version": rec.definitions_version,
        "relation": mine.relation,
        "data": ctx.policy.filter_data(ctx.actor, rt.id, hold, rec.data),
        "forms": forms,
        "transitions": transitions,
        "links": links(ctx, rec),
        "latest_decision": decisions.latest_decision(ctx, rec) if mine.workflow else None,
        "assignees": sorted(usernames(ctx.session, set(hold.assignee_ids)).values()) if mine.workflow else [],
        # break the glass: the grant the user reads the record under (when it ends, what was given)
        "emergency": emergency.live_on(ctx, rec) if mine.relation == "emergency" else None,
    }


def links(ctx: Context, rec: Record) -> list[dict[str, Any]]:
    """Records linked to this one (either direction) that the user may read (`context.parts_of`: read
    with the record's steps, once per unit of work). Only the columns shown and those deciding access
    are read: loading each linked record whole read its answers (a large value, stored apart) and
    opened its sealed ones, for a link that shows a number and a stage."""
    others = parts_of(ctx.session, rec)[1]
    held = access_holdings(ctx.session, others, ctx.policy.reach(ctx.actor))
    return [
        {"id": other.id, "short_id": other.short_id, "record_type": other.record_type, "stage": other.stage}
        for other in others
        if ctx.policy.can_read(ctx.actor, other.record_type, held[other.id])
    ]
