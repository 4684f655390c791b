"""The scope rule in SQL: the records a `Reach` covers, and the referrals waiting for a user.

This is the only place that writes scope conditions. It mirrors `Reach.relation` clause by clause,
so a record is in a user's lists exactly when opening it succeeds (a property test checks both on
SQLite and PostgreSQL). `records_held` is what the holding agency's work covers (its queues,
reports, exports, searches by answer); a referral or an emergency grant adds a record to the lists
and to what one may open, never to those.

A record id in a subquery's ids is written `id IN (SELECT …)`, except on PostgreSQL, where it is
`id = ANY(ARRAY(SELECT …))`: the subquery runs once into an array the planner can probe the primary
key with, and the `OR` of the scope stays a bitmap of index scans instead of a scan of `records`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, String, and_, any_, bindparam, false, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

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
def _any_array(element: _InSelect, compiler: SQLCompiler, **kw: Any) -> str:
    column, query = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(ARRAY{compiler.process(query, **kw)})"


def among(dialect: str, column: Any, name: str = "ids") -> ColumnElement[bool]:
    """`column` is one of the record ids given as the parameter `name`. On PostgreSQL one array
    parameter, `column = ANY(%(ids)s)`: the statement's text is the same for any number of ids, so
    it is parsed and planned once, where `IN (…)` with 50 parameters is a new, long text that the
    driver parses again on every page. Elsewhere an expanding `IN`."""
    if dialect == "postgresql":
        found: ColumnElement[bool] = column == any_(bindparam(name, type_=ARRAY(String)))
        return found
    inside: ColumnElement[bool] = column.in_(bindparam(name, expanding=True))
    return inside


def id_in(query: Select[Any]) -> ColumnElement[bool]:
    """Records whose id is one of the ids `query` selects."""
    return _InSelect(Record.id, query.scalar_subquery())


def records_held(reach: Reach) -> ColumnElement[bool]:
    """Records the user reaches through the agency that holds them: as owner, assignee, or by the
    group, agency or module scope of their role (every relation but a referral)."""
    if reach.everything:
        return true()
    clauses: list[ColumnElement[bool]] = [Record.owner_id == reach.user_id]
    if reach.agency_id is not None:
        mine = Record.agency_id == reach.agency_id
        assigned = id_in(
            select(Assignment.record_id).where(Assignment.user_id == reach.user_id, Assignment.active.is_(True))
        )
        clauses.append(and_(mine, assigned))
        if reach.group_ids:
            clauses.append(and_(mine, Record.group_id.in_(sorted(reach.group_ids))))
        if reach.agency_wide:
            clauses.append(mine)
    return or_(*clauses)


def records_referred(reach: Reach) -> ColumnElement[bool]:
    """Records shared with the user by an open referral, or with their agency while it waits for
    one of its agency-wide users to answer."""
    clauses: list[ColumnElement[bool]] = [
        id_in(
            select(Referral.record_id).where(Referral.to_user_id == reach.user_id, Referral.status.in_(OPEN_REFERRAL))
        )
    ]
    if reach.agency_inbox is not None:
        clauses.append(
            id_in(
                select(Referral.record_id).where(
                    Referral.to_agency_id == reach.agency_inbox,
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


def records_in_emergency(reach: Reach) -> ColumnElement[bool]:
    """Records of the user's agency they hold a live emergency grant on (break the glass), for
    roles with `emergency_access`."""
    if not reach.emergency or reach.agency_id is None:
        return false()
    return and_(
        Record.agency_id == reach.agency_id,
        id_in(select(EmergencyGrant.record_id).where(EmergencyGrant.user_id == reach.user_id, live_grant())),
    )


def records_in_reach(reach: Reach) -> ColumnElement[bool]:
    """The WHERE condition on `records` for every record the user reaches."""
    return _in_reach(reach, records_held(reach))


def _in_reach(reach: Reach, held: ColumnElement[bool]) -> ColumnElement[bool]:
    """`records_in_reach`, given `records_held(reach)` already made."""
    if reach.everything:
        return true()
    clauses = [held, records_referred(reach)]
    if reach.emergency:
        clauses.append(records_in_emergency(reach))
    return or_(*clauses)


def reach_parts(reach: Reach) -> list[tuple[ColumnElement[bool], ColumnElement[bool]]]:
    """`records_in_reach` in parts whose `OR` is the same set, each one a database finds in list
    order on its own, with `records_held` within that part: for a user whose role reaches the whole
    agency, the agency's records (held, all of them: a walk of the agency's index, stopped at a page)
    and the few others (owned elsewhere, or referred). The assignment, group and emergency clauses
    are records of the agency, so in the first part. One part, the whole scope, for every other
    user: their records are few, found by index and sorted."""
    held = records_held(reach)
    if reach.everything or not reach.agency_wide or reach.agency_id is None:
        return [(_in_reach(reach, held), held)]
    return [
        (Record.agency_id == reach.agency_id, true()),
        (or_(Record.owner_id == reach.user_id, records_referred(reach)), held),
    ]


def referral_inbox(reach: Reach, record_types: Iterable[str]) -> ColumnElement[bool]:
    """The WHERE condition on `referrals` joined with `records`: those addressed to the user, or to
    their agency when their role decides for the agency, of record types their role may read."""
    types = sorted(record_types)
    if not types:
        return false()
    clauses: list[ColumnElement[bool]] = [Referral.to_user_id == reach.user_id]
    if reach.agency_inbox is not None:
        clauses.append(and_(Referral.to_user_id.is_(None), Referral.to_agency_id == reach.agency_inbox))
    return and_(or_(*clauses), Record.record_type.in_(types))
