"""Verifying the audit log's hash chain at scale: a full check of N entries against the incremental
check a nightly `sanad audit verify` makes (the 1,000 entries written since the last check), in the
same run, on a scratch SQLite database.

    python -m tests.benchmarks.bench_audit_verify [--entries 200000] [--new 1000]

Prints both times and the ratio (incremental / full). The target: an incremental check costs under
1% of a full one at 200,000 entries; it reads only the new entries and the checkpoint's, so at ten
million entries (`--entries 10000000`, about half an hour to build) it costs what it costs here. Exits 0 when met, 1 when missed, 2 when the chain it built does not
verify (the benchmark is broken).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from engine.service import protection
from engine.service.database import Database
from engine.storage import chain, keys
from engine.storage.models import AuditEntry


def fill(database: Database, ring: keys.Keyring, start: int, count: int, prev: str) -> str:
    """`count` chained entries after `start`, written directly (as the app would have, much faster)."""
    t0 = datetime(2022, 1, 1, tzinfo=UTC)
    rows = []
    with database.engine.begin() as conn:
        for seq in range(start + 1, start + count + 1):
            e = AuditEntry(
                at=t0 + timedelta(seconds=seq),
                user_id=None,
                username=f"user{seq % 2000}",
                ip="10.0.0.1",
                action="record.read",
                record_id=None,
                details={"record_type": "case"},
                agency_id=None,
                record_agency_id=None,
                seq=seq,
                prev_hash=prev,
            )
            e.hash = prev = chain.entry_hash(ring, e, e.details)
            rows.append(
                {c: getattr(e, c) for c in ("at", "username", "ip", "action", "details", "seq", "prev_hash", "hash")}
            )
            if len(rows) == 20_000:
                conn.execute(insert(AuditEntry), rows)
                rows = []
        if rows:
            conn.execute(insert(AuditEntry), rows)
        conn.execute(text("UPDATE audit_chain SET seq = :s, hash = :h WHERE id = 1"), {"s": start + count, "h": prev})
    return prev


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--new", type=int, default=1_000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        database = Database.open(f"sqlite:///{tmp}/audit.db", os.path.join(tmp, "sanad.key"))
        database.ready(create=True)
        ring = database.key_source.ring()
        t = time.perf_counter()
        prev = fill(database, ring, 0, args.entries, "")
        print(f"wrote {args.entries:,} chained entries in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        full, _ = protection.verify_audit(database, full=True)
        t_full = time.perf_counter() - t
        if not full.ok or full.checked != args.entries:
            print(f"broken: the full check found {full.problems[:3]} after {full.checked} entries")
            return 2
        fill(database, ring, args.entries, args.new, prev)
        t = time.perf_counter()
        inc, _ = protection.verify_audit(database)
        t_inc = time.perf_counter() - t
        database.dispose()
        if not inc.ok or inc.checked != args.new:
            print(f"broken: the incremental check read {inc.checked} entries, not {args.new}")
            return 2
    ratio = t_inc / t_full
    print(f"{'check':28} {'entries':>12} {'seconds':>9} {'entries/s':>11}")
    print(f"{'full':28} {full.checked:>12,} {t_full:>9.2f} {full.checked / t_full:>11,.0f}")
    print(f"{'incremental (since last)':28} {inc.checked:>12,} {t_inc:>9.3f} {inc.checked / t_inc:>11,.0f}")
    target = 0.01
    print(f"ratio incremental / full: {ratio:.4f} (target < {target})")
    return 0 if ratio < target else 1


if __name__ == "__main__":
    sys.exit(main())
