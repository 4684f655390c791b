"""Offline work: what a device may take offline (the forms of the user's role, in their language,
and the records they hold themselves, as they may see them), and the batch of changes it sends back
when the connection returns (`POST /api/v1/sync`).

Each change has a client-chosen id: a change sent again (a lost answer, a double tap, two tabs)
gets its first answer back and is never applied twice. An edit carries the version it was based
on: if the record changed since, the edit is merged (runtime/merge.py) — different answers merge,
the same answer changed on both sides is a conflict reported with both values, nothing is dropped.
Every change is checked and validated as an online one, against the definitions in force (the
device is told when they changed, to update its forms and show the queued data for review).
Each change runs in its own savepoint: a refused one changes nothing, the others go through."""

from __future__ import annotations

import re
from typing import Any

from engine import i18n
from engine.i18n import _
from engine.language.model import Transition
from engine.runtime.merge import merge
from engine.runtime.workflow import state_label, transition_label, works_offline
from engine.service import audit, records, transitions
from engine.service.context import Context, access, find_type, holdings, load
from engine.service.errors import BadRequest, Forbidden, NotFound, ServiceError
from engine.storage.models import Record, SyncChange

MAX_CHANGES = 200
MAX_OFFLINE_IDS = 500
_CHANGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OWN = ("owner", "assignee", "referral")  # the relations whose records may go offline


# -- what goes offline ---------------------------------------------------------------------------------
def offline_limit(ctx: Context) -> int:
    value = ctx.module.settings.get("offline_records", 50)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 50


def package(ctx: Context) -> dict[str, Any]:
    """What a device needs to create and fill records offline, but the forms themselves (the web
    layer adds them, rendered as JSON): the record types the user works on, their stages and the
    user's steps (which of them may be queued offline). Nothing of any record."""
    tr = i18n.current()
    types = []
    for rt in ctx.module.record_types.values():
        if not ctx.policy.may_on_type(ctx.actor, rt.id, "read"):
            continue
        role = ctx.actor.role
        forms = [{"id": fid, "writable": role.may_write_form(fid)} for fid in rt.form_ids if role.may_read_form(fid)]
        wf = ctx.module.workflow_for(rt.id)
        steps = []
        if wf is not None:
            for t in wf.transitions.values():
                if role.id in t.roles:
                    steps.append(
                        {
                            "id": t.id,
                            "label": transition_label(wf, t),
                            "from": list(t.from_states),
                            "to": t.to,
                            "offline": works_offline(t),
                            "comment": t.comment,
                        }
                    )
        types.append(
            {
                "id": rt.id,
                "title": tr.text(f"record_types/{rt.id}/title", rt.title)[0],
                "can_create": ctx.policy.can_create(ctx.actor, rt.id),
                "recorded_from": list(rt.recorded_from),  # created from a record of these types, linked to it
                "link_action": tr.text(f"record_types/{rt.id}/link_action", rt.link_action or rt.title)[0],
                "initial": wf.initial if wf else None,
                "stages": {s: state_label(wf, s) for s in wf.states} if wf else {},
                "steps": steps,
                "forms": forms,
                "list_fields": [f for f in rt.list_fields if f in {x.id for x in rt.scope.fields.values()}],
            }
        )
    return {
        "module": ctx.module.id,
        "definitions_version": ctx.module.version,
        "locale": ctx.locale,
        "user": ctx.user.username,
        "limit": offline_limit(ctx),
        "record_types": types,
    }


def offline_records(ctx: Context, ids: list[str]) -> list[dict[str, Any]]:
    """The records a user takes offline: only those they hold themselves (owner, assignee, or the
    forms a referral shares), as they may see them. Audited record by record."""
    if len(ids) > min(MAX_OFFLINE_IDS, offline_limit(ctx)):
        limit = offline_limit(ctx)
        raise BadRequest(
            i18n.current().ngettext(
                "At most %(n)s record can be kept offline.",
                "At most %(n)s records can be kept offline.",
                limit,
                n=limit,
            )
        )
    out = []
    for rid in ids:
        rec = ctx.session.get(Record, rid) if isinstance(rid, str) else None
        if rec is None or rec.module != ctx.module.id:
            raise NotFound("no such record")
        rec, hold = load(ctx, rec.record_type, rec.id)
        mine = access(ctx, rec, hold)
        if mine.relation not in OWN:
            raise Forbidden(_("Only the records you hold yourself can be kept offline."))
        out.append(_offline_view(ctx, rec))
        audit.record(ctx.session, "record.offline", user=ctx.user, ip=ctx.ip, record_id=rec.id)
    return out


def _offline_view(ctx: Context, rec: Record) -> dict[str, Any]:
    hold = holdings(ctx.session, [rec])[rec.id]
    mine = access(ctx, rec, hold)
    return {
        "id": rec.id,
        "short_id": rec.short_id,
        "record_type": rec.record_type,
        "stage": rec.stage,
        "version": rec.version,
        "definitions_version": rec.definitions_version,
        "relation": mine.relation,
        "data": ctx.policy.filter_data(ctx.actor, rec.record_type, hold, rec.data),
        "read_forms": sorted(mine.read_forms),
        "write_forms": sorted(mine.write_forms),
    }


# -- the batch of changes --------------------------------------------------------------------------------
def sync(ctx: Context, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
        raise BadRequest('send {"changes": [...], "definitions_version": "..."}')
    changes = body["changes"]
    if len(changes) > MAX_CHANGES:
        raise BadRequest(
            i18n.current().ngettext(
                "Send at most %(n)s change at a time.",
                "Send at most %(n)s changes at a time.",
                MAX_CHANGES,
                n=MAX_CHANGES,
            )
        )
    client_version = body.get("definitions_version")
    results = [_one(ctx, change, client_version) for change in changes]
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    audit.record(ctx.session, "record.sync", user=ctx.user, ip=ctx.ip, changes=len(results), outcomes=counts)
    return {
        "definitions_version": ctx.module.version,
        "definitions_changed": client_version is not None and client_version != ctx.module.version,
        "results": results,
    }


def _one(ctx: Context, change: Any, client_version: Any) -> dict[str, Any]:
    if not isinstance(change, dict) or not isinstance(change.get("change_id"), str):
        return {"status": "rejected", "reasons": ["each change needs a change_id"]}
    cid = change["change_id"]
    if not _CHANGE_ID.match(cid):
        return {"change_id": cid, "status": "rejected", "reasons": ["a change_id is 8 to 64 letters, digits, - or _"]}
    seen = ctx.session.get(SyncChange, cid)
    if seen is not None:
        if seen.user_id != ctx.user.id:
            return {"change_id": cid, "status": "rejected", "reasons": ["this change_id was used by someone else"]}
        return {**seen.result, "replayed": True}
    try:
        with ctx.session.begin_nested():
            result = _apply(ctx, change)
    except ServiceError as exc:
        result = {
            "status": "rejected",
            "id": change.get("id"),
            "reasons": [exc.message, *exc.details.get("reasons", [])],
            "errors": exc.details.get("errors", []),
        }
        if client_version is not None and client_version != ctx.module.version:
            result["definitions_changed"] = True  # the device updates its forms and shows it for review
    result["change_id"] = cid
    ctx.session.add(
        SyncChange(
            change_id=cid,
            user_id=ctx.user.id,
            record_id=result.get("id") if isinstance(result.get("id"), str) else None,
            at=audit.now(),
            result=result,
        )
    )
    ctx.session.flush()
    return result


def _apply(ctx: Context, change: dict[str, Any]) -> dict[str, Any]:
    op = change.get("op")
    if op == "create":
        return _create(ctx, change)
    if op == "update":
        return _update(ctx, change)
    if op == "transition":
        return _transition(ctx, change)
    raise BadRequest("'op' is create, update or transition")


def _result(ctx: Context, status: str, rec_id: str, **extra: Any) -> dict[str, Any]:
    rec = ctx.session.get(Record, rec_id)
    assert rec is not None
    return {"status": status, "id": rec_id, "record": _offline_view(ctx, rec), **extra}


def _create(ctx: Context, change: dict[str, Any]) -> dict[str, Any]:
    rt = change.get("record_type")
    if not isinstance(rt, str) or not isinstance(change.get("id"), str):
        raise BadRequest("a create names the record_type and the record's id (a UUID)")
    view, created = records.create(ctx, rt, change.get("data", {}), change["id"], change.get("link_to") or None)
    return _result(ctx, "applied" if created else "duplicate", view["id"])


def _update(ctx: Context, change: dict[str, Any]) -> dict[str, Any]:
    rt = find_type(ctx, str(change.get("record_type", "")))
    rec, hold = load(ctx, rt.id, str(change.get("id", "")))
    base = change.get("base_version")
    if not isinstance(base, int) or isinstance(base, bool) or not 1 <= base <= rec.version:
        raise BadRequest(f"'base_version' is the version the change was made on, from 1 to {rec.version}")
    answers = records.check_submission(ctx, rt.id, hold, change.get("changes"))
    if base == rec.version:
        records.update(ctx, rt.id, rec.id, rec.version, answers, form=_form(change))
        return _result(ctx, "applied", rec.id)
    was = records.data_at(ctx, rec, base)
    write, conflicts = merge(was, rec.data, answers)
    if write or _form(change):
        records.update(ctx, rt.id, rec.id, rec.version, write, form=_form(change))
    return _result(ctx, "conflict" if conflicts else "merged", rec.id, conflicts=[c.as_dict() for c in conflicts])


def _form(change: dict[str, Any]) -> str | None:
    form = change.get("form")
    return form if isinstance(form, str) and form else None


def _transition(ctx: Context, change: dict[str, Any]) -> dict[str, Any]:
    rt = find_type(ctx, str(change.get("record_type", "")))
    rec, _hold = load(ctx, rt.id, str(change.get("id", "")))
    wf = ctx.module.workflow_for(rt.id)
    t: Transition | None = wf.transitions.get(str(change.get("transition"))) if wf else None
    if t is None:
        raise NotFound("there is no such step")
    if not works_offline(t):
        raise BadRequest(_("'%(step)s' is taken online only.", step=transition_label(wf, t) if wf else t.label))
    comment = change.get("comment") if isinstance(change.get("comment"), str) else None
    transitions.transition(ctx, rt.id, rec.id, t.id, comment, None)
    return _result(ctx, "applied", rec.id)
