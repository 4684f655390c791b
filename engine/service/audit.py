"""The append-only audit log: who did what, when, from where, to which record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from engine.i18n import _
from engine.service.errors import Forbidden
from engine.storage import chain
from engine.storage.models import AuditEntry, Record, User

if TYPE_CHECKING:
    from engine.service.context import Context


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime | None) -> str | None:
    """A timestamp as ISO 8601 in UTC (SQLite hands datetimes back without their zone)."""
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def record(
    session: Session,
    action: str,
    *,
    user: User | None = None,
    username: str | None = None,
    ip: str | None = None,
    record_id: str | None = None,
    **details: Any,
) -> None:
    """Add one entry in the caller's transaction (so it commits or rolls back with the change; it is
    chained and written when the transaction commits, see storage.chain).

    The entry names the agencies it concerns, the acting user's (for a failed sign-in, the named
    account's) and the record's, so that each agency's auditors read their own entries."""
    if user is not None:
        agency_id = user.agency_id
    elif username:
        agency_id = session.scalar(select(User.agency_id).where(User.username == username))
    else:
        agency_id = None
    rec = session.get(Record, record_id) if record_id else None
    chain.append(
        session,
        AuditEntry(
            at=now(),
            user_id=user.id if user is not None else None,
            username=user.username if user is not None else username,
            ip=ip,
            action=action,
            record_id=record_id,
            details=details,
            agency_id=agency_id,
            record_agency_id=rec.agency_id if rec is not None else None,
        ),
    )


#: the auditor reads every agency's entries (a role scoped to all, or the command line)
EVERY_AGENCY = -1


def entries(
    session: Session,
    *,
    agency: int | None = EVERY_AGENCY,
    username: str | None = None,
    record_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if agency != EVERY_AGENCY:
        q = q.where(visible_to(agency))
    if username:
        q = q.where(AuditEntry.username == username)
    if record_id:
        q = q.where(AuditEntry.record_id.startswith(record_id))
    if action:
        q = q.where(AuditEntry.action == action)
    if since:
        q = q.where(AuditEntry.at >= since)
    return list(session.scalars(q))


def visible_to(agency: int | None) -> ColumnElement[bool]:
    """Entries about this agency: its users' actions, and actions on its records (entries written
    before the agency columns existed are matched through their user and record)."""
    if agency is None:
        return false()
    return or_(
        AuditEntry.agency_id == agency,
        AuditEntry.record_agency_id == agency,
        and_(
            AuditEntry.agency_id.is_(None),
            AuditEntry.user_id.in_(select(User.id).where(User.agency_id == agency)),
        ),
        and_(
            AuditEntry.record_agency_id.is_(None),
            AuditEntry.record_id.in_(select(Record.id).where(Record.agency_id == agency)),
        ),
    )


def as_json(e: AuditEntry) -> dict[str, Any]:
    """One entry as the API, the pages and `sanad audit list --format json` show it."""
    return {
        "id": e.id,
        "at": iso(e.at),
        "user": e.username,
        "ip": e.ip,
        "action": e.action,
        "record_id": e.record_id,
        "details": e.details or {},
    }


def search(
    session: Session,
    *,
    agency: int | None = EVERY_AGENCY,
    username: str | None = None,
    record_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Entries matching the filters, newest first, as `as_json` shows them."""
    rows = entries(
        session, agency=agency, username=username, record_id=record_id, action=action, since=since, limit=limit
    )
    return [as_json(e) for e in rows]


def read_log(
    ctx: Context,
    *,
    username: str | None = None,
    record_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
    filters: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The audit log as an auditor may read it: their own agency's entries, or every agency's for a
    role scoped to all. The reading is audited too."""
    if not ctx.actor.role.can("audit.read"):
        raise Forbidden(_("Your role may not read the audit log."))
    agency = EVERY_AGENCY if ctx.actor.role.scope == "all" else ctx.actor.agency_id
    found = search(
        ctx.session, agency=agency, username=username, record_id=record_id, action=action, since=since, limit=limit
    )
    record(ctx.session, "audit.read", user=ctx.user, ip=ctx.ip, filters=filters or {})
    return found
