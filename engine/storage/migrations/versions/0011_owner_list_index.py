"""The owner's index in list order (issue 16): `records (owner_id, module, record_type, stage,
updated_at DESC, id)` instead of `(owner_id)`. At 500,000 cases and 1,000,000 incidents a caseworker
owns about a thousand records; her case list, her home page's open cases and her records sent back
found all of them and read each row to keep her ~300 cases (957 table pages); with the type and stage
in the index they read her cases only (310 pages). Queries by owner alone use its first column, as
they used the old index.

Building it reads every record and, on PostgreSQL, holds back saves while it runs (seconds per
million records on the benchmark machine): run `sanad db upgrade` at a quiet time.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_records_owner", "records")
    op.create_index(
        "ix_records_owner",
        "records",
        ["owner_id", "module", "record_type", "stage", sa.text("updated_at DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_records_owner", "records")
    op.create_index("ix_records_owner", "records", ["owner_id"])
