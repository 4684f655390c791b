"""The scope rule in SQL: the records a `Reach` covers, and the referrals waiting for a user.

This is the only place that writes scope conditions. It mirrors `Reach.relation` clause by clause,
so a record is in a user's lists exactly when opening it succeeds (a property test checks both on
SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from engine.runtime.policy import Reach
from engine.storage.models import Assignment, Record, Referral

#: referral states that give the recipient access to the shared forms
OPEN_REFERRAL = ("pending", "accepted")


def records_in_reach(reach: Reach) -> ColumnElement[bool]:
    """The WHERE condition on `records` for every record the user reaches."""
    if reach.everything:
        return true()
    clauses: list[ColumnElement[bool]] = [
        Record.owner_id == reach.user_id,
        Record.id.in_(
            select(Assignment.record_id).where(Assignment.user_id == reach.user_id, Assignment.active.is_(True))
        ),
        Record.id.in_(
            select(Referral.record_id).where(Referral.to_user_id == reach.user_id, Referral.status.in_(OPEN_REFERRAL))
        ),
    ]
    if reach.group_ids:
        clauses.append(Record.group_id.in_(sorted(reach.group_ids)))
    if reach.agency_id is not None:
        clauses.append(Record.agency_id == reach.agency_id)
    if reach.agency_inbox is not None:
        clauses.append(
            Record.id.in_(
                select(Referral.record_id).where(
                    Referral.to_agency_id == reach.agency_inbox,
                    Referral.to_user_id.is_(None),
                    Referral.status.in_(OPEN_REFERRAL),
                )
            )
        )
    return or_(*clauses)


def referral_inbox(reach: Reach) -> ColumnElement[bool]:
    """The WHERE condition on `referrals` for those addressed to the user, or to their agency when
    their role decides for the agency."""
    clauses: list[ColumnElement[bool]] = [Referral.to_user_id == reach.user_id]
    if reach.agency_inbox is not None:
        clauses.append(and_(Referral.to_user_id.is_(None), Referral.to_agency_id == reach.agency_inbox))
    return or_(*clauses) if clauses else false()
