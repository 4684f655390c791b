"""Indexes for the reports' periods: a report over one month finds that month's records through an
index instead of reading every record of its type.

A report whose period is an answer (`period: <date field>`) filters by the day of that answer
(`aggregate.period_sql`). Which answers those are comes from the loaded definitions: one index per
(module, record type, period field), on exactly the expression the filter uses
(`aggregate.day_sql`), partial to the module's records of that type:

    PostgreSQL  CREATE INDEX IF NOT EXISTS ix_rp_<hash> ON records (module, record_type,
                  (substr(coalesce(data ->> 'field', ''), 1, 10))) WHERE module = 'm' AND record_type = 't'
    SQLite      CREATE INDEX IF NOT EXISTS ix_rp_<hash> ON records (module, record_type,
                  substr(coalesce(json_extract(data, '$."field"'), ''), 1, 10)) WHERE module = 'm' AND record_type = 't'

Module and record type lead the key although the index holds only those records: the statements
compare them with parameters, and SQLite, without statistics, prefers an index whose leading columns
they match (the list indexes) over one that only bounds the day; with them, this index matches both.

The name is `ix_rp_` and a hash of module, record type and field, the same on every database and
every run. A period field whose answers are sealed (direct, storage.sealing) gets no index: its
stored answers are ciphertext, whose order is not the dates'. Indexes are made when missing and never
dropped here (a database may serve modules this process has not loaded); making them is cheap when
they are there (one look at the catalogue).

On PostgreSQL a plain CREATE INDEX blocks writes to the records for as long as it takes: on a table
of more than `CONCURRENT_ABOVE` rows (the planner's estimate) the index is built CONCURRENTLY,
outside a transaction, while writes go on; a concurrent build that failed leaves an invalid index,
which the next run drops and builds again. New indexes are analysed (the planner's statistics of the
expression)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, text

from engine.storage import sealing
from engine.storage.aggregate import NAME, day_sql

if TYPE_CHECKING:
    from engine.language.model import Module

log = logging.getLogger("sanad.reports")

PREFIX = "ix_rp_"
#: records (PostgreSQL's estimate) above which an index is built CONCURRENTLY, writes going on
CONCURRENT_ABOVE = 100_000
#: how long a plain CREATE INDEX waits for a lock before giving up (PostgreSQL; it is tried again at
#: the next start)
LOCK_TIMEOUT = "10s"


@dataclass(frozen=True, order=True)
class PeriodIndex:
    """The index of one period field of one record type of one module."""

    module: str
    record_type: str
    field: str

    @property
    def name(self) -> str:
        digest = hashlib.sha256(f"{self.module}/{self.record_type}/{self.field}".encode()).hexdigest()
        return PREFIX + digest[:16]

    @property
    def label(self) -> str:
        return f"{self.module}/{self.record_type}/{self.field}"

    def create_sql(self, dialect: str, concurrently: bool = False) -> str:
        how = "CONCURRENTLY " if concurrently else ""
        day = day_sql(dialect, "data", self.field)
        # PostgreSQL wants an expression in parentheses of its own; SQLite takes it as it is
        column = f"({day})" if dialect == "postgresql" else day
        return (
            f"CREATE INDEX {how}IF NOT EXISTS {self.name} ON records (module, record_type, {column}) "
            f"WHERE module = '{self.module}' AND record_type = '{self.record_type}'"
        )


@dataclass
class Plan:
    """What the definitions ask for: the indexes, and the period fields left without one (sealed)."""

    indexes: list[PeriodIndex] = field(default_factory=list)
    sealed: list[PeriodIndex] = field(default_factory=list)


@dataclass
class Outcome:
    """What `ensure` did: indexes made, found already there, not made (sealed answers), failed."""

    made: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    sealed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def plan(modules: Iterable[Module]) -> Plan:
    """The period indexes of the reports of `modules` (several modules sharing an id add up)."""
    modules = list(modules)
    for m in modules:
        sealing.register(m)
    wanted: set[PeriodIndex] = set()
    for m in modules:
        for report in m.reports.values():
            if report.period != "created":
                wanted.add(PeriodIndex(m.id, report.record_type, report.period))
    out = Plan()
    for ix in sorted(wanted):
        if not all(NAME.fullmatch(x) for x in (ix.module, ix.record_type, ix.field)):
            log.warning("no report index for %s: not a plain id", ix.label)
        elif ix.field in sealing.spec_for(ix.module, ix.record_type).fields:
            out.sealed.append(ix)
        else:
            out.indexes.append(ix)
    return out


class Buildable(Protocol):
    """An index made from the definitions: its name, what it is for, and how it is made."""

    @property
    def name(self) -> str: ...

    @property
    def label(self) -> str: ...

    def create_sql(self, dialect: str, concurrently: bool = False) -> str: ...


def existing(conn: Connection, prefix: str = PREFIX) -> dict[str, bool]:
    """The indexes of the database named with `prefix` (the report indexes'): name -> usable (False:
    a failed concurrent build)."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'records'::regclass"
            )
        ).all()
    else:
        rows = conn.execute(
            text("SELECT name, 1 FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'")
        ).all()
    return {str(name): bool(valid) for name, valid in rows if str(name).startswith(prefix)}


def ensure(engine: Engine, modules: Iterable[Module]) -> Outcome:
    """Make the missing period indexes of the reports of `modules`; log what was done. A failure (an
    application role that may not create indexes, a lock not granted in time) is logged and reported,
    not raised: reports still work, only slower, and the next start tries again."""
    wanted = plan(modules)
    out = Outcome(sealed=[ix.label for ix in wanted.sealed])
    for ix in wanted.sealed:
        log.info("no report index for %s: its answers are sealed (direct), so their order is not the dates'", ix.label)
    build_missing(engine, wanted.indexes, PREFIX, out, "report index")
    return out


def build_missing(engine: Engine, indexes: Sequence[Buildable], prefix: str, out: Outcome, what: str) -> None:
    """Make those of `indexes` (all named with `prefix`) the database lacks, noting in `out` what was
    made, already there, or failed (logged as `what`, "report index"); analyse the records after."""
    if not indexes:
        return
    dialect = engine.dialect.name
    with engine.connect() as conn:
        found = existing(conn, prefix)
        big = dialect == "postgresql" and _estimated_records(conn) > CONCURRENT_ABOVE
    for ix in indexes:
        if found.get(ix.name):
            out.present.append(ix.name)
            continue
        try:
            _build(engine, ix, invalid=ix.name in found, concurrently=big)
        except Exception as exc:
            with engine.connect() as conn:
                if existing(conn, prefix).get(ix.name):  # another process made it meanwhile
                    out.present.append(ix.name)
                    continue
            why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            log.warning("could not make the %s %s (%s): %s", what, ix.name, ix.label, why)
            out.failed.append(f"{ix.name} ({ix.label}): {why}")
            continue
        log.info("made the %s %s (%s)", what, ix.name, ix.label)
        out.made.append(ix.name)
    if out.made and dialect == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE records"))


def _estimated_records(conn: Connection) -> float:
    return float(conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass")).scalar() or 0)


def _build(engine: Engine, ix: Buildable, *, invalid: bool, concurrently: bool) -> None:
    dialect = engine.dialect.name
    if dialect == "postgresql" and (concurrently or invalid):
        # outside a transaction: writes to the records go on while it is built
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if invalid:
                conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {ix.name}"))
            conn.execute(text(ix.create_sql(dialect, concurrently=True)))
        return
    with engine.begin() as conn:
        if dialect == "postgresql":
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        conn.execute(text(ix.create_sql(dialect)))
