"""Offline work: the changes offline clients sent, by their client-chosen ids, so that a change
sent twice is applied once.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _json() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", name="fk_sync_changes_user_id_users"), nullable=False
        ),
        sa.Column("record_id", sa.String(36), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name="pk_sync_changes"),
    )
    op.create_index("ix_sync_changes_user_id", "sync_changes", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_changes_user_id", "sync_changes")
    op.drop_table("sync_changes")
