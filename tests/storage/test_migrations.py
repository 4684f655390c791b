"""The Alembic migrations build exactly the schema the models describe, on both databases, and fill
what they add from what the database held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine.storage import db
from engine.storage.models import POSTGRESQL_ONLY_INDEXES, Base
from tests.conftest import STALE_LAST_STEPS


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


def test_0013_names_each_records_latest_step_that_moved_it(db_url: str) -> None:
    """A database upgraded from 0012: each record's `last_step` is the transition of its latest step
    with a `to_stage` (a step that moved it), whatever came after it; none for a record with none."""
    engine = db.make_engine(db_url)
    try:
        found = _upgraded_from_0012(engine)
    finally:
        engine.dispose()
    assert found == {"r-returned": "reject_action_plan", "r-noted": "start_assessment", "r-new": None}


def _upgraded_from_0012(engine: Any) -> dict[str, str | None]:
    """Each record's `last_step` after 0013 ran on records and steps written at 0012."""
    config = db.alembic_config(engine)
    command.downgrade(config, "0012")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    steps = {
        "r-returned": [
            ("start_assessment", "assessment"),
            ("submit_action_plan", "action_planning"),
            ("reject_action_plan", "assessment"),
        ],
        "r-noted": [("start_assessment", "assessment"), ("add_note", None)],
        "r-new": [],
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, module, role, disabled, created_at) "
                "VALUES (1, 'worker', 'x', 'gbv', 'caseworker', :no, :at)"
            ),
            {"no": False, "at": at},
        )
        for n, rid in enumerate(steps):
            conn.execute(
                text(
                    "INSERT INTO records (id, short_id, module, record_type, stage, owner_id, created_by, "
                    "created_at, updated_by, updated_at, definitions_version, version, data) VALUES "
                    "(:id, :short, 'gbv', 'case', 'assessment', 1, 1, :at, 1, :at, '1', 1, '{}')"
                ),
                {"id": rid, "short": f"C-{n}", "at": at},
            )
        # the steps of the records interleaved, as they happen: ids do not follow one record
        for i in range(3):
            for rid, walk in steps.items():
                if i < len(walk):
                    conn.execute(
                        text(
                            "INSERT INTO transitions (record_id, transition, from_stage, to_stage, user_id, at) "
                            "VALUES (:rid, :t, NULL, :to, 1, :at)"
                        ),
                        {"rid": rid, "t": walk[i][0], "to": walk[i][1], "at": at},
                    )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(text(STALE_LAST_STEPS)).all() == []
        return {str(rid): step for rid, step in conn.execute(text("SELECT id, last_step FROM records"))}
