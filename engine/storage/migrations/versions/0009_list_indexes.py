"""Indexes for lists and search at national scale (issue 16): the list orders (newest change, newest
record) with their tie-breaker, a stage's list, the assignments and referrals the scope looks up;
on PostgreSQL, prefix search of short ids and ids (`text_pattern_ops`, whatever the collation), and
a GIN index (`jsonb_path_ops`) on the blind indexes, so that a search by a direct list field is a
containment test (`blind @> {"name": digest}`) the index serves for every field; the answers have
had theirs since 0001 (`ix_records_data`: `data @> {"sex": "female"}`).

The PostgreSQL-only indexes are named in `models.POSTGRESQL_ONLY_INDEXES` (SQLAlchemy cannot declare
them for one database only in a way Alembic compares).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

POSTGRESQL = (
    "CREATE INDEX IF NOT EXISTS ix_records_short_id_pattern ON records (short_id text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS ix_records_id_pattern ON records (id text_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS ix_records_blind ON records USING gin (blind jsonb_path_ops)",
)


def upgrade() -> None:
    op.drop_index("ix_records_list", "records")
    op.create_index("ix_records_list", "records", ["module", "record_type", "stage", sa.text("updated_at DESC"), "id"])
    op.create_index("ix_records_updated", "records", ["module", "record_type", sa.text("updated_at DESC"), "id"])
    op.create_index("ix_records_created", "records", ["module", "record_type", sa.text("created_at DESC"), "id"])
    op.create_index("ix_assignments_user_active", "assignments", ["user_id", "active", "record_id"])
    op.create_index("ix_referrals_to_user_status", "referrals", ["to_user_id", "status", "record_id"])
    op.create_index("ix_referrals_to_agency_status", "referrals", ["to_agency_id", "status", "record_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("ix_records_blind", "ix_records_id_pattern", "ix_records_short_id_pattern"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_referrals_to_agency_status", "referrals")
    op.drop_index("ix_referrals_to_user_status", "referrals")
    op.drop_index("ix_assignments_user_active", "assignments")
    op.drop_index("ix_records_created", "records")
    op.drop_index("ix_records_updated", "records")
    op.drop_index("ix_records_list", "records")
    op.create_index("ix_records_list", "records", ["module", "record_type", "stage", "updated_at"])
