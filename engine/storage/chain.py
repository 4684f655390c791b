"""The audit log as a hash chain: tampering shows.

Every entry carries `seq` (1, 2, 3, … with no gap), the previous entry's hash, and its own hash: a
keyed digest (HMAC-SHA256 with the key file's `mac` key) of its content and the previous hash. One
chain for the whole database, in the order entries are committed.

An entry is chained when its transaction commits, last: the transaction locks the chain's end (one
row of `audit_chain`), appends its entries after it and moves the end. Taking that lock last, after
every other write of the transaction, means two transactions can never wait for each other in a
circle. Every request locks that row, so the time it is held bounds the requests per second of all
processes together: on PostgreSQL the entries go to the database with the COMMIT, in one round trip.

What verification finds (`verify`): an entry changed (its hash does not match its content), an entry
deleted (a gap in `seq`, or the next entry's previous hash does not match), an entry inserted (no
place in the chain, or a place taken twice), the latest entries deleted (the chain's end is past the
last entry). Someone who can write to the database but has no key file cannot forge a hash; one who
has both could rewrite the chain, which a checkpoint kept outside the database (`--anchor`) shows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Update, bindparam, event, func, insert, inspect, select, text, union_all, update
from sqlalchemy.engine import Compiled
from sqlalchemy.orm import Session

from engine.storage import sealing
from engine.storage.keys import Keyring
from engine.storage.models import AuditChain, AuditCheckpoint, AuditEntry

PENDING = "sanad_audit_pending"


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


def content(entry: Any, details: dict[str, Any]) -> bytes:
    """What an entry's hash covers, in one canonical form (the details as stored: sealed)."""
    return json.dumps(
        [
            entry.seq,
            _iso(entry.at),
            entry.user_id,
            entry.username,
            entry.ip,
            entry.action,
            entry.record_id,
            details,
            entry.agency_id,
            entry.record_agency_id,
            entry.prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()


def entry_hash(ring: Keyring, entry: Any, details: dict[str, Any]) -> str:
    return ring.digest(content(entry, details))


# -- writing ---------------------------------------------------------------------------------------------
def append(session: Session, entry: AuditEntry) -> None:
    """Add an entry to the session's transaction; it is chained and written when the transaction
    commits (and dropped with it if it rolls back)."""
    session.info.setdefault(PENDING, []).append(entry)


#: PostgreSQL: the chain's end, locked and read in one statement, without writing the row (the statement
#: that moves the end writes it once). Locking it with an UPDATE made two versions of the row per
#: transaction, and until a VACUUM each transaction's look-up of it grew slower (on the benchmark
#: machine, which runs no autovacuum, 0.19 ms more per 1,000 transactions; 0.10 ms with one version)
_LOCK_END_ROW = text("SELECT seq, hash FROM audit_chain WHERE id = 1 FOR UPDATE")
#: SQLite: a write takes the database's write lock, and returns the chain's end
_LOCK_END_WRITING = text("UPDATE audit_chain SET seq = seq WHERE id = 1 RETURNING seq, hash")
#: a database without UPDATE … RETURNING (an SQLite before 3.35): the write lock alone
_LOCK_DATABASE = text("UPDATE audit_chain SET seq = seq WHERE id = 1")


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending: list[AuditEntry] = session.info.pop(PENDING, [])
    if not pending:
        return
    session.flush()  # every other write of the transaction first: the chain's lock is taken last
    connection = session.connection()
    ring = sealing.ring_for(connection.engine)
    # lock the chain's end (PostgreSQL: the row; SQLite: the write lock of the database)
    if connection.dialect.name == "postgresql":
        end = connection.execute(_LOCK_END_ROW).first()
    elif connection.dialect.update_returning:
        end = connection.execute(_LOCK_END_WRITING).first()
    else:
        connection.execute(_LOCK_DATABASE)
        end = connection.execute(select(AuditChain.seq, AuditChain.hash).where(AuditChain.id == 1)).first()
    if end is None:  # a database made by create_all (tests): start the chain
        connection.execute(text("INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '')"))
        seq, prev = 0, ""
    else:
        seq, prev = int(end.seq), str(end.hash)
    rows = []
    for entry in pending:
        seq += 1
        entry.seq = seq
        entry.prev_hash = prev
        stored = sealing.seal_audit_details(ring, seq, entry.details or {})
        entry.hash = prev = entry_hash(ring, entry, stored)
        rows.append({c: getattr(entry, c) for c in _COLUMNS} | {"details": stored})
    # written as plain rows, not through the session's unit of work: an entry is never read back in
    # the transaction that writes it, and the read of a page pays for one insert, not an ORM flush
    if connection.dialect.name == "postgresql":
        # the entries and the chain's new end in one statement: the lock taken above is held for one
        # round trip less (PostgreSQL runs a data-modifying WITH whether or not the query reads it).
        # Nearly every transaction writes at most _MOST_AT_ONCE entries, so one statement; more go in
        # batches, each moving the chain's end to its own last entry. The COMMIT goes with them
        # (_committing_connection)
        batches = [rows[i : i + _MOST_AT_ONCE] for i in range(0, len(rows), _MOST_AT_ONCE)]
        committing = _committing_connection(session, connection)
        for n, batch in enumerate(batches):
            values = {f"{c}_{i}": v for i, row in enumerate(batch) for c, v in row.items()}
            ends = {"end_seq": batch[-1]["seq"], "end_hash": batch[-1]["hash"]}
            if committing is None or n < len(batches) - 1:
                connection.execute(_appending(len(batch)), values | ends)
            else:
                _append_and_commit(connection, committing, len(batch), values | ends)
    else:
        connection.execute(insert(AuditEntry), rows)
        connection.execute(update(AuditChain).where(AuditChain.id == 1).values(seq=seq, hash=prev))


#: `session.info[OWN_TRANSACTION] = True`: the session's transaction is its connection's own, begun and
#: committed by the session (`db.transaction`, every request's unit of work), not joined to a
#: transaction of its caller's
OWN_TRANSACTION = "sanad_own_transaction"


def _committing_connection(session: Session, connection: Connection) -> Any:
    """PostgreSQL through psycopg 3, a session that commits its own transaction: the driver's
    connection, on which the last entries and the COMMIT go in one message; else None.

    The chain's end stays locked from the moment it is read until the transaction commits. Sent one
    after the other, the entries and the COMMIT held it for two round trips, and between them the
    thread had to wait for its turn to run Python again (psycopg lets other threads run while it
    waits for the database): on a busy server that wait, not the database's work, was most of the
    time the lock was held, and every other request waited for it. Sent in one message, the database
    commits as soon as it has written the entries, and the thread waits for it once, not twice.
    psycopg's own commit that follows (SQLAlchemy's) finds no transaction open and sends nothing."""
    if (
        connection.dialect.driver != "psycopg"
        or not session.info.get(OWN_TRANSACTION)
        or session.in_nested_transaction()
    ):
        return None
    import psycopg

    raw = connection.connection.driver_connection
    return raw if isinstance(raw, psycopg.Connection) else None


def _append_and_commit(connection: Connection, raw: Any, count: int, values: dict[str, Any]) -> None:
    """`count` entries, the chain's new end and the COMMIT, as one message of two statements.

    A message of several statements is PostgreSQL's simple protocol, whose values are written into
    the text: psycopg's client-side cursor does that, quoting each value as the server would. The
    statement goes through SQLAlchemy (its events see it, its errors are SQLAlchemy's: a conflict or a
    lost connection is told apart as for any other statement), with each value first made what
    SQLAlchemy's own statement would have sent (the details as JSONB)."""
    import psycopg

    sql, compiled, processors = _appending_text(count, connection.dialect)
    params = compiled.construct_params(values) or {}
    sent = {k: processors[k](v) if k in processors else v for k, v in params.items()}
    factory = raw.cursor_factory
    raw.cursor_factory = psycopg.ClientCursor
    try:
        connection.exec_driver_sql(sql, sent)
    finally:
        raw.cursor_factory = factory


@functools.cache
def _appending_text(count: int, dialect: Any) -> tuple[str, Compiled, dict[str, Callable[[Any], Any]]]:
    """`_appending(count)` as the dialect's text followed by `; COMMIT`, compiled (its values'
    names and defaults), and the values' processors."""
    compiled = _appending(count).compile(dialect=dialect)
    processors: dict[str, Callable[[Any], Any]] = {
        name: processor
        for name, bind in compiled.binds.items()
        if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return f"{compiled.string}; COMMIT", compiled, processors


_COLUMNS = [c.key for c in inspect(AuditEntry).columns if c.key != "id"]


#: the most entries written by one statement (a save writes two or three; a count of entries is a
#: statement of its own, compiled once)
_MOST_AT_ONCE = 8


@functools.cache
def _appending(count: int) -> Update:
    """PostgreSQL's statement writing `count` entries and the chain's new end, its values as
    parameters (`action_0`, `action_1`, …): the same statement for the same count, so SQLAlchemy
    compiles it once (built from the values themselves, it was compiled on every request that wrote
    entries: an eighth of a caseworker's list for one entry, a sixtieth of the mixed load's CPU for
    the saves' several). The rows come from a UNION ALL of parameters, in order, because SQLAlchemy
    caches no multi-row VALUES (tests/storage/test_audit_append.py)."""
    table = AuditEntry.__table__
    rows = [select(*(bindparam(f"{c}_{i}", type_=table.c[c].type) for c in _COLUMNS)) for i in range(count)]
    source = rows[0] if count == 1 else union_all(*rows)
    return (
        update(AuditChain)
        .where(AuditChain.id == 1)
        .values(seq=bindparam("end_seq"), hash=bindparam("end_hash"))
        .add_cte(insert(AuditEntry).from_select(_COLUMNS, source).cte("entries"))
    )


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, *_: Any) -> None:
    session.info.pop(PENDING, None)


# -- verifying ---------------------------------------------------------------------------------------------
@dataclass
class Problem:
    seq: int | None
    id: int | None
    kind: str  # changed | deleted | inserted | truncated | checkpoint
    message: str


@dataclass
class Verification:
    checked: int = 0
    start: int = 0  # the first seq checked
    end: int = 0  # the last seq found
    legacy: int = 0  # entries written before the chain began
    problems: list[Problem] = field(default_factory=list)
    full: bool = True

    @property
    def ok(self) -> bool:
        return not self.problems


def _stream(session: Session, after: int, batch: int = 20_000) -> Iterator[Any]:
    """The chained entries after `after`, in order, as plain rows (their details as stored, sealed)."""
    table = AuditEntry.__table__
    last = after
    while True:
        rows = session.execute(select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = int(rows[-1].seq)


def _describe(e: Any) -> str:
    return f"#{e.seq} (id {e.id}, {e.action}, {_iso(e.at)}, by {e.username or '-'})"


def verify(
    session: Session,
    ring: Keyring,
    *,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Check the chain. Incremental by default: from the last checkpoint (whose entry must still be
    there, unchanged) to the end; `full` from the first entry."""
    v = Verification(full=full)
    total_end = session.scalar(select(AuditChain.seq).where(AuditChain.id == 1)) or 0
    chain_hash = session.scalar(select(AuditChain.hash).where(AuditChain.id == 1)) or ""
    v.legacy = int(session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))) or 0)
    first_chained_id = session.scalar(select(func.min(AuditEntry.id)).where(AuditEntry.seq.is_not(None)))
    start_seq, prev = 0, ""
    checkpoint = None if full else session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())).first()
    if checkpoint is not None:
        table = AuditEntry.__table__
        anchor = session.execute(select(table).where(table.c.seq == checkpoint.seq)).first()
        if (
            anchor is None
            or anchor.hash != checkpoint.hash
            or entry_hash(ring, anchor, anchor.details) != checkpoint.hash
        ):
            # the ground verified last time moved: look at everything, to name what changed
            return verify(session, ring, full=True, progress=progress)
        start_seq, prev = checkpoint.seq, checkpoint.hash
    v.full = checkpoint is None
    v.start = start_seq + 1
    expected = start_seq + 1
    last: Any = None
    for e in _stream(session, start_seq):
        seq = int(e.seq or 0)
        if seq < expected:  # the same place twice
            v.problems.append(Problem(seq, e.id, "inserted", f"entry {_describe(e)} takes a place already taken"))
            continue
        if seq > expected:
            gap = f"#{expected}" if seq == expected + 1 else f"#{expected} to #{seq - 1}"
            v.problems.append(Problem(expected, None, "deleted", f"entries {gap} are missing (deleted)"))
        if e.hash != entry_hash(ring, e, e.details):
            v.problems.append(Problem(seq, e.id, "changed", f"entry {_describe(e)} was changed after it was written"))
        elif e.prev_hash != prev and seq == expected:
            v.problems.append(
                Problem(seq, e.id, "inserted", f"entry {_describe(e)} does not follow the entry before it")
            )
        prev = e.hash or ""
        expected = seq + 1
        last = e
        v.checked += 1
        if progress is not None and v.checked % 100_000 == 0:
            progress(v.checked, max(total_end - start_seq, v.checked))
    v.end = expected - 1
    if total_end > v.end:
        v.problems.append(
            Problem(
                v.end + 1,
                None,
                "truncated",
                f"the log ended at #{total_end} but its last entry is #{v.end}: the latest entries were deleted",
            )
        )
    elif last is not None and total_end == v.end and chain_hash and last.hash != chain_hash:
        v.problems.append(Problem(v.end, last.id, "changed", f"the last entry {_describe(last)} was replaced"))
    # entries with no place in the chain, written after it began: inserted behind Sanad's back
    if first_chained_id is not None:
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.seq.is_(None), AuditEntry.id > first_chained_id).order_by(AuditEntry.id)
        ):
            v.problems.append(Problem(None, e.id, "inserted", f"entry id {e.id} ({e.action}) is not in the chain"))
            v.legacy -= 1
    return v


def save_checkpoint(session: Session, v: Verification) -> None:
    """Remember where the chain was found intact: the next verification starts there."""
    if not v.ok or v.end <= 0:
        return
    h = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == v.end))
    if h and session.get(AuditCheckpoint, v.end) is None:
        session.add(AuditCheckpoint(seq=v.end, hash=h, at=datetime.now(UTC)))
