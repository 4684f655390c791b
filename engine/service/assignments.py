"""Assignment: a colleague in the assigner's scope takes over the work on a record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.i18n import _
from engine.runtime.policy import Actor
from engine.service import audit
from engine.service.accounts import actor_for, find_user
from engine.service.context import Context, access, holding, load, refusal
from engine.service.errors import BadRequest, Conflict, Invalid, NotFound
from engine.service.views import view
from engine.storage.models import Assignment, User


def target_user(ctx: Context, username: Any, record_type: str, why: str) -> tuple[User, Actor]:
    """The user named as the receiver of a record, if their role may read it. One answer whether the
    name does not exist or cannot receive it, so that the answer does not tell which names exist."""
    if not isinstance(username, str) or not username:
        raise BadRequest('name the user: {"to": "username"}')
    user = find_user(ctx.session, username)
    if user is None or user.disabled or user.module != ctx.module.id:
        raise Invalid(why % {"user": username})
    target = actor_for(ctx.session, user, ctx.module)
    if not ctx.policy.may_on_type(target, record_type, "read"):
        raise Invalid(why % {"user": username})
    return user, target


def assign(ctx: Context, record_type: str, record_id: str, to: Any, comment: str | None) -> dict[str, Any]:
    """Give a colleague of the holding agency the record to work on (audited)."""
    rec, hold = load(ctx, record_type, record_id)
    if not access(ctx, rec, hold).assign:
        raise refusal(ctx, rec, hold, _("You may not assign this record."))
    why = _("'%(user)s' cannot be assigned this record (no such user in your agency whose role works on it).")
    user, target = target_user(ctx, to, record_type, why)
    if not ctx.policy.can_assign_to(ctx.actor, record_type, hold, target):
        raise Invalid(why % {"user": user.username})
    if user.id in hold.assignee_ids:
        raise Conflict(_("'%(user)s' is already assigned this record.", user=user.username))
    if user.id == hold.owner_id:
        raise Conflict(_("'%(user)s' holds this record already.", user=user.username))
    ctx.session.add(
        Assignment(
            record_id=rec.id, user_id=user.id, by_user_id=ctx.user.id, at=audit.now(), active=True, comment=comment
        )
    )
    audit.record(ctx.session, "record.assign", user=ctx.user, ip=ctx.ip, record_id=rec.id, to=user.username)
    return view(ctx, rec, holding(ctx.session, rec))


def candidates(ctx: Context, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """The colleagues this user may assign the record to (the same rule `assign` applies): users of
    the holding agency, enabled, whose role works on this record type, within the assigner's scope,
    neither its owner nor assigned it already. Empty for a user who may not assign it."""
    rec, hold = load(ctx, record_type, record_id)
    if not access(ctx, rec, hold).assign or hold.agency_id is None:
        return []
    users = ctx.session.scalars(
        select(User)
        .where(User.module == ctx.module.id, User.agency_id == hold.agency_id, User.disabled.is_(False))
        .order_by(User.username)
    )
    out = []
    for user in users:
        if user.id in hold.assignee_ids or user.id == hold.owner_id or user.role not in ctx.module.roles:
            continue
        target = actor_for(ctx.session, user, ctx.module)
        if ctx.policy.can_assign_to(ctx.actor, record_type, hold, target):
            role = ctx.module.roles[user.role]
            out.append(
                {"username": user.username, "full_name": user.full_name, "role": role.id, "role_label": role.label}
            )
    return out


def unassign(ctx: Context, record_type: str, record_id: str, username: str, comment: str | None) -> dict[str, Any]:
    """End a user's assignment to the record: their access through it ends at once (audited)."""
    rec, hold = load(ctx, record_type, record_id)
    if not access(ctx, rec, hold).assign:
        raise refusal(ctx, rec, hold, _("You may not change who is assigned this record."))
    user = find_user(ctx.session, username)
    rows = (
        list(
            ctx.session.scalars(
                select(Assignment).where(
                    Assignment.record_id == rec.id, Assignment.user_id == user.id, Assignment.active.is_(True)
                )
            )
        )
        if user is not None
        else []
    )
    if not rows:
        raise NotFound(_("'%(user)s' is not assigned this record.", user=username))
    now = audit.now()
    for row in rows:
        row.active, row.ended_at, row.ended_by = False, now, ctx.user.id
    audit.record(
        ctx.session, "record.unassign", user=ctx.user, ip=ctx.ip, record_id=rec.id, to=username, comment=comment
    )
    return view(ctx, rec, holding(ctx.session, rec))
