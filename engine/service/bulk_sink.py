"""Writing many rows fast, for `sanad seed` (service.bulk_seed): PostgreSQL's COPY, SQLite's
executemany, both in big transactions, with the values as the app's own writes store them (JSON as
text, times in UTC: SQLite keeps them as 'YYYY-MM-DD HH:MM:SS.ffffff', as SQLAlchemy does)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine


def as_json(value: Any) -> str:
    """A value for a JSON column, as the app's engine writes it (SQLAlchemy's JSON: json.dumps)."""
    return json.dumps(value)


class Sink:
    """One connection, one transaction at a time: `write` rows to tables, `commit`, `close`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.raw: Any = engine.raw_connection()
        self.postgres = self.dialect == "postgresql"
        # a lost last second is harmless for test data
        self.execute("SET synchronous_commit = off" if self.postgres else "PRAGMA synchronous = OFF")

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Append rows (tuples in the order of `columns`); the number written."""
        n = 0
        if self.postgres:
            with self.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
            return n
        batch = rows if isinstance(rows, list) else list(rows)
        if batch:
            marks = ", ".join("?" for _ in columns)
            cur = self.raw.cursor()
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
            cur.close()
        return len(batch)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement (with %s placeholders on PostgreSQL, ? on SQLite: write it with `?`)."""
        cur = self.raw.cursor()
        try:
            cur.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(params))
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            cur.close()

    def defer_indexes(self, tables: Sequence[str]) -> list[str]:
        """PostgreSQL: drop the indexes of `tables` that no constraint needs, in the open transaction;
        the statements that make them again (run them before committing)."""
        found = self.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(?) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [list(tables)],
        )
        for name, _definition in found:
            self.execute(f"DROP INDEX {name}")
        self.execute("SET maintenance_work_mem = '512MB'")
        return [str(definition) for _name, definition in found]

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()

    def time(self, t: datetime) -> Any:
        """A time for a row: PostgreSQL takes it as it is; SQLite keeps the text SQLAlchemy writes."""
        return t if self.postgres else sqlite_time(t)


def sqlite_time(t: datetime) -> str:
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")
