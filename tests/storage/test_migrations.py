"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.storage import db
from engine.storage.models import POSTGRESQL_ONLY_INDEXES, Base


def test_migrations_match_the_models(db_url: str) -> None:
    engine = db.make_engine(db_url)
    assert db.current_revision(engine) == db.head_revision(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    # the operator-class and GIN indexes are created by hand for PostgreSQL (autogenerate cannot express them)
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name in POSTGRESQL_ONLY_INDEXES)]
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
