"""The workflow conversation: what waits for a user's decision (every record type, every stage,
counted exactly and paged), the latest decision on a record with who, when and why, the comments
of each step, and the records sent back to their caseworker.

A comment belongs to the agency that holds the record: a user who reads a record through a
referral never sees them (their access has no `workflow` capability)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Executable, Select, and_, bindparam, func, or_, select

from engine.language.model import Transition, Workflow
from engine.runtime.policy import Holding
from engine.runtime.workflow import state_label, transition_label
from engine.service import audit
from engine.service.context import STEP_FIELDS, Context, Step, access, step_of_row, steps_of, usernames
from engine.service.errors import BadRequest
from engine.storage import scope
from engine.storage.models import Assignment, Record, TransitionLog

QUEUE_PAGE = 25
MAX_PAGE = 100_000


def decision_stages(ctx: Context) -> dict[str, list[str]]:
    """Per record type this user may read, the stages where a request waits for a decision this
    user's role may take (the `from` of approval steps their role may take), in workflow order."""
    out: dict[str, list[str]] = {}
    role = ctx.actor.role
    for rt in ctx.module.record_types.values():
        wf = ctx.module.workflow_for(rt.id)
        if wf is None or not ctx.policy.may_on_type(ctx.actor, rt.id, "read"):
            continue
        wanted = {s for t in wf.transitions.values() if t.approval and role.id in t.roles for s in t.from_states}
        stages = [s for s in wf.states if s in wanted]
        if stages:
            out[rt.id] = stages
    return out


@functools.lru_cache(maxsize=64)
def _waiting(
    module: str, stages: tuple[tuple[str, tuple[str, ...]], ...], shape: scope.Shape
) -> tuple[Executable, Executable]:
    """The queue's statements for a user of reach `shape`, built once (see storage.scope): the
    counts by type and stage, and a page (`:skip`, `:take`), the longest waiting first. `stages`:
    `decision_stages`, as pairs."""
    where = and_(
        Record.module == module,
        or_(*(and_(Record.record_type == rt, Record.stage.in_(ss)) for rt, ss in stages)),
        scope.records_held(shape),
    )
    counts = select(Record.record_type, Record.stage, func.count()).where(where)
    page = (
        select(Record.id, Record.short_id, Record.record_type, Record.stage, Record.owner_id, Record.updated_at)
        .where(where)
        .order_by(Record.updated_at, Record.id)
        .offset(bindparam("skip"))
        .limit(bindparam("take"))
    )
    return counts.group_by(Record.record_type, Record.stage), page


def queue(ctx: Context, page: int = 1, page_size: int = QUEUE_PAGE) -> dict[str, Any]:
    """The records waiting for this user's decision: exact counts per record type and stage, and
    one page of all of them, the longest waiting first."""
    if not 1 <= page <= MAX_PAGE:
        raise BadRequest(f"'page' must be a whole number from 1 to {MAX_PAGE}")
    stages = decision_stages(ctx)
    if not stages:
        return {"groups": [], "items": [], "total": 0, "page": page, "page_size": page_size}
    reach = ctx.policy.reach(ctx.actor)
    counting, paging = _waiting(
        ctx.module.id, tuple((rt, tuple(ss)) for rt, ss in stages.items()), scope.shape_of(reach)
    )
    values = scope.parameters(reach)
    counted = {(rt, stage): n for rt, stage, n in ctx.session.execute(counting, values)}
    groups = []
    for rt_id, ss in stages.items():
        wf = ctx.module.workflow_for(rt_id)
        assert wf is not None
        for stage in ss:
            groups.append(
                {
                    "record_type": rt_id,
                    "stage": stage,
                    "stage_label": state_label(wf, stage),
                    "count": counted.get((rt_id, stage), 0),
                }
            )
    total = sum(counted.values())
    rows: list[Any] = list(ctx.session.execute(paging, {**values, "skip": (page - 1) * page_size, "take": page_size}))
    asked = _requests(ctx, rows)
    names = usernames(ctx.session, {r.owner_id for r in rows} | {log.user_id for log in asked.values()})
    items = []
    for r in rows:
        log = asked.get(r.id)
        items.append(
            {
                "id": r.id,
                "short_id": r.short_id,
                "record_type": r.record_type,
                "stage": r.stage,
                "owner": names.get(r.owner_id),
                "updated_at": audit.iso(r.updated_at),
                "waiting_since": audit.iso(log.at) if log else audit.iso(r.updated_at),
                "requested_by": names.get(log.user_id) if log else None,
                "comment": log.comment if log else None,
            }
        )
    audit.record(
        ctx.session, "record.list", user=ctx.user, ip=ctx.ip, record_type="(queue)", page=page, count=len(items)
    )
    return {"groups": groups, "items": items, "total": total, "page": page, "page_size": page_size}


def _requests(ctx: Context, recs: list[Any]) -> dict[str, TransitionLog]:
    """For each record, the step that moved it to its current stage (the request)."""
    if not recs:
        return {}
    out: dict[str, TransitionLog] = {}
    stage_of = {r.id: r.stage for r in recs}
    rows = ctx.session.scalars(
        select(TransitionLog).where(TransitionLog.record_id.in_(list(stage_of))).order_by(TransitionLog.id)
    )
    for log in rows:
        if log.to_stage is not None and log.to_stage == stage_of[log.record_id]:
            out[log.record_id] = log
    return out


def _is_request(wf: Workflow, t: Transition | None) -> bool:
    """Does `t` ask for a decision (it leads to a stage that approval steps leave)?"""
    return t is not None and t.to is not None and t.to in _decided_at(wf)


@functools.lru_cache(maxsize=256)
def _decided_at(wf: Workflow) -> frozenset[str]:
    """The stages that approval steps leave, worked out once per workflow (a home page asks for each
    step it shows, and went through every transition of the workflow each time)."""
    return frozenset(stage for o in wf.transitions.values() if o.approval for stage in o.from_states)


def step_view(ctx: Context, wf: Workflow, log: TransitionLog | Step, names: dict[int, str]) -> dict[str, Any]:
    t = wf.transitions.get(log.transition)
    return {
        "transition": log.transition,
        "label": transition_label(wf, t) if t else log.transition,
        "decision": t.decision if t else None,
        "request": _is_request(wf, t),
        "from_stage": log.from_stage,
        "to_stage": log.to_stage,
        "to_label": state_label(wf, log.to_stage) if log.to_stage else None,
        "by": names.get(log.user_id),
        "at": audit.iso(log.at),
        "comment": log.comment,
        "override_reason": log.override_reason,
    }


def latest_decision(ctx: Context, rec: Record) -> dict[str, Any] | None:
    """The latest step on a record that is part of the conversation (a request, a decision, or a
    step with a comment), for users who take part in its workflow; None otherwise."""
    wf = ctx.module.workflow_for(rec.record_type)
    if wf is None:
        return None
    logs = [log for log in reversed(steps_of(ctx.session, rec)) if log.to_stage is not None][:20]
    for log in logs:
        t = wf.transitions.get(log.transition)
        if log.comment or (t is not None and (t.decision is not None or t.approval or _is_request(wf, t))):
            return step_view(ctx, wf, log, usernames(ctx.session, {log.user_id}))
    return None


def steps_by_time(ctx: Context, rec: Record, hold: Holding) -> dict[str, dict[str, Any]]:
    """Every workflow step on the record with its comment, by the time it was taken (to join the
    history); empty for a user who reads the record through a referral."""
    wf = ctx.module.workflow_for(rec.record_type)
    if wf is None:
        return {}
    if not access(ctx, rec, hold).workflow:
        return {}
    logs = steps_of(ctx.session, rec)
    names = usernames(ctx.session, {log.user_id for log in logs})
    return {audit.iso(log.at) or "": step_view(ctx, wf, log, names) for log in logs}


#: a step's columns, named apart from the record's in the same row
_STEP_COLUMNS = [getattr(TransitionLog, name).label(f"step_{name}") for name in STEP_FIELDS]


def _returned_keys(returns: dict[str, list[Transition]]) -> set[str]:
    """`type/stage/step` for each record type, each stage a return step of it leads to, and each such
    step (identifiers never hold a "/"): the same records as "the type, at one of those stages, whose
    latest step is one of those"."""
    return {
        f"{rt}/{stage}/{t.id}"
        for rt, steps in returns.items()
        for stage in {str(step.to) for step in steps}
        for t in steps
    }


@functools.lru_cache(maxsize=64)
def _returned_query(module: str, keys: frozenset[str], shape: scope.Shape, limit: int) -> Select[Any]:
    """The records returned to a user (`:me`, of reach `shape`) as `returned_to_me` reads them: the
    same for every user of a shape, so built and keyed by SQLAlchemy once. `keys` are the record
    types, stages and return steps of `_returned_keys`."""
    assigned = select(Assignment.record_id).where(Assignment.user_id == bindparam("me"), Assignment.active.is_(True))
    # the latest step of each record whose latest step (kept on the record, `last_step`) is a return,
    # looked up record by record (an index probe on transitions.record_id): this user's other records
    # at those stages are passed over without reading their steps (a caseworker's 165 at 500,000
    # cases, 1,400 pages read for each home page)
    latest_step_id = (
        select(func.max(TransitionLog.id))
        .where(TransitionLog.record_id == Record.id, TransitionLog.to_stage.is_not(None))
        .correlate(Record)
        .scalar_subquery()
    )
    types = sorted({key.split("/")[0] for key in keys})
    stages = sorted({key.split("/")[1] for key in keys})
    return (
        select(Record.id, Record.short_id, Record.record_type, Record.stage, Record.owner_id, Record.updated_at)
        .add_columns(*_STEP_COLUMNS)
        .join(TransitionLog, TransitionLog.id == latest_step_id)
        .where(
            Record.module == module,
            or_(Record.owner_id == bindparam("me"), scope.id_in(assigned)),
            # each type's return steps and the stages they lead to, as one text compared with a list:
            # written as an OR of (type, stages, steps), PostgreSQL weighed every index of `records`
            # for each part, and planning took 4.3 ms of a 1.6 ms query on every home page
            (Record.record_type + "/" + Record.stage + "/" + Record.last_step).in_(sorted(keys)),
            # the step itself says what the record says: the one shown, leading to where it is now
            TransitionLog.transition == Record.last_step,
            TransitionLog.to_stage == Record.stage,
            TransitionLog.user_id != bindparam("me"),
            scope.records_held(shape),
            # the same types and stages again, outside the OR: the owner's index (owner, module, type,
            # stage) then finds only the records at a stage a return leads to, not all of hers
            Record.record_type.in_(types),
            Record.stage.in_(stages),
        )
        .order_by(TransitionLog.id.desc())
        .limit(limit)
    )


def returned_to_me(ctx: Context, limit: int = 50) -> list[dict[str, Any]]:
    """Records this user owns or is assigned that a decision sent back to them and that have not
    moved on since, the most recent first, with who sent them back, when and why."""
    returns: dict[str, list[Transition]] = {}
    for rt in ctx.module.record_types.values():
        wf = ctx.module.workflow_for(rt.id)
        if wf is not None and ctx.policy.may_on_type(ctx.actor, rt.id, "read"):
            steps = [t for t in wf.transitions.values() if t.decision == "return" and t.to is not None]
            if steps:
                returns[rt.id] = steps
    if not returns:
        return []
    reach = ctx.policy.reach(ctx.actor)
    query = _returned_query(ctx.module.id, frozenset(_returned_keys(returns)), scope.shape_of(reach), limit)
    rows = ctx.session.execute(query, {"me": ctx.user.id, **scope.parameters(reach)})
    # the steps as plain columns, their comments opened here: loading up to 50 steps as ORM objects
    # was most of a caseworker's home page at national scale
    pairs = [(row, step_of_row(ctx.session, row.id, row, "step_")) for row in rows]
    names = usernames(ctx.session, {log.user_id for _rec, log in pairs} | {rec.owner_id for rec, _log in pairs})
    out = []
    for rec, log in pairs:
        wf = ctx.module.workflow_for(rec.record_type)
        assert wf is not None
        out.append(
            {
                "id": rec.id,
                "short_id": rec.short_id,
                "record_type": rec.record_type,
                "stage": rec.stage,
                "owner": names.get(rec.owner_id),
                "updated_at": audit.iso(rec.updated_at),
                "step": step_view(ctx, wf, log, names),
            }
        )
    return out
