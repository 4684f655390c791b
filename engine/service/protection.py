"""Protection at rest, for the person who runs Sanad: the key file (status, rotation) and verifying the
audit log's hash chain. The sealing itself happens at the edge of the database (storage.sealing)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update

from engine.language.model import Module
from engine.service.database import Database
from engine.storage import chain, sealing
from engine.storage.keys import KeyFileError, Keyring
from engine.storage.models import AuditEntry, Record, RecordHistory, SealingKey, SyncChange, User

Progress = Callable[[int, int], None]
__all__ = ["KeyFileError", "key_status", "reseal", "rotate", "verify_audit"]

BATCH = 200


@dataclass
class KeyStatus:
    path: str
    current: str
    keys: list[str]
    records: dict[str | None, int]  # records by the key they are sealed with (None: not sealed yet)

    @property
    def unfinished(self) -> int:
        return sum(n for kid, n in self.records.items() if kid != self.current)


def key_status(db: Database) -> KeyStatus:
    ring = db.key_source.ring()
    with db.reading() as session:
        counts = {
            kid: int(n) for kid, n in session.execute(select(Record.key_id, func.count()).group_by(Record.key_id))
        }
    return KeyStatus(db.key_source.path, ring.current, sorted(ring.keys), counts)


def _pending(session: Any, ring: Keyring) -> list[str]:
    return list(
        session.scalars(
            select(Record.id)
            .where(or_(Record.key_id.is_(None), Record.key_id != ring.current))
            .order_by(Record.id)
            .limit(BATCH)
        )
    )


def _reseal_one(session: Any, ring: Keyring, rec: Record) -> bool:
    """Seal a record, its history, comments and offline answers again with the current key, in place
    (its version does not change: nobody's edit is made stale by a rotation)."""
    sealed, blind = sealing.seal_record(ring, rec, rec.data or {})
    table = cast(Table, Record.__table__)
    done = session.execute(
        update(table)
        .where(table.c.id == rec.id, table.c.version == rec.version)
        .values(data=sealed, blind=blind, key_id=ring.current)
    )
    if not done.rowcount:
        return False  # saved meanwhile (and so sealed with the current key), or picked up next round
    spec = sealing.spec_for(rec.module, rec.record_type)
    history = cast(Table, RecordHistory.__table__)
    for h in session.scalars(select(RecordHistory).where(RecordHistory.record_id == rec.id)):
        session.execute(
            update(history)
            .where(history.c.id == h.id)
            .values(changes=sealing.seal_changes(ring, spec, f"{rec.id}/h", h.changes or []))
        )
    for model, columns in sealing.TEXT_COLUMNS.items():
        if model in sealing.PLACE_OF:
            continue  # not a record's (accounts: see _reseal_accounts)
        t = cast(Table, model.__table__)  # type: ignore[attr-defined]
        for row in session.scalars(select(model).where(model.record_id == rec.id)):  # type: ignore[attr-defined]
            values = {c: ring.seal_text(getattr(row, c), sealing.text_place(model, c, rec.id)) for c in columns}
            session.execute(update(t).where(t.c.id == row.id).values(**values))
    sync = cast(Table, SyncChange.__table__)
    for row in session.scalars(select(SyncChange).where(SyncChange.record_id == rec.id)):
        session.execute(
            update(sync)
            .where(sync.c.change_id == row.change_id)
            .values(result=ring.seal(row.result, f"sync/{row.change_id}"))
        )
    return True


def _reseal_accounts(db: Database, ring: Keyring) -> None:
    """The second-factor secrets of accounts, sealed with the current key (few rows: all at once)."""
    table = cast(Table, User.__table__)
    with db.transaction() as session:
        for user in session.scalars(select(User).where(User.totp_secret.is_not(None))):
            place = sealing.text_place(User, "totp_secret", user.username)
            session.execute(
                update(table).where(table.c.id == user.id).values(totp_secret=ring.seal_text(user.totp_secret, place))
            )


def reseal(db: Database, modules: list[Module], progress: Progress | None = None) -> int:
    """Seal with the current key every record that is not yet (from before sealing, or from before a
    rotation), in batches of 200, each its own transaction: stopped at any point, it continues where
    it stopped when run again. The number of records sealed."""
    for m in modules:
        sealing.register(m)
    ring = db.key_source.ring()
    with db.reading() as session:
        total = int(
            session.scalar(
                select(func.count())
                .select_from(Record)
                .where(or_(Record.key_id.is_(None), Record.key_id != ring.current))
            )
            or 0
        )
    _reseal_accounts(db, ring)
    done = 0
    while True:
        with db.transaction() as session:
            ids = _pending(session, ring)
            if not ids:
                break
            moved = 0
            for rec in session.scalars(select(Record).where(Record.id.in_(ids))):
                moved += _reseal_one(session, ring, rec)
        done += moved
        if progress is not None:
            progress(done, max(total, done))
    return done


def rotate(db: Database, modules: list[Module], progress: Progress | None = None) -> tuple[str, int, bool]:
    """A new current key (unless a rotation is unfinished: then it is continued), then everything
    sealed again with it. (new key id, records sealed again, whether it continued an earlier run)."""
    source = db.key_source
    ring = source.ring()
    if source.path is None or ring.path is None:
        raise KeyFileError("the keys come from $SANAD_KEYS: rotate them where that secret is kept, with a key file")
    status = key_status(db)
    continued = status.unfinished > 0  # records not yet on the current key: finish that first
    if not continued:
        ring = ring.with_new_key()
        with db.transaction() as session:
            session.add(SealingKey(id=ring.current, check=ring.check(ring.current), added_at=datetime.now(UTC)))
        source.replace(ring)  # written after the database knows it: a crash leaves the old file valid
    return ring.current, reseal(db, modules, progress), continued


# -- the audit log ------------------------------------------------------------------------------------------
def read_anchor(path: str) -> tuple[int, str] | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        return int(doc["seq"]), str(doc["hash"])
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyFileError(f"{path} is not an audit anchor written by 'sanad audit verify --anchor'") from None


def verify_audit(
    db: Database, *, full: bool = False, anchor: str | None = None, progress: Progress | None = None
) -> tuple[chain.Verification, list[str]]:
    """Verify the chain (from the last checkpoint, or all of it); on success remember where it ended, in
    the database and in the anchor file if one is given. Also the anchor's findings."""
    ring = db.key_source.ring()
    notes: list[str] = []
    with db.transaction() as session:
        v = chain.verify(session, ring, full=full, progress=progress)
        if anchor is not None:
            kept = read_anchor(anchor)
            if kept is not None:
                seq, h = kept
                found = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
                if found != h:
                    v.problems.append(
                        chain.Problem(
                            seq,
                            None,
                            "checkpoint",
                            f"entry #{seq} is not the one the anchor {anchor} recorded: the log was rewritten",
                        )
                    )
        if v.ok:
            chain.save_checkpoint(session, v)
            if anchor is not None and v.end > 0:
                h = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == v.end))
                tmp = anchor + ".tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump({"seq": v.end, "hash": h, "at": datetime.now(UTC).isoformat()}, fh)
                os.replace(tmp, anchor)
                notes.append(f"anchor {anchor} now at #{v.end}")
    return v, notes
