"""Counters in a window, shared by every server process: incremented atomically in the database
(INSERT … ON CONFLICT DO UPDATE … RETURNING, on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.storage.models import Throttle


def bump(session: Session, key: str, now: datetime, window: timedelta) -> tuple[int, datetime]:
    """Add one to `key`'s count, starting a new window when the last one is over; (count, window start)."""
    cutoff = now - window
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(Throttle).values(key=key, window_start=now, count=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=[Throttle.key],
        set_={
            "count": case((Throttle.window_start < cutoff, 1), else_=Throttle.count + 1),
            "window_start": case((Throttle.window_start < cutoff, now), else_=Throttle.window_start),
        },
    ).returning(Throttle.count, Throttle.window_start)
    count, start = session.execute(stmt).one()
    return int(count), start


def give_back(session: Session, key: str) -> None:
    """Take one back (an attempt that turned out to be the right one)."""
    session.execute(update(Throttle).where(Throttle.key == key, Throttle.count > 0).values(count=Throttle.count - 1))


def clear(session: Session, key: str) -> None:
    session.execute(delete(Throttle).where(Throttle.key == key))
