"""Referrals: sharing chosen forms of a record with a user or an agency, and answering them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.i18n import _
from engine.service import audit
from engine.service.assignments import target_user
from engine.service.context import Context, holding, load, usernames
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.service.transitions import checked, find_transition, log_transition
from engine.service.views import view
from engine.storage.models import Agency, Record, Referral, User
from engine.storage.scope import referral_inbox


def refer(
    ctx: Context,
    record_type: str,
    record_id: str,
    transition_id: Any,
    to: Any,
    forms: Any,
    comment: str | None,
    override_reason: str | None,
    to_agency: Any = None,
) -> dict[str, Any]:
    """Refer to a user (`to`), or to an agency (`to_agency`) whose managers then accept it."""
    rec, hold = load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    if not isinstance(transition_id, str):
        raise BadRequest('name the referral step: {"transition": "refer_health_medical", ...}')
    t = find_transition(ctx, rec, rt, transition_id)
    if not t.referral:
        raise BadRequest(f"'{t.label}' is not a referral step")
    if not ctx.policy.may_on_type(ctx.actor, record_type, "refer"):
        raise Forbidden(_("Your role may not refer records."))
    user: User | None = None
    agency: Agency | None = None
    if to_agency is not None:
        if to is not None:
            raise BadRequest("refer either to a user (to) or to an agency (to_agency), not both")
        if not isinstance(to_agency, str):
            raise BadRequest("'to_agency' is an agency code")
        agency = ctx.session.scalar(select(Agency).where(Agency.code == to_agency))
        if agency is None:
            raise Invalid(_("There is no agency '%(agency)s'.", agency=to_agency))
    else:
        user, target = target_user(ctx, to)
        if not ctx.policy.may_on_type(target, record_type, "read"):
            raise Invalid(
                _("'%(user)s' cannot receive these records (their role may not read them).", user=user.username)
            )
    readable = ctx.policy.readable_forms(ctx.actor, record_type, hold)
    if not isinstance(forms, list) or not forms or not all(isinstance(f, str) for f in forms):
        raise BadRequest('list the forms to share: {"forms": ["form_id", ...]}')
    unknown = [f for f in forms if f not in readable]
    if unknown:
        raise Invalid(
            "you cannot share forms you cannot read",
            errors=[{"field": f, "message": "Not a form you can share."} for f in unknown],
        )
    c = checked(ctx, rec, t, override_reason)
    ctx.session.add(
        Referral(
            record_id=rec.id,
            transition=t.id,
            to_user_id=user.id if user else None,
            to_agency_id=agency.id if agency else None,
            by_user_id=ctx.user.id,
            forms=forms,
            status="pending",
            at=audit.now(),
            comment=comment,
            override_reason=override_reason if c.overridden else None,
        )
    )
    log_transition(ctx, rec, t, comment, override_reason if c.overridden else None)
    audit.record(
        ctx.session,
        "record.refer",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        to=user.username if user else None,
        to_agency=agency.code if agency else None,
        forms=forms,
        transition=t.id,
        override=bool(c.overridden),
    )
    return view(ctx, rec, holding(ctx.session, rec))


def referrals_for(ctx: Context) -> list[dict[str, Any]]:
    rows = ctx.session.execute(
        select(Referral, Record)
        .join(Record, Record.id == Referral.record_id)
        .where(referral_inbox(ctx.policy.reach(ctx.actor)), Record.module == ctx.module.id)
        .order_by(Referral.id.desc())
    ).all()
    names = usernames(ctx.session, {r.by_user_id for r, _ in rows})
    return [
        {
            "id": r.id,
            "record_id": rec.id,
            "short_id": rec.short_id,
            "record_type": rec.record_type,
            "status": r.status,
            "forms": r.forms,
            "from": names.get(r.by_user_id),
            "at": audit.iso(r.at),
            "comment": r.comment,
            "to_agency": r.to_user_id is None,
        }
        for r, rec in rows
    ]


def respond(ctx: Context, referral_id: int, accept: bool, comment: str | None) -> dict[str, Any]:
    ref = ctx.session.scalar(
        select(Referral).where(Referral.id == referral_id, referral_inbox(ctx.policy.reach(ctx.actor)))
    )
    if ref is None:
        raise NotFound(_("There is no such referral."))
    if ref.status != "pending":
        raise Conflict(_("This referral was already answered."))
    if ref.to_user_id is None and accept:
        ref.to_user_id = ctx.user.id  # accepted for the agency by this manager, who now holds it
    ref.status = "accepted" if accept else "declined"
    ref.responded_at, ref.response_comment = audit.now(), comment
    audit.record(
        ctx.session,
        "referral.accept" if accept else "referral.decline",
        user=ctx.user,
        ip=ctx.ip,
        record_id=ref.record_id,
        referral=ref.id,
    )
    return {"id": ref.id, "status": ref.status}
