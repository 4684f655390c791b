"""`sanad backup` and `sanad restore`: the database into one file and back (never the key file)."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from engine.cli.common import CliError, say
from engine.service import backup
from engine.service.database import display_url, resolve_url

#: the exit status of a restore whose database was restored but is not ready to use as it is
RESTORED_WITH_PROBLEMS = 4

EXIT_CODES = """exit status:
  0  done (restore: and the restored database passed its check)
  1  nothing was done: the message says why (database unreachable, no pg_dump, output not writable,
     not a backup, a backup of the other kind of database, a database that is not empty without --force)
  2  the command line is wrong
  3  a bug in Sanad (please report it)
  4  restore only: restored, but the check found a problem to fix before starting Sanad (the message says
     which: a migration to run, the key file, SQLite's integrity check)
  130 interrupted (a backup leaves no partial file; a PostgreSQL restore is rolled back)"""


def _size(n: int) -> str:
    size, unit = float(n), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"


def cmd_backup(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    say(f"backing up {display_url(url)}")
    try:
        made = backup.backup(url, args.output, force=args.force, progress=say)
    except backup.BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"Backed up {display_url(url)} to {made.path} ({_size(made.size)}, {made.tables} tables, migration "
        f"{made.revision}): {made.counts.describe()}."
    )
    for line in backup.key_notice(args.key_file, made.path):
        print(line)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    url = resolve_url(args.db)
    where = display_url(url)
    say(f"restoring {args.input} into {where}")
    try:
        done = backup.restore(url, args.input, force=args.force, progress=say, key_file=args.key_file)
    except backup.BackupError as exc:
        raise CliError(str(exc)) from None
    if done.replaced is not None:
        print(f"Replaced what {where} held ({done.replaced.describe()}).")
    if done.dropped:
        print(f"Dropped the tables the backup does not have: {', '.join(done.dropped)}.")
    checked = done.checked
    print(f"Restored {args.input} into {where}: {checked.counts.describe()}.")
    integrity = f", SQLite integrity check {checked.integrity}" if checked.integrity is not None else ""
    print(f"Checked: migration {checked.revision} (this Sanad: {checked.head}){integrity}.")
    if done.kind == "postgresql":
        print("Grants were not restored: run 'sanad db grant ROLE' for the application's role (docs/operations.md).")
    where_key = backup.key_location(args.key_file)
    if checked.sealed_with:
        print(f"Its sealed answers are opened with the key {', '.join(checked.sealed_with)}, from {where_key}.")
    else:
        print(f"The key file that seals identifying answers is expected at {where_key}.")
    print("A key file is never part of a backup: restore it from its own backup if it was lost.")
    if checked.problems:
        for problem in checked.problems:
            print(f"sanad: the restored database needs attention: {problem}")
        return RESTORED_WITH_PROBLEMS
    return 0


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $SANAD_DATABASE_URL, then a SQLite file in the data folder, $SANAD_DATA_DIR)",
    )
    p.add_argument(
        "--key-file",
        metavar="PATH",
        help="where the key file that seals identifying answers is kept (default: $SANAD_KEY_FILE, then sanad.key "
        "in the data folder). It is never put in a backup; this only says where it is, and restore checks it",
    )


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="back the database up into one file (SQLite: while the server runs; PostgreSQL: pg_dump)",
        description=textwrap.fill(
            "Back the database up into OUTPUT: SQLite through its online backup API (safe while the "
            "server writes), PostgreSQL with pg_dump --format=custom. The backup holds the database only: the key "
            "file that seals identifying answers must be backed up separately and stored apart. See "
            "docs/operations.md.",
            100,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("output", metavar="OUTPUT", help="the backup file to write (written whole, or not at all)")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    _options(p)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a backup into a database (refused if it is not empty, unless --force), then check it",
        description=textwrap.fill(
            "Restore INPUT (a file of 'sanad backup') into the database: a SQLite backup into a SQLite "
            "file, a PostgreSQL archive with pg_restore into an existing PostgreSQL database. Stop the server "
            "first. A database that holds anything is refused unless --force, which replaces all of it. "
            "Afterwards the database is checked (migrations, integrity, the key) and its records, history and "
            "audit entries counted. See docs/operations.md.",
            100,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="the backup file")
    p.add_argument("--force", action="store_true", help="replace everything the database holds")
    _options(p)
    p.set_defaults(func=cmd_restore)
