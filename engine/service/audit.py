"""The append-only audit log: who did what, when, from where, to which record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.storage.models import AuditEntry, User


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
    """Add one entry in the caller's transaction (so it commits or rolls back with the change)."""
    session.add(
        AuditEntry(
            at=now(),
            user_id=user.id if user is not None else None,
            username=user.username if user is not None else username,
            ip=ip,
            action=action,
            record_id=record_id,
            details=details,
        )
    )


def entries(
    session: Session,
    *,
    username: str | None = None,
    record_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if username:
        q = q.where(AuditEntry.username == username)
    if record_id:
        q = q.where(AuditEntry.record_id.startswith(record_id))
    if action:
        q = q.where(AuditEntry.action == action)
    if since:
        q = q.where(AuditEntry.at >= since)
    return list(session.scalars(q))


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
    username: str | None = None,
    record_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Entries matching the filters, newest first, as `as_json` shows them."""
    rows = entries(session, username=username, record_id=record_id, action=action, since=since, limit=limit)
    return [as_json(e) for e in rows]
