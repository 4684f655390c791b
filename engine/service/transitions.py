"""Workflow transitions: a step is checked against the workflow (stage, role, guards, approvals by
someone other than the requester), then logged with its comment, in history and in the audit log."""

from __future__ import annotations

from typing import Any

from engine.i18n import _
from engine.language.model import RecordType, Transition
from engine.runtime.policy import Holding
from engine.runtime.workflow import TransitionCheck, check_transition, state_label, transition_label
from engine.service import audit
from engine.service.context import Context, access, add_history, load, refusal, requested_by
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.service.evaluations import evaluated
from engine.service.views import view
from engine.storage.models import Record, TransitionLog


def find_transition(ctx: Context, rec: Record, rt: RecordType, transition_id: str) -> Transition:
    wf = ctx.module.workflow_for(rt.id)
    if wf is None or transition_id not in wf.transitions:
        raise NotFound(f"there is no step '{transition_id}'")
    return wf.transitions[transition_id]


def checked(ctx: Context, rec: Record, hold: Holding, t: Transition, override_reason: str | None) -> TransitionCheck:
    """The transition, if this user may take it now; else the refusal, with the reasons."""
    rt = ctx.module.record_types[rec.record_type]
    wf = ctx.module.workflow_for(rt.id)
    assert wf is not None and rec.stage is not None
    if not access(ctx, rec, hold).workflow:
        raise refusal(
            ctx,
            rec,
            hold,
            _(
                "A referral lets you read what was shared with you; the steps of this record stay with the "
                "agency that holds it."
            ),
        )
    ev = evaluated(rt, rec)
    mine = t.approval and requested_by(ctx.session, rec) == ctx.user.id
    c = check_transition(wf, t, ev, ctx.actor.role, rec.stage, requested_by_user=mine, override_reason=override_reason)
    if rec.stage not in t.from_states:
        label = state_label(wf, rec.stage)
        raise Conflict(
            _("'%(step)s' is not possible at the stage '%(stage)s'.", step=transition_label(wf, t), stage=label),
            reasons=list(c.reasons),
            stage=rec.stage,
        )
    if ctx.actor.role.id not in t.roles or (mine and not ctx.actor.role.can("self_approve")):
        raise Forbidden(
            _("You may not take the step '%(step)s'.", step=transition_label(wf, t)), reasons=list(c.reasons)
        )
    if not c.allowed:
        extra = {"needs_reason": True} if c.can_override else {}
        raise Invalid(
            _("'%(step)s' cannot be taken yet.", step=transition_label(wf, t)),
            reasons=list(c.reasons + c.needs_reason),
            **extra,
        )
    return c


def transition(
    ctx: Context, record_type: str, record_id: str, transition_id: str, comment: str | None, override_reason: str | None
) -> dict[str, Any]:
    rec, hold = load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    t = find_transition(ctx, rec, rt, transition_id)
    if t.referral:
        raise BadRequest(f"'{t.label}' is a referral: use the referrals endpoint, which asks to whom")
    c = checked(ctx, rec, hold, t, override_reason)
    comment = comment.strip() if isinstance(comment, str) and comment.strip() else None
    if t.comment == "required" and comment is None:
        wf = ctx.module.workflow_for(rt.id)
        raise Invalid(
            _(
                "'%(step)s' needs a comment: write why, for the person who reads it next.",
                step=transition_label(wf, t) if wf else t.label,
            ),
            errors=[{"field": "comment", "message": _("Write a comment.")}],
        )
    log_transition(ctx, rec, t, comment, override_reason if c.overridden else None)
    return view(ctx, rec, hold)


def log_transition(ctx: Context, rec: Record, t: Transition, comment: str | None, override: str | None) -> None:
    at = audit.now()
    before = rec.stage
    if t.to is not None:
        rec.stage = t.to
        rec.last_step = t.id  # the latest step that moved it (storage/migrations 0013)
        rec.updated_at, rec.updated_by = at, ctx.user.id
        ctx.session.flush()
        add_history(ctx, rec, at, "transition", [{"field": "(stage)", "old": before, "new": t.to}])
    ctx.session.add(
        TransitionLog(
            record_id=rec.id,
            transition=t.id,
            from_stage=before,
            to_stage=t.to,
            user_id=ctx.user.id,
            at=at,
            comment=comment,
            override_reason=override,
        )
    )
    audit.record(
        ctx.session,
        "record.transition",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        transition=t.id,
        from_stage=before,
        to_stage=t.to,
        override=bool(override),
    )
