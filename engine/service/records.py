"""Records: create, read and change answers, and their history.

Every function takes the caller's context and runs inside the caller's transaction, so a change, its
history entry and its audit entry commit together or not at all. Every question of access goes to
the module's Policy; a record the user may not see is reported as not found.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.i18n import _
from engine.language.model import RecordType
from engine.runtime.evaluation import Evaluation, evaluate
from engine.runtime.policy import Holding
from engine.service import audit
from engine.service.context import (
    Context,
    add_history,
    diff,
    find_type,
    holding,
    is_uuid,
    load,
    load_any,
    usernames,
)
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.service.views import view
from engine.storage.models import Record, RecordHistory, RecordLink

_SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


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


# -- create / read / update ----------------------------------------------------------------------
def create(
    ctx: Context, record_type: str, data: Any, record_id: str | None = None, link_to: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Create a record (the user owns it); (view, created). Repeating a create with the same
    client-chosen id returns the stored record instead of making a second one."""
    rt = find_type(ctx, record_type)
    if not ctx.policy.can_create(ctx.actor, record_type):
        raise Forbidden(_("Your role may not create these records."))
    if record_id is not None:
        if not is_uuid(record_id):
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
        parent = load_any(ctx, link_to)
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
    add_history(ctx, rec, t, "create", diff({}, rec.data))
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
    rec, hold = load(ctx, record_type, record_id)
    audit.record(ctx.session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    return view(ctx, rec, hold)


def update(ctx: Context, record_type: str, record_id: str, version: Any, data: Any) -> dict[str, Any]:
    rec, hold = load(ctx, record_type, record_id)
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
    changes = diff(rec.data, new)
    if not changes:
        return view(ctx, rec, hold, ev)
    t = audit.now()
    rec.data = new
    rec.updated_at, rec.updated_by = t, ctx.user.id
    ctx.session.flush()  # the UPDATE ... WHERE version = n: a concurrent save makes it fail (409)
    add_history(ctx, rec, t, "update", changes)
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
    names = usernames(ctx.session, {r.user_id for r in rows})
    out = []
    for h in rows:
        for ch in ctx.policy.filter_changes(ctx.actor, rec.record_type, hold, h.changes):
            out.append({**ch, "by": names.get(h.user_id), "at": audit.iso(h.at), "version": h.version})
    return out


def history(ctx: Context, record_type: str, record_id: str) -> list[dict[str, Any]]:
    rec, hold = load(ctx, record_type, record_id)
    rows = list(
        ctx.session.scalars(select(RecordHistory).where(RecordHistory.record_id == rec.id).order_by(RecordHistory.id))
    )
    names = usernames(ctx.session, {r.user_id for r in rows})
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


@dataclass(frozen=True)
class Opened:
    """A record opened by one user, for the form pages: its stored answers (the pages show them
    through the policy's filters) and who holds it."""

    id: str
    short_id: str
    record_type: str
    version: int
    data: dict[str, Any]
    holding: Holding


def open_record(ctx: Context, record_type: str, record_id: str, *, form: str | None = None) -> Opened:
    """Open a record the user may read; with `form`, the read of that form is audited."""
    rec, hold = load(ctx, record_type, record_id)
    if form is not None:
        audit.record(ctx.session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id, form=form)
    return Opened(rec.id, rec.short_id, rec.record_type, rec.version, dict(rec.data), hold)


def reveal(ctx: Context, record_type: str, record_id: str, reason: str) -> str:
    """Show a masked identifier of a record in a list: audited with the reason; the record's id."""
    rec, _hold = load(ctx, record_type, record_id)
    audit.record(ctx.session, "record.reveal", user=ctx.user, ip=ctx.ip, record_id=rec.id, reason=reason)
    return rec.id
