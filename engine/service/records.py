"""Records: create, read, list, change, history, workflow transitions, assignment, referral.

Every function takes the caller's SQLAlchemy session and runs inside the caller's transaction, so
a change, its history entry and its audit entry commit together or not at all. Every question of
access goes to the module's Policy; a record the user may not see is reported as not found.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.i18n import _, current
from engine.language.model import Module, RecordType, Transition
from engine.runtime.evaluation import Evaluation, evaluate
from engine.runtime.policy import Actor, Holding, Policy
from engine.runtime.workflow import TransitionCheck, check_transition, state_label, transition_label
from engine.service import audit
from engine.service.accounts import actor_for, find_user
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.storage.models import Agency, Assignment, Record, RecordHistory, RecordLink, Referral, TransitionLog, User

PAGE_SIZE = 50
_SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


@dataclass
class Context:
    """Who is asking, in which module, from where."""

    session: Session
    user: User
    actor: Actor
    module: Module
    policy: Policy
    ip: str | None = None
    locale: str = "en"


def _rt(ctx: Context, record_type: str) -> RecordType:
    rt = ctx.module.record_types.get(record_type)
    if rt is None:
        raise NotFound(f"there is no record type '{record_type}'")
    return rt


def holdings(session: Session, recs: list[Record]) -> dict[str, Holding]:
    """Who holds each record (owner, agency, group, assignees, referrals), in two queries for all."""
    ids = [r.id for r in recs]
    assignees: dict[str, set[int]] = {i: set() for i in ids}
    referrals: dict[str, dict[int, frozenset[str]]] = {i: {} for i in ids}
    agencies: dict[str, dict[int, frozenset[str]]] = {i: {} for i in ids}
    if ids:
        for rid, uid in session.execute(
            select(Assignment.record_id, Assignment.user_id).where(
                Assignment.record_id.in_(ids), Assignment.active.is_(True)
            )
        ):
            assignees[rid].add(uid)
        for ref in session.scalars(
            select(Referral).where(Referral.record_id.in_(ids), Referral.status.in_(("pending", "accepted")))
        ):
            target = referrals[ref.record_id] if ref.to_user_id is not None else agencies[ref.record_id]
            key = ref.to_user_id if ref.to_user_id is not None else ref.to_agency_id
            if key is not None:
                target[key] = target.get(key, frozenset()) | frozenset(ref.forms)
    return {
        r.id: Holding(r.owner_id, r.agency_id, r.group_id, frozenset(assignees[r.id]), referrals[r.id], agencies[r.id])
        for r in recs
    }


def holding(session: Session, rec: Record) -> Holding:
    return holdings(session, [rec])[rec.id]


def _load(ctx: Context, record_type: str, record_id: str) -> tuple[Record, Holding]:
    """The record if it exists, is of this type and module, and the user may read it; else 404."""
    rec = ctx.session.get(Record, record_id) if _is_uuid(record_id) else None
    if rec is None:
        rec = ctx.session.scalar(select(Record).where(Record.short_id == record_id.upper()))
    if rec is None or rec.module != ctx.module.id or rec.record_type != record_type:
        raise NotFound("no such record")
    hold = holding(ctx.session, rec)
    if not ctx.policy.can_read(ctx.actor, record_type, hold):
        raise NotFound("no such record")
    return rec, hold


def load(ctx: Context, record_type: str, record_id: str) -> tuple[Record, Holding]:
    """The record and who holds it, if this user may read it; NotFound otherwise."""
    return _load(ctx, record_type, record_id)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _short_id(session: Session, rt: RecordType) -> str:
    prefix = rt.id[:1].upper()
    for _attempt in range(20):
        candidate = prefix + "-" + "".join(secrets.choice(_SHORT_ALPHABET) for _i in range(6))
        if session.scalar(select(Record.id).where(Record.short_id == candidate)) is None:
            return candidate
    raise RuntimeError("could not find a free short id")  # pragma: no cover - 31^6 ids


def _check_submission(ctx: Context, rt: RecordType, hold: Holding | None, data: Any) -> dict[str, Any]:
    """The submitted answers, if they name only fields this user may write; else 4xx."""
    if not isinstance(data, dict):
        raise BadRequest("'data' must be an object of field ids and answers")
    if hold is None:  # a new record: the creator will own it
        hold = Holding(ctx.actor.user_id, ctx.actor.agency_id)
    visible = ctx.policy.visible_fields(ctx.actor, rt.id, hold)
    writable = ctx.policy.writable_fields(ctx.actor, rt.id, hold)
    unknown = sorted(k for k in data if k not in rt.scope.fields or k not in visible)
    if unknown:
        raise Invalid(
            _("unknown fields"), errors=[{"field": k, "message": _("There is no such field.")} for k in unknown]
        )
    locked = sorted(k for k in data if k not in writable)
    if locked:
        raise Forbidden(
            "you may not change these fields",
            errors=[{"field": k, "message": "You cannot change this answer."} for k in locked],
        )
    for key, value in data.items():
        f = rt.scope.fields[key]
        if f.subform is not None and isinstance(value, list):
            for row in value:
                if not isinstance(row, dict):
                    raise Invalid("bad rows", errors=[{"field": key, "message": "Each row must be an object."}])
                bad = sorted(k for k in row if k not in f.subform.fields or k not in writable)
                if bad:
                    raise Invalid(
                        "unknown fields",
                        errors=[{"field": f"{key}[].{k}", "message": "There is no such field."} for k in bad],
                    )
    return data


def _blocking_errors(ev: Evaluation) -> list[dict[str, str]]:
    """Errors that stop a save. Missing required answers do not: a record is often filled in over
    several meetings; they decide whether a form is complete, which workflow steps check."""
    return [{"field": e.path, "code": e.code, "message": e.message} for e in ev.errors if e.code != "required"]


def _merge_keep_hidden(
    rt: RecordType, old: dict[str, Any], new: dict[str, Any], visible: frozenset[str]
) -> dict[str, Any]:
    """Apply a submission on top of the stored answers, keeping what the user cannot see.

    A subform submitted by someone who cannot see every column keeps the hidden columns of each
    row by position."""
    merged = dict(old)
    for key, value in new.items():
        f = rt.scope.fields[key]
        if value is None:
            merged.pop(key, None)
        elif f.subform is not None and isinstance(value, list) and isinstance(old.get(key), list):
            hidden = [k for k in f.subform.fields if k not in visible]
            rows = []
            for i, row in enumerate(value):
                kept = {k: old[key][i][k] for k in hidden if i < len(old[key]) and k in old[key][i]}
                rows.append({**kept, **row})
            merged[key] = rows
        else:
            merged[key] = value
    return merged


def _history(ctx: Context, rec: Record, at: datetime, action: str, changes: list[dict[str, Any]]) -> None:
    """One history entry for the record's current version (in the caller's transaction)."""
    ctx.session.add(
        RecordHistory(record_id=rec.id, version=rec.version, user_id=ctx.user.id, at=at, action=action, changes=changes)
    )


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(dict.fromkeys([*old, *new]))
    return [{"field": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)]


def _transition_checks(ctx: Context, rec: Record, rt: RecordType, ev: Evaluation) -> list[TransitionCheck]:
    wf = ctx.module.workflow_for(rt.id)
    if wf is None or rec.stage is None:
        return []
    mine = _requested_by(ctx.session, rec) == ctx.user.id
    return [
        check_transition(wf, t, ev, ctx.actor.role, rec.stage, requested_by_user=mine and t.approval)
        for t in wf.transitions.values()
    ]


def _requested_by(session: Session, rec: Record) -> int | None:
    """Who moved the record into its current stage (the requester, for an approval)."""
    last = session.scalar(
        select(TransitionLog)
        .where(TransitionLog.record_id == rec.id, TransitionLog.to_stage == rec.stage)
        .order_by(TransitionLog.id.desc())
        .limit(1)
    )
    return last.user_id if last else None


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def view(ctx: Context, rec: Record, hold: Holding, ev: Evaluation | None = None) -> dict[str, Any]:
    """The record as this user may see it."""
    rt = ctx.module.record_types[rec.record_type]
    ev = ev or evaluate(rt, rec.data)
    readable = ctx.policy.readable_forms(ctx.actor, rt.id, hold)
    writable = ctx.policy.writable_forms(ctx.actor, rt.id, hold)
    names = _usernames(ctx.session, {rec.owner_id})
    forms = {}
    for fid in rt.form_ids:
        if fid not in readable:
            continue
        errs = ev.errors_for(fid)
        forms[fid] = {
            "title": current().text(f"forms/{fid}/title", rt.forms[fid].title)[0],
            "relevant": ev.forms_relevant.get(fid, True),
            "writable": fid in writable,
            "complete": not errs,
            "missing": sum(1 for e in errs if e.code == "required"),
        }
    wf = ctx.module.workflow_for(rt.id)
    transitions = [
        {
            "id": c.transition.id,
            "label": transition_label(wf, c.transition) if wf else c.transition.label,
            "allowed": c.allowed,
            "needs_reason": c.can_override,
            "reasons": list(c.reasons + c.needs_reason),
            "referral": c.transition.referral,
        }
        for c in _transition_checks(ctx, rec, rt, ev)
        if rec.stage in c.transition.from_states and ctx.actor.role.id in c.transition.roles
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
        "data": ctx.policy.filter_data(ctx.actor, rt.id, hold, rec.data),
        "forms": forms,
        "transitions": transitions,
        "links": _links(ctx, rec),
    }


def _links(ctx: Context, rec: Record) -> list[dict[str, Any]]:
    out = []
    rows = ctx.session.execute(
        select(RecordLink, Record).join(
            Record,
            or_(
                and_(RecordLink.from_id == rec.id, Record.id == RecordLink.to_id),
                and_(RecordLink.to_id == rec.id, Record.id == RecordLink.from_id),
            ),
        )
    ).all()
    others = [other for _link, other in rows]
    held = holdings(ctx.session, others)
    for other in others:
        if ctx.policy.can_read(ctx.actor, other.record_type, held[other.id]):
            out.append(
                {"id": other.id, "short_id": other.short_id, "record_type": other.record_type, "stage": other.stage}
            )
    return out


# -- create / read / list / update ---------------------------------------------------------------
def create(
    ctx: Context, record_type: str, data: Any, record_id: str | None = None, link_to: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Create a record (the user owns it); (view, created). Repeating a create with the same
    client-chosen id returns the stored record instead of making a second one."""
    rt = _rt(ctx, record_type)
    if not ctx.policy.can_create(ctx.actor, record_type):
        raise Forbidden(_("Your role may not create these records."))
    if record_id is not None:
        if not _is_uuid(record_id):
            raise Invalid(
                "'id' must be a UUID", errors=[{"field": "id", "message": "Use a UUID, e.g. from crypto.randomUUID()."}]
            )
        record_id = str(uuid.UUID(record_id))
        existing = ctx.session.get(Record, record_id)
        if existing is not None:
            if (
                existing.created_by == ctx.user.id
                and existing.record_type == record_type
                and existing.module == ctx.module.id
            ):
                return view(ctx, existing, holding(ctx.session, existing)), False
            raise Conflict("a record with this id already exists")
    answers = _check_submission(ctx, rt, None, data)
    parent: Record | None = None
    if link_to is not None:
        parent = None
        for other_type in ctx.module.record_types:
            try:
                parent, _holding = _load(ctx, other_type, link_to)
                break
            except NotFound:
                continue
        if parent is None:
            raise NotFound("the record to link to does not exist or you cannot see it")
    ev = evaluate(rt, answers)
    errors = _blocking_errors(ev)
    if errors:
        raise Invalid(_("Some answers are not valid."), errors=errors)
    wf = ctx.module.workflow_for(record_type)
    t = audit.now()
    group_ids = sorted(ctx.actor.group_ids)
    rec = Record(
        id=record_id or str(uuid.uuid4()),
        short_id=_short_id(ctx.session, rt),
        module=ctx.module.id,
        record_type=record_type,
        stage=wf.initial if wf else None,
        owner_id=ctx.user.id,
        agency_id=ctx.user.agency_id,
        group_id=group_ids[0] if group_ids else None,
        created_by=ctx.user.id,
        created_at=t,
        updated_by=ctx.user.id,
        updated_at=t,
        definitions_version=ctx.module.version,
        data=ev.answers(),
    )
    ctx.session.add(rec)
    ctx.session.flush()
    _history(ctx, rec, t, "create", _diff({}, rec.data))
    if parent is not None:
        ctx.session.add(
            RecordLink(from_id=parent.id, to_id=rec.id, kind=record_type, created_by=ctx.user.id, created_at=t)
        )
    audit.record(
        ctx.session,
        "record.create",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        record_type=record_type,
        linked_to=parent.id if parent else None,
    )
    ctx.session.flush()
    return view(ctx, rec, holding(ctx.session, rec), ev), True


def read(ctx: Context, record_type: str, record_id: str) -> dict[str, Any]:
    rec, hold = _load(ctx, record_type, record_id)
    audit.record(ctx.session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    return view(ctx, rec, hold)


def list_records(
    ctx: Context,
    record_type: str,
    stage: str | None,
    q: str | None,
    page: int,
    sort: str = "updated",
    fields: tuple[str, ...] = (),
    page_size: int = PAGE_SIZE,
    filters: dict[str, str] | None = None,
    owner: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
) -> dict[str, Any]:
    """A page of records in the user's scope; `fields` adds those answers (the ones the user may see)."""
    rt = _rt(ctx, record_type)
    if not ctx.policy.may_on_type(ctx.actor, record_type, "read"):
        raise Forbidden(_("Your role may not read these records."))
    actor = ctx.actor
    query = select(Record).where(Record.module == ctx.module.id, Record.record_type == record_type)
    own = or_(
        Record.owner_id == actor.user_id,
        Record.id.in_(
            select(Assignment.record_id).where(Assignment.user_id == actor.user_id, Assignment.active.is_(True))
        ),
        Record.id.in_(
            select(Referral.record_id).where(
                Referral.to_user_id == actor.user_id, Referral.status.in_(("pending", "accepted"))
            )
        ),
    )
    scope = actor.role.scope
    if scope == "group":
        query = query.where(or_(own, Record.group_id.in_(actor.group_ids or {-1})))
    elif scope == "agency":
        to_my_agency = Record.id.in_(
            select(Referral.record_id).where(
                Referral.to_agency_id == actor.agency_id, Referral.to_user_id.is_(None), Referral.status == "pending"
            )
        )
        query = query.where(
            or_(own, Record.group_id.in_(actor.group_ids or {-1}), Record.agency_id == actor.agency_id, to_my_agency)
        )
    elif scope == "own":
        query = query.where(own)
    if stage:
        query = query.where(Record.stage == stage)
    # answers a list may filter or search on: list fields this role may see (never hidden ones)
    role = actor.role
    searchable = [
        f
        for f in (rt.scope.fields.get(fid) for fid in rt.list_fields)
        if f is not None and role.may_read_form(f.form_id) and f.sensitivity in role.sensitivity
    ]
    if q:
        needle = q.strip()
        query = query.where(
            or_(
                Record.short_id.startswith(needle.upper()),
                Record.id.startswith(needle.lower()),
                *(Record.data[f.id].as_string() == needle for f in searchable if f.type in ("text", "calculate")),
            )
        )
    for fid, value in (filters or {}).items():
        if value and any(f.id == fid for f in searchable):
            query = query.where(Record.data[fid].as_string() == value)
    if owner:
        query = query.where(Record.owner_id.in_(select(User.id).where(User.username == owner)))
    for bound, op in ((created_from, "from"), (created_to, "to")):
        if bound:
            try:
                day = datetime.fromisoformat(bound)
            except ValueError:
                raise BadRequest("dates are written YYYY-MM-DD") from None
            day = day.replace(tzinfo=UTC) if day.tzinfo is None else day
            query = query.where(
                Record.created_at >= day if op == "from" else Record.created_at < day + timedelta(days=1)
            )
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(page, 1)
    order = Record.created_at.desc() if sort == "created" else Record.updated_at.desc()
    rows = ctx.session.scalars(query.order_by(order, Record.id).offset((page - 1) * page_size).limit(page_size))
    items = list(rows)
    held = holdings(ctx.session, items) if fields else {}
    usernames = _usernames(ctx.session, {r.owner_id for r in items})
    audit.record(
        ctx.session, "record.list", user=ctx.user, ip=ctx.ip, record_type=record_type, page=page, count=len(items)
    )
    return {
        "items": [
            {
                "id": r.id,
                "short_id": r.short_id,
                "stage": r.stage,
                "version": r.version,
                "owner": usernames.get(r.owner_id),
                "updated_at": audit.iso(r.updated_at),
                "created_at": audit.iso(r.created_at),
                **({"fields": _listed(ctx, r, held[r.id], fields)} if fields else {}),
            }
            for r in items
        ],
        "page": page,
        "page_size": page_size,
        "total": total,
    }


def _listed(ctx: Context, rec: Record, hold: Holding, fields: tuple[str, ...]) -> dict[str, Any]:
    data = ctx.policy.filter_data(ctx.actor, rec.record_type, hold, rec.data)
    return {f: data[f] for f in fields if f in data}


def update(ctx: Context, record_type: str, record_id: str, version: Any, data: Any) -> dict[str, Any]:
    rec, hold = _load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    if not ctx.policy.can_write(ctx.actor, record_type, hold):
        raise Forbidden(_("You may not change this record."))
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest("'version' (the version you edited) is required, as a number")
    if version != rec.version:
        raise Conflict(
            "the record was changed by someone else since you opened it",
            current_version=rec.version,
            changes=_changes_since(ctx, rec, hold, version),
        )
    answers = _check_submission(ctx, rt, hold, data)
    visible = ctx.policy.visible_fields(ctx.actor, record_type, hold)
    merged = _merge_keep_hidden(rt, rec.data, answers, visible)
    ev = evaluate(rt, merged)
    errors = _blocking_errors(ev)
    if errors:
        raise Invalid(_("Some answers are not valid."), errors=errors)
    new = ev.answers()
    changes = _diff(rec.data, new)
    if not changes:
        return view(ctx, rec, hold, ev)
    t = audit.now()
    rec.data = new
    rec.updated_at, rec.updated_by = t, ctx.user.id
    ctx.session.flush()  # the UPDATE ... WHERE version = n: a concurrent save makes it fail (409)
    _history(ctx, rec, t, "update", changes)
    audit.record(
        ctx.session,
        "record.update",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        fields=[c["field"] for c in changes],
        version=rec.version,
    )
    return view(ctx, rec, hold, ev)


def _changes_since(ctx: Context, rec: Record, hold: Holding, version: int) -> list[dict[str, Any]]:
    query = (
        select(RecordHistory)
        .where(RecordHistory.record_id == rec.id, RecordHistory.version > version)
        .order_by(RecordHistory.id)
    )
    rows = list(ctx.session.scalars(query))
    names = _usernames(ctx.session, {r.user_id for r in rows})
    out = []
    for h in rows:
        for ch in ctx.policy.filter_changes(ctx.actor, rec.record_type, hold, h.changes):
            out.append({**ch, "by": names.get(h.user_id), "at": audit.iso(h.at), "version": h.version})
    return out


def history(ctx: Context, record_type: str, record_id: str) -> list[dict[str, Any]]:
    rec, hold = _load(ctx, record_type, record_id)
    rows = list(
        ctx.session.scalars(select(RecordHistory).where(RecordHistory.record_id == rec.id).order_by(RecordHistory.id))
    )
    names = _usernames(ctx.session, {r.user_id for r in rows})
    audit.record(ctx.session, "record.history", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    return [
        {
            "version": h.version,
            "at": audit.iso(h.at),
            "by": names.get(h.user_id),
            "action": h.action,
            "changes": ctx.policy.filter_changes(ctx.actor, record_type, hold, h.changes),
        }
        for h in rows
    ]


# -- workflow --------------------------------------------------------------------------------------
def _transition(ctx: Context, rec: Record, rt: RecordType, transition_id: str) -> Transition:
    wf = ctx.module.workflow_for(rt.id)
    if wf is None or transition_id not in wf.transitions:
        raise NotFound(f"there is no step '{transition_id}'")
    return wf.transitions[transition_id]


def _checked(ctx: Context, rec: Record, t: Transition, override_reason: str | None) -> TransitionCheck:
    rt = ctx.module.record_types[rec.record_type]
    wf = ctx.module.workflow_for(rt.id)
    assert wf is not None and rec.stage is not None
    ev = evaluate(rt, rec.data)
    mine = t.approval and _requested_by(ctx.session, rec) == ctx.user.id
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
    rec, hold = _load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    t = _transition(ctx, rec, rt, transition_id)
    if t.referral:
        raise BadRequest(f"'{t.label}' is a referral: use the referrals endpoint, which asks to whom")
    c = _checked(ctx, rec, t, override_reason)
    _log_transition(ctx, rec, t, comment, override_reason if c.overridden else None)
    return view(ctx, rec, hold)


def _log_transition(ctx: Context, rec: Record, t: Transition, comment: str | None, override: str | None) -> None:
    at = audit.now()
    before = rec.stage
    if t.to is not None:
        rec.stage = t.to
        rec.updated_at, rec.updated_by = at, ctx.user.id
        ctx.session.flush()
        _history(ctx, rec, at, "transition", [{"field": "(stage)", "old": before, "new": t.to}])
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


def _target(ctx: Context, username: Any) -> tuple[User, Actor]:
    if not isinstance(username, str) or not username:
        raise BadRequest('name the user: {"to": "username"}')
    user = find_user(ctx.session, username)
    if user is None or user.disabled or user.module != ctx.module.id:
        raise Invalid(_("There is no active user '%(user)s' in this module.", user=username))
    return user, actor_for(ctx.session, user, ctx.module)


def assign(ctx: Context, record_type: str, record_id: str, to: Any, comment: str | None) -> dict[str, Any]:
    rec, hold = _load(ctx, record_type, record_id)
    user, target = _target(ctx, to)
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
    rec, hold = _load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    if not isinstance(transition_id, str):
        raise BadRequest('name the referral step: {"transition": "refer_health_medical", ...}')
    t = _transition(ctx, rec, rt, transition_id)
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
        user, target = _target(ctx, to)
        if not ctx.policy.may_on_type(target, record_type, "read"):
            raise Invalid(
                _("'%(user)s' cannot receive these records (their role may not read them).", user=user.username)
            )
    readable = ctx.policy.readable_forms(ctx.actor, record_type, hold)
    if not isinstance(forms, list) or not forms or not all(isinstance(f, str) for f in forms):
        raise BadRequest('list the forms to share: {"forms": ["survivor_assessment", ...]}')
    unknown = [f for f in forms if f not in readable]
    if unknown:
        raise Invalid(
            "you cannot share forms you cannot read",
            errors=[{"field": f, "message": "Not a form you can share."} for f in unknown],
        )
    c = _checked(ctx, rec, t, override_reason)
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
    _log_transition(ctx, rec, t, comment, override_reason if c.overridden else None)
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


def _mine(ctx: Context) -> Any:
    """Referrals addressed to this user, or to their agency if their role decides for the agency."""
    clauses = [Referral.to_user_id == ctx.user.id]
    if ctx.actor.role.scope in ("agency", "all") and ctx.user.agency_id is not None:
        clauses.append(and_(Referral.to_user_id.is_(None), Referral.to_agency_id == ctx.user.agency_id))
    return or_(*clauses)


def referrals_for(ctx: Context) -> list[dict[str, Any]]:
    rows = ctx.session.execute(
        select(Referral, Record)
        .join(Record, Record.id == Referral.record_id)
        .where(_mine(ctx), Record.module == ctx.module.id)
        .order_by(Referral.id.desc())
    ).all()
    names = _usernames(ctx.session, {r.by_user_id for r, _ in rows})
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
    ref = ctx.session.scalar(select(Referral).where(Referral.id == referral_id, _mine(ctx)))
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
