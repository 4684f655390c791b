"""Assignment: a colleague in the assigner's scope takes over the work on a record."""

from __future__ import annotations

from typing import Any

from engine.i18n import _
from engine.runtime.policy import Actor
from engine.service import audit
from engine.service.accounts import actor_for, find_user
from engine.service.context import Context, holding, load
from engine.service.errors import BadRequest, Forbidden, Invalid
from engine.service.views import view
from engine.storage.models import Assignment, User


def target_user(ctx: Context, username: Any) -> tuple[User, Actor]:
    if not isinstance(username, str) or not username:
        raise BadRequest('name the user: {"to": "username"}')
    user = find_user(ctx.session, username)
    if user is None or user.disabled or user.module != ctx.module.id:
        raise Invalid(_("There is no active user '%(user)s' in this module.", user=username))
    return user, actor_for(ctx.session, user, ctx.module)


def assign(ctx: Context, record_type: str, record_id: str, to: Any, comment: str | None) -> dict[str, Any]:
    rec, hold = load(ctx, record_type, record_id)
    user, target = target_user(ctx, to)
    if not ctx.policy.may_on_type(ctx.actor, record_type, "assign"):
        raise Forbidden(_("Your role may not assign records."))
    if not ctx.policy.can_assign_to(ctx.actor, record_type, hold, target):
        raise Invalid(
            f"'{user.username}' is not someone you can assign this record to (not in your scope, or their "
            "role cannot work on it)"
        )
    ctx.session.add(
        Assignment(
            record_id=rec.id, user_id=user.id, by_user_id=ctx.user.id, at=audit.now(), active=True, comment=comment
        )
    )
    audit.record(ctx.session, "record.assign", user=ctx.user, ip=ctx.ip, record_id=rec.id, to=user.username)
    return view(ctx, rec, holding(ctx.session, rec))
