"""The scope rule in SQL: the records a `Reach` covers, and the referrals waiting for a user.

This is the only place that writes scope conditions. It mirrors `Reach.relation` clause by clause,
so a record is in a user's lists exactly when opening it succeeds (a property test checks both on
SQLite and PostgreSQL). `records_held` is what the holding agency's work covers (its queues,
reports, exports, searches by answer); a referral or an emergency grant adds a record to the lists
and to what one may open, never to those.

A record id in a subquery's ids is written `id IN (SELECT …)`, except on PostgreSQL, where it is
`id = ANY(ARRAY(SELECT …))`: the subquery runs once into an array the planner can probe the primary
key with, and the `OR` of the scope stays a bitmap of index scans instead of a scan of `records`.

Each condition is written from a `Reach`, its values in the statement, or from the reach's `Shape`,
its values as required parameters (`scope_user`, …) that `parameters(reach)` gives when the statement
runs: a statement a request builds and SQLAlchemy keys anew each time (half a millisecond for a list)
is then built once per shape and kept. A statement built from a shape and run without its reach's
parameters fails; it never runs with another user's values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from engine.runtime.policy import Reach
from engine.storage.models import Assignment, EmergencyGrant, Record, Referral

#: referral states that give the recipient access to the shared forms
OPEN_REFERRAL = ("pending", "accepted")


class _InSelect(FunctionElement[bool]):
    """`column IN (SELECT …)`, written for each database (see the module's note)."""

    type = Boolean()
    inherit_cache = True
    name = "in_select"
    _is_implicitly_boolean = True  # a condition as it is: SQLite must not compare it with 1


@compiles(_InSelect)
def _in_select(element: _InSelect, compiler: SQLCompiler, **kw: Any) -> str:
    column, query = element.clauses
    return f"{compiler.process(column, **kw)} IN {compiler.process(query, **kw)}"


@compiles(_InSelect, "postgresql")
def _any_selected(element: _InSelect, compiler: SQLCompiler, **kw: Any) -> str:
    column, query = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(ARRAY{compiler.process(query, **kw)})"


class _AnyOf(FunctionElement[bool]):
    """`column` is one of the values of a list parameter (see `among`)."""

    type = Boolean()
    inherit_cache = True
    name = "any_of"
    _is_implicitly_boolean = True


@compiles(_AnyOf)
def _in_list(element: _AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = element.clauses
    item = values.type.item_type if isinstance(values.type, ARRAY) else None
    listed = bindparam(values.key, expanding=True, type_=item)
    return str(compiler.process(column.in_(listed), **kw))


@compiles(_AnyOf, "postgresql")
def _any_array(element: _AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    column, values = element.clauses
    return str(compiler.process(column == any_(values), **kw))


def among(column: Any, name: str = "ids", item: TypeEngine[Any] | None = None) -> ColumnElement[bool]:
    """`column` is one of the values (record ids unless `item` says otherwise) given as the list
    parameter `name`. On PostgreSQL one array parameter, `column = ANY(%(ids)s)`: the statement's
    text is the same for any number of values, so it is parsed and planned once, where `IN (…)` with
    50 parameters is a new, long text that is rendered and parsed again on every run (a supervisor's
    list spent a tenth of a millisecond rendering its groups). Elsewhere an expanding `IN`."""
    return _AnyOf(column, bindparam(name, type_=ARRAY(item if item is not None else String())))


def id_in(query: Select[Any]) -> ColumnElement[bool]:
    """Records whose id is one of the ids `query` selects."""
    return _InSelect(Record.id, query.scalar_subquery())


@dataclass(frozen=True)
class Shape:
    """What of a `Reach` decides the form of its conditions, without whose reach it is: every user
    of a shape is in the same statement, with their own `parameters`."""

    agency: bool
    groups: bool
    agency_wide: bool
    everything: bool
    inbox: bool
    emergency: bool


def shape_of(reach: Reach | Shape) -> Shape:
    if isinstance(reach, Shape):
        return reach
    return Shape(
        reach.agency_id is not None,
        bool(reach.group_ids),
        reach.agency_wide,
        reach.everything,
        reach.agency_inbox is not None,
        reach.emergency,
    )


def parameters(reach: Reach) -> dict[str, Any]:
    """The values of a statement built from `reach`'s shape: who it is, and the time now (a live
    emergency grant is one that has not expired by the time the statement runs)."""
    return {
        "scope_user": reach.user_id,
        "scope_agency": reach.agency_id,
        "scope_groups": sorted(reach.group_ids),
        "scope_inbox": reach.agency_inbox,
        "scope_now": datetime.now(UTC),
    }


#: the parameters of a statement built from a shape (`parameters` gives their values), and their types
_PARAMETERS: dict[str, TypeEngine[Any]] = {
    "scope_user": Integer(),
    "scope_agency": Integer(),
    "scope_inbox": Integer(),
    "scope_now": DateTime(timezone=True),
}


def _terms(reach: Reach | Shape) -> dict[str, Any]:
    """What a condition is written with: a reach's own values, or a shape's parameters, without a
    value (a statement run without its reach's parameters fails)."""
    if isinstance(reach, Shape):
        return {name: bindparam(name, type_=t) for name, t in _PARAMETERS.items()}
    return parameters(reach)


def records_held(reach: Reach | Shape) -> ColumnElement[bool]:
    """Records the user reaches through the agency that holds them: as owner, assignee, or by the
    group, agency or module scope of their role (every relation but a referral)."""
    form, v = shape_of(reach), _terms(reach)
    if form.everything:
        return true()
    clauses: list[ColumnElement[bool]] = [Record.owner_id == v["scope_user"]]
    if form.agency:
        mine = Record.agency_id == v["scope_agency"]
        assigned = id_in(
            select(Assignment.record_id).where(Assignment.user_id == v["scope_user"], Assignment.active.is_(True))
        )
        clauses.append(and_(mine, assigned))
        if form.groups:
            groups = (
                Record.group_id.in_(v["scope_groups"])
                if isinstance(reach, Reach)
                else among(Record.group_id, "scope_groups", Integer())
            )
            clauses.append(and_(mine, groups))
        if form.agency_wide:
            clauses.append(mine)
    return or_(*clauses)


def records_referred(reach: Reach | Shape) -> ColumnElement[bool]:
    """Records shared with the user by an open referral, or with their agency while it waits for
    one of its agency-wide users to answer."""
    form, v = shape_of(reach), _terms(reach)
    clauses: list[ColumnElement[bool]] = [
        id_in(
            select(Referral.record_id).where(Referral.to_user_id == v["scope_user"], Referral.status.in_(OPEN_REFERRAL))
        )
    ]
    if form.inbox:
        clauses.append(
            id_in(
                select(Referral.record_id).where(
                    Referral.to_agency_id == v["scope_inbox"],
                    Referral.to_user_id.is_(None),
                    Referral.status == "pending",
                )
            )
        )
    return or_(*clauses)


def live_grant(now: datetime | ColumnElement[Any] | None = None) -> ColumnElement[bool]:
    """The WHERE condition on `emergency_grants` for the grants that open a record now (or at `now`,
    a time or a parameter): neither ended nor expired."""
    at = datetime.now(UTC) if now is None else now
    return and_(EmergencyGrant.ended_at.is_(None), EmergencyGrant.expires_at > at)


def records_in_emergency(reach: Reach | Shape) -> ColumnElement[bool]:
    """Records of the user's agency they hold a live emergency grant on (break the glass), for
    roles with `emergency_access`."""
    form, v = shape_of(reach), _terms(reach)
    if not form.emergency or not form.agency:
        return false()
    return and_(
        Record.agency_id == v["scope_agency"],
        id_in(
            select(EmergencyGrant.record_id).where(
                EmergencyGrant.user_id == v["scope_user"], live_grant(v["scope_now"])
            )
        ),
    )


def records_in_reach(reach: Reach | Shape) -> ColumnElement[bool]:
    """The WHERE condition on `records` for every record the user reaches."""
    return _in_reach(reach, records_held(reach))


def _in_reach(reach: Reach | Shape, held: ColumnElement[bool]) -> ColumnElement[bool]:
    """`records_in_reach`, given `records_held(reach)` already made."""
    form = shape_of(reach)
    if form.everything:
        return true()
    clauses = [held, records_referred(reach)]
    if form.emergency:
        clauses.append(records_in_emergency(reach))
    return or_(*clauses)


def reach_parts(reach: Reach | Shape) -> list[tuple[ColumnElement[bool], ColumnElement[bool]]]:
    """`records_in_reach` in parts whose `OR` is the same set, each one a database finds in list
    order on its own, with `records_held` within that part: for a user whose role reaches the whole
    agency, the agency's records (held, all of them: a walk of the agency's index, stopped at a page)
    and the few others (owned elsewhere, or referred). The assignment, group and emergency clauses
    are records of the agency, so in the first part. One part, the whole scope, for every other
    user: their records are few, found by index and sorted."""
    form, v = shape_of(reach), _terms(reach)
    held = records_held(reach)
    if form.everything or not form.agency_wide or not form.agency:
        return [(_in_reach(reach, held), held)]
    return [
        (Record.agency_id == v["scope_agency"], true()),
        (or_(Record.owner_id == v["scope_user"], records_referred(reach)), held),
    ]


def referral_inbox(reach: Reach | Shape, record_types: Iterable[str]) -> ColumnElement[bool]:
    """The WHERE condition on `referrals` joined with `records`: those addressed to the user, or to
    their agency when their role decides for the agency, of record types their role may read."""
    types = sorted(record_types)
    if not types:
        return false()
    form, v = shape_of(reach), _terms(reach)
    clauses: list[ColumnElement[bool]] = [Referral.to_user_id == v["scope_user"]]
    if form.inbox:
        clauses.append(and_(Referral.to_user_id.is_(None), Referral.to_agency_id == v["scope_inbox"]))
    return and_(or_(*clauses), Record.record_type.in_(types))
