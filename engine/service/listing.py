"""Lists of records: a page of the records a user reaches, filtered, searched and sorted; counts
by stage. The records a user reaches come from the one scope rule (`storage.scope`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from engine.i18n import _
from engine.language.model import Field
from engine.runtime.policy import Holding
from engine.service import audit
from engine.service.context import Context, audit_emergency_read, find_type, holdings, usernames
from engine.service.errors import BadRequest, Forbidden
from engine.storage import sealing
from engine.storage.models import Record, User
from engine.storage.scope import records_held, records_in_reach

PAGE_SIZE = 50
MAX_PAGE = 100_000  # far past any real list; keeps OFFSET within every database's integers


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
    rt = find_type(ctx, record_type)
    if not ctx.policy.may_on_type(ctx.actor, record_type, "read"):
        raise Forbidden(_("Your role may not read these records."))
    query = select(Record).where(
        Record.module == ctx.module.id,
        Record.record_type == record_type,
        records_in_reach(ctx.policy.reach(ctx.actor)),
    )
    if stage:
        query = query.where(Record.stage == stage)
    # answers a list may filter or search on: list fields this role may see (never hidden ones)
    role = ctx.actor.role
    searchable = [
        f
        for f in (rt.scope.fields.get(fid) for fid in rt.list_fields)
        if f is not None and role.may_read_form(f.form_id) and f.sensitivity in role.sensitivity
    ]
    # Answers only filter records the user reaches through the agency that holds them: a referral
    # shares chosen forms, and a search must not tell its recipient what the other forms say.
    held_here = records_held(ctx.policy.reach(ctx.actor))
    if q:
        needle = q.strip()
        answers = [_answer_is(ctx, record_type, f, needle) for f in searchable if f.type in ("text", "calculate")]
        query = query.where(
            or_(
                Record.short_id.startswith(needle.upper()),
                Record.id.startswith(needle.lower()),
                *([and_(held_here, or_(*answers))] if answers else []),
            )
        )
    used_filters = {}
    for fid, value in (filters or {}).items():
        if value and any(f.id == fid for f in searchable):
            used_filters[fid] = value
            query = query.where(held_here, Record.data[fid].as_string() == value)
    if owner:
        query = query.where(Record.owner_id.in_(select(User.id).where(User.username == owner)))
    for bound, op in ((created_from, "from"), (created_to, "to")):
        if bound:
            day = _day(bound)
            query = query.where(
                Record.created_at >= day if op == "from" else Record.created_at < day + timedelta(days=1)
            )
    if not 1 <= page <= MAX_PAGE:
        raise BadRequest(_("'page' must be a whole number from 1 to %(max)s.", max=MAX_PAGE))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = Record.created_at.desc() if sort == "created" else Record.updated_at.desc()
    rows = ctx.session.scalars(query.order_by(order, Record.id).offset((page - 1) * page_size).limit(page_size))
    items = list(rows)
    held = holdings(ctx.session, items) if fields or ctx.actor.role.emergency_access else {}
    owners = usernames(ctx.session, {r.owner_id for r in items})
    if ctx.actor.role.emergency_access:  # a list shows records reached by breaking the glass too
        for r in items:
            found = ctx.policy.access(ctx.actor, r.record_type, held[r.id])
            if found is not None and found.relation == "emergency":
                audit_emergency_read(ctx, r, via="list")
    audit.record(
        ctx.session,
        "record.list",
        user=ctx.user,
        ip=ctx.ip,
        record_type=record_type,
        page=page,
        count=len(items),
        q=q or None,
        filters=used_filters or None,
        stage=stage or None,
        owner=owner or None,
        created_from=created_from or None,
        created_to=created_to or None,
    )
    return {
        "items": [
            {
                "id": r.id,
                "short_id": r.short_id,
                "stage": r.stage,
                "version": r.version,
                "owner": owners.get(r.owner_id),
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


def _day(text: str) -> datetime:
    """A YYYY-MM-DD date of a list filter, as the start of that day in UTC."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise BadRequest(_("Dates are written YYYY-MM-DD.")) from None
    if not 1900 <= day.year <= 9000:
        raise BadRequest(_("Dates are written YYYY-MM-DD, between 1900 and 9000."))
    return day.replace(tzinfo=UTC)


def _listed(ctx: Context, rec: Record, hold: Holding, fields: tuple[str, ...]) -> dict[str, Any]:
    data = ctx.policy.filter_data(ctx.actor, rec.record_type, hold, rec.data)
    return {f: data[f] for f in fields if f in data}


def stage_counts(ctx: Context, record_type: str) -> list[tuple[str, int]]:
    """(stage label, number of records) in the user's reach, for every stage of the workflow. Only
    agency-wide and module-wide roles get counts (aggregate roles see counts, never records)."""
    wf = ctx.module.workflow_for(record_type)
    if wf is None or ctx.actor.role.scope not in ("agency", "all"):
        return []
    q = select(Record.stage, func.count()).where(
        Record.module == ctx.module.id,
        Record.record_type == record_type,
        records_in_reach(ctx.policy.reach(ctx.actor)),
    )
    counts = {stage: n for stage, n in ctx.session.execute(q.group_by(Record.stage))}
    return [(s.label, counts.get(s.id, 0)) for s in wf.states.values()]


def _answer_is(ctx: Context, record_type: str, f: Field, needle: str) -> ColumnElement[bool]:
    """An answer equal to `needle`: a direct answer is sealed, so its blind index is compared (case and
    spacing aside); others are compared as stored."""
    if f.sensitivity == "direct":
        ring = sealing.session_ring(ctx.session)
        digest = ring.blind(sealing.blind_scope(ctx.module.id, record_type, f.id), needle)
        found: ColumnElement[bool] = Record.blind[f.id].as_string() == digest
        return found
    same: ColumnElement[bool] = Record.data[f.id].as_string() == needle
    return same
