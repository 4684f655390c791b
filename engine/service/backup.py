"""Backups of the database, and restoring them.

SQLite: the online backup API copies the file page by page inside one read transaction, so the copy
is of one moment even while the server goes on writing (WAL lets it), and it never restarts. The
copy is checked (`PRAGMA integrity_check`) and made one self-contained file (no -wal).
PostgreSQL: `pg_dump --format=custom` of an exported snapshot (the counts printed are of that very
snapshot), restored with `pg_restore --clean --if-exists --no-owner --no-acl --single-transaction`
(all of it or nothing).

A backup is written next to its destination under a temporary name, readable by its owner only, and
renamed into place once complete: an interrupted backup never leaves a file that looks whole.

The backup is of the database only. The key file that seals identifying answers lives outside it
and is never copied into a backup: it must be backed up on its own and kept apart (`key_notice`).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from engine.storage import db, keys

Progress = Callable[[str], Any]

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_ARCHIVE_MAGIC = b"PGDMP"
#: the tables whose rows a backup and a restore count, with what to call them
COUNTED = (("records", "record"), ("record_history", "history entry"), ("audit_log", "audit entry"))
#: a database holding these is a Sanad database
SANAD_TABLES = frozenset({"alembic_version", "records"})
PAGES_PER_STEP = 1024
#: how long pg_restore waits for a table a running server holds before giving up
LOCK_TIMEOUT_MS = 30_000


class BackupError(Exception):
    """A backup or a restore that cannot be done as asked; the message says why and what to do."""


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


@dataclass(frozen=True)
class Counts:
    records: int = 0
    history: int = 0
    audit: int = 0

    def describe(self) -> str:
        return ", ".join(
            _plural(n, word) for n, (_, word) in zip((self.records, self.history, self.audit), COUNTED, strict=True)
        )


@dataclass(frozen=True)
class Made:
    path: str
    kind: str  # sqlite | postgresql
    size: int
    counts: Counts
    revision: str | None
    tables: int


@dataclass(frozen=True)
class Checked:
    """What a check of a database found: `problems` is empty when it is ready to use."""

    revision: str | None
    head: str | None
    counts: Counts
    integrity: str | None  # SQLite: "ok", or what PRAGMA integrity_check reported; None on PostgreSQL
    sealed_with: list[str]  # the ids of the keys its sealed answers need
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Restored:
    kind: str
    replaced: Counts | None  # what the database held before, when --force replaced it
    dropped: list[str]  # tables of the replaced database that the backup does not have
    checked: Checked


# -- what kind of database, what kind of file -------------------------------------------------------------
def database_kind(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise BackupError(f"'{url}' is not a database URL (e.g. sqlite:///path/sanad.db)") from None
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Sanad backs up SQLite and PostgreSQL databases, not {backend}")
    return backend


def _sqlite_path(url: str) -> str:
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise BackupError(f"'{url}' names no database file to back up or restore")
    return os.path.abspath(path)


def _label(kind: str) -> str:
    return "SQLite" if kind == "sqlite" else "PostgreSQL"


def file_kind(path: str) -> str:
    """'sqlite' or 'postgresql' (a pg_dump archive in the custom format), else a BackupError."""
    if not os.path.exists(path):
        raise BackupError(f"there is no file {path}")
    if os.path.isdir(path):
        raise BackupError(f"{path} is a folder; give the backup file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_ARCHIVE_MAGIC):
        return "postgresql"
    if b"PostgreSQL database dump" in head:
        raise BackupError(
            f"{path} is a plain SQL dump, not an archive of 'sanad backup' (pg_dump --format=custom); "
            "restore it with psql into an empty database"
        )
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04":
        raise BackupError(f"{path} is compressed (gzip or zip); uncompress it, then restore the file inside")
    if not head:
        raise BackupError(f"{path} is empty; it is not a backup (a backup that was interrupted?)")
    raise BackupError(
        f"{path} is not a Sanad backup: neither a SQLite database nor a PostgreSQL archive made by "
        "'sanad backup' (pg_dump --format=custom)"
    )


# -- the key, which is never in a backup -----------------------------------------------------------------
def key_location(key_file: str | None = None) -> str:
    if os.environ.get(keys.ENV_CONTENT):
        return f"${keys.ENV_CONTENT} (the key file's content, in the environment)"
    return os.path.abspath(key_file or db.default_key_file())


def key_notice(key_file: str | None = None, backup_path: str | None = None) -> list[str]:
    """What to tell the person backing up or restoring about the key file."""
    where = key_location(key_file)
    path = os.path.abspath(key_file or db.default_key_file())
    missing = not os.environ.get(keys.ENV_CONTENT) and not os.path.exists(path)
    lines = [
        f"Not in the backup: the key file that seals identifying answers, expected at {where}"
        + (" (there is none there now)." if missing else "."),
        "Without that key the sealed answers in the backup cannot be read by anyone: back the key file up "
        "separately, and store it apart from the database backups (another place, not next to them).",
    ]
    if backup_path and not os.environ.get(keys.ENV_CONTENT):
        if os.path.dirname(os.path.abspath(backup_path)) == os.path.dirname(path):
            lines.append(
                f"Warning: the backup is in the same folder as the key file ({os.path.dirname(path)}); "
                "move one of them elsewhere."
            )
    return lines


# -- writing the output --------------------------------------------------------------------------------------
def _output(path: str, force: bool, database_file: str | None = None) -> str:
    out = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(out):
        raise BackupError(f"{out} is a folder; give the backup's file name, e.g. {os.path.join(out, 'sanad.backup')}")
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        raise BackupError(f"the folder {folder} does not exist; make it first, or choose another place")
    if database_file and os.path.exists(out) and os.path.samefile(out, database_file):
        raise BackupError(f"{out} is the database itself; write the backup to another file")
    if os.path.exists(out) and not force:
        raise BackupError(f"{out} exists already; choose another name, or add --force to replace it")
    return out


def _temporary_next_to(out: str) -> str:
    """An empty file, mode 0600, in the destination's folder (so the final rename is atomic)."""
    folder = os.path.dirname(out)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(out)}.", suffix=".partial", dir=folder)
    except OSError as exc:
        raise BackupError(f"cannot write in {folder}: {exc.strerror}") from None
    os.close(fd)
    return tmp


def _put_in_place(tmp: str, out: str) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    try:
        fd = os.open(os.path.dirname(out), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str | None) -> None:
    for p in (path, f"{path}-journal", f"{path}-wal", f"{path}-shm") if path else ():
        if os.path.exists(p):
            os.unlink(p)


# -- SQLite ----------------------------------------------------------------------------------------------------
def _sqlite_open(path: str, mode: str, timeout: float = 30.0) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode={mode}", uri=True, timeout=timeout, isolation_level=None)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database Sanad can open ({exc})") from None
    return conn


def _sqlite_tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sqlite_counts(conn: sqlite3.Connection, names: set[str]) -> Counts:
    n = [conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] if t in names else 0 for t, _ in COUNTED]
    return Counts(*n)


def _sqlite_revision(conn: sqlite3.Connection, names: set[str]) -> str | None:
    if "alembic_version" not in names:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _pages(progress: Progress | None, verb: str) -> Callable[[int, int, int], None]:
    shown = [-1]

    def step(_status: int, remaining: int, total: int) -> None:
        done = total - remaining
        tenth = done * 10 // total if total else 10
        if progress is not None and (tenth > shown[0] or remaining == 0) and shown[0] < 10:
            shown[0] = 10 if remaining == 0 else tenth
            progress(f"{verb} {done} of {total} pages ({done * 100 // total if total else 100}%)")

    return step


def _sqlite_backup(url: str, output: str, force: bool, progress: Progress | None, pages: int) -> Made:
    path = _sqlite_path(url)
    if not os.path.isfile(path):
        raise BackupError(f"there is no database at {path}; check --db (or $SANAD_DATABASE_URL)")
    out = _output(output, force, path)
    src = _sqlite_open(path, "rw")
    tmp: str | None = None
    try:
        # one read transaction for the whole copy: the copy is of one moment, however long it takes,
        # while the server goes on writing (WAL); without it, each write would restart the copy
        src.execute("BEGIN")
        names = _sqlite_tables(src)
        if not SANAD_TABLES <= names:
            raise BackupError(f"{path} holds no Sanad tables; there is nothing to back up")
        counts, revision = _sqlite_counts(src, names), _sqlite_revision(src, names)
        tmp = _temporary_next_to(out)
        dst = sqlite3.connect(tmp, isolation_level=None)
        try:
            src.backup(dst, pages=pages, progress=_pages(progress, "copied"))
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            verdict = [r[0] for r in dst.execute("PRAGMA integrity_check")]
        finally:
            dst.close()
        if verdict != ["ok"]:
            raise BackupError(f"the copy failed SQLite's integrity check ({'; '.join(verdict[:3])}); nothing was kept")
        src.execute("ROLLBACK")
        _put_in_place(tmp, out)
        tmp = None
        return Made(out, "sqlite", os.path.getsize(out), counts, revision, len(names))
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {path} failed: {exc}; nothing was kept") from None
    finally:
        src.close()
        _remove(tmp)


def _sqlite_restore(url: str, source: str, force: bool, progress: Progress | None) -> tuple[Counts | None, list[str]]:
    path = _sqlite_path(url)
    src = _sqlite_open(os.path.abspath(source), "ro")
    try:
        names = _sqlite_tables(src)
        if not SANAD_TABLES <= names:
            raise BackupError(f"{source} is a SQLite database, but not a Sanad backup (it has no Sanad tables)")
        verdict = [r[0] for r in src.execute("PRAGMA quick_check")]
        if verdict != ["ok"]:
            raise BackupError(f"{source} is damaged ({'; '.join(verdict[:3])}); nothing was restored")
        replaced: Counts | None = None
        if os.path.exists(path) and os.path.getsize(path) > 0:
            probe = _sqlite_open(path, "rw", timeout=5)
            try:
                there = _sqlite_tables(probe)
                if there:
                    replaced = _sqlite_counts(probe, there)
                    if not force:
                        raise BackupError(_not_empty(path, there, replaced))
            finally:
                probe.close()
        db.private_sqlite_file(url)  # a new file, or an existing one, readable by its owner only
        dst = sqlite3.connect(path, timeout=5, isolation_level=None)
        try:
            try:
                # leaving WAL needs the only connection: a server still using the file makes this fail
                dst.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.OperationalError:
                raise BackupError(
                    f"the database {path} is in use (is Sanad running on it?); stop the server, then restore"
                ) from None
            src.backup(dst, pages=PAGES_PER_STEP, progress=_pages(progress, "restored"))
            dst.execute("PRAGMA journal_mode=WAL")  # as Sanad uses it
        finally:
            dst.close()
        return replaced, []
    except sqlite3.Error as exc:
        raise BackupError(f"the restore into {path} failed: {exc}") from None
    finally:
        src.close()


def _not_empty(where: str, tables: Iterable[str], counts: Counts | None) -> str:
    names = sorted(tables)
    holds = (
        f"Sanad data ({counts.describe()})"
        if counts is not None and "records" in names
        else f"{_plural(len(names), 'table')}: {', '.join(names[:8])}{', …' if len(names) > 8 else ''}"
    )
    return (
        f"the database {where} is not empty: it holds {holds}. A restore replaces all of it: add --force to "
        "replace it, or restore into a new, empty database"
    )


# -- PostgreSQL ------------------------------------------------------------------------------------------------
def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found: install PostgreSQL's client programs (e.g. apt install postgresql-client), "
            "of the server's version or newer, and put them on PATH"
        )
    return found


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The connection for pg_dump/pg_restore: a URI without the password, which goes in the
    environment (never on a command line others can read)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return u.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


_TABLE = re.compile(r'(?:dumping contents of|processing data for) table "(?:[^"]+\.)?([^"]+)"')


def _run(argv: list[str], env: dict[str, str], progress: Progress | None, verb: str, tables: int) -> None:
    """Run pg_dump/pg_restore with --verbose: one progress line per table, its errors in the exception."""
    name = os.path.basename(argv[0])
    errors: list[str] = []
    seen = 0
    with subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip()
            found = _TABLE.search(line)
            if found:
                seen += 1
                if progress is not None:
                    progress(f"{verb} {found.group(1)} ({seen} of {max(tables, seen)} tables)")
            elif "error:" in line or "FATAL" in line or "fatal:" in line:
                errors.append(line.split("error:", 1)[-1].strip())
    if proc.returncode != 0:
        why = "; ".join(dict.fromkeys(errors)) or f"exit status {proc.returncode}"
        raise BackupError(f"{name} failed: {why}")


def _connect_error(exc: SQLAlchemyError, where: str) -> BackupError:
    why = _first_line(exc)
    if "does not exist" in why and "database" in why:
        name = where.rsplit("/", 1)[-1].split("?", 1)[0]
        return BackupError(f"the database {where} does not exist; create it first (createdb {name}), then restore")
    return BackupError(f"cannot reach the database {where}: {why}")


def _counts(conn: Connection, names: set[str]) -> Counts:
    n = [(conn.scalar(select(func.count()).select_from(table(t))) or 0) if t in names else 0 for t, _ in COUNTED]
    return Counts(*n)


def _pg_backup(url: str, output: str, force: bool, progress: Progress | None) -> Made:
    pg_dump = _tool("pg_dump")
    where = db.display_url(url)
    out = _output(output, force)
    dsn, env = _libpq(url)
    engine = db.make_engine(url)
    tmp: str | None = None
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
        if not SANAD_TABLES <= names:
            raise BackupError(f"the database {where} holds no Sanad tables; there is nothing to back up")
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            # pg_dump reads this very snapshot: what is counted here is what the archive holds
            snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
            counts = _counts(conn, names)
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            tmp = _temporary_next_to(out)
            argv = [pg_dump, "--format=custom", "--verbose", "--no-password", f"--snapshot={snapshot}"]
            _run([*argv, f"--file={tmp}", f"--dbname={dsn}"], env, progress, "dumped", len(names))
        archived = _archive_tables(tmp)
        if not SANAD_TABLES <= archived:
            raise BackupError("pg_dump wrote an archive without Sanad's tables; nothing was kept")
        _put_in_place(tmp, out)
        tmp = None
        return Made(out, "postgresql", os.path.getsize(out), counts, revision, len(archived))
    except SQLAlchemyError as exc:
        raise _connect_error(exc, where) from None
    finally:
        engine.dispose()
        _remove(tmp)


def _archive_tables(path: str) -> set[str]:
    """The tables whose data a pg_dump archive holds (`pg_restore --list`)."""
    result = subprocess.run(
        [_tool("pg_restore"), "--list", path], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        why = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        raise BackupError(f"{path} cannot be read as a PostgreSQL archive: {why}")
    names = set()
    for line in result.stdout.splitlines():
        parts = line.split()
        if not line.startswith(";") and "TABLE" in parts and "DATA" not in parts:
            at = parts.index("TABLE")
            if len(parts) > at + 2:
                names.add(parts[at + 2])
    return names


def _pg_restore(url: str, source: str, force: bool, progress: Progress | None) -> tuple[Counts | None, list[str]]:
    pg_restore = _tool("pg_restore")
    where = db.display_url(url)
    archived = _archive_tables(source)
    if not SANAD_TABLES <= archived:
        raise BackupError(f"{source} is a PostgreSQL archive, but not a Sanad backup (it has no Sanad tables)")
    engine = db.make_engine(url)
    replaced: Counts | None = None
    extra: list[str] = []
    try:
        with engine.connect() as conn:
            there = set(inspect(conn).get_table_names())
            if there:
                replaced = _counts(conn, there) if "records" in there else None
        if there and not force:
            raise BackupError(_not_empty(where, there, replaced))
        # tables the backup does not know (a newer Sanad's) would survive --clean: a forced restore
        # replaces the whole database, so they go too
        extra = sorted(there - archived)
        if extra:
            quote_name = engine.dialect.identifier_preparer.quote
            with engine.begin() as conn:
                for name in extra:
                    conn.execute(text(f"DROP TABLE IF EXISTS {quote_name(name)} CASCADE"))
    except SQLAlchemyError as exc:
        raise _connect_error(exc, where) from None
    finally:
        engine.dispose()
    dsn, env = _libpq(url)
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c lock_timeout={LOCK_TIMEOUT_MS}".strip()
    argv = [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction"]
    try:
        _run([*argv, "--verbose", "--no-password", f"--dbname={dsn}", source], env, progress, "restored", len(archived))
    except BackupError as exc:
        hint = (
            "; the database is in use: stop the server, then restore"
            if "lock timeout" in str(exc)
            else "; nothing was changed (the restore is one transaction)"
        )
        raise BackupError(f"{exc}{hint}") from None
    return replaced, extra


def _sealed_with(conn: Connection, names: set[str]) -> set[str]:
    """The ids of the keys the database's sealed answers need: those it noted, and those its records name."""
    found = set(conn.execute(text("SELECT id FROM sealing_keys")).scalars()) if "sealing_keys" in names else set()
    if "records" in names and "key_id" in {c["name"] for c in inspect(conn).get_columns("records")}:
        found |= set(conn.execute(text("SELECT DISTINCT key_id FROM records WHERE key_id IS NOT NULL")).scalars())
    return {str(k) for k in found}


# -- checking a database ----------------------------------------------------------------------------------------
def check(url: str, key_file: str | None = None) -> Checked:
    """Is the database ready to use: migrations at this Sanad's head, SQLite's integrity check, the key
    its sealed answers need at hand; and how many records, history and audit entries it holds."""
    engine = db.make_engine(url)
    where = db.display_url(url)
    problems: list[str] = []
    integrity: str | None = None
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            if engine.dialect.name == "sqlite":
                rows = [str(r) for r in conn.execute(text("PRAGMA integrity_check")).scalars()]
                integrity = "ok" if rows == ["ok"] else "; ".join(rows[:5])
                if integrity != "ok":
                    problems.append(f"SQLite's integrity check failed: {integrity}")
                broken = conn.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    problems.append(f"{_plural(len(broken), 'row')} refer to rows that are not there")
            counts = _counts(conn, names)
            revision = (
                conn.scalar(text("SELECT version_num FROM alembic_version")) if "alembic_version" in names else None
            )
            sealed = sorted(_sealed_with(conn, names))
        head = db.head_revision(engine)
        known = {s.revision for s in ScriptDirectory.from_config(db.alembic_config(engine)).walk_revisions()}
    except SQLAlchemyError as exc:
        raise _connect_error(exc, where) from None
    finally:
        engine.dispose()
    if revision != head:
        if revision in known:
            problems.append(f"it is at migration {revision}, this Sanad at {head}: run 'sanad db upgrade --db {where}'")
        else:
            problems.append(
                f"it is at migration {revision}, which this Sanad does not know: use the Sanad that made it"
            )
    if sealed:
        path = key_file or db.default_key_file()
        try:
            ring = keys.read(path)
        except keys.KeyFileError as exc:
            ring = None
            problems.append(str(exc))
        else:
            need = ", ".join(sealed)
            if ring is None:
                problems.append(
                    f"its sealed answers need the key {need}, and there is no key file at {path}: put the key file "
                    "of this database there (or give it with --key-file) before starting Sanad"
                )
            elif missing := [k for k in sealed if k not in ring.keys]:
                problems.append(
                    f"its sealed answers need the key {', '.join(missing)}, which the key file {key_location(key_file)} "
                    "does not hold: give the key file this database was sealed with"
                )
    return Checked(revision, head, counts, integrity, sealed, problems)


# -- the use cases ------------------------------------------------------------------------------------------------
def backup(
    url: str, output: str, *, force: bool = False, progress: Progress | None = None, pages: int = PAGES_PER_STEP
) -> Made:
    """Back the database at `url` up into the file `output` (never the key file)."""
    if database_kind(url) == "sqlite":
        return _sqlite_backup(url, output, force, progress, pages)
    return _pg_backup(url, output, force, progress)


def restore(
    url: str, source: str, *, force: bool = False, progress: Progress | None = None, key_file: str | None = None
) -> Restored:
    """Restore the backup `source` into the database at `url` (which must be empty unless `force`),
    then check it."""
    kind = database_kind(url)
    found = file_kind(source)
    if found != kind:
        example = "sqlite:///path/sanad.db" if found == "sqlite" else "postgresql+psycopg://user@host/dbname"
        raise BackupError(
            f"{source} is a {_label(found)} backup and {db.display_url(url)} a {_label(kind)} database; restore it "
            f"into a {_label(found)} database (--db {example})"
        )
    if kind == "sqlite":
        replaced, dropped = _sqlite_restore(url, source, force, progress)
    else:
        replaced, dropped = _pg_restore(url, source, force, progress)
    return Restored(kind, replaced, dropped, check(url, key_file))
