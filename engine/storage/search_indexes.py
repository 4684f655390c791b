"""Indexes for searching lists by answer (PostgreSQL): a search finds the records with an answer
through an index on exactly that answer, whose statistics tell the planner how many records have it.

A list's search compares every list field of type text or calculate that the user may read with the
text searched (`service.listing`): the answer as text (`data ->> 'field'`), or for an identifying
field, whose answers are sealed, its blind index (`blind ->> 'field'`). Which fields those are comes
from the loaded definitions: one index per (module, record type, list field), partial to the module's
records of that type:

    CREATE INDEX IF NOT EXISTS ix_rs_<hash> ON records ((data ->> 'field'))
        WHERE module = 'm' AND record_type = 't'

The GIN indexes on `data` and `blind` serve the same test as containment (`@>`), but they give the
planner no count of an answer's records (it assumes a fixed share of the table), and each match is
read and its answers unpacked to check it: a search for an age found in 10,000 records read them all
(280 ms at 500,000 cases), and a misjudged search read a whole team's records to find one code. An
index on the answer itself is exact, and ANALYZE counts its values.

The name is `ix_rs_` and a hash of module, record type, field and column, the same on every database
and every run. They are made as the report indexes are (`storage.report_indexes`: at `serve`, `db
upgrade` and `seed`, concurrently on a large table, never dropped here). SQLite gets none: it compares
a parameter path (`json_extract(data, ?)`), which an expression index does not match, and a SQLite
file holds one office's records."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from engine.storage.aggregate import NAME
from engine.storage.report_indexes import Outcome, build_missing

if TYPE_CHECKING:
    from engine.language.model import Field, Module

log = logging.getLogger("sanad.lists")

PREFIX = "ix_rs_"
#: the field types a list's search compares with the text searched
SEARCHED_TYPES = ("text", "calculate")

Column = Literal["data", "blind"]


def searched(f: Field) -> bool:
    """Does a list's search compare this list field's answers with the text searched?"""
    return f.type in SEARCHED_TYPES


def column_of(f: Field) -> Column:
    """Where a search reads a field's answer as text: `blind`, its blind index, when its answers are
    sealed (direct); else `data`, the answer itself."""
    return "blind" if f.sensitivity == "direct" else "data"


@dataclass(frozen=True, order=True)
class SearchIndex:
    """The index of one searched list field of one record type of one module: on its answer as text
    (`data`), or on its blind index (`blind`) when its answers are sealed."""

    module: str
    record_type: str
    field: str
    column: Column

    @property
    def name(self) -> str:
        key = f"{self.module}/{self.record_type}/{self.field}/{self.column}"
        return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.module}/{self.record_type}/{self.field}" + (" (blind index)" if self.column == "blind" else "")

    def create_sql(self, dialect: str, concurrently: bool = False) -> str:
        how = "CONCURRENTLY " if concurrently else ""
        return (
            f"CREATE INDEX {how}IF NOT EXISTS {self.name} ON records (({self.column} ->> '{self.field}')) "
            f"WHERE module = '{self.module}' AND record_type = '{self.record_type}'"
        )


def plan(modules: Iterable[Module]) -> list[SearchIndex]:
    """The search indexes of the list fields of `modules` (several modules sharing an id add up)."""
    wanted: set[SearchIndex] = set()
    for m in modules:
        for rt in m.record_types.values():
            for fid in rt.list_fields:
                f = rt.scope.fields.get(fid)
                if f is None or not searched(f):
                    continue
                ix = SearchIndex(m.id, rt.id, fid, column_of(f))
                if all(NAME.fullmatch(x) for x in (ix.module, ix.record_type, ix.field)):
                    wanted.add(ix)
                else:
                    log.warning("no search index for %s: not a plain id", ix.label)
    return sorted(wanted)


def ensure(engine: Engine, modules: Iterable[Module]) -> Outcome:
    """Make the missing search indexes of `modules` (PostgreSQL; nothing on SQLite). A failure is
    logged and reported, not raised: searches still work, only slower, and the next start tries again."""
    out = Outcome()
    if engine.dialect.name == "postgresql":
        build_missing(engine, plan(modules), PREFIX, out, "search index")
    return out
