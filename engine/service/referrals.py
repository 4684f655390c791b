"""Referrals: sharing chosen forms of a record with a user or an agency, answering, revoking and
closing them.

A referral gives its recipient the shared forms to read (and to write, for the forms the referral
names in `write_forms`) — never the holding agency's workflow, approvals, consent overrides,
assignment or an onward referral. Access ends when the recipient declines, when the holding agency
revokes it, and when either side closes it."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Executable, bindparam, select

from engine.i18n import _, choice_path, current, field_path
from engine.language.model import Transition
from engine.service import accounts, audit
from engine.service.assignments import target_user
from engine.service.context import Context, access, holding, load, refusal, usernames
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.service.transitions import checked, find_transition, log_transition
from engine.service.views import view
from engine.storage import scope
from engine.storage.models import Agency, Record, Referral, User
from engine.storage.scope import OPEN_REFERRAL, referral_inbox


def _forms(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise BadRequest(f'\'{key}\' lists form ids: {{"{key}": ["form_id", ...]}}')
    return list(dict.fromkeys(value))


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
    write_forms: Any = None,
) -> dict[str, Any]:
    """Refer to a user (`to`), or to an agency (`to_agency`) whose agency-wide users then accept it."""
    rec, hold = load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    if not isinstance(transition_id, str):
        raise BadRequest('name the referral step: {"transition": "refer_health_medical", ...}')
    t = find_transition(ctx, rec, rt, transition_id)
    if not t.referral:
        raise BadRequest(f"'{t.label}' is not a referral step")
    mine = access(ctx, rec, hold)
    if not mine.refer:
        raise refusal(
            ctx,
            rec,
            hold,
            _("Your role may not refer records.")
            if mine.relation != "referral"
            else _("A record shared with you cannot be referred onwards; ask the agency that holds it."),
        )
    user: User | None = None
    agency: Agency | None = None
    if to_agency is not None:
        if to is not None:
            raise BadRequest("refer either to a user (to) or to an agency (to_agency), not both")
        if not isinstance(to_agency, str):
            raise BadRequest("'to_agency' is an agency code")
        agency = accounts.find_agency(ctx.session, to_agency)
        if agency is None:
            raise Invalid(_("There is no agency '%(agency)s'.", agency=to_agency))
    else:
        why = _("'%(user)s' cannot receive this referral (no such user whose role may read these records).")
        user, _target = target_user(ctx, to, record_type, why)
    shared = _forms(forms, "forms")
    if not shared:
        raise BadRequest('list the forms to share: {"forms": ["form_id", ...]}')
    unknown = [f for f in shared if f not in mine.read_forms]
    if unknown:
        raise Invalid(
            _("You cannot share forms you cannot read."),
            errors=[{"field": f, "message": _("Not a form you can share.")} for f in unknown],
        )
    writable = _forms(write_forms if write_forms is not None else [], "write_forms")
    wrong = [f for f in writable if f not in shared or f not in mine.write_forms]
    if wrong:
        raise Invalid(
            _("A referral can let the recipient write only forms it shares and that you may write."),
            errors=[{"field": f, "message": _("Not a form you can let them write.")} for f in wrong],
        )
    c = checked(ctx, rec, hold, t, override_reason)
    overridden_org = _check_organisation(ctx, rec, t, agency, user, override_reason)
    ctx.session.add(
        Referral(
            record_id=rec.id,
            transition=t.id,
            to_user_id=user.id if user else None,
            to_agency_id=agency.id if agency else None,
            by_user_id=ctx.user.id,
            forms=shared,
            write_forms=writable,
            status="pending",
            at=audit.now(),
            comment=comment,
            override_reason=override_reason if c.overridden or overridden_org else None,
        )
    )
    log_transition(ctx, rec, t, comment, override_reason if c.overridden or overridden_org else None)
    audit.record(
        ctx.session,
        "record.refer",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        to=user.username if user else None,
        to_agency=agency.code if agency else None,
        forms=shared,
        write_forms=writable,
        transition=t.id,
        override=bool(c.overridden or overridden_org),
    )
    return view(ctx, rec, holding(ctx.session, rec))


def _inbox(ctx: Context) -> Any:
    return referral_inbox(ctx.policy.reach(ctx.actor), ctx.policy.readable_types(ctx.actor))


def _check_organisation(
    ctx: Context, rec: Record, t: Transition, agency: Agency | None, user: User | None, override_reason: str | None
) -> bool:
    """A referral step with `organisation_from` goes only to the organisation the person agreed to
    (that field's agency code): True when a role with consent_override sends it elsewhere, with a
    reason; a refusal otherwise."""
    if t.organisation_from is None:
        return False
    named = rec.data.get(t.organisation_from)
    target = (
        agency if agency is not None else ctx.session.get(Agency, user.agency_id) if user and user.agency_id else None
    )
    if isinstance(named, str) and named and target is not None and target.code == named:
        return False
    if ctx.actor.role.can("consent_override") and override_reason and override_reason.strip():
        return True
    rt = ctx.module.record_types[rec.record_type]
    f = rt.scope.fields[t.organisation_from]
    if not named:
        raise Invalid(
            _(
                "The person has not named the organisation they agree to be referred to for this service: "
                "record it in '%(field)s' first.",
                field=current().text(f"{field_path(f)}/label", f.label)[0],
            )
        )
    raise Invalid(
        _(
            "The person agreed to be referred to '%(organisation)s' for this service, not to '%(target)s'. "
            "Refer to that organisation, or record their new consent first.",
            organisation=_choice_text(f, named),
            target=target.name if target is not None else "—",
        )
    )


def _choice_text(f: Any, value: str) -> str:
    for c in f.choices or ():
        if c.value == value:
            return current().text(choice_path(f, c), c.label)[0]
    return value


@functools.lru_cache(maxsize=64)
def _addressed(module: str, types: frozenset[str], shape: scope.Shape, by_status: bool) -> Executable:
    """The referrals `referrals_for` reads, for every user of reach `shape` (see storage.scope), built
    once; with `by_status`, those of the parameter `status` only."""
    query = (
        select(Referral, Record.id, Record.short_id, Record.record_type)  # never the answers
        .join(Record, Record.id == Referral.record_id)
        .where(referral_inbox(shape, types), Record.module == module)
        .order_by(Referral.id.desc())
    )
    return query.where(Referral.status == bindparam("status")) if by_status else query


def referrals_for(ctx: Context, status: str | None = None) -> list[dict[str, Any]]:
    """Referrals addressed to this user, or to their agency if their role decides for it, of
    records their role may read; only those in `status` when it is given."""
    reach = ctx.policy.reach(ctx.actor)
    query = _addressed(ctx.module.id, ctx.policy.readable_types(ctx.actor), scope.shape_of(reach), status is not None)
    rows = [(row[0], row) for row in ctx.session.execute(query, {**scope.parameters(reach), "status": status})]
    names = usernames(ctx.session, {r.by_user_id for r, _ in rows})
    return [
        {
            "id": r.id,
            "record_id": rec.id,
            "short_id": rec.short_id,
            "record_type": rec.record_type,
            "status": r.status,
            "forms": r.forms,
            "write_forms": r.write_forms or [],
            "from": names.get(r.by_user_id),
            "at": audit.iso(r.at),
            "comment": r.comment,
            "to_agency": r.to_user_id is None,
        }
        for r, rec in rows
    ]


def respond(ctx: Context, referral_id: int, accept: bool, comment: str | None) -> dict[str, Any]:
    ref = ctx.session.scalar(
        select(Referral)
        .join(Record, Record.id == Referral.record_id)
        .where(Referral.id == referral_id, _inbox(ctx), Record.module == ctx.module.id)
    )
    if ref is None:
        raise NotFound(_("There is no such referral."))
    if ref.status != "pending":
        raise Conflict(_("This referral was already answered."))
    if ref.to_user_id is None and accept:
        ref.to_user_id = ctx.user.id  # accepted for the agency by this user, who now holds it
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


def end(ctx: Context, referral_id: int, status: str, comment: str | None) -> dict[str, Any]:
    """Revoke a referral (the holding agency: whoever may refer the record) or close it (either side:
    the recipient when the work is done, or the holding agency). Access through it ends at once."""
    assert status in ("revoked", "closed")
    ref = ctx.session.get(Referral, referral_id)
    rec = ctx.session.get(Record, ref.record_id) if ref is not None else None
    if ref is None or rec is None or rec.module != ctx.module.id:
        raise NotFound(_("There is no such referral."))
    try:
        _rec, hold = load(ctx, rec.record_type, rec.id)
    except NotFound:
        raise NotFound(_("There is no such referral.")) from None
    mine = access(ctx, rec, hold)
    holder = mine.relation != "referral" and mine.refer
    recipient = ref.to_user_id == ctx.user.id
    if not (holder or (status == "closed" and recipient)):
        raise (
            NotFound(_("There is no such referral."))
            if not recipient
            else Forbidden(
                _(
                    "Only the agency that holds the record can revoke a referral; you can close it when your work is done."
                )
            )
        )
    if ref.status not in OPEN_REFERRAL:
        raise Conflict(_("This referral has already ended."))
    ref.status = status
    ref.responded_at = ref.responded_at or audit.now()
    if comment:
        ref.response_comment = comment
    audit.record(
        ctx.session,
        f"referral.{'revoke' if status == 'revoked' else 'close'}",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        referral=ref.id,
    )
    return {"id": ref.id, "status": ref.status}


def shared(ctx: Context, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """The referrals of a record the user may open (see `of_record`)."""
    rec, _hold = load(ctx, record_type, record_id)
    return of_record(ctx, rec)


def of_record(ctx: Context, rec: Record) -> list[dict[str, Any]]:
    """The referrals of a record this user may see: every one for the holding agency's users who may
    refer it; for a recipient, theirs."""
    hold = holding(ctx.session, rec)
    mine = ctx.policy.access(ctx.actor, rec.record_type, hold)
    if mine is None:
        return []
    query = select(Referral).where(Referral.record_id == rec.id).order_by(Referral.id)
    if mine.relation == "referral":
        query = query.where(Referral.to_user_id == ctx.user.id)
    rows = list(ctx.session.scalars(query))
    names = usernames(ctx.session, {r.by_user_id for r in rows} | {r.to_user_id for r in rows if r.to_user_id})
    to_agencies = {r.to_agency_id for r in rows if r.to_agency_id}
    agencies = (
        {a.id: a.code for a in ctx.session.scalars(select(Agency).where(Agency.id.in_(to_agencies)))}
        if to_agencies
        else {}
    )
    return [
        {
            "id": r.id,
            "status": r.status,
            "forms": r.forms,
            "write_forms": r.write_forms or [],
            "to": names.get(r.to_user_id) if r.to_user_id else None,
            "to_agency": agencies.get(r.to_agency_id) if r.to_agency_id else None,
            "from": names.get(r.by_user_id),
            "at": audit.iso(r.at),
            "can_revoke": mine.relation != "referral" and mine.refer and r.status in OPEN_REFERRAL,
            "can_close": r.status in OPEN_REFERRAL
            and (r.to_user_id == ctx.user.id or (mine.relation != "referral" and mine.refer)),
        }
        for r in rows
    ]
