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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.i18n import _, current
from engine.language.answers import ROW_ID, new_row_id, valid_row_id
from engine.language.model import FieldScope, RecordType
from engine.runtime.evaluation import Evaluation, evaluate
from engine.runtime.policy import Holding
from engine.runtime.workflow import lock_message, locked_forms
from engine.service import audit, decisions
from engine.service.context import (
    Context,
    access,
    add_history,
    created,
    diff,
    find_type,
    holding,
    is_uuid,
    load,
    load_any,
    refusal,
    usernames,
)
from engine.service.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from engine.service.views import started_forms, view
from engine.storage.models import Record, RecordHistory, RecordLink

_SHORT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: rows a subform may hold in one record (each is validated; a body of empty rows must not cost minutes)
MAX_ROWS = 1000
MAX_VERSION = 2**53


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
            _check_rows(key, f.subform, value, writable)
    return data


def _check_rows(where: str, scope: FieldScope, rows: list[Any], writable: frozenset[str]) -> None:
    """A subform's rows: objects of writable columns, each with at most one well-formed, unique id."""
    if len(rows) > MAX_ROWS:
        raise Invalid(
            current().ngettext(
                "A list of rows holds at most %(num)s row.", "A list of rows holds at most %(num)s rows.", MAX_ROWS
            ),
            errors=[
                {
                    "field": where,
                    "message": current().ngettext("At most %(num)s row.", "At most %(num)s rows.", MAX_ROWS),
                }
            ],
        )
    ids: set[str] = set()
    for row in rows:
        if not isinstance(row, dict):
            raise Invalid("bad rows", errors=[{"field": where, "message": "Each row must be an object."}])
        rid = row.get(ROW_ID)
        if rid is not None:
            if not valid_row_id(rid) or rid in ids:
                message = "A row id is 1 to 36 letters, digits, - or _, and unique in its list."
                raise Invalid("bad row id", errors=[{"field": f"{where}[].{ROW_ID}", "message": message}])
            ids.add(rid)
        bad = sorted(k for k in row if k != ROW_ID and (k not in scope.fields or k not in writable))
        if bad:
            raise Invalid(
                "unknown fields",
                errors=[{"field": f"{where}[].{k}", "message": "There is no such field."} for k in bad],
            )
        for key, value in row.items():
            inner = scope.fields.get(key)
            if inner is not None and inner.subform is not None and isinstance(value, list):
                _check_rows(f"{where}[].{key}", inner.subform, value, writable)


def _blocking_errors(ev: Evaluation) -> list[dict[str, str]]:
    """Errors that stop a save. Missing required answers do not: a record is often filled in over
    several meetings; they decide whether a form is complete, which workflow steps check."""
    return [{"field": e.path, "code": e.code, "message": e.message} for e in ev.errors if e.code != "required"]


def _merge_keep_hidden(
    rt: RecordType, old: dict[str, Any], new: dict[str, Any], visible: frozenset[str]
) -> dict[str, Any]:
    """Apply a submission on top of the stored answers, keeping what the user cannot see.

    Subform rows are matched by their id (`_row`), so the columns a user cannot see stay with
    their row whatever rows the user adds, removes or reorders; a row without a known id is new."""
    merged = dict(old)
    for key, value in new.items():
        f = rt.scope.fields[key]
        if value is None:
            merged.pop(key, None)
        elif f.subform is not None and isinstance(value, list):
            merged[key] = _merge_rows(f.subform, old.get(key), value, visible)
        else:
            merged[key] = value
    return merged


def _merge_rows(scope: FieldScope, old: Any, new: list[Any], visible: frozenset[str]) -> list[Any]:
    stored: dict[str, dict[str, Any]] = {}
    if isinstance(old, list):
        stored = {r[ROW_ID]: r for r in old if isinstance(r, dict) and valid_row_id(r.get(ROW_ID))}
    hidden = [k for k in scope.fields if k not in visible]
    out: list[Any] = []
    for row in new:
        if not isinstance(row, dict):
            out.append(row)
            continue
        rid = row.get(ROW_ID)
        base = stored.get(rid, {}) if isinstance(rid, str) else {}
        merged = {k: base[k] for k in hidden if k in base}
        for k, v in row.items():
            inner = scope.fields.get(k)
            if inner is not None and inner.subform is not None and isinstance(v, list):
                merged[k] = _merge_rows(inner.subform, base.get(k), v, visible)
            elif k != ROW_ID:
                merged[k] = v
        out.append({ROW_ID: rid if valid_row_id(rid) else new_row_id(), **merged})
    return out


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
    answers = _merge_keep_hidden(rt, {}, _check_submission(ctx, rt, None, data), frozenset())
    parent: Record | None = None
    if link_to is not None:
        parent = load_any(ctx, link_to)
        if parent is None:
            raise NotFound("the record to link to does not exist or you cannot see it")
        parent_hold = holding(ctx.session, parent)
        if not access(ctx, parent, parent_hold).link:
            raise refusal(
                ctx, parent, parent_hold, _("A record shared with you by a referral cannot have records linked to it.")
            )
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
        saved_forms=[fid for fid in rt.forms if fid in {rt.scope.fields[k].form_id for k in answers}],
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
    return view(ctx, rec, created(ctx.session, rec, parent), ev), True


def read(ctx: Context, record_type: str, record_id: str) -> dict[str, Any]:
    rec, hold = load(ctx, record_type, record_id)
    audit.record(ctx.session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    return view(ctx, rec, hold)


def _mark_saved(rec: Record, rt: RecordType, form_ids: set[str]) -> bool:
    """Note that these forms have been saved (a form is 'not started' until then); True if new."""
    before = set(rec.saved_forms) if rec.saved_forms is not None else started_forms(rt, rec.data)
    after = before | form_ids
    if rec.saved_forms is not None and after == before:
        return False
    rec.saved_forms = [fid for fid in rt.forms if fid in after]
    return True


def update(
    ctx: Context, record_type: str, record_id: str, version: Any, data: Any, form: str | None = None
) -> dict[str, Any]:
    """Change answers (those this user may write). `form` names the form that was saved, so it
    counts as started even when it was saved with nothing in it."""
    rec, hold = load(ctx, record_type, record_id)
    rt = ctx.module.record_types[record_type]
    if form is not None and form not in rt.forms:
        raise BadRequest(f"'form' must be a form of the record type '{record_type}'")
    if not ctx.policy.can_write(ctx.actor, record_type, hold):
        raise refusal(ctx, rec, hold, _("You may not change this record."))
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < MAX_VERSION:
        raise BadRequest("'version' (the version you edited) is required, as a whole number from 1")
    if version != rec.version:
        raise Conflict(
            "the record was changed by someone else since you opened it",
            current_version=rec.version,
            changes=_changes_since(ctx, rec, hold, version),
        )
    answers = _check_submission(ctx, rt, hold, data)
    wf = ctx.module.workflow_for(record_type)
    locked = locked_forms(wf, rec.stage, [rt.scope.fields[k].form_id for k in answers])
    if locked and wf is not None and rec.stage is not None:
        raise Conflict(
            lock_message(wf, rec.stage),
            code="form_locked",
            stage=rec.stage,
            forms=sorted(locked),
            errors=[
                {"field": k, "message": _("This form cannot be changed at this stage.")}
                for k in answers
                if rt.scope.fields[k].form_id in locked
            ],
        )
    visible = ctx.policy.visible_fields(ctx.actor, record_type, hold)
    merged = _merge_keep_hidden(rt, rec.data, answers, visible)
    ev = evaluate(rt, merged)
    errors = _blocking_errors(ev)
    if errors:
        raise Invalid(_("Some answers are not valid."), errors=errors)
    new = ev.answers()
    changes = diff(rec.data, new)
    saved = {rt.scope.fields[k].form_id for k in answers} | ({form} if form else set())
    if not changes:
        if _mark_saved(rec, rt, saved):
            ctx.session.flush()
        return view(ctx, rec, hold, ev)
    t = audit.now()
    _mark_saved(rec, rt, saved)
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


def check_submission(ctx: Context, record_type: str, hold: Holding, data: Any) -> dict[str, Any]:
    """The submitted answers, if they name only fields this user may write (else 4xx), before any
    merge: a merge never reads, let alone reports, a field the user may not see."""
    return _check_submission(ctx, ctx.module.record_types[record_type], hold, data)


def data_at(ctx: Context, rec: Record, version: int) -> dict[str, Any]:
    """The record's answers as they were at `version`, from its history (each change after it undone)."""
    data = dict(rec.data)
    later = ctx.session.scalars(
        select(RecordHistory)
        .where(RecordHistory.record_id == rec.id, RecordHistory.version > version)
        .order_by(RecordHistory.id.desc())
    )
    for h in later:
        for change in h.changes:
            name = change.get("field")
            if not isinstance(name, str) or name == "(stage)":
                continue
            if change.get("old") is None:
                data.pop(name, None)
            else:
                data[name] = change["old"]
    return data


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


def history(
    ctx: Context, record_type: str, record_id: str, *, limit: int | None = None, before: int | None = None
) -> list[dict[str, Any]]:
    """The record's history, oldest first: every entry, or with `limit` the latest `limit` entries
    (of those before the version `before`, when given: the page after the one that ended there)."""
    return history_page(ctx, record_type, record_id, limit=limit, before=before)[0]


def history_page(
    ctx: Context,
    record_type: str,
    record_id: str,
    *,
    limit: int | None = None,
    before: int | None = None,
    values: bool = True,
) -> tuple[list[dict[str, Any]], int]:
    """`history`, and how many entries the record's history holds in all. Without `values`, each
    change names the answer changed and gives neither its old nor its new value (a workflow step
    still gives its stages): the record's page shows which answers changed, never what they were,
    and their sealed values are then not opened (a case's first entry holds every answer given)."""
    rec, hold = load(ctx, record_type, record_id)
    # without values: the columns, not the ORM entity, whose load opens every sealed value
    q = (select(RecordHistory) if values else select(*_HISTORY_COLUMNS)).where(RecordHistory.record_id == rec.id)
    if before is not None:
        q = q.where(RecordHistory.version < before)
    read = ctx.session.scalars if values else ctx.session.execute
    if limit is None:
        rows: list[Any] = list(read(q.order_by(RecordHistory.id)))
        total = len(rows) if before is None else _history_total(ctx, rec.id)
    else:
        rows = list(read(q.order_by(RecordHistory.id.desc()).limit(limit)))[::-1]
        # a first page that is the whole history is its own count
        total = len(rows) if before is None and len(rows) < limit else _history_total(ctx, rec.id)
    names = usernames(ctx.session, {r.user_id for r in rows})
    steps = decisions.steps_by_time(ctx, rec, hold)
    audit.record(ctx.session, "record.history", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    out = []
    for h in rows:
        given = h.changes if values else [_named(c) for c in h.changes]
        changes = ctx.policy.filter_changes(ctx.actor, record_type, hold, given)
        entry: dict[str, Any] = {
            "version": h.version,
            "at": audit.iso(h.at),
            "by": names.get(h.user_id),
            "action": h.action,
            "changes": changes,
            # answers changed that this reader may not see: counted, never named
            "hidden_changes": sum(1 for c in h.changes if c.get("field") != "(stage)")
            - len([c for c in changes if c.get("field") != "(stage)"]),
        }
        if h.action == "transition" and (step := steps.get(entry["at"] or "")) is not None:
            entry["step"] = step  # the step taken, with its comment (for those in the workflow)
        out.append(entry)
    return out, total


#: what a history entry holds, read as columns (see history_page)
_HISTORY_COLUMNS = (
    RecordHistory.version,
    RecordHistory.user_id,
    RecordHistory.at,
    RecordHistory.action,
    RecordHistory.changes,
)


def _named(change: dict[str, Any]) -> dict[str, Any]:
    """A change without its values, unless it is a workflow step (its stages disclose no answer)."""
    return change if change.get("field") == "(stage)" else {"field": change.get("field")}


def _history_total(ctx: Context, record_id: str) -> int:
    return int(
        ctx.session.scalar(select(func.count()).select_from(RecordHistory).where(RecordHistory.record_id == record_id))
        or 0
    )


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
    stage: str | None = None


def open_record(ctx: Context, record_type: str, record_id: str, *, form: str | None = None) -> Opened:
    """Open a record the user may read; with `form`, the read of that form is audited. Who holds it
    is known as far as the user's access (`load` without `who_holds`): the form pages show no one."""
    rec, hold = load(ctx, record_type, record_id, who_holds=False)
    if form is not None:
        audit.record(ctx.session, "record.read", user=ctx.user, ip=ctx.ip, record_id=rec.id, form=form)
    return Opened(rec.id, rec.short_id, rec.record_type, rec.version, dict(rec.data), hold, rec.stage)


def reveal(ctx: Context, record_type: str, record_id: str, reason: str) -> str:
    """Show a masked identifier of a record in a list: audited with the reason; the record's id."""
    rec, _hold = load(ctx, record_type, record_id)
    audit.record(ctx.session, "record.reveal", user=ctx.user, ip=ctx.ip, record_id=rec.id, reason=reason)
    return rec.id
