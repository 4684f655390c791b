"""`sanad keys status|rotate` (the key file that seals identifying answers) and `sanad audit verify`
(the audit log's hash chain)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from engine.cli.common import CliError, data_options, database, plural, registry, say
from engine.service import protection
from engine.service.database import Database
from engine.service.protection import KeyFileError


def _entries(n: int) -> str:
    return f"{n:,} entr{'y' if n == 1 else 'ies'}"


class _Progress:
    """'what: 1,200 of 5,000 (24%)' at most every second, on stderr."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0 or done >= total:
            self.last = now
            pct = f" ({done * 100 // total}%)" if total else ""
            say(f"{self.what}: {done:,} of {total:,}{pct}")


def reseal_if_needed(db: Database, modules: list[Any]) -> None:
    """Records not sealed with the current key (from before sealing, or a rotation that stopped):
    sealed now, with progress. Used by `serve` before it starts."""
    status = protection.key_status(db)
    if status.unfinished:
        say(f"sealing {plural(status.unfinished, 'record')} with the key {status.current} before starting")
        protection.reseal(db, modules, _Progress("sealed"))


def cmd_keys_status(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        status = protection.key_status(db)
    finally:
        db.dispose()
    print(f"key file: {status.path}")
    print(f"current key: {status.current}")
    print(f"keys in the file: {', '.join(status.keys)}")
    for kid, n in sorted(status.records.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        label = "not sealed yet" if kid is None else f"sealed with {kid}"
        print(f"  {plural(n, 'record')} {label}")
    if status.unfinished:
        print(f"{plural(status.unfinished, 'record')} not on the current key: run 'sanad keys rotate' to finish")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    reg = registry(args)
    db = database(args)
    try:
        kid, count, continued = protection.rotate(db, list(reg.modules.values()), _Progress("sealed again"))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    if continued:
        print(f"finished sealing with the key {kid}: {plural(count, 'record')}")
    else:
        print(f"new key {kid}; {plural(count, 'record')} sealed again with it")
    print(
        "the earlier keys stay in the key file: audit entries sealed with them are never rewritten. "
        "Back up the key file now, apart from the database."
    )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    db = database(args)
    try:
        v, notes = protection.verify_audit(db, full=args.full, anchor=args.anchor, progress=_Progress("checked"))
    except KeyFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        db.dispose()
    span = f"#{v.start:,} to #{v.end:,}" if v.checked else "no new entries"
    how = "all of it" if v.full else "since the last check"
    if v.legacy:
        say(f"{_entries(v.legacy)} written before the chain began are not covered by it")
    for note in notes:
        say(note)
    if v.ok:
        print(f"audit log intact: {_entries(v.checked)} checked ({how}: {span})")
        return 0
    for p in v.problems:
        print(f"{p.kind}: {p.message}", file=sys.stdout)
    print(f"audit log NOT intact: {plural(len(v.problems), 'problem')} in {_entries(v.checked)} checked ({how})")
    return 1


def add_commands(sub: Any) -> None:
    p = sub.add_parser("keys", help="the key file that seals identifying answers: status, rotation")
    ksub = p.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    q = ksub.add_parser("status", help="the key file, its keys, and which key each record is sealed with")
    data_options(q)
    q.set_defaults(func=cmd_keys_status)
    q = ksub.add_parser(
        "rotate",
        help="a new key; every record, its history and comments sealed again with it (resumable)",
        description="Adds a new key to the key file and seals every record, its history, comments and offline "
        "answers again with it, 200 records per transaction, with progress. Stopped at any point (Ctrl+C, a "
        "crash), run it again: it continues where it stopped instead of making another key. The server may "
        "keep running. Earlier keys stay in the file (audit entries sealed with them are never rewritten).",
    )
    data_options(q)
    q.set_defaults(func=cmd_keys_rotate)


def add_audit_commands(asub: Any) -> None:
    q = asub.add_parser(
        "verify",
        help="check the audit log's hash chain: exit 0 if intact, 1 naming each changed, inserted or deleted entry",
        description="Checks the entries written since the last successful check (and that the entry checked "
        "last is still there, unchanged); --full checks every entry. Needs the key file. With --anchor FILE, "
        "the place reached is also kept in FILE, outside the database, and checked next time: someone with "
        "both the database and the key cannot rewrite the log unseen. Exit status: 0 intact, 1 not intact.",
    )
    q.add_argument("--full", action="store_true", help="check every entry, not only those since the last check")
    q.add_argument("--anchor", metavar="FILE", help="keep (and check) the last verified place in this file too")
    data_options(q)
    q.set_defaults(func=cmd_audit_verify)
