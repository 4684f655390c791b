"""Break the glass: a user whose role has `emergency_access` opens a record of their agency that is
outside their scope, after giving a reason, for the module's `emergency_access_hours`.

A live grant (neither expired nor ended) adds the record to the user's reach, read-only: the policy
gives the relation `emergency` the role's forms and sensitivity and nothing else (no change, no
workflow step, no assignment, no referral), and the scope rule lists it (runtime.policy,
storage.scope). Opening is audited as `emergency.open` with the reason, every read under the grant as
`emergency.read` (service.context.load), ending as `emergency.end`. The supervisors of the record
see the grants on their home page; the record's history shows them.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Executable, bindparam, select

from engine.i18n import _, current
from engine.language.model import Module
from engine.runtime.policy import HOLDING_RELATIONS
from engine.service import audit
from engine.service.context import Context, holding, is_uuid, load, usernames
from engine.service.errors import Conflict, Forbidden, Invalid, NotFound
from engine.storage import scope
from engine.storage.models import EmergencyGrant, Record
from engine.storage.scope import live_grant

DEFAULT_HOURS = 24
MAX_HOURS = 720
#: the shortest reason accepted: a few words that say why, for the supervisor who reads it
MIN_REASON = 10
MAX_REASON = 2000
#: how far back the supervisors' home page lists emergency access to their records
RECENT_DAYS = 30
RECENT_LIMIT = 20


def hours(module: Module) -> int:
    """How long a grant lasts: the module's `emergency_access_hours` (1 to 720), 24 by default."""
    value = module.settings.get("emergency_access_hours", DEFAULT_HOURS)
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_HOURS
    return value if ok else DEFAULT_HOURS


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def is_live(grant: EmergencyGrant, now: datetime | None = None) -> bool:
    return grant.ended_at is None and _utc(grant.expires_at) > (now or audit.now())


def _no_such() -> NotFound:
    # one answer for an id that does not exist, a record of another module or agency, and a record
    # the role does not read: the page does not tell which records exist
    return NotFound(_("There is no record with this id that you can open in an emergency."))


def _read_only() -> Forbidden:
    return Forbidden(
        _("Emergency access is for reading only: you cannot change this record, take its steps, assign or refer it.")
    )


def as_json(grant: EmergencyGrant, rec: Record, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": grant.id,
        "user": names.get(grant.user_id),
        "record": {"id": rec.id, "short_id": rec.short_id, "record_type": rec.record_type},
        "reason": grant.reason,
        "at": audit.iso(grant.at),
        "expires_at": audit.iso(grant.expires_at),
        "ended_at": audit.iso(grant.ended_at),
        "ended_by": names.get(grant.ended_by) if grant.ended_by is not None else None,
        "live": is_live(grant),
        "in_reach": False,
    }


def _find(ctx: Context, text: str) -> Record | None:
    """The record of the user's module with this id or short id, or None."""
    if len(text) > 64:
        return None
    rec = ctx.session.get(Record, text.lower()) if is_uuid(text) else None
    if rec is None:
        rec = ctx.session.scalar(select(Record).where(Record.short_id == text.upper()))
    return rec if rec is not None and rec.module == ctx.module.id else None


def open_emergency(ctx: Context, record: Any, reason: Any) -> dict[str, Any]:
    """Open a record outside the user's scope in an emergency, with a reason: the grant as JSON
    (`in_reach` true and no grant when the user may open the record anyway). Audited."""
    if not ctx.policy.may_break_glass(ctx.actor):
        raise Forbidden(_("Your role does not have emergency access."))
    text = record.strip() if isinstance(record, str) else ""
    if not text:
        raise Invalid(
            _("Type the id of the record."), errors=[{"field": "record", "message": _("Type the id of the record.")}]
        )
    why = reason.strip() if isinstance(reason, str) else ""
    if len(why) < MIN_REASON:
        message = current().ngettext(
            "Write why you need this record now, in at least %(num)s character.",
            "Write why you need this record now, in at least %(num)s characters.",
            MIN_REASON,
        )
        raise Invalid(message, errors=[{"field": "reason", "message": message}])
    if len(why) > MAX_REASON:
        message = current().ngettext(
            "Write the reason in at most %(num)s character.",
            "Write the reason in at most %(num)s characters.",
            MAX_REASON,
        )
        raise Invalid(message, errors=[{"field": "reason", "message": message}])
    rec = _find(ctx, text)
    if rec is None:
        raise _no_such()
    hold = holding(ctx.session, rec)
    if ctx.policy.access(ctx.actor, rec.record_type, replace(hold, emergency=frozenset())) is not None:
        return {
            "id": None,
            "record": {"id": rec.id, "short_id": rec.short_id, "record_type": rec.record_type},
            "in_reach": True,
        }
    if not ctx.policy.emergency_target(ctx.actor, rec.record_type, hold):
        raise _no_such()
    now = audit.now()
    for old in ctx.session.scalars(
        select(EmergencyGrant).where(
            EmergencyGrant.user_id == ctx.user.id, EmergencyGrant.record_id == rec.id, live_grant(now)
        )
    ):  # a new reason replaces a grant still running: the new one starts now
        old.ended_at, old.ended_by = now, ctx.user.id
        audit.record(ctx.session, "emergency.end", user=ctx.user, ip=ctx.ip, record_id=rec.id, grant=old.id)
    grant = EmergencyGrant(
        user_id=ctx.user.id,
        record_id=rec.id,
        reason=why,
        at=now,
        expires_at=now + timedelta(hours=hours(ctx.module)),
    )
    ctx.session.add(grant)
    ctx.session.flush()
    audit.record(
        ctx.session,
        "emergency.open",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        grant=grant.id,
        reason=why,
        expires_at=audit.iso(grant.expires_at),
    )
    return as_json(grant, rec, {ctx.user.id: ctx.user.username})


def _oversees(ctx: Context, rec: Record) -> bool:
    """Does the user supervise the record: a role wider than its own records that reaches it
    through the agency that holds it?"""
    role = ctx.actor.role
    if role.aggregate_only or role.scope == "own":
        return False
    found = ctx.policy.access(ctx.actor, rec.record_type, holding(ctx.session, rec))
    return found is not None and found.relation in HOLDING_RELATIONS


def end_emergency(ctx: Context, grant_id: int) -> dict[str, Any]:
    """End a grant before it expires: the user who opened it, or a supervisor of the record.
    Access through it ends at once. Audited."""
    grant = ctx.session.get(EmergencyGrant, grant_id)
    rec = ctx.session.get(Record, grant.record_id) if grant is not None else None
    if grant is None or rec is None or rec.module != ctx.module.id:
        raise NotFound(_("There is no such emergency access."))
    if grant.user_id != ctx.user.id and not _oversees(ctx, rec):
        raise NotFound(_("There is no such emergency access."))
    if not is_live(grant):
        raise Conflict(_("This emergency access has already ended."))
    grant.ended_at, grant.ended_by = audit.now(), ctx.user.id
    ctx.session.flush()
    audit.record(ctx.session, "emergency.end", user=ctx.user, ip=ctx.ip, record_id=rec.id, grant=grant.id)
    return as_json(grant, rec, usernames(ctx.session, {grant.user_id, ctx.user.id}))


def live_on(ctx: Context, rec: Record) -> dict[str, Any] | None:
    """The user's live grant on this record, if any (the record page's banner, the API's view)."""
    grant = ctx.session.scalar(
        select(EmergencyGrant)
        .where(EmergencyGrant.user_id == ctx.user.id, EmergencyGrant.record_id == rec.id, live_grant())
        .order_by(EmergencyGrant.expires_at.desc())
        .limit(1)
    )
    if grant is None:
        return None
    return {
        "id": grant.id,
        "reason": grant.reason,
        "at": audit.iso(grant.at),
        "expires_at": audit.iso(grant.expires_at),
    }


def mine(ctx: Context) -> list[dict[str, Any]]:
    """The user's live grants, the latest first (the emergency page)."""
    rows = ctx.session.execute(
        select(EmergencyGrant, Record)
        .join(Record, Record.id == EmergencyGrant.record_id)
        .where(EmergencyGrant.user_id == ctx.user.id, Record.module == ctx.module.id, live_grant())
        .order_by(EmergencyGrant.at.desc(), EmergencyGrant.id.desc())
    ).all()
    names = {ctx.user.id: ctx.user.username}
    return [as_json(g, rec, names) for g, rec in rows]


@functools.lru_cache(maxsize=64)
def _opened_by_others(module: str, types: frozenset[str], shape: scope.Shape, limit: int) -> Executable:
    """`overseen`'s grants, for every user of reach `shape` (see storage.scope), built once: those of
    others than `:me` since `:since`."""
    return (
        select(EmergencyGrant, Record)
        .join(Record, Record.id == EmergencyGrant.record_id)
        .where(
            Record.module == module,
            Record.record_type.in_(sorted(types)),
            scope.records_held(shape),
            EmergencyGrant.user_id != bindparam("me"),
            EmergencyGrant.at >= bindparam("since"),
        )
        .order_by(EmergencyGrant.at.desc(), EmergencyGrant.id.desc())
        .limit(limit)
    )


def overseen(ctx: Context, limit: int = RECENT_LIMIT) -> list[dict[str, Any]]:
    """Emergency access others opened, in the last RECENT_DAYS days, to records the user supervises
    (a role wider than its own records, reaching them through the agency that holds them), the
    latest first: for the supervisor's home page."""
    role = ctx.actor.role
    types = ctx.policy.readable_types(ctx.actor)
    if role.aggregate_only or role.scope == "own" or not types:
        return []
    reach = ctx.policy.reach(ctx.actor)
    query = _opened_by_others(ctx.module.id, types, scope.shape_of(reach), limit)
    values = {**scope.parameters(reach), "me": ctx.user.id, "since": audit.now() - timedelta(days=RECENT_DAYS)}
    rows = ctx.session.execute(query, values).all()
    names = usernames(ctx.session, {g.user_id for g, _r in rows} | {g.ended_by for g, _r in rows if g.ended_by})
    return [as_json(g, rec, names) for g, rec in rows]


def of_record(ctx: Context, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """The emergency access to a record the user may open: every grant for those who hold it (its
    owner, assignees, supervisors), one's own for an emergency reader; none for a referral
    recipient. For the record's history."""
    rec, hold = load(ctx, record_type, record_id)
    found = ctx.policy.access(ctx.actor, rec.record_type, hold)
    if found is None or found.relation == "referral":
        return []
    query = select(EmergencyGrant).where(EmergencyGrant.record_id == rec.id).order_by(EmergencyGrant.id)
    if found.relation not in HOLDING_RELATIONS:
        query = query.where(EmergencyGrant.user_id == ctx.user.id)
    grants = list(ctx.session.scalars(query))
    names = usernames(ctx.session, {g.user_id for g in grants} | {g.ended_by for g in grants if g.ended_by})
    return [as_json(g, rec, names) for g in grants]


def refuse_change(ctx: Context, record_type: str, record_id: str) -> None:
    """Refuse, saying why, a change to a record the user reaches only through an emergency grant
    (the services refuse every change there too, in their own words)."""
    if not ctx.policy.may_break_glass(ctx.actor):
        return
    try:
        rec, hold = load(ctx, record_type, record_id)
    except NotFound:
        return  # the use case answers it
    found = ctx.policy.access(ctx.actor, rec.record_type, hold)
    if found is not None and found.relation == "emergency":
        raise _read_only()
